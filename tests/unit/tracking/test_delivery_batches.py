"""Deliveries recorded in batches (a group commit's: claimed, read and recorded set-wise, their
writes queued and sent together) leave the store exactly as the same deliveries recorded one
transaction each with every write sent as it is made, on both engines, for
any mix: issues and discussions opened, closed, reopened, labelled, assigned, moved out of the
category and back; comments created, edited and deleted by customers, the team and the bot;
`/spend` lines; other repositories; events the gateway ignores; and GUIDs redelivered, within a
batch or across batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from gateway.duty.businesstime import BusinessCalendar
from gateway.store.db import Store
from gateway.store.prepared import CACHED_PARAMETERS, immediate_writes
from gateway.store.schema import deliveries, effort, gh_comments, threads
from gateway.tracking import service as tracking_service
from gateway.tracking.rules import Rules
from gateway.tracking.service import (
    DiscussionScope,
    IncomingDelivery,
    TrackingService,
    parse_delivery,
)

REPO = "visit-dav/live-customer-response"
CATEGORY = "Q&A"
T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # Monday 09:00 in Los Angeles
PEOPLE = ("customer1", "customer2", "cyrush", "biagas", "visit-users-bot")
BODIES = ("thanks", "On it.\n/spend 30m", "/internal is this the Silo bug?", "/spend 1h\n/spend 2x",
          "Fixed in 3.4.2.")
TABLES = (deliveries, effort, gh_comments, threads)


def service(store: Store) -> TrackingService:
    rules = Rules(bot_login="visit-users-bot", team=frozenset({"cyrush", "biagas"}))
    return TrackingService(store, rules, BusinessCalendar(), REPO,
                           discussions=DiscussionScope(REPO, CATEGORY))


def stamp(minutes: int) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_body(number: int, action: str, at: int, author: str, *, other_repo: bool) -> Any:
    closed = action == "closed"
    return {
        "action": action,
        "issue": {"number": number, "user": {"login": "customer1"}, "created_at": stamp(0),
                  "updated_at": stamp(at), "closed_at": stamp(at) if closed else None,
                  "state": "closed" if closed else "open",
                  "assignees": [{"login": "cyrush"}] if action == "assigned" else [],
                  "labels": [{"name": "bug"}] if action == "labeled" else []},
        "repository": {"full_name": "someone/else" if other_repo else REPO},
        "sender": {"login": author},
        **({"assignee": {"login": "cyrush"}} if action in ("assigned", "unassigned") else {}),
        **({"label": {"name": "bug"}} if action in ("labeled", "unlabeled") else {}),
    }


def comment_body(target: str, number: int, action: str, comment_id: int, author: str,
                 body: str, *, other_repo: bool, category: str) -> Any:
    parent = ({"number": number, "user": {"login": "customer1"}} if target == "issues" else
              {"number": number, "user": {"login": "customer1"}, "category": {"name": category}})
    return {
        "action": action,
        "issue" if target == "issues" else "discussion": parent,
        "comment": {"id": comment_id, "user": {"login": author},
                    "created_at": stamp(comment_id), "body": body},
        "repository": {"full_name": "someone/else" if other_repo else REPO},
    }


def discussion_body(number: int, action: str, at: int, category: str) -> Any:
    return {
        "action": action,
        "discussion": {"number": number, "state": "closed" if action == "closed" else "open",
                       "created_at": stamp(0), "updated_at": stamp(at),
                       "answer_chosen_at": stamp(at) if action == "answered" else None,
                       "user": {"login": "customer2"}, "category": {"name": category}},
        "repository": {"full_name": REPO},
        "sender": {"login": "cyrush"},
    }


@st.composite
def a_delivery(draw: st.DrawFn, index: int) -> tuple[str, str, Any]:
    """(GUID, event name, payload): two issues, two discussions and four comments on each
    side, so that deliveries in one batch often meet on the same thread and the same comment
    (created, deleted, then edited; moved out of the category, then commented on)."""
    kind = draw(st.sampled_from(["issues", "issue_comment", "issue_comment", "discussion",
                                 "discussion_comment", "ping"]))
    number = draw(st.integers(1, 2))
    at = draw(st.integers(1, 600))
    other_repo = draw(st.booleans().map(lambda b: b and draw(st.integers(0, 9)) == 0))
    if kind == "issues":
        action = draw(st.sampled_from(["opened", "closed", "reopened", "assigned", "labeled",
                                       "unlabeled", "edited", "locked"]))
        payload = issue_body(number, action, at, draw(st.sampled_from(PEOPLE)),
                             other_repo=other_repo)
    elif kind in ("issue_comment", "discussion_comment"):
        target = "issues" if kind == "issue_comment" else "discussions"
        comment_id = draw(st.integers(1, 4))
        payload = comment_body(
            target, 1 + comment_id % 2, draw(st.sampled_from(["created", "created", "edited",
                                                              "deleted"])),
            comment_id + (0 if target == "issues" else 100), draw(st.sampled_from(PEOPLE)),
            draw(st.sampled_from(BODIES)), other_repo=other_repo,
            category=draw(st.sampled_from([CATEGORY, CATEGORY, "General"])))
    elif kind == "discussion":
        action = draw(st.sampled_from(["created", "closed", "reopened", "answered",
                                       "category_changed", "category_changed", "deleted",
                                       "labeled"]))
        payload = discussion_body(number, action, at,
                                  draw(st.sampled_from([CATEGORY, "General"])))
        if action == "labeled":
            payload["label"] = {"name": "bug"}
    else:
        payload = {"zen": "Keep it logically awesome.", "hook_id": 1}
    guid = draw(st.sampled_from([f"g{index}", f"g{index}", f"g{index}", "g0", "g1", "g2"]))
    return guid, kind, payload


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[tuple[str, str, Any]], list[int]]:
    """Deliveries in arrival order, and the sizes of the batches they are split into."""
    sent = [draw(a_delivery(n)) for n in range(draw(st.integers(1, 20)))]
    # Later changes to a comment already sent: edited or deleted after it, often in its batch.
    for n in range(draw(st.integers(0, 5))):
        comments = [i for i, (_, kind, _) in enumerate(sent) if kind.endswith("comment")]
        if not comments:
            break
        i = draw(st.sampled_from(comments))
        _, kind, payload = sent[i]
        action = draw(st.sampled_from(["edited", "deleted"]))
        sent.insert(draw(st.integers(i + 1, len(sent))),
                    (f"later{n}", kind, {**payload, "action": action}))
    count = len(sent)
    sizes: list[int] = []
    while sum(sizes) < count:
        sizes.append(draw(st.integers(1, count - sum(sizes))))
    return sent, sizes


def state(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.read() as tx:
        return {table.name: sorted((tuple(row) for row in tx.conn.execute(sa.select(table))),
                                   key=repr) for table in TABLES}


def clear(store: Store) -> None:
    with store.tx() as tx:
        for table in TABLES:
            tx.conn.execute(table.delete())


def incoming(sent: list[tuple[str, str, Any]]) -> list[IncomingDelivery]:
    return [parse_delivery(guid, name, payload, T0 + dt.timedelta(seconds=n))
            for n, (guid, name, payload) in enumerate(sent)]


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@given(run=runs())
def test_batches_leave_the_store_as_one_delivery_a_transaction_does(
        store: Store, run: tuple[list[tuple[str, str, Any]], list[int]]) -> None:
    check_batches(store, run)


def check_batches(store: Store, run: tuple[list[tuple[str, str, Any]], list[int]]) -> None:
    """Recorded in batches of `sizes`, `sent` gives each delivery the answer and the store
    the state that recording each alone in a transaction of its own gives."""
    sent, sizes = run
    svc = service(store)
    clear(store)
    one_by_one = []
    for delivery in incoming(sent):
        with immediate_writes(), store.tx() as tx:  # each write sent as it is made
            one_by_one += [a.result for a in svc.record_deliveries(tx, [delivery])]
    alone = state(store)
    clear(store)
    batched = []
    pending = incoming(sent)
    for size in sizes:
        batch, pending = pending[:size], pending[size:]
        with store.tx() as tx:
            batched += [a.result for a in svc.record_deliveries(tx, batch)]
    assert batched == one_by_one
    assert state(store) == alone


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
@given(run=runs())
def test_claims_and_reads_split_into_several_statements_change_nothing(
        store: Store, run: tuple[list[tuple[str, str, Any]], list[int]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's claims and reads go in statements of at most CLAIM_CHUNK rows and READ_CHUNK
    keys (psycopg's conversion cache takes at most 50 parameters). With both set to 1 and 2,
    every batch here is several statements: the store must still end as one delivery a
    transaction leaves it."""
    monkeypatch.setattr(tracking_service, "CLAIM_CHUNK", 2)
    monkeypatch.setattr(tracking_service, "READ_CHUNK", 1)
    check_batches(store, run)


def test_a_batchs_statements_stay_within_the_parameters_psycopg_caches() -> None:
    """Every claim and read of a large batch has at most CACHED_PARAMETERS parameters, the
    installed psycopg's limit for keeping a statement's converted placeholders."""
    import types

    from psycopg import _queries

    assert CACHED_PARAMETERS == _queries.MAX_CACHED_STATEMENT_PARAMS
    batch = [IncomingDelivery(f"g{n}", "ping", None, T0) for n in range(100)]
    claims = TrackingService._claim_runs(batch)
    assert sum(len(params) // 3 for _, params in claims) >= 100 and len(claims) > 1
    events: list[Any] = [types.SimpleNamespace(target="issues", number=n) for n in range(100)]
    reads = tracking_service._Known(events).reads()
    assert len(reads) > 1
    # What psycopg is given: the statement's own values count too (a literal in `.values()`
    # is a parameter a row unless written into the SQL).
    dialect = postgresql.psycopg.dialect()
    for prepared, params in [*claims, *reads]:
        assert len(params) <= CACHED_PARAMETERS
        assert set(prepared.parameters(dialect)) == set(params)
