"""Jobs: due handoffs and their plans, nudges before the response goal, post-mortem prompts.

On the example schedule (config/schedule.example.toml) with the default calendar: the week of
2026-03-02 is cyrush Primary and biagas Backup, the week of 2026-03-09 (just after the change to
daylight time) JustinPrivitera and cyrush, the week of 2026-03-16 cyrush and markcmiller86.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Override, Person, Schedule, WeekAssignment, find_person
from gateway.duty.schedule_file import load_schedule
from gateway.weekly.handoff import HANDOFF_COMMENT, Handoff, HandoffPlan, due_handoff, plan_handoff
from gateway.weekly.jobs import Context, OpenIssue
from gateway.weekly.nudges import ESCALATION, ESCALATION_MAIL, REMINDER, due_nudges
from gateway.weekly.postmortems import due_postmortems

LA = ZoneInfo("America/Los_Angeles")
CONFIG = Path(__file__).resolve().parents[3] / "config"
CAL = BusinessCalendar()
SCHEDULE = load_schedule(CONFIG / "schedule.example.toml", calendar=CAL)
KEEP, SERIOUS = "keep-owner", "serious"
CYRUS, KATHLEEN, JUSTIN, MARK, ERIC = (find_person(SCHEDULE.people, login) for login in (
    "cyrush", "biagas", "JustinPrivitera", "markcmiller86", "brugger1"))
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
MAR2 = "handoff:2026-03-02T16:00Z"  # Monday 08:00 PST
MAR9 = "handoff:2026-03-09T15:00Z"  # Monday 08:00 PDT
MAR16 = "handoff:2026-03-16T15:00Z"


def la(month: int, day: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hh, mm, tzinfo=LA)


def issue(thread: str, arrived: dt.datetime, **changes: Any) -> OpenIssue:
    base = OpenIssue(thread, 7, f"Question {thread}", f"https://github.test/issues/{thread}",
                     arrived)
    return replace(base, **changes)


def answered(at: dt.datetime, by: str = "cyrush") -> dict[str, Any]:
    return {"first_response_at": at, "first_response_by": by}


def keys(jobs: Sequence[Any]) -> list[str]:
    return [job.key for job in jobs]


def listed(context: Context) -> dict[str, Mapping[str, object]]:
    """The team summary's issues by thread id."""
    items = cast(Sequence[Mapping[str, object]], context["issues"])
    return {cast(str, x["thread_id"]): x for x in items}


def with_overrides(*overrides: Override) -> Schedule:
    return replace(SCHEDULE, overrides=SCHEDULE.overrides + overrides)


def handoff_at(now: dt.datetime, schedule: Schedule = SCHEDULE) -> Handoff:
    due = due_handoff(now, schedule, frozenset())
    assert due is not None
    return due


PLANNED = la(3, 9, 8, 5)  # five minutes after the Monday handoff


def plan(issues: Sequence[OpenIssue], schedule: Schedule = SCHEDULE) -> HandoffPlan:
    return plan_handoff(handoff_at(PLANNED, schedule), issues, keep_label=KEEP, calendar=CAL,
                        now=PLANNED)


# ---------------------------------------------------------------------------------------------
# Which handoff is due


@pytest.mark.parametrize(("now", "done", "max_days", "expected"), [
    pytest.param(la(3, 9, 8), set(), 6, MAR9, id="at-the-handoff"),
    pytest.param(la(3, 9, 8) - SECOND, {MAR2}, 6, None, id="just-before-previous-done"),
    pytest.param(la(3, 13, 17), set(), 6, MAR9, id="late-in-the-week"),
    pytest.param(la(3, 9, 9), {MAR9}, 6, None, id="done"),
    pytest.param(la(3, 15, 8), set(), 6, MAR9, id="exactly-max-age"),
    pytest.param(la(3, 15, 8, 1), set(), 6, None, id="older-than-max-age"),
    pytest.param(la(3, 9, 7, 59), set(), 6, None, id="fresh-install-skips-last-week"),
    pytest.param(la(3, 9, 7, 59), set(), 7, MAR2, id="larger-max-age"),
    pytest.param(la(3, 17, 9), {MAR2}, 6, MAR16, id="down-across-two-latest-only"),
    pytest.param(la(3, 17, 9), {MAR2, MAR16}, 6, None, id="the-missed-one-never-runs"),
])
def test_due_handoff(now: dt.datetime, done: set[str], max_days: int,
                     expected: str | None) -> None:
    due = due_handoff(now, SCHEDULE, done, max_age=dt.timedelta(days=max_days))
    assert (due and due.key) == expected


