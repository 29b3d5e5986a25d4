"""The stale rule against the GitHub emulator, in both targets, with a manual clock and the real
pipeline, writer, tracking service and notifier.

A mailed inquiry answered by the team on GitHub and then silent is warned 18 calendar days later
(a comment, and a mail to the customer) and closed as won't fix at 21 days: an issue as not
planned with `wontfix`; a discussion labelled `wontfix` with the team's answer marked. A reply
by mail after the warning cancels the close; a reply after the close reopens the thread."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.config.loader import Config
from gateway.inbound.pipeline import Pipeline
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.store.schema import outbox, threads
from gateway.testing.github_emulator import Emulator
from gateway.tracking.events import CommentEvent, IssueEvent
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, TrackingService
from gateway.weekly.notify import Notifier
from gateway.weekly.stale import StaleSettings
from gateway.wiring import assignee_function, pipeline_settings
from tests.unit.mail import raw

from ..daemon import BOT, REPO, setup_discussions, setup_github
from ..harness import drain, github_writer, in_discussions, notify_context

pytestmark = pytest.mark.integration
LA = ZoneInfo("America/Los_Angeles")
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=LA)  # Monday
RULE = StaleSettings(days=21, warning_days=3, keep_label="stale:keep", wontfix_label="wontfix")


@dataclass
class World:
    target: str
    clock: ManualClock
    emulator: Emulator
    store: Store
    pipeline: Pipeline
    writer: GitHubWriter
    notifier: Notifier
    service: TrackingService

    def mail(self, message_id: str, body: str, at: dt.datetime,
             in_reply_to: str | None = None) -> None:
        self.clock.set(at)
        headers = {"Message-ID": message_id, "From": "Jane Roe <jane.roe@univ.edu>",
                   "Subject": "[visit-users] Silo crash", "Date": email.utils.format_datetime(at)}
        if in_reply_to:
            headers |= {"In-Reply-To": in_reply_to, "References": in_reply_to,
                        "Subject": "Re: [visit-users] Silo crash"}
        self.pipeline.process(self.pipeline.ingest(raw(headers, body), received_at=at).key,
                              now=at)
        self.drain()

    def drain(self) -> None:
        drain(self.writer)

    def at(self, when: dt.datetime) -> list[str]:
        self.clock.set(when)
        fired = self.notifier.tick(when)
        self.drain()
        self.sync()
        return fired

    @property
    def number(self) -> int:
        with self.store.read() as tx:
            return int(tx.conn.execute(sa.select(threads.c.issue_number)).scalar_one())

    def team_answers(self, at: dt.datetime) -> int:
        """cyrush answers on GitHub; the webhook's event is applied."""
        self.clock.set(at)
        if self.target == "discussions":
            made = self.emulator.discussion_comment(REPO, self.number, "Use the Silo 4.11 "
                                                    "plugin.", user="cyrush")
        else:
            made = self.emulator.comment(REPO, self.number, "Use the Silo 4.11 plugin.",
                                         user="cyrush")
        self.service.apply_event(CommentEvent(
            action="created", number=self.number, comment_id=made.id, author="cyrush", at=at,
            body="Use the Silo 4.11 plugin.", issue_author=BOT, repository=REPO,
            target=self.target, category="Q&A"), at)  # type: ignore[arg-type]
        return made.id

    def sync(self) -> None:
        """What GitHub's webhooks would say about the thread's state now."""
        with self.store.read() as tx:
            if tx.conn.execute(sa.select(threads.c.issue_number)).scalar() is None:
                return
        if self.target == "discussions":
            d = self.emulator.discussion(REPO, self.number)
            closed, at = d.answer_id is not None or d.closed, d.answer_chosen_at or d.closed_at
            created, labels = d.created_at, tuple(d.labels)
        else:
            issue = self.emulator.issue(REPO, self.number)
            closed, at = issue.state == "closed", issue.closed_at
            created, labels = issue.created_at, tuple(issue.labels)
        event = IssueEvent(action="closed" if closed else "reopened", number=self.number,
                           actor="", at=at or self.clock.now(), issue_author=BOT,
                           issue_created_at=created, state="closed" if closed else "open",
                           assignees=(), labels=labels, repository=REPO,
                           target=self.target, category="Q&A")  # type: ignore[arg-type]
        self.service.apply_event(event, self.clock.now())

    def row(self) -> sa.Row[tuple[object, ...]]:
        with self.store.read() as tx:
            return tx.conn.execute(sa.select(threads)).one()

    def mails(self) -> list[str]:
        with self.store.read() as tx:
            return [r.key for r in tx.conn.execute(
                sa.select(outbox.c.key).where(outbox.c.kind == "send_mail"))]


