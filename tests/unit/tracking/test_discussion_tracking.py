"""Tracking discussions over a real SQLite store: which discussions are inquiries (the configured
repository and category), answered resolves and unanswered reopens, label deltas, a discussion
moved away stops being tracked and one moved back is tracked again, and comment ids that an
issue comment also has stay apart. Bodies are built from GitHub's own example deliveries."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.duty.businesstime import BusinessCalendar
from gateway.store.db import Store
from gateway.store.schema import gh_comments, threads
from gateway.testing.reference import reference_dir
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, TrackingService

REPO = "visit-dav/visit"
CATEGORY = "Help"
T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # Monday 09:00 in Los Angeles


def stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def example(name: str) -> dict[str, Any]:
    path = reference_dir() / "webhooks" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def service(store: Store) -> TrackingService:
    rules = Rules(bot_login="visit-gateway[bot]", team=frozenset({"cyrush", "biagas"}))
    return TrackingService(store, rules, BusinessCalendar(), "visit-dav/live-customer-response",
                           discussions=DiscussionScope(REPO, CATEGORY))


def discussion(action: str, *, number: int = 12, category: str = CATEGORY,
               at: dt.datetime = T0, author: str = "customer1",
               example_name: str = "discussion.created.0", **extra: Any) -> dict[str, Any]:
    body = copy.deepcopy(example(example_name))
    body["action"] = action
    d = body["discussion"]
    d.update(number=number, created_at=stamp(T0), updated_at=stamp(at), state="open")
    d["user"]["login"] = author
    d["category"]["name"] = category
    body["repository"]["full_name"] = REPO
    body.update(extra)
    return body


def comment(action: str, comment_id: int, author: str, at: dt.datetime, *,
            number: int = 12, category: str = CATEGORY) -> dict[str, Any]:
    body = copy.deepcopy(example("discussion_comment.created.0"))
    body["action"] = action
    body["discussion"].update(number=number, created_at=stamp(T0), updated_at=stamp(at))
    body["discussion"]["user"]["login"] = "customer1"
    body["discussion"]["category"]["name"] = category
    body["comment"].update(id=comment_id, created_at=stamp(at), updated_at=stamp(at),
                           body="Looking into it.")
    body["comment"]["user"]["login"] = author
    body["repository"]["full_name"] = REPO
    return body


def row(store: Store, number: int = 12) -> Any:
    with store.read() as tx:
        return tx.conn.execute(sa.select(threads).where(
            threads.c.target == "discussions", threads.c.issue_number == number)).first()


class Deliveries:
    def __init__(self, store: Store) -> None:
        self.svc = service(store)
        self.n = 0

    def __call__(self, event: str, body: dict[str, Any]) -> str:
        self.n += 1
        return self.svc.handle_delivery(f"guid-{self.n}", event, body, T0)


def test_a_discussion_in_the_category_is_an_inquiry_from_its_creation(store: Store) -> None:
    send = Deliveries(store)
    assert send("discussion", discussion("created")) == "applied"
    got = row(store)
    assert (got.thread_id, got.target, got.arrived_at, got.issue_author, got.state) == (
        "ghd-12", "discussions", T0, "customer1", "open")


@pytest.mark.parametrize("case", ["other category", "other repository"])
def test_a_discussion_elsewhere_is_not_an_inquiry(store: Store, case: str) -> None:
    send = Deliveries(store)
    body = discussion("created", category="Ideas")
    if case == "other repository":
        body = discussion("created")
        body["repository"]["full_name"] = "visit-dav/other"
    assert send("discussion", body) == "ignored"
    assert send("discussion_comment", comment("created", 1, "cyrush", T0, category="Ideas")
                if case == "other category" else
                {**comment("created", 1, "cyrush", T0),
                 "repository": {**body["repository"]}}) == "ignored"
    assert row(store) is None


def test_without_a_discussion_scope_discussions_are_ignored(store: Store) -> None:
    rules = Rules(bot_login="visit-gateway[bot]", team=frozenset({"cyrush"}))
    svc = TrackingService(store, rules, BusinessCalendar(), REPO)
    assert svc.handle_delivery("g", "discussion", discussion("created"), T0) == "ignored"
    assert row(store) is None


def test_first_response_answer_and_unanswer(store: Store) -> None:
    send = Deliveries(store)
    send("discussion", discussion("created"))
    send("discussion_comment", comment("created", 5, "customer1", T0 + dt.timedelta(minutes=5)))
    assert row(store).first_response_at is None  # the customer is no responder
    reply_at = T0 + dt.timedelta(hours=1)
    send("discussion_comment", comment("created", 6, "cyrush", reply_at))
    assert (row(store).first_response_at, row(store).first_response_by) == (reply_at, "cyrush")
    answered_at = T0 + dt.timedelta(hours=2)
    answered = discussion("answered", example_name="discussion.answered.1", at=answered_at)
    answered["discussion"]["answer_chosen_at"] = stamp(answered_at)
    send("discussion", answered)
    assert (row(store).state, row(store).resolved_at) == ("closed", answered_at)
    send("discussion", discussion("unanswered", at=answered_at + dt.timedelta(hours=1)))
    got = row(store)
    assert (got.state, got.resolved_at, got.reopened_count) == ("open", None, 1)


def test_label_deltas_when_the_body_lists_no_labels(store: Store) -> None:
    send = Deliveries(store)
    send("discussion", discussion("created"))
    for action, name in (("labeled", "SRE"), ("labeled", "serious"), ("unlabeled", "SRE")):
        body = discussion(action, example_name="discussion.labeled.6")
        body["label"]["name"] = name
        body["discussion"].pop("labels", None)
        send("discussion", body)
    assert json.loads(row(store).labels) == ["serious"]


@pytest.mark.parametrize("move", ["category_changed", "transferred", "deleted"])
def test_a_discussion_moved_away_stops_being_tracked(
        store: Store, move: str, caplog: pytest.LogCaptureFixture) -> None:
    send = Deliveries(store)
    send("discussion", discussion("created"))
    if move == "category_changed":
        body = discussion(move, category="Ideas", example_name="discussion.category_changed.2")
    elif move == "transferred":
        body = discussion(move, example_name="discussion.transferred.11")
    else:
        body = discussion(move)
    assert send("discussion", body) == "applied"
    assert row(store).state == "moved"
    # Later activity on it changes nothing: it is no inquiry any more.
    assert send("discussion_comment", comment("created", 9, "cyrush", T0)) == "ignored"
    assert row(store).first_response_at is None


def test_a_discussion_moved_back_is_tracked_again(store: Store) -> None:
    send = Deliveries(store)
    send("discussion", discussion("created"))
    send("discussion", discussion("category_changed", category="Ideas",
                                  example_name="discussion.category_changed.2"))
    assert send("discussion", discussion("category_changed",
                                         example_name="discussion.category_changed.2")
                ) == "applied"
    assert row(store).state == "open"
    send("discussion_comment", comment("created", 9, "cyrush", T0 + dt.timedelta(hours=1)))
    assert row(store).first_response_by == "cyrush"


def test_a_discussion_comment_and_an_issue_comment_with_one_id_are_two(store: Store) -> None:
    send = Deliveries(store)
    send("discussion_comment", comment("created", 77, "cyrush", T0 + dt.timedelta(hours=1)))
    issue_comment = {
        "action": "created",
        "issue": {"number": 12, "user": {"login": "customer2"}},
        "comment": {"id": 77, "user": {"login": "biagas"}, "created_at": stamp(T0),
                    "body": "Hi"},
        "repository": {"full_name": "visit-dav/live-customer-response"},
    }
    assert send("issue_comment", issue_comment) == "applied"
    with store.read() as tx:
        seen = tx.conn.execute(sa.select(gh_comments.c.target, gh_comments.c.comment_id)
                               .order_by(gh_comments.c.target)).all()
        numbers = tx.conn.execute(sa.select(threads.c.thread_id, threads.c.target)
                                  .order_by(threads.c.thread_id)).all()
    assert seen == [("discussions", 77), ("issues", 77)]
    assert numbers == [("gh-12", "issues"), ("ghd-12", "discussions")]