def test_handoff_names_the_outgoing_and_incoming_duty() -> None:
    h = handoff_at(la(3, 9, 10))
    assert h.at == la(3, 9, 8)
    assert (h.outgoing.primary, h.outgoing.backup) == (CYRUS, KATHLEEN)
    assert (h.incoming.primary, h.incoming.backup) == (JUSTIN, CYRUS)
    assert h.outgoing_primaries == (CYRUS,)


# ---------------------------------------------------------------------------------------------
# What a handoff does

BEFORE = la(3, 4, 10)  # during cyrush's week
OPEN_ISSUES = (
    issue("th-held", BEFORE, assignee="cyrush", **answered(la(3, 4, 11))),
    issue("th-case", BEFORE, assignee="CyRush", customers=("ann@example.org",)),
    issue("th-unassigned", la(3, 7, 10), customers=("bo@example.org", "cy@example.org")),
    issue("th-keep", BEFORE, assignee="cyrush", labels=("Keep-Owner",)),
    issue("th-backup", BEFORE, assignee="biagas", **answered(la(3, 4, 12))),
    issue("th-enlisted", BEFORE, assignee="brugger1"),
    issue("th-incoming", BEFORE, assignee="JustinPrivitera"),
    issue("th-closed", BEFORE, assignee="cyrush", state="closed", resolved_at=la(3, 5, 9)),
)


def test_handoff_reassigns_the_outgoing_primarys_and_unassigned_issues() -> None:
    p = plan(OPEN_ISSUES)
    assert [(i.thread_id, login) for i, login in p.reassign] == [  # oldest first
        ("th-case", "JustinPrivitera"), ("th-held", "JustinPrivitera"),
        ("th-unassigned", "JustinPrivitera")]
    assert [(c.issue.thread_id, c.template) for c in p.comments] == [
        ("th-case", HANDOFF_COMMENT), ("th-held", HANDOFF_COMMENT),
        ("th-unassigned", HANDOFF_COMMENT)]
    assert [n.issue.thread_id for n in p.customer_notices] == ["th-case", "th-unassigned"]
    context = p.comments[1].context
    assert (context["outgoing"], context["incoming"], context["backup"]) == (
        CYRUS, JUSTIN, CYRUS)
    assert (context["handoff_at"], context["arrived"], context["deadline"]) == (
        la(3, 9, 8), BEFORE, la(3, 4, 15))  # 10:00 + 2h, lunch, + 2h
    assert context["issue"] == {"number": 7, "title": "Question th-held",
                                "url": "https://github.test/issues/th-held",
                                "kind": "issue"}
    assert (context["first_response_at"], context["first_response_by"]) == (
        la(3, 4, 11), "cyrush")
    unassigned = p.comments[2].context
    assert (unassigned["previous_assignee"], unassigned["outgoing"]) == (None, CYRUS)
    assert p.customer_notices[0].context == p.comments[0].context


FIVE = dt.timedelta(minutes=5)
WEEKDAYS = 22 * HOUR + FIVE  # Wed 10:00 to Mon 08:05 in business time: 6 + 8 + 8 h + 5 min


@pytest.mark.parametrize(("thread", "disposition", "business_age", "responded"), [
    ("th-held", "reassigned", WEEKDAYS, True),
    ("th-case", "reassigned", WEEKDAYS, False),
    ("th-unassigned", "reassigned", FIVE, False),  # weekend mail: counts from Monday 08:00
    ("th-keep", "kept-label", WEEKDAYS, False),
    ("th-backup", "kept-assignee", WEEKDAYS, True),
    ("th-enlisted", "kept-assignee", WEEKDAYS, False),
    ("th-incoming", "already-incoming", WEEKDAYS, False),
])
def test_summary_lists_every_open_issue(thread: str, disposition: str,
                                        business_age: dt.timedelta, responded: bool) -> None:
    summary = plan(OPEN_ISSUES).team_summary
    assert summary is not None
    item = listed(summary.context)[thread]
    assert (item["disposition"], item["business_age"], item["responded"]) == (
        disposition, business_age, responded)
    assert item["reassigned_to"] == ("JustinPrivitera" if disposition == "reassigned" else None)


