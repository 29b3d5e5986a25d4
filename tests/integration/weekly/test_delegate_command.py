"""`/delegate` written by the Primary in a GitHub comment moves the reminder to the Backup: a real
store, the GitHub emulator with the real writer, the tracking service with the command handler,
and the notifier, on a manual clock.

The example schedule's week of Monday 2026-12-07 is Kathleen Biagas's (biagas) with Justin
Privitera (JustinPrivitera) as Backup. A mail arrives Tuesday 09:00 and is assigned to biagas;
at 09:30 she writes `/delegate until 2026-12-08T17:00` on the issue. The reminder at 75% of the
goal (12:00: 09:00-12:00 is three business hours) mentions Justin, not her; he was told once."""

from __future__ import annotations

import datetime as dt
import email.utils
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.config.loader import Config
from gateway.config.sections import ProcessSection
from gateway.inbound.pipeline import Pipeline
from gateway.store.db import Store
from gateway.store.schema import outbox
from gateway.testing.github_emulator import Emulator
from gateway.tracking.events import CommentEvent
from gateway.tracking.rules import Rules
from gateway.tracking.service import TrackingService
from gateway.weekly.commands import CommandContext, CommandHandler
from gateway.weekly.notify import Notifier
from gateway.wiring import assignee_function, pipeline_settings
from tests.unit.inbound.gfm_oracle import live_mentions
from tests.unit.mail import raw

from ..daemon import BOT, REPO, setup_github
from ..harness import drain, github_writer, notify_context

LA = ZoneInfo("America/Los_Angeles")


def tue(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 8, hour, minute, tzinfo=LA)


def test_delegate_in_a_comment_moves_the_reminder_to_the_backup(
        example_config: Config, store: Store) -> None:
    clock = ManualClock(tue(8))
    emulator = Emulator(seed=41, clock=clock)
    token = setup_github(emulator)
    context = notify_context(example_config)
    calendar, schedule, renderer = context.calendar, context.schedule, context.renderer
    assert schedule is not None
    notifier = Notifier(store, context)
    pipeline = Pipeline(store, pipeline_settings(example_config),
                        assignee_function(example_config, store=store))
    handler = CommandHandler(CommandContext(
        settings=ProcessSection(), url=context.url, list_address=example_config.list.address,
        list_prefix=example_config.list.subject_prefix, footer_markers=(),
        schedule=schedule, renderer=renderer, tz=calendar.tz))
    service = TrackingService(store, Rules.from_people(BOT, schedule.people), calendar, REPO,
                              commands=handler.rows)
    with emulator.serve() as url:
        writer = github_writer(store, clock, url, token)

        notifier.tick(tue(8, 30))  # the daemon has been running: this week's jobs are done
        clock.set(tue(9))
        message = raw({"Message-ID": "<deleg@univ.edu>", "Subject": "[visit-users] Silo crash",
                       "Date": email.utils.format_datetime(tue(9))}, "It crashes.\n")
        pipeline.process(pipeline.ingest(message, received_at=tue(9)).key, now=tue(9))
        drain(writer)
        [issue] = emulator.issues(REPO)
        assert issue.assignees == ["biagas"]

        clock.set(tue(9, 30))
        # Only the command: bookkeeping, not a response to the customer.
        made = emulator.comment(REPO, issue.number, "/delegate until 2026-12-08T17:00",
                                user="biagas")
        service.apply_event(CommentEvent(
            action="created", number=issue.number, comment_id=made.id, author="biagas",
            at=tue(9, 30), body=made.body, issue_author=BOT, repository=REPO), tue(9, 30))
        drain(writer)
        assert [r.content for r in emulator.reactions(REPO, made.id)] == ["+1"]

        clock.set(tue(11, 59))
        assert not [k for k in notifier.tick(tue(11, 59)) if k.startswith("reminder")]
        clock.set(tue(12))
        assert [k.split(":")[0] for k in notifier.tick(tue(12))] == ["reminder"]
        drain(writer)
    reminder = emulator.comments(REPO, issue.number)[-1]
    assert reminder.user == BOT and live_mentions(reminder.body) == ["@JustinPrivitera"]
    with store.read() as tx:
        notices = [r.key for r in tx.conn.execute(sa.select(outbox.c.key).where(
            outbox.c.key.startswith("mail:delegation:")))]
    assert len(notices) == 1  # Justin is told once
