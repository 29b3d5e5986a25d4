"""Delegations recorded and announced once, and every consumer of the schedule seeing them.

The example schedule: the week of Monday 2026-12-07 is Kathleen Biagas (biagas) Primary and
Justin Privitera (JustinPrivitera) Backup. On Tuesday at noon Kathleen hands Justin the
Primary role for the afternoon, 13:00-17:00 PST.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.config.loader import Config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.delegation import Refusal
from gateway.duty.load import business_calendar, duty_schedule
from gateway.duty.schedule import Schedule, find_person
from gateway.outbound.render import Renderer
from gateway.store.db import Store
from gateway.store.delegations import delegations_between
from gateway.store.schema import delegations, outbox, threads
from gateway.weekly.delegation import (
    Delegated,
    ScheduleReader,
    cancel,
    delegate,
    describe_rows,
    schedule_at,
)
from gateway.weekly.handoff import due_handoff
from gateway.weekly.jobs import OpenIssue
from gateway.weekly.notify import Notifier, NotifyContext
from gateway.weekly.nudges import due_nudges
from gateway.wiring import assignee_function

LA = ZoneInfo("America/Los_Angeles")
CAL = BusinessCalendar()


def tue(hh: int, mm: int = 0, day: int = 8) -> dt.datetime:
    return dt.datetime(2026, 12, day, hh, mm, tzinfo=LA)


NOW = tue(12)
UNTIL = tue(17)


@pytest.fixture
def schedule(example_config: Config) -> Schedule:
    loaded = duty_schedule(example_config, business_calendar(example_config))
    assert loaded is not None
    return loaded


@pytest.fixture
def renderer(example_config: Config) -> Renderer:
    return Renderer(business_calendar(example_config))


def afternoon(store: Store, schedule: Schedule, renderer: Renderer, *,
              until: dt.datetime = UNTIL, now: dt.datetime = NOW, by: str | None = None,
              **changes: Any) -> Delegated | Refusal:
    args: dict[str, Any] = {"start": tue(13)} | changes
    return delegate(store, schedule, renderer, by, until, now, "command", **args)


def rows(store: Store) -> tuple[list[Any], list[dict[str, Any]]]:
    with store.read() as tx:
        recorded = list(tx.conn.execute(sa.select(delegations)))
    return recorded, store.outbox_rows()


def test_a_delegation_is_recorded_and_the_delegate_told_once(
        store: Store, schedule: Schedule, renderer: Renderer) -> None:
    done = afternoon(store, schedule, renderer)
    assert isinstance(done, Delegated) and done.created and not done.cut
    assert (done.giver.github, done.taker.github, done.backup) == (
        "biagas", "JustinPrivitera", done.giver)
    assert done.describe(LA) == (
        "delegation #1: Justin Privitera (JustinPrivitera) is Primary for Kathleen Biagas "
        "(biagas) from Tue 2026-12-08 13:00 PST until Tue 2026-12-08 17:00 PST")
    again = afternoon(store, schedule, renderer, now=NOW + dt.timedelta(minutes=5))
    assert isinstance(again, Delegated) and not again.created
    assert again.delegation == done.delegation
    assert again.describe(LA).endswith("(already recorded: nothing added)")
    recorded, queued = rows(store)
    assert len(recorded) == 1 and (recorded[0].created_by, recorded[0].source) == (
        "biagas", "command")
    assert [(r["key"], r["kind"], r["thread_id"]) for r in queued] == [
        ("mail:delegation:1", "send_mail", None)]
    mail = json.loads(queued[0]["payload"])
    assert mail["to"] == [["Justin Privitera", "privitera1@llnl.gov"]]
    assert mail["cc"] == [["Kathleen Biagas", "biagas2@llnl.gov"]]
    assert mail["kind"] == "delegation_mail"
    assert mail["subject"] == ("You are Primary for Kathleen Biagas until Tuesday Dec 8, "
                               "17:00 PST")
    assert "Kathleen Biagas is the Backup meanwhile." in mail["body"]
    assert "visit-gateway delegate --cancel 1" in mail["body"]


def test_a_refused_delegation_writes_nothing(store: Store, schedule: Schedule,
                                             renderer: Renderer) -> None:
    refused = afternoon(store, schedule, renderer, by="cyrush")
    assert isinstance(refused, Refusal) and "only the Primary may delegate" in str(refused)
    assert rows(store) == ([], [])


def test_one_past_the_handoff_is_cut(store: Store, schedule: Schedule,
                                     renderer: Renderer) -> None:
    done = afternoon(store, schedule, renderer, until=tue(12, day=15))
    assert isinstance(done, Delegated) and done.cut
    assert done.delegation.until == dt.datetime(2026, 12, 14, 8, tzinfo=LA)
    assert "cut at the handoff" in done.describe(LA)


def test_cancel_and_give_again(store: Store, schedule: Schedule, renderer: Renderer) -> None:
    afternoon(store, schedule, renderer)
    assert cancel(store, 7, NOW, "root") == Refusal("there is no delegation #7")
    ended = cancel(store, 1, tue(14), "root")
    assert not isinstance(ended, Refusal) and ended.ends == tue(14) and not ended.void
    assert cancel(store, 1, tue(15), "root") == Refusal("delegation #1 was cancelled already")
    with store.read() as tx:
        in_force = schedule_at(tx, schedule, tue(14))
    assert in_force.duty_at(tue(13, 30)).primary.github == "JustinPrivitera"  # type: ignore[union-attr]
    assert in_force.duty_at(tue(14, 30)).primary.github == "biagas"  # type: ignore[union-attr]
    # Her meeting runs late after all: a new delegation from 14:05, told as a new one.
    again = afternoon(store, schedule, renderer, now=tue(14, 5), start=tue(14, 5))
    assert isinstance(again, Delegated) and again.created and again.delegation.id == 2
    assert [r["key"] for r in rows(store)[1]] == ["mail:delegation:1", "mail:delegation:2"]
    with store.read() as tx:
        lines = describe_rows(delegations_between(tx, tue(8, day=7), tue(8, day=14),
                                                  with_cancelled=True), LA, tue(14, 10))
    assert [line.split()[:4] for line in lines] == [
        ["#1", "ended", "early", "biagas"], ["#2", "in", "force", "biagas"]]


def test_cancelled_before_it_began_and_given_again_is_not_told_twice(
        store: Store, schedule: Schedule, renderer: Renderer) -> None:
    afternoon(store, schedule, renderer)
    voided = cancel(store, 1, tue(12, 30), "root")
    assert not isinstance(voided, Refusal) and voided.void
    with store.read() as tx:
        assert schedule_at(tx, schedule, tue(14)).duty_at(tue(14)).primary_source == "rotation"
    revived = afternoon(store, schedule, renderer, now=tue(12, 40))
    assert isinstance(revived, Delegated) and revived.delegation.id == 1
    with store.read() as tx:
        assert schedule_at(tx, schedule, tue(14)).duty_at(tue(14)).primary_source == (
            "delegation")
    assert [r["key"] for r in rows(store)[1]] == ["mail:delegation:1"]


def test_an_expired_one_cannot_be_cancelled(store: Store, schedule: Schedule,
                                            renderer: Renderer) -> None:
    afternoon(store, schedule, renderer)
    assert cancel(store, 1, tue(17), "root") == Refusal("delegation #1 is over already")


def test_consumers_read_delegations_at_each_use(store: Store, schedule: Schedule,
                                                renderer: Renderer,
                                                example_config: Config) -> None:
    """The daemon's assignee and schedule readers are built before the CLI records one."""
    read = ScheduleReader(store, schedule)
    assignee = assignee_function(example_config, store=store)
    assert read(tue(14)).duty_at(tue(14)).primary.github == "biagas"  # type: ignore[union-attr]
    assert assignee(tue(14)) == "biagas"
    afternoon(store, schedule, renderer)
    assert read(tue(14)).duty_at(tue(14)).primary.github == "JustinPrivitera"  # type: ignore[union-attr]
    assert assignee(tue(14)) == "JustinPrivitera"
    assert assignee(tue(12, 30)) == "JustinPrivitera"  # lunch: the next opening is 13:00
    assert assignee(tue(17, 30)) == "biagas"
    assert assignee_function(example_config)(tue(14)) == "biagas"  # no store: the file only