def test_summary_addressing_and_counts() -> None:
    summary = plan(OPEN_ISSUES).team_summary
    assert summary is not None
    assert summary.to == (JUSTIN, CYRUS)
    assert summary.cc == ()  # the outgoing Primary is the incoming Backup
    context = summary.context
    assert (context["incoming"], context["backup"], context["outgoing"],
            context["outgoing_backup"]) == (JUSTIN, CYRUS, CYRUS, KATHLEEN)
    assert listed(context)["th-held"]["age"] == PLANNED - BEFORE  # wall time
    assert "th-closed" not in listed(summary.context)
    assert (summary.context["reassigned"], summary.context["kept"],
            summary.context["unanswered"]) == (3, 4, 5)
    assert list(listed(summary.context)) == [  # oldest first
        "th-backup", "th-case", "th-enlisted", "th-held", "th-incoming", "th-keep",
        "th-unassigned"]


def test_a_swap_changes_who_receives_the_handoff() -> None:
    mark_covers = Override(la(3, 9), la(3, 10), "primary", MARK, "swap")
    p = plan(OPEN_ISSUES, with_overrides(mark_covers))
    assert {login for _, login in p.reassign} == {"markcmiller86"}
    assert [i.thread_id for i, _ in p.reassign] == ["th-case", "th-held", "th-unassigned"]
    assert p.team_summary is not None
    assert p.team_summary.to == (MARK, CYRUS)
    assert listed(p.team_summary.context)["th-incoming"]["disposition"] == "kept-assignee"


def test_a_swap_at_the_end_of_the_week_hands_off_both_primaries_issues() -> None:
    eric_covers = Override(la(3, 6), la(3, 9, 8), "primary", ERIC, "Cyrus is away Friday")
    issues = (issue("th-cyrus", BEFORE, assignee="cyrush"),
              issue("th-eric", la(3, 6, 9), assignee="brugger1"))
    p = plan(issues, with_overrides(eric_covers))
    assert p.handoff.outgoing.primary == ERIC
    assert p.handoff.outgoing_primaries == (CYRUS, ERIC)
    assert [(i.thread_id, login) for i, login in p.reassign] == [
        ("th-cyrus", "JustinPrivitera"), ("th-eric", "JustinPrivitera")]
    assert p.team_summary is not None
    assert p.team_summary.cc == (ERIC,)


def test_same_primary_two_weeks_running_reassigns_nothing_but_still_reports() -> None:
    again = WeekAssignment(dt.date(2026, 3, 9), primary=CYRUS, backup=KATHLEEN)
    p = plan(OPEN_ISSUES, replace(SCHEDULE, explicit_weeks=(*SCHEDULE.explicit_weeks, again)))
    assert (p.reassign, p.comments, p.customer_notices) == ((), (), ())
    assert p.team_summary is not None
    assert (p.team_summary.to, p.team_summary.cc) == ((CYRUS, KATHLEEN), ())
    assert p.team_summary.context["same_primary"] is True
    assert {x["disposition"] for x in listed(p.team_summary.context).values()} == {
        "same-primary", "kept-label"}


def test_nobody_on_duty_plans_nothing() -> None:
    empty = Schedule(calendar=CAL, people=SCHEDULE.people)
    p = plan(OPEN_ISSUES, empty)
    assert (p.reassign, p.comments, p.customer_notices, p.team_summary) == ((), (), (), None)


# ---------------------------------------------------------------------------------------------
# Nudges


