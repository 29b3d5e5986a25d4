"""The tracking shell over a real SQLite store: deliveries applied once, webhook and reconcile
agreeing, /spend replaced on edit, unknown issues adopted, emailed team replies counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.config.loader import Config
from gateway.duty.businesstime import BusinessCalendar
from gateway.inbound.pipeline import Pipeline
from gateway.store.db import Store
from gateway.store.schema import effort, threads
from gateway.tracking.events import CommentEvent
from gateway.tracking.rules import Rules
from gateway.tracking.service import TrackingService
from gateway.wiring import pipeline_settings
from tests.unit.mail import raw

REPO = "visit-dav/live-customer-response"
T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # Monday 09:00 in Los Angeles


def service(store: Store) -> TrackingService:
    rules = Rules(bot_login="visit-users-bot", team=frozenset({"cyrush", "biagas"}))
    return TrackingService(store, rules, BusinessCalendar(), REPO)


def comment_payload(action: str, comment_id: int, author: str, body: str,
                    at: dt.datetime = T0) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "action": action,
        "issue": {"number": 5, "user": {"login": "customer1"}, "created_at": stamp,
                  "updated_at": stamp, "state": "open", "assignees": [], "labels": [],
                  "title": "T", "closed_at": None},
        "comment": {"id": comment_id, "user": {"login": author}, "created_at": stamp,
                    "updated_at": stamp, "body": body},
        "repository": {"full_name": REPO},
        "sender": {"login": author},
    }


def thread_row(store: Store, number: int) -> Any:
    with store.read() as tx:
        return tx.conn.execute(sa.select(threads).where(threads.c.issue_number == number)).one()


def spent(store: Store) -> list[tuple[str, int]]:
    with store.read() as tx:
        return [(r.login, r.minutes) for r in tx.conn.execute(sa.select(effort))]


def test_same_delivery_twice_is_applied_once(store: Store) -> None:
    svc = service(store)
    payload = comment_payload("created", 1, "cyrush", "On it.\n/spend 30m")
    assert svc.handle_delivery("guid-1", "issue_comment", payload, T0) == "applied"
    assert svc.handle_delivery("guid-1", "issue_comment", payload, T0) == "duplicate"
    assert spent(store) == [("cyrush", 30)]
    row = thread_row(store, 5)
    assert row.thread_id == "gh-5" and row.issue_author == "customer1"
    assert row.first_response_by == "cyrush"


def test_reconcile_after_webhook_changes_nothing_and_earliest_wins(store: Store) -> None:
    svc = service(store)
    later = T0 + dt.timedelta(hours=2)
    svc.handle_delivery("g1", "issue_comment", comment_payload("created", 2, "biagas", "x",
                                                               later), T0)
    again = CommentEvent(action="created", number=5, comment_id=2, author="biagas", at=later,
                         body="x", issue_author="customer1", repository=REPO)
    assert svc.apply_event(again, T0) == "duplicate"
    earlier = CommentEvent(action="created", number=5, comment_id=3, author="cyrush", at=T0,
                           body="first", issue_author="customer1", repository=REPO)
    assert svc.apply_event(earlier, T0) == "applied"
    row = thread_row(store, 5)
    assert (row.first_response_by, row.first_response_at) == ("cyrush", T0)


def test_edit_replaces_spend_and_delete_removes_it_but_not_the_response(store: Store) -> None:
    svc = service(store)
    svc.handle_delivery("g1", "issue_comment", comment_payload("created", 4, "cyrush",
                                                               "On it.\n/spend 1h"), T0)
    svc.handle_delivery("g2", "issue_comment", comment_payload("edited", 4, "cyrush",
                                                               "On it.\n/spend 1h30m"), T0)
    assert spent(store) == [("cyrush", 90)]
    svc.handle_delivery("g3", "issue_comment", comment_payload("deleted", 4, "cyrush",
                                                               "On it.\n/spend 1h30m"), T0)
    assert spent(store) == []
    assert thread_row(store, 5).first_response_by == "cyrush"


@pytest.mark.parametrize("body", ["/spend 1h", "/internal Kathleen, is this the Silo bug?",
                                  "/delegate until 2026-03-02T17:00",
                                  "/promote\nThe Silo reader crashes.", "<!-- x -->\n/spend 5m"])
def test_a_comment_that_says_nothing_to_the_customer_is_no_response(store: Store,
                                                                    body: str) -> None:
    svc = service(store)
    svc.handle_delivery("g1", "issue_comment", comment_payload("created", 4, "cyrush", body),
                        T0)
    row = thread_row(store, 5)
    assert (row.first_response_by, row.last_team_at) == (None, None)


def test_customer_and_bot_comments_are_not_responses(store: Store) -> None:
    svc = service(store)
    svc.handle_delivery("g1", "issue_comment", comment_payload("created", 6, "customer1",
                                                               "/spend 5h"), T0)
    svc.handle_delivery("g2", "issue_comment", comment_payload("created", 7,
                                                               "visit-users-bot", "relay"), T0)
    assert thread_row(store, 5).first_response_at is None
    assert spent(store) == []  # only team members record effort


def test_other_repository_and_ping_are_ignored(store: Store) -> None:
    svc = service(store)
    payload = comment_payload("created", 8, "cyrush", "x")
    payload["repository"] = {"full_name": "visit-dav/visit"}
    assert svc.handle_delivery("g1", "issue_comment", payload, T0) == "ignored"
    assert svc.handle_delivery("g2", "ping", {"zen": "Design for failure."}, T0) == "ignored"


def test_a_team_members_emailed_reply_is_a_first_response(store: Store,
                                                          example_config: Config) -> None:
    pipeline = Pipeline(store, pipeline_settings(example_config), lambda _t: "biagas")
    question = raw({"Message-ID": "<tq@univ.edu>", "Date": "Mon, 2 Mar 2026 09:00:00 -0800"},
                   "Question\n")
    answer = raw({"Message-ID": "<ta@llnl.gov>", "From": "Cyrus Harrison <cyrush@llnl.gov>",
                  "In-Reply-To": "<tq@univ.edu>", "Date": "Mon, 2 Mar 2026 10:15:00 -0800"},
                 "Use the Elevate operator.\n")
    for message in (question, answer):
        pipeline.process(pipeline.ingest(message, received_at=T0).key, now=T0)
    with store.read() as tx:
        row = tx.conn.execute(sa.select(threads)).one()
    assert row.first_response_by == "cyrush"
    assert row.first_response_at == dt.datetime(2026, 3, 2, 18, 15, tzinfo=dt.UTC)
    with store.read() as tx:
        assert tx.customers(row.thread_id) == ["jane.roe@univ.edu"]  # the team is no customer


def test_spend_in_a_team_members_emailed_reply_is_their_effort_once(
        store: Store, example_config: Config) -> None:
    """The bot posts the reply, so no webhook would credit it: the pipeline records the /spend
    lines of the reply's new text (not its quote) for the team member, once, and the bot's
    comment webhook does not erase them."""
    pipeline = Pipeline(store, pipeline_settings(example_config), lambda _t: "biagas")
    question = raw({"Message-ID": "<sq@univ.edu>", "Date": "Mon, 2 Mar 2026 09:00:00 -0800"},
                   "Question\n")
    answer = raw({"Message-ID": "<sa@llnl.gov>", "From": "Cyrus Harrison <cyrush@llnl.gov>",
                  "In-Reply-To": "<sq@univ.edu>", "Date": "Tue, 3 Mar 2026 10:15:00 -0800"},
                 "Use the Elevate operator.\n/spend 1h30m\n/spend 20m 2026-03-02\n"
                 "/spend lots\n\n-----Original Message-----\n"
                 "From: Jane Roe <jane.roe@univ.edu>\nSent: Monday, March 2, 2026 9:00 AM\n"
                 "To: visit-users@elist.ornl.gov\nSubject: Question\n\nQuestion\n/spend 5h\n")
    customer = raw({"Message-ID": "<sc@univ.edu>", "In-Reply-To": "<sa@llnl.gov>",
                    "Date": "Tue, 3 Mar 2026 11:00:00 -0800"},
                   "Thanks!\n/spend 2h\n")
    for message in (question, answer, answer, customer):
        pipeline.process(pipeline.ingest(message, received_at=T0).key, now=T0)
    with store.read() as tx:
        rows = [(r.login, r.day, r.minutes) for r in tx.conn.execute(
            sa.select(effort).order_by(effort.c.seq))]
    assert rows == [("cyrush", dt.date(2026, 3, 3), 90), ("cyrush", dt.date(2026, 3, 2), 20)]
    # The webhook of the bot's comment carrying the reply leaves the entries alone.
    number = 11
    with store.tx() as tx:
        tx.conn.execute(threads.update().values(issue_number=number))
    payload = comment_payload("created", 900, "visit-users-bot", "Use the Elevate operator.\n"
                              "/spend 1h30m")
    payload["issue"]["number"] = number
    assert service(store).handle_delivery("g9", "issue_comment", payload, T0) == "applied"
    assert sorted(spent(store)) == [("cyrush", 20), ("cyrush", 90)]
