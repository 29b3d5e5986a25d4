"""Webhook group commit on both engines: deliveries arriving together share a transaction
(claimed and recorded set-wise), a GUID is still applied once (twice in one batch, or again
later), each answer comes after its commit, one that fails is undone alone and what it would
have logged or counted never happens, and the leader's fence does not stop a standby from
recording deliveries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from gateway.duty.businesstime import BusinessCalendar
from gateway.store.db import Store, Tx
from gateway.store.schema import deliveries, gh_comments
from gateway.tracking.rules import Rules
from gateway.tracking.service import (
    AppliedDelivery,
    IncomingDelivery,
    TrackingService,
    parse_delivery,
)
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


def service(store: Store, observed: list[float] | None = None) -> TrackingService:
    return TrackingService(store, Rules("visit-users-bot", frozenset({"cyrush"})),
                           BusinessCalendar(), PAYLOAD["repository"]["full_name"],
                           on_first_response=None if observed is None else observed.append)


def comment(n: int, *, issue: int | None = None, by: str | None = None) -> dict[str, Any]:
    """The reference comment with its own id; on issue `issue` (by default the reference's)
    and by `by` (by default the reference's author, not on the team)."""
    user = PAYLOAD["comment"]["user"] if by is None else {**PAYLOAD["comment"]["user"],
                                                          "login": by}
    number = PAYLOAD["issue"]["number"] if issue is None else issue
    return {**PAYLOAD, "issue": {**PAYLOAD["issue"], "number": number},
            "comment": {**PAYLOAD["comment"], "id": 1000 + n, "body": f"comment {n}",
                        "user": user}}


def delivery(guid: str, payload: dict[str, Any]) -> IncomingDelivery:
    return parse_delivery(guid, "issue_comment", payload, NOW)


def recorded(store: Store) -> dict[str, str]:
    with store.read() as tx:
        return {row.guid: row.result for row in tx.conn.execute(sa.select(deliveries))}


def count_commits(store: Store) -> list[int]:
    commits = [0]
    sa.event.listen(store.engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    return commits


def test_concurrent_deliveries_share_commits_and_a_guid_is_applied_once(store: Store) -> None:
    tracking = service(store)
    committer = GroupCommitter(store, tracking.record_deliveries)
    commits = count_commits(store)

    async def deliver(guid: str, payload: dict[str, Any]) -> str:
        applied: AppliedDelivery = await committer.submit(delivery(guid, payload))
        # Answered only after the commit: another connection sees the delivery.
        assert guid in recorded(store)
        return applied.result

    async def main() -> list[str]:
        jobs = [deliver(f"g{n}", comment(n, issue=1 + n % 3)) for n in range(40)]
        jobs.insert(20, deliver("g3", comment(3, issue=1)))  # one GUID twice, close together
        return await asyncio.gather(*jobs)

    results = asyncio.run(main())
    assert results.count("duplicate") == 1 and results.count("applied") == 40
    assert results.index("duplicate") in (3, 20)  # whichever copy came second
    stored = recorded(store)
    assert stored == {f"g{n}": "applied" for n in range(40)}
    assert committer.commits <= 3 and commits[0] <= 3, (committer.commits, commits[0])
    assert committer.retried == 0  # every batch went whole
    with store.read() as tx:  # every comment remembered, on its own issue's thread
        seen = {(row.issue_number, row.comment_id) for row in tx.conn.execute(
            sa.select(gh_comments.c.issue_number, gh_comments.c.comment_id))}
    assert seen == {(1 + n % 3, 1000 + n) for n in range(40)}
    # Later, the same GUID again: still applied once.
    again = asyncio.run(committer.submit(delivery("g5", comment(5, issue=3))))
    assert again.result == "duplicate"


def test_one_guid_twice_in_one_batch_is_applied_once(store: Store) -> None:
    tracking = service(store)
    with store.tx() as tx:
        applied = tracking.record_deliveries(tx, [
            delivery("a", comment(1)), delivery("b", comment(2)), delivery("a", comment(3)),
            delivery("c", comment(2))])  # another GUID with a comment already applied
    assert [a.result for a in applied] == ["applied", "applied", "duplicate", "duplicate"]
    assert recorded(store) == {"a": "applied", "b": "applied", "c": "duplicate"}
    with store.read() as tx:  # the first copy of "a" is the one applied
        assert {row.comment_id for row in tx.conn.execute(sa.select(gh_comments))} == {
            1001, 1002}


def test_a_lone_delivery_waits_for_nothing_but_its_own_commit(store: Store) -> None:
    tracking = service(store)
    committer = GroupCommitter(store, tracking.record_deliveries)

    async def one_by_one() -> list[str]:
        results = []
        for n in range(5):
            applied = await committer.submit(delivery(f"solo{n}", comment(n)))
            results.append(applied.result)
        return results

    assert asyncio.run(one_by_one()) == ["applied"] * 5
    assert committer.commits == 5


def test_deliveries_are_recorded_by_an_instance_that_does_not_lead(store: Store) -> None:
    def fenced(_conn: sa.Connection) -> None:
        raise AssertionError("a webhook write was fenced")

    store.fence = fenced
    tracking = service(store)
    committer = GroupCommitter(store, tracking.record_deliveries)
    applied = asyncio.run(committer.submit(delivery("standby", comment(1))))
    assert applied.result == "applied"
    with pytest.raises(AssertionError, match="fenced"), store.tx():
        pass  # any other write is still fenced


BROKEN = IncomingDelivery("broken", "issue_comment", None, NOW)


def test_a_failing_item_is_undone_alone_and_what_it_deferred_never_happens(
        store: Store) -> None:
    """The batch runs whole first; when an item fails, that transaction is rolled back and
    the batch runs item by item: the others are applied once, and what the first attempt
    would have logged or counted (a first response) is said once, after the commit."""
    observed: list[float] = []
    tracking = service(store, observed)

    def run(tx: Tx, items: Sequence[IncomingDelivery]) -> list[AppliedDelivery]:
        applied = []
        for item in items:  # in order: the first is applied before the broken one fails
            if item is BROKEN:
                # A statement the database refuses (on PostgreSQL it aborts the transaction,
                # or the savepoint's part of it).
                tx.conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
            applied += tracking.record_deliveries(tx, [item])
        return applied

    committer = GroupCommitter(store, run)

    async def main() -> list[Any]:
        return await asyncio.gather(
            committer.submit(delivery("first", comment(1, by="cyrush"))),  # a team reply
            committer.submit(BROKEN),
            committer.submit(delivery("last", comment(2))),
            return_exceptions=True)

    with capture_logs() as logs:
        results = asyncio.run(main())
    assert isinstance(results[1], sa.exc.SQLAlchemyError)
    assert [results[0].result, results[2].result] == ["applied", "applied"]
    assert committer.retried == 1 and committer.commits == 1
    assert recorded(store) == {"first": "applied", "last": "applied"}
    assert len(observed) == 1  # the first response counted once, not once an attempt
    events = [line["event"] for line in logs]
    assert events.count("tracking.issue_seen") == 1
    assert events.count("tracking.first_response") == 1