@pytest.mark.parametrize(("arrived", "reminder", "escalation"), [
    pytest.param(la(3, 6, 18, 30), la(3, 9, 11), la(3, 9, 12), id="friday-evening"),
    pytest.param(la(3, 7, 10), la(3, 9, 11), la(3, 9, 12), id="saturday"),
    pytest.param(la(3, 8, 23), la(3, 9, 11), la(3, 9, 12), id="sunday-night"),
    pytest.param(la(3, 9, 6), la(3, 9, 11), la(3, 9, 12), id="monday-before-opening"),
    pytest.param(la(3, 10, 8), la(3, 10, 11), la(3, 10, 12), id="at-opening"),
    pytest.param(la(3, 10, 12, 30), la(3, 10, 16), la(3, 10, 17), id="lunch-hour"),
    pytest.param(la(3, 10, 10, 30), la(3, 10, 14, 30), la(3, 10, 15, 30), id="across-lunch"),
    pytest.param(la(3, 6, 14), la(3, 6, 17), la(3, 9, 9), id="friday-afternoon"),
    pytest.param(la(3, 6, 16), la(3, 9, 10), la(3, 9, 11), id="friday-before-close"),
])
def test_nudges_fall_due_in_business_time(arrived: dt.datetime, reminder: dt.datetime,
                                          escalation: dt.datetime) -> None:
    issues = [issue("th-x", arrived)]

    def due(now: dt.datetime, done: frozenset[str] = frozenset()) -> list[str]:
        return keys(due_nudges(now, issues, calendar=CAL, schedule=SCHEDULE, done=done))

    assert due(reminder - SECOND) == []
    assert due(reminder) == ["reminder:th-x"]
    reminded = frozenset({"reminder:th-x"})
    assert due(escalation - SECOND, reminded) == []
    assert due(escalation, reminded) == ["escalation:th-x"]
    assert due(escalation + dt.timedelta(days=3), reminded | {"escalation:th-x"}) == []


@pytest.mark.parametrize(("assignee", "kind", "mention", "mailed"), [
    pytest.param(None, "reminder", ("JustinPrivitera",), (), id="reminder-primary-on-duty"),
    pytest.param("biagas", "reminder", ("biagas",), (), id="reminder-delegated-holder"),
    pytest.param("outsider", "reminder", ("outsider",), (), id="reminder-holder-off-roster"),
    pytest.param(None, "escalation", ("JustinPrivitera", "cyrush"), (JUSTIN, CYRUS),
                 id="escalation-primary-and-backup"),
    # The holder, as assignee, is notified by GitHub of the escalation comment anyway.
    pytest.param("brugger1", "escalation", ("JustinPrivitera", "cyrush"), (JUSTIN, CYRUS),
                 id="escalation-enlisted-holder"),
])
def test_who_a_nudge_addresses(assignee: str | None, kind: str, mention: tuple[str, ...],
                               mailed: tuple[Person, ...]) -> None:
    issues = [issue("th-x", la(3, 10, 8), assignee=assignee)]
    done = frozenset() if kind == "reminder" else frozenset({"reminder:th-x"})
    now = la(3, 10, 11) if kind == "reminder" else la(3, 10, 12)
    (nudge,) = due_nudges(now, issues, calendar=CAL, schedule=SCHEDULE, done=done)
    assert (nudge.kind, nudge.mention, nudge.email_to) == (kind, mention, mailed)
    assert nudge.context["mention"] == mention
    assert (nudge.context["on_duty"], nudge.context["backup"]) == (JUSTIN, CYRUS)
    assert (nudge.context["arrived"], nudge.context["deadline"], nudge.context["goal"]) == (
        la(3, 10, 8), la(3, 10, 12), 4 * HOUR)


@pytest.mark.parametrize(("assignee", "addressed"), [
    (None, JUSTIN), ("biagas", KATHLEEN), ("BIAGAS", KATHLEEN), ("outsider", "outsider")])
def test_a_reminder_addresses_the_holder_as_primary(assignee: str | None,
                                                    addressed: Person | str) -> None:
    (nudge,) = due_nudges(la(3, 10, 11), [issue("th-x", la(3, 10, 8), assignee=assignee)],
                          calendar=CAL, schedule=SCHEDULE, done=frozenset())
    assert (nudge.template, nudge.mail_template) == (REMINDER, None)
    assert (nudge.context["primary"], nudge.context["percent"]) == (addressed, 75)


def test_an_escalation_is_a_comment_and_a_mail_about_the_primary_on_duty() -> None:
    nudges = due_nudges(la(3, 10, 12), [issue("th-x", la(3, 10, 8), assignee="biagas")],
                        calendar=CAL, schedule=SCHEDULE, done=frozenset({"reminder:th-x"}))
    (nudge,) = nudges
    assert (nudge.template, nudge.mail_template) == (ESCALATION, ESCALATION_MAIL)
    assert (nudge.context["primary"], nudge.context["holder"]) == (JUSTIN, "biagas")
    assert nudge.context["percent"] == 100