# ---------------------------------------------------------------------------------------------
# Reminders and escalations


def issue(arrived: dt.datetime, assignee: str | None = None) -> OpenIssue:
    return OpenIssue("th-1", 5, "Question", "https://github.test/issues/5", arrived,
                     assignee=assignee)


@pytest.mark.parametrize(("arrived", "assignee", "now", "kind", "addressed", "mention"), [
    # Arrived 10:00: reminded at 14:00 (3 business hours, lunch excluded), during.
    pytest.param(tue(10), None, tue(14), "reminder", "JustinPrivitera", ("JustinPrivitera",),
                 id="reminder-during-to-the-delegate"),
    pytest.param(tue(10), "biagas", tue(14), "reminder", "JustinPrivitera",
                 ("JustinPrivitera",), id="reminder-for-the-givers-issue-to-the-delegate"),
    pytest.param(tue(10), "cyrush", tue(14), "reminder", "cyrush", ("cyrush",),
                 id="reminder-for-someone-elses-issue-to-them"),
    pytest.param(tue(10), None, tue(15), "escalation", "JustinPrivitera",
                 ("JustinPrivitera", "biagas"), id="escalation-during-delegate-and-giver"),
    # Arrived 14:30: reminded Wednesday 08:30, after.
    pytest.param(tue(14, 30), None, tue(8, 30, day=9), "reminder", "biagas", ("biagas",),
                 id="reminder-after-to-the-primary"),
    pytest.param(tue(14, 30), "biagas", tue(8, 30, day=9), "reminder", "biagas", ("biagas",),
                 id="reminder-after-for-the-givers-issue-to-her"),
    pytest.param(tue(14, 30), None, tue(9, 30, day=9), "escalation", "biagas",
                 ("biagas", "JustinPrivitera"), id="escalation-after-primary-and-backup"),
])
def test_nudges_during_and_after_a_delegation(
        store: Store, schedule: Schedule, renderer: Renderer, arrived: dt.datetime,
        assignee: str | None, now: dt.datetime, kind: str, addressed: str,
        mention: tuple[str, ...]) -> None:
    afternoon(store, schedule, renderer)
    with store.read() as tx:
        in_force = schedule_at(tx, schedule, now)
    done = frozenset() if kind == "reminder" else frozenset({"reminder:th-1"})
    (nudge,) = due_nudges(now, [issue(arrived, assignee)], calendar=CAL, schedule=in_force,
                          done=done)
    assert (nudge.kind, nudge.mention) == (kind, mention)
    assert nudge.context["primary"] == find_person(schedule.people, addressed)
    assert nudge.context["holder"] == assignee


