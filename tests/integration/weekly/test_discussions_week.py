"""The weekly rhythm in discussions mode, with a manual clock: a real store, the GitHub emulator
over HTTP (GraphQL) with the real writer, pipeline, notifier and discussion reconciler.

A discussion a customer opens on GitHub in the category is found by reconcile and is an inquiry
from its creation; a mailed inquiry becomes a discussion whose notice names the Primary. Both
are reminded at 75% of the goal and escalated at the goal (comments on the discussions, the
one opened on GitHub addressed by its number), and the Monday handoff comments on both and
records the new owner in the store without any issue write: discussions have no assignee."""

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
from gateway.tracking.discussion_reconcile import DiscussionReconciler
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, TrackingService
from gateway.weekly.notify import Notifier
from gateway.wiring import assignee_function, pipeline_settings
from tests.unit.inbound.gfm_oracle import live_mentions
from tests.unit.mail import raw

from ..daemon import BOT, REPO, setup_discussions, setup_github
from ..harness import drain, github_writer, in_discussions, notify_context

pytestmark = pytest.mark.integration
LA = ZoneInfo("America/Los_Angeles")


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=LA)


@dataclass
class Week:
    clock: ManualClock
    emulator: Emulator
    store: Store
    pipeline: Pipeline
    writer: GitHubWriter
    notifier: Notifier
    reconciler: DiscussionReconciler

    def mail(self, headers: dict[str, str], body: str, at: dt.datetime) -> None:
        self.clock.set(at)
        message = raw({**headers, "Date": email.utils.format_datetime(at)}, body)
        self.pipeline.process(self.pipeline.ingest(message, received_at=at).key, now=at)
        self.drain()

    def drain(self) -> None:
        drain(self.writer)

    def at(self, when: dt.datetime) -> list[str]:
        self.clock.set(when)
        self.reconciler.once()
        fired = self.notifier.tick(when)
        self.drain()
        return fired

    def thread(self, number: int) -> sa.Row[tuple[object, ...]]:
        with self.store.read() as tx:
            return tx.conn.execute(sa.select(threads).where(
                threads.c.target == "discussions", threads.c.issue_number == number)).one()

    def bot_comments(self, number: int) -> list[str]:
        return [c.body for c in self.emulator.discussion_comments(REPO, number)
                if c.user == BOT]


@pytest.fixture
def week(example_config: Config, store: Store) -> Iterator[Week]:
    clock = ManualClock(local(5, 9))
    emulator = Emulator(seed=9, clock=clock)
    token = setup_github(emulator)
    setup_discussions(emulator)
    emulator.add_user("jane-roe")
    emulator.add_collaborator(REPO, "jane-roe", "read")
    context = notify_context(example_config, notify_primary=True)
    calendar, schedule = context.calendar, context.schedule
    notifier = Notifier(store, context)
    pipeline = Pipeline(store, in_discussions(pipeline_settings(example_config)),
                        assignee_function(example_config), notice_for=notifier.primary_notice)
    with emulator.serve() as url:
        writer = github_writer(store, clock, url, token, discussions=True,
                               on_issue_created=notifier.ack_row)
        people = schedule.people if schedule else ()
        service = TrackingService(store, Rules.from_people(BOT, people), calendar, REPO,
                                  relay=None, discussions=DiscussionScope(REPO, "Q&A"))
        reader = writer.discussions  # the writer's adapter, its names resolved
        assert reader.setup_ids is not None
        reconciler = DiscussionReconciler(
            service, reader, clock, repository=REPO, category_id=reader.setup_ids.category_id,
            category="Q&A", interval=60, first_lookback=dt.timedelta(days=2))
        yield Week(clock, emulator, store, pipeline, writer, notifier, reconciler)
        reader.close()


def test_a_week_of_discussions(week: Week) -> None:
    emu = week.emulator
    # Thursday 2026-03-05, cyrush's week (the example schedule), JustinPrivitera from Monday.
    # The daemon has been running: this week's handoff (Monday 03-02) is done already.
    assert [k for k in week.at(local(5, 9)) if k.startswith("handoff:")] == [
        "handoff:2026-03-02T16:00Z"]
    week.clock.set(local(5, 10))
    opened = emu.create_discussion(REPO, "Plugin build fails", "Since 3.4.1 my plugin fails.",
                                   user="jane-roe", category="Q&A")
    emu.create_discussion(REPO, "Idea: dark mode", "Please", user="jane-roe", category="Ideas")
    week.mail({"Message-ID": "<thu@univ.edu>", "Subject": "[visit-users] Silo crash",
               "From": "Thu Customer <thu@univ.edu>"}, "VisIt crashes on my Silo file\n",
              local(5, 10, 30))
    [mailed] = [d for d in emu.discussions(REPO) if d.title == "Silo crash"]
    assert mailed.labels == ["SRE"]
    notice = week.bot_comments(mailed.number)
    assert len(notice) == 1 and live_mentions(notice[0]) == ["@cyrush"]

    # Reconcile finds the discussion opened on GitHub: an inquiry from its creation, its
    # author the customer; the one in another category is none.
    week.at(local(5, 10, 35))
    github = week.thread(opened.number)
    assert (github.thread_id, github.issue_author, github.arrived_at) == (
        f"ghd-{opened.number}", "jane-roe", local(5, 10).astimezone(dt.UTC))
    with week.store.read() as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(threads)).scalar() == 2

    # 75% of 4 business hours after 10:00 is 14:00 (lunch 12-13); after 10:30, 14:30.
    assert [k for k in week.at(local(5, 13, 59)) if k.startswith("reminder")] == []
    assert [k.split(":")[0] for k in week.at(local(5, 14))] == ["reminder"]
    reminder = week.bot_comments(opened.number)[-1]
    assert len(week.bot_comments(opened.number)) == 1, week.bot_comments(opened.number)
    assert live_mentions(reminder) == ["@cyrush"]
    assert [k.split(":")[0] for k in week.at(local(5, 14, 30))] == ["reminder"]
    assert len(week.bot_comments(mailed.number)) == 2
    # The goal passes at 15:00: escalation to the Backup on the discussion.
    escalated = [k for k in week.at(local(5, 15)) if k.startswith("escalation")]
    assert len(escalated) == 1
    assert "@cyrush" in live_mentions(week.bot_comments(opened.number)[-1])
    assert len(live_mentions(week.bot_comments(opened.number)[-1])) == 2  # Backup and Primary

    # Monday 2026-03-09 08:00 PDT: the handoff comments on both and records the new owner.
    fired = week.at(local(9, 8))
    assert [k for k in fired if k.startswith("handoff:")] == ["handoff:2026-03-09T15:00Z"]
    for number in (opened.number, mailed.number):
        assert "@JustinPrivitera" in live_mentions(week.bot_comments(number)[-1]), number
        assert week.thread(number).assignee == "JustinPrivitera"
    with week.store.read() as tx:
        kinds = {(r.kind, r.status) for r in tx.conn.execute(sa.select(outbox))}
    assert ("assign", "done") in kinds  # recorded in the store, no GitHub call
    assert not [(k, s) for k, s in kinds if s != "done" and k != "send_mail"]  # no mail here
    assert emu.issues(REPO) == []
    assert not [r for r in emu.request_log() if "/issues" in r.path]  # no issue was touched
    assert emu.graphql_unimplemented() == []