def test_nudges_missed_while_down_both_fire_reminder_first_to_who_is_on_duty_now() -> None:
    issues = [issue("th-later", la(3, 6, 16)), issue("th-late", la(3, 6, 13)),
              issue("th-tie", la(3, 6, 15))]
    nudges = due_nudges(la(3, 9, 13), issues, calendar=CAL, schedule=SCHEDULE,
                        done=frozenset())
    assert keys(nudges) == ["reminder:th-late", "escalation:th-late", "reminder:th-tie",
                            "reminder:th-later", "escalation:th-tie", "escalation:th-later"]
    assert [n.due_at for n in nudges] == [la(3, 6, 16), la(3, 6, 17), la(3, 9, 9),
                                          la(3, 9, 10), la(3, 9, 10), la(3, 9, 11)]
    assert {n.mention[0] for n in nudges} == {"JustinPrivitera"}  # not last week's cyrush
    assert nudges[0].context["past_deadline"] is True


@pytest.mark.parametrize("changes", [
    pytest.param(answered(la(3, 9, 12, 30)), id="answered-in-the-meantime"),
    pytest.param({"state": "closed", "resolved_at": la(3, 9, 12, 30)}, id="closed"),
])
def test_no_nudges_for_answered_or_closed_issues(changes: dict[str, Any]) -> None:
    issues = [issue("th-x", la(3, 6, 15), **changes)]
    assert due_nudges(la(3, 10, 9), issues, calendar=CAL, schedule=SCHEDULE,
                      done=frozenset()) == ()


def test_nudges_with_nobody_on_duty_still_fire_addressed_to_nobody() -> None:
    empty = Schedule(calendar=CAL, people=SCHEDULE.people)
    nudges = due_nudges(la(3, 10, 12), [issue("th-x", la(3, 10, 8))], calendar=CAL,
                        schedule=empty, done=frozenset())
    assert [(n.kind, n.mention, n.email_to) for n in nudges] == [
        ("reminder", (), ()), ("escalation", (), ())]


@pytest.mark.parametrize(("share", "goal"), [(0.0, 4), (1.5, 4), (0.75, 0)])
def test_nudge_parameters_are_checked(share: float, goal: int) -> None:
    with pytest.raises(ValueError):
        due_nudges(la(3, 10, 12), [], calendar=CAL, schedule=SCHEDULE, done=frozenset(),
                   share=share, goal=dt.timedelta(hours=goal))


# ---------------------------------------------------------------------------------------------
# Post-mortems

SERIOUS_ISSUE = issue("th-s", la(3, 10, 10, 30), assignee="JustinPrivitera", labels=("Serious",),
                      state="closed", resolved_at=la(3, 11, 9),
                      **answered(la(3, 10, 14, 30), "JustinPrivitera"))


@pytest.mark.parametrize(("changes", "done", "expected"), [
    pytest.param({}, set(), ["postmortem:th-s"], id="closed-serious"),
    pytest.param({}, {"postmortem:th-s"}, [], id="done"),
    pytest.param({"labels": ()}, set(), [], id="not-serious"),
    pytest.param({"state": "open", "resolved_at": None}, set(), [], id="still-open"),
])
def test_postmortem_due(changes: dict[str, Any], done: set[str], expected: list[str]) -> None:
    found = due_postmortems([replace(SERIOUS_ISSUE, **changes)], serious_label=SERIOUS,
                            done=done, calendar=CAL, schedule=SCHEDULE)
    assert keys(found) == expected


def test_postmortem_context() -> None:
    (prompt,) = due_postmortems([SERIOUS_ISSUE], serious_label=SERIOUS, done=set(),
                                calendar=CAL, schedule=SCHEDULE)
    assert (prompt.owner, prompt.template) == ("JustinPrivitera", "postmortem.md")
    context = prompt.context
    assert (context["arrived"], context["first_response_at"], context["resolved_at"]) == (
        la(3, 10, 10, 30), la(3, 10, 14, 30), la(3, 11, 9))
    assert (context["first_response_by"], context["primary"]) == ("JustinPrivitera", JUSTIN)
    # 10:30-12:00 and 13:00-14:30; to the close another 2.5 h Tuesday and 1 h Wednesday.
    assert (context["response_time"], context["met_goal"], context["resolution_time"]) == (
        3 * HOUR, True, 6.5 * HOUR)