def test_the_delegate_counts_among_the_weeks_primaries_at_the_handoff(
        store: Store, schedule: Schedule, renderer: Renderer) -> None:
    afternoon(store, schedule, renderer)
    monday = dt.datetime(2026, 12, 14, 8, 5, tzinfo=LA)
    with store.read() as tx:
        handoff = due_handoff(monday, schedule_at(tx, schedule, monday), frozenset())
    assert handoff is not None
    assert [p.github for p in handoff.outgoing_primaries] == ["biagas", "JustinPrivitera"]
    assert handoff.outgoing.primary.github == "biagas"  # type: ignore[union-attr]


def notifier(store: Store, config: Config, schedule: Schedule, renderer: Renderer) -> Notifier:
    return Notifier(store, NotifyContext(
        settings=config.raw.notify, calendar=CAL, schedule=schedule, renderer=renderer,
        list_address=config.list.address, list_prefix=config.list.subject_prefix,
        issue_url="https://github.test/issues/{number}",
        team_emails=frozenset(p.email for p in schedule.people), notify_primary=True))


def test_the_running_notifier_sees_a_delegation_recorded_after_it_started(
        store: Store, schedule: Schedule, renderer: Renderer, example_config: Config) -> None:
    jobs = notifier(store, example_config, schedule, renderer)
    with store.tx() as tx:
        tx.conn.execute(threads.insert().values(
            thread_id="th-1", issue_number=5, title="Question", arrived_at=tue(10),
            assignee="biagas", created_at=tue(10)))
    assert "@biagas" in (jobs.primary_notice(tue(13, 30)) or "")
    afternoon(store, schedule, renderer)  # as the CLI would, from another process
    notice = jobs.primary_notice(tue(13, 30)) or ""
    assert "@JustinPrivitera" in notice and "@biagas" not in notice
    assert "reminder:th-1" in jobs.tick(tue(14))
    with store.read() as tx:
        body = tx.conn.execute(sa.select(outbox.c.payload).where(
            outbox.c.key == "comment:reminder:th-1")).scalar_one()
    assert json.loads(body)["body"].startswith("@JustinPrivitera ")