@pytest.fixture(params=["issues", "discussions"])
def world(request: pytest.FixtureRequest, example_config: Config,
          store: Store) -> Iterator[World]:
    target = str(request.param)
    clock = ManualClock(T0)
    emulator = Emulator(seed=31, clock=clock)
    token = setup_github(emulator)
    if target == "discussions":
        setup_discussions(emulator)
        emulator.add_label(REPO, "wontfix")
    context = notify_context(example_config, team_emails=frozenset(), notify_primary=True,
                             stale=RULE)
    notifier = Notifier(store, context)
    settings = pipeline_settings(example_config)
    if target == "discussions":
        settings = in_discussions(settings)
    pipeline = Pipeline(store, settings, assignee_function(example_config),
                        notice_for=notifier.primary_notice)
    with emulator.serve() as url:
        writer = github_writer(store, clock, url, token, discussions=True)
        service = TrackingService(store, Rules(BOT, frozenset({"cyrush"})), context.calendar,
                                  REPO,
                                  discussions=DiscussionScope(REPO, "Q&A"))
        world = World(target, clock, emulator, store, pipeline, writer, notifier, service)
        world.at(T0 - dt.timedelta(hours=1))  # the daemon was running: this week's jobs done
        yield world


def local(day: int, hour: int = 11) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=LA)


def state(w: World) -> tuple[str, tuple[str, ...]]:
    if w.target == "discussions":
        d = w.emulator.discussion(REPO, w.number)
        return ("answered" if d.answer_id else "closed" if d.closed else "open", tuple(d.labels))
    issue = w.emulator.issue(REPO, w.number)
    return (f"{issue.state}:{issue.state_reason}" if issue.state == "closed" else issue.state,
            tuple(issue.labels))


def test_warned_then_closed_then_reopened_by_the_customer(world: World) -> None:
    w = world
    w.mail("<stale-q@univ.edu>", "VisIt crashes opening my Silo file.\n", T0)
    answer = w.team_answers(T0 + dt.timedelta(hours=1))  # Monday 11:00
    assert [k for k in w.at(local(2 + 18 - 1)) if k.startswith("stale")] == []
    warned = [k for k in w.at(local(2 + 18)) if k.startswith("stale")]  # Friday 03-20 11:00
    assert [k.split(":")[0] for k in warned] == ["stale-warn"]
    bodies = [c.body for c in (w.emulator.discussion_comments(REPO, w.number)
                               if w.target == "discussions"
                               else w.emulator.comments(REPO, w.number))]
    assert "will be closed as won't fix on Monday Mar 23" in bodies[-1]
    assert f"mail:{warned[0]}" in w.mails()  # and the customer is told by mail
    assert w.at(local(22)) == []  # three days after the warning, not yet 21 days

    closed = [k for k in w.at(local(23)) if k.startswith("stale")]
    assert [k.split(":")[0] for k in closed] == ["stale-close"]
    if w.target == "discussions":
        assert state(w) == ("answered", ("SRE", "wontfix"))
        assert w.emulator.discussion(REPO, w.number).answer_id == answer
    else:
        assert state(w) == ("closed:not_planned", ("customer-response", "wontfix"))
    assert w.row().closed_as == "stale" and w.row().state == "closed"
    assert w.at(local(24)) == []  # once

    # The customer writes again: the next tick reopens it.
    w.mail("<stale-r@univ.edu>", "Sorry, I was away: it still crashes.\n", local(25, 9),
           in_reply_to="<stale-q@univ.edu>")
    reopened = [k for k in w.at(local(25, 9) + dt.timedelta(minutes=1))
                if k.startswith("stale")]
    assert [k.split(":")[0] for k in reopened] == ["stale-reopen"]
    assert state(w)[0] == "open" and "wontfix" not in state(w)[1]
    assert w.row().closed_as is None and w.row().state == "open"


def test_a_reply_after_the_warning_cancels_the_close(world: World) -> None:
    w = world
    w.mail("<stale-q@univ.edu>", "VisIt crashes opening my Silo file.\n", T0)
    w.team_answers(T0 + dt.timedelta(hours=1))
    assert [k.split(":")[0] for k in w.at(local(20)) if k.startswith("stale")] == ["stale-warn"]
    w.mail("<stale-r@univ.edu>", "Still looking into it, please keep it open.\n", local(21),
           in_reply_to="<stale-q@univ.edu>")
    assert [k for k in w.at(local(30)) if k.startswith("stale")] == []
    assert state(w)[0] == "open"