def test_postmortem_owner_falls_back_to_the_primary_at_resolution() -> None:
    unowned = replace(SERIOUS_ISSUE, assignee=None, first_response_at=None,
                      first_response_by=None, resolved_at=la(3, 16, 9))
    (prompt,) = due_postmortems([unowned], serious_label=SERIOUS, done=set(), calendar=CAL,
                                schedule=SCHEDULE)
    assert (prompt.owner, prompt.context["primary"]) == ("cyrush", CYRUS)  # week of Mar 16
    assert (prompt.context["response_time"], prompt.context["met_goal"]) == (None, None)


# ---------------------------------------------------------------------------------------------
# A simulated week: a ticker every five minutes, a shell that carries out what is planned


@dataclass(frozen=True, slots=True)
class Story:
    """An issue as it arrives, and what later happens to it: (when, changed fields)."""

    first: OpenIssue
    later: tuple[tuple[dt.datetime, dict[str, Any]], ...] = ()


STORIES = (
    Story(issue("th-f", la(3, 6, 9), assignee="cyrush")),  # never answered
    Story(issue("th-g", la(3, 5, 10), assignee="cyrush", **answered(la(3, 5, 11)))),
    Story(issue("th-k", la(3, 4, 10), assignee="cyrush", labels=(KEEP,),
                **answered(la(3, 4, 11)))),
    Story(issue("th-l", la(3, 4, 11), assignee="biagas", **answered(la(3, 4, 12)))),
    Story(issue("th-a", la(3, 6, 18, 30), assignee="JustinPrivitera",
                customers=("ann@example.org",))),  # Friday evening
    Story(issue("th-b", la(3, 7, 10))),  # Saturday, assignment failed
    Story(issue("th-c", la(3, 10, 12, 30), assignee="JustinPrivitera")),  # lunch hour
    Story(issue("th-d", la(3, 11, 10, 30), assignee="JustinPrivitera")),
    Story(issue("th-e", la(3, 12, 9), assignee="JustinPrivitera"),
          ((la(3, 12, 10), answered(la(3, 12, 10), "JustinPrivitera")),)),
    Story(issue("th-p", la(3, 10, 9), assignee="JustinPrivitera", labels=(SERIOUS,)),
          ((la(3, 10, 10), answered(la(3, 10, 10), "JustinPrivitera")),
           (la(3, 12, 15), {"state": "closed", "resolved_at": la(3, 12, 15)}))),
)


@dataclass
class Shell:
    """The imperative shell, simulated: it remembers done keys and reassignments."""

    done: set[str]
    assigned: dict[str, str]
    events: list[tuple[dt.datetime, str]]
    plans: list[HandoffPlan]

    def issues(self, now: dt.datetime) -> list[OpenIssue]:
        out = []
        for story in STORIES:
            if story.first.arrived_at > now:
                continue
            current = story.first
            for when, changes in story.later:
                if when <= now:
                    current = replace(current, **changes)
            if story.first.thread_id in self.assigned:
                current = replace(current, assignee=self.assigned[story.first.thread_id])
            out.append(current)
        return out

    def tick(self, now: dt.datetime) -> None:
        handoff = due_handoff(now, SCHEDULE, self.done)
        if handoff is not None:
            p = plan_handoff(handoff, self.issues(now), keep_label=KEEP, calendar=CAL, now=now)
            self.plans.append(p)
            self.assigned.update((i.thread_id, login) for i, login in p.reassign)
            self.record(now, handoff.key)
        for nudge in due_nudges(now, self.issues(now), calendar=CAL, schedule=SCHEDULE,
                                done=self.done):
            self.record(now, nudge.key)
        for prompt in due_postmortems(self.issues(now), serious_label=SERIOUS, done=self.done,
                                      calendar=CAL, schedule=SCHEDULE):
            self.record(now, prompt.key)

    def record(self, now: dt.datetime, key: str) -> None:
        assert key not in self.done
        self.done.add(key)
        self.events.append((now, key))


