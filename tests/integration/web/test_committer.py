"""Webhook group commit on both engines: deliveries arriving together share a transaction,
one bad delivery spoils none of the others, a GUID is still applied once, each answer comes
after its commit, and the leader's fence does not stop a standby from recording deliveries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.duty.businesstime import BusinessCalendar
from gateway.store.db import Store
from gateway.store.schema import deliveries
from gateway.tracking.payload import PayloadError
from gateway.tracking.rules import Rules
from gateway.tracking.service import AppliedDelivery, TrackingService
from gateway.web.committer import GroupCommitter

pytestmark = pytest.mark.integration

_REFERENCE = Path(os.environ.get(
    "GITHUB_REFERENCE_DIR",
    str(Path(__file__).resolve().parents[4] / "shared" / "reference" / "github")))
PAYLOAD: dict[str, Any] = json.loads(
    (_REFERENCE / "webhooks" / "issue_comment.created.0.json").read_text())


# When the deliveries arrive: a fixed instant, a Sunday night (nothing here reads the wall
# clock; the suite also runs under faketime).
NOW = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)


def service(store: Store) -> TrackingService:
    return TrackingService(store, Rules("visit-users-bot", frozenset({"cyrush"})),
                           BusinessCalendar(), PAYLOAD["repository"]["full_name"])


def comment(n: int) -> dict[str, Any]:
    return {**PAYLOAD, "comment": {**PAYLOAD["comment"], "id": 1000 + n,
                                   "body": f"comment {n}"}}


def recorded(store: Store) -> dict[str, str]:
    with store.read() as tx:
        return {row.guid: row.result for row in tx.conn.execute(sa.select(deliveries))}


def count_commits(store: Store) -> list[int]:
    commits = [0]
    sa.event.listen(store.engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    return commits


def test_concurrent_deliveries_share_commits_and_one_bad_one_spoils_nothing(
        store: Store) -> None:
    tracking = service(store)
    committer = GroupCommitter(store)
    commits = count_commits(store)

    async def deliver(guid: str, payload: dict[str, Any]) -> str:
        applied: AppliedDelivery = await committer.submit(
            lambda tx: tracking.record_delivery(tx, guid, "issue_comment", payload,
                                                NOW))
        # Answered only after the commit: another connection sees the delivery.
        assert guid in recorded(store)
        return applied.result

    async def main() -> list[Any]:
        jobs = [deliver(f"g{n}", comment(n)) for n in range(40)]
        jobs.insert(7, deliver("bad", {"action": "created"}))  # no issue, no comment
        jobs.insert(20, deliver("g3", comment(3)))  # GitHub delivering one GUID twice
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[7], PayloadError)
    rest = results[:7] + results[8:]
    assert rest.count("duplicate") == 1 and rest.count("applied") == 40
    stored = recorded(store)
    assert set(stored) == {f"g{n}" for n in range(40)} and "bad" not in stored
    assert committer.commits <= 3 and commits[0] <= 3, (committer.commits, commits[0])
    # Later, the same GUID again: still applied once.
    again = asyncio.run(committer.submit(lambda tx: tracking.record_delivery(
        tx, "g5", "issue_comment", comment(5), NOW)))
    assert again.result == "duplicate"


def test_a_lone_delivery_waits_for_nothing_but_its_own_commit(store: Store) -> None:
    tracking = service(store)
    committer = GroupCommitter(store)

    async def one_by_one() -> list[str]:
        results = []
        for n in range(5):
            applied = await committer.submit(lambda tx, n=n: tracking.record_delivery(
                tx, f"solo{n}", "issue_comment", comment(n), NOW))
            results.append(applied.result)
        return results

    assert asyncio.run(one_by_one()) == ["applied"] * 5
    assert committer.commits == 5


def test_deliveries_are_recorded_by_an_instance_that_does_not_lead(store: Store) -> None:
    def fenced(_conn: sa.Connection) -> None:
        raise AssertionError("a webhook write was fenced")

    store.fence = fenced
    tracking = service(store)
    committer = GroupCommitter(store)
    applied = asyncio.run(committer.submit(lambda tx: tracking.record_delivery(
        tx, "standby", "issue_comment", comment(1), NOW)))
    assert applied.result == "applied"
    with pytest.raises(AssertionError, match="fenced"), store.tx():
        pass  # any other write is still fenced


def test_a_failing_statement_is_undone_alone(store: Store) -> None:
    tracking = service(store)
    committer = GroupCommitter(store)

    def broken(tx: Any) -> None:
        # A statement the database refuses (on PostgreSQL it aborts the transaction up to
        # the savepoint, which is rolled back).
        tx.conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    async def main() -> list[Any]:
        async def first() -> Any:
            return await committer.submit(lambda tx: tracking.record_delivery(
                tx, "ok", "issue_comment", comment(1), NOW))
        return await asyncio.gather(first(), committer.submit(broken),
                                    return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[1], sa.exc.SQLAlchemyError)
    assert results[0].result == "applied"  # its savepoint was fine, so was the commit
    assert recorded(store) == {"ok": "applied"}

