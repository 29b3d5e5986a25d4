"""What each command queues, over a real store: /answer in discussions (the comment itself, a
reply linked by a new comment, a link), refused in issues; /promote's chain in both targets;
refusals explained; old commands skipped; one reaction per accepted comment; and, through the
tracking service, a command redelivered or read again by reconcile queues nothing twice."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.config.loader import Config
from gateway.config.sections import ProcessSection
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.load import business_calendar, duty_schedule
from gateway.outbound.outbox import FILL_END, FILL_START
from gateway.outbound.render import Renderer
from gateway.store.db import Store
from gateway.store.schema import delegations, outbox, threads
from gateway.tracking.events import CommentEvent
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, TrackingService
from gateway.weekly.commands import CommandContext, CommandHandler

T0 = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC)
REPO = "visit-dav/live-customer-response"
WEB = "https://github.com"


def url(number: int, target: str) -> str:
    kind = "discussions" if target == "discussions" else "issues"
    return f"{WEB}/{REPO}/{kind}/{number}"


def handler(product: str = "visit-dav/visit") -> CommandHandler:
    settings = ProcessSection(product_repository=product, promote_labels=("from-users",))
    return CommandHandler(CommandContext(settings=settings, url=url,
                                         list_address="visit-users@elist.ornl.gov",
                                         list_prefix="[visit-users]", footer_markers=()))


def thread(store: Store, target: str, number: int = 12, title: str = "[visit-users] Crash"
           ) -> str:
    thread_id = f"th-{target}-{number}"
    with store.tx() as tx:
        tx.conn.execute(threads.insert().values(
            thread_id=thread_id, issue_number=number, target=target, title=title,
            created_at=T0, arrived_at=T0))
    return thread_id


def comment(body: str, *, target: str = "discussions", comment_id: int = 500,
            parent_id: int | None = None, at: dt.datetime = T0,
            action: str = "created") -> CommentEvent:
    return CommentEvent(action=action, number=12, comment_id=comment_id,  # type: ignore[arg-type]
                        author="cyrush", at=at, body=body, issue_author="jane",
                        repository=REPO, target=target, category="Q&A",  # type: ignore[arg-type]
                        parent_id=parent_id)


def plan(store: Store, event: CommentEvent, thread_id: str,
         product: str = "visit-dav/visit") -> list[tuple[str, str, dict[str, Any]]]:
    with store.tx() as tx:
        rows = handler(product).rows(tx, event, thread_id, T0 + dt.timedelta(minutes=1))
    return [(r.key, r.kind, r.payload) for r in rows]


def fill(name: str) -> str:
    return f"{FILL_START}{name}{FILL_END}"


def test_answer_marks_the_comment_it_is_written_in(store: Store) -> None:
    th = thread(store, "discussions")
    assert plan(store, comment("Use the zonal option.\n/answer"), th) == [
        ("answer:discussions:500:0", "mark_answer", {"comment_id": 500}),
        ("react:discussions:500", "react", {"comment_id": 500, "content": "+1"}),
    ]


@pytest.mark.parametrize(("event", "linked"), [
    (comment("/answer", parent_id=400), 500),  # in a reply: GitHub cannot mark it; link it
    (comment(f"/answer {WEB}/{REPO}/discussions/12#discussioncomment-450"), 450),
])
def test_answer_links_a_reply_with_a_new_comment_and_marks_that(
        store: Store, event: CommentEvent, linked: int) -> None:
    th = thread(store, "discussions")
    [(key, kind, payload), react] = plan(store, event, th)
    assert (key, kind) == ("comment:answer:discussions:500:0", "add_comment")
    assert f"{REPO}/discussions/12#discussioncomment-{linked})" in payload["body"]
    assert "@" not in payload["body"]
    assert payload["then"] == [{"key": "answer:discussions:500:0", "kind": "mark_answer",
                                "payload": {"comment_id": fill("comment_id")}}]
    assert react[1] == "react"


@pytest.mark.parametrize(("target", "body", "reason"), [
    ("issues", "/answer", "issues have no answers"),
    ("discussions", "/answer 450", "takes a link to a comment of this discussion"),
    ("discussions", f"/answer {WEB}/{REPO}/discussions/13#discussioncomment-1",
     "points to discussion #13, not this one (#12)"),
    ("issues", "/promote not-a-repo", "its argument is not a repository"),
    ("discussions", "/delegate until tomorrow", "there is no duty schedule"),
])
def test_a_refused_command_is_answered_not_reacted_to(
        store: Store, target: str, body: str, reason: str) -> None:
    th = thread(store, target)
    [(key, kind, payload)] = plan(store, comment(body, target=target), th)
    assert (key, kind) == (f"comment:refused:{target}:500:0", "add_comment")
    assert reason in payload["body"] and payload["body"].startswith(f"`/{body.split()[0][1:]}`")


def test_promote_without_a_product_repository_is_refused(store: Store) -> None:
    th = thread(store, "issues")
    [(_key, _kind, payload)] = plan(store, comment("/promote", target="issues"), th, product="")
    assert "no product repository" in payload["body"]


@pytest.mark.parametrize("target", ["issues", "discussions"])
def test_promote_chains_the_product_issue_the_link_and_the_resolution(
        store: Store, target: str) -> None:
    th = thread(store, target)
    event = comment("/promote visit-dav/visit-plugins\nThe Silo reader crashes on 4.11 files.",
                    target=target)
    [(key, kind, payload), react] = plan(store, event, th)
    assert (key, kind) == (f"promote:{target}:500:0", "promote")
    assert payload["repository"] == "visit-dav/visit-plugins"
    assert payload["title"] == "Crash" and payload["labels"] == ["from-users"]
    assert payload["body"].startswith("The Silo reader crashes on 4.11 files.")
    assert url(12, target) in payload["body"] and "`cyrush`" in payload["body"]
    [link] = payload["then"]
    assert link["kind"] == "add_comment" and fill("url") in link["payload"]["body"]
    [resolve] = link["payload"]["then"]
    if target == "issues":
        assert resolve == {"key": "close:issues:500:0", "kind": "close_issue", "payload": {
            "state_reason": "completed", "labels": ["promoted"]}}
    else:
        assert resolve == {"key": "answer:discussions:500:0", "kind": "mark_answer",
                           "payload": {"comment_id": fill("comment_id")}}
    assert react == (f"react:{target}:500", "react", {"comment_id": 500, "content": "+1"})


def test_promote_defaults_to_the_product_repository_and_the_first_message(
        store: Store) -> None:
    th = thread(store, "issues", title="")
    [(_key, _kind, payload), _react] = plan(store, comment("/promote", target="issues"), th)
    assert payload["repository"] == "visit-dav/visit"
    assert payload["title"] == "Customer inquiry #12"
    assert payload["body"].startswith("*(See the inquiry linked below.)*")


@pytest.mark.parametrize("event", [
    comment("/answer", at=T0 - dt.timedelta(days=2)),  # first seen two days late
    comment("/answer", action="edited"),  # an edit never runs a command
    comment("I will /answer later."),
])
def test_nothing_is_queued(store: Store, event: CommentEvent) -> None:
    assert plan(store, event, thread(store, "discussions")) == []


def webhook(comment_id: int, author: str, body: str) -> dict[str, Any]:
    stamp = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"action": "created",
            "issue": {"number": 12, "user": {"login": "jane"}},
            "comment": {"id": comment_id, "user": {"login": author}, "created_at": stamp,
                        "body": body},
            "repository": {"full_name": REPO}}


def test_through_the_service_commands_run_once_and_only_for_the_team(store: Store) -> None:
    thread(store, "issues")
    woken: list[str] = []
    service = TrackingService(
        store, Rules("visit-gateway[bot]", frozenset({"cyrush"})), BusinessCalendar(), REPO,
        discussions=DiscussionScope("visit-dav/visit", "Q&A"), commands=handler().rows,
        on_github_queued=lambda: woken.append("github"))
    now = T0 + dt.timedelta(minutes=1)
    assert service.handle_delivery("g1", "issue_comment", webhook(7, "cyrush", "/promote"),
                                   now) == "applied"
    assert service.handle_delivery("g2", "issue_comment", webhook(7, "cyrush", "/promote"),
                                   now) == "duplicate"  # the same comment, another delivery
    service.handle_delivery("g3", "issue_comment", webhook(8, "jane", "/promote"), now)
    service.handle_delivery("g4", "issue_comment", webhook(9, "visit-gateway[bot]",
                                                           "`/promote` was not run"), now)
    with store.read() as tx:
        keys = [r.key for r in tx.conn.execute(sa.select(outbox.c.key).order_by(outbox.c.id))]
    assert keys == ["promote:issues:7:0", "react:issues:7"]
    assert woken == ["github"]
    with store.read() as tx:
        payload = json.loads(tx.conn.execute(
            sa.select(outbox.c.payload).order_by(outbox.c.id)).first()[0])
    assert payload["repository"] == "visit-dav/visit"


# -- /delegate (the example schedule: the week of Monday 2026-12-07 is biagas's, with
# JustinPrivitera as Backup; see tests/unit/weekly/test_delegation.py) --------------------

LA = ZoneInfo("America/Los_Angeles")


def delegating_handler(example_config: Config) -> CommandHandler:
    calendar = business_calendar(example_config)
    return CommandHandler(CommandContext(
        settings=ProcessSection(), url=url, list_address="visit-users@elist.ornl.gov",
        list_prefix="[visit-users]", footer_markers=(),
        schedule=duty_schedule(example_config, calendar), renderer=Renderer(calendar),
        tz=calendar.tz))


def delegate_comment(author: str, body: str) -> CommentEvent:
    at = dt.datetime(2026, 12, 8, 13, 0, tzinfo=LA)
    return CommentEvent(action="created", number=12, comment_id=600, author=author, at=at,
                        body=body, issue_author="jane", repository=REPO, target="issues")


def test_delegate_by_the_primary_records_it_and_tells_the_backup(
        store: Store, example_config: Config) -> None:
    th = thread(store, "issues")
    event = delegate_comment("biagas", "Meetings all afternoon.\n/delegate until 2026-12-08T17:00")
    with store.tx() as tx:
        rows = delegating_handler(example_config).rows(tx, event, th, event.at)
    assert [(r.key, r.kind) for r in rows] == [("react:issues:600", "react")]
    with store.read() as tx:
        recorded = tx.conn.execute(sa.select(delegations)).one()
        mails = [r.key for r in tx.conn.execute(sa.select(outbox.c.key))]
    assert (recorded.from_login, recorded.to_login, recorded.source) == (
        "biagas", "JustinPrivitera", "command")
    assert recorded.until_at == dt.datetime(2026, 12, 8, 17, 0, tzinfo=LA).astimezone(dt.UTC)
    assert mails == [f"mail:delegation:{recorded.id}"]


@pytest.mark.parametrize(("author", "body", "reason"), [
    ("JustinPrivitera", "/delegate until 2026-12-08T17:00", "Primary"),
    ("biagas", "/delegate tomorrow", "not ISO 8601"),
    ("biagas", "/delegate until 2026-12-08T17:00 to", "write /delegate until"),
])
def test_delegate_refused(store: Store, example_config: Config, author: str, body: str,
                          reason: str) -> None:
    th = thread(store, "issues")
    event = delegate_comment(author, body)
    with store.tx() as tx:
        [row] = delegating_handler(example_config).rows(tx, event, th, event.at)
    assert row.key == "comment:refused:issues:600:0" and reason in row.payload["body"]
    with store.read() as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(delegations)).scalar() == 0