def simulate(end: dt.datetime, down: tuple[dt.datetime, dt.datetime] | None = None) -> Shell:
    shell = Shell({MAR2}, {}, [], [])
    now = la(3, 6, 8)
    while now <= end:
        if down is None or not down[0] <= now < down[1]:
            shell.tick(now)
        now += dt.timedelta(minutes=5)
    return shell


def test_simulated_week() -> None:
    shell = simulate(la(3, 13, 18))
    assert shell.events == [
        (la(3, 6, 12), "reminder:th-f"),  # 09:00 + 3h, the morning span's end
        (la(3, 6, 14), "escalation:th-f"),
        (la(3, 9, 8), MAR9),
        (la(3, 9, 11), "reminder:th-a"),  # Friday evening and Saturday mail: Monday 11:00
        (la(3, 9, 11), "reminder:th-b"),
        (la(3, 9, 12), "escalation:th-a"),
        (la(3, 9, 12), "escalation:th-b"),
        (la(3, 10, 16), "reminder:th-c"),  # lunch-hour mail counts from 13:00
        (la(3, 10, 17), "escalation:th-c"),
        (la(3, 11, 14, 30), "reminder:th-d"),
        (la(3, 11, 15, 30), "escalation:th-d"),
        (la(3, 12, 15), "postmortem:th-p"),
    ]
    (handoff,) = shell.plans
    assert [(i.thread_id, login) for i, login in handoff.reassign] == [
        ("th-g", "JustinPrivitera"), ("th-f", "JustinPrivitera"), ("th-b", "JustinPrivitera")]
    assert handoff.team_summary is not None
    assert sorted(listed(handoff.team_summary.context)) == [
        "th-a", "th-b", "th-f", "th-g", "th-k", "th-l"]
    assert [n.issue.thread_id for n in handoff.customer_notices] == []  # th-a already Justin's


def test_simulated_downtime_across_the_handoff() -> None:
    shell = simulate(la(3, 10, 10), down=(la(3, 6, 11), la(3, 10, 9)))
    back = la(3, 10, 9)
    assert shell.events == [(back, MAR9), (back, "reminder:th-f"), (back, "escalation:th-f"),
                            (back, "reminder:th-a"), (back, "reminder:th-b"),
                            (back, "escalation:th-a"), (back, "escalation:th-b")]
    assert shell.assigned["th-f"] == "JustinPrivitera"


def test_simulated_downtime_across_two_handoffs_runs_the_latest_once() -> None:
    shell = simulate(la(3, 17, 10), down=(la(3, 6, 11), la(3, 17, 9)))
    handoffs = [key for _, key in shell.events if key.startswith("handoff:")]
    assert handoffs == [MAR16]
    (p,) = shell.plans
    assert (p.handoff.outgoing.primary, p.handoff.incoming.primary) == (JUSTIN, CYRUS)
    # Justin's open issues and th-b (unassigned) go to cyrush; th-f was cyrush's all along.
    assert [(i.thread_id, login) for i, login in p.reassign] == [
        ("th-a", "cyrush"), ("th-b", "cyrush"), ("th-c", "cyrush"), ("th-d", "cyrush"),
        ("th-e", "cyrush")]
    assert p.team_summary is not None
    assert listed(p.team_summary.context)["th-f"]["disposition"] == "already-incoming"
    assert [n.issue.thread_id for n in p.customer_notices] == ["th-a"]


def test_nothing_is_planned_twice_once_done() -> None:
    shell = simulate(la(3, 13, 18))
    now = la(3, 13, 18)
    everything = shell.issues(now)
    assert due_handoff(now, SCHEDULE, shell.done) is None
    assert due_nudges(now, everything, calendar=CAL, schedule=SCHEDULE, done=shell.done) == ()
    assert due_postmortems(everything, serious_label=SERIOUS, done=shell.done,
                           calendar=CAL, schedule=SCHEDULE) == ()


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("changes", [
    {"arrived_at": dt.datetime(2026, 3, 9, 8)},
    {"first_response_at": dt.datetime(2026, 3, 9, 8)},
    {"state": "pending"},
])
def test_open_issue_rejects_bad_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        issue("th-x", la(3, 9, 8), **changes)
