"""The Primary's temporary delegation: the checks of a new one, and its effect on the schedule.

On the example schedule (config/schedule.example.toml) with the default calendar: the week of
Monday 2026-12-07 08:00 PST is Kathleen Biagas (biagas) Primary and Justin Privitera
(JustinPrivitera) Backup; the next week Justin is Primary and Cyrus Harrison (cyrush) Backup.
Kathleen has meetings on Tuesday afternoon and hands Justin the Primary role, 13:00-17:00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.delegation import (
    Delegation,
    Planned,
    Refusal,
    delegation_at,
    plan_delegation,
    with_delegations,
)
from gateway.duty.oncall import check_schedule, describe_oncall, render_report
from gateway.duty.schedule import (
    Override,
    Schedule,
    WeekAssignment,
    assignee_at_arrival,
    find_person,
)
from gateway.duty.schedule_file import load_schedule

LA = ZoneInfo("America/Los_Angeles")
CAL = BusinessCalendar()
SCHEDULE = load_schedule(Path(__file__).resolve().parents[3] / "config" / "schedule.example.toml",
                         calendar=CAL)
KATHLEEN, JUSTIN, CYRUS, MARK = (find_person(SCHEDULE.people, login) for login in (
    "biagas", "JustinPrivitera", "cyrush", "markcmiller86"))


def tue(hh: int, mm: int = 0, day: int = 8) -> dt.datetime:
    return dt.datetime(2026, 12, day, hh, mm, tzinfo=LA)


NOW = tue(12)
HANDOFF = dt.datetime(2026, 12, 14, 8, tzinfo=LA)
AFTERNOON = Delegation("biagas", "JustinPrivitera", tue(13), tue(17), 1)


def planned(start: dt.datetime, until: dt.datetime, *, to: str = "JustinPrivitera",
            number: int | None = None) -> tuple[str, str, dt.datetime, dt.datetime, int | None]:
    return ("biagas", to, start, until, number)


def outcome(result: Planned | Refusal) -> object:
    if isinstance(result, Refusal):
        return result.reason
    d = result.delegation
    return (d.from_login, d.to_login, d.start, d.until, d.id)


# (id, recorded, by, to, start, until, expected: a plan, or words the refusal contains)
CASES: list[tuple[str, tuple[Delegation, ...], str | None, str | None, dt.datetime,
                  dt.datetime, object]] = [
    ("inside-the-week", (), None, None, tue(13), tue(17), planned(tue(13), tue(17))),
    ("named-by-login-any-case", (), "BIAGAS", "justinprivitera", tue(13), tue(17),
     planned(tue(13), tue(17))),
    ("named-by-first-name", (), "Kathleen", "Justin", tue(13), tue(17),
     planned(tue(13), tue(17))),
    ("across-the-handoff-is-cut", (), None, None, tue(13), tue(12, day=15),
     planned(tue(13), HANDOFF)),
    ("to-someone-not-the-backup", (), None, "markcmiller86", tue(13), tue(17),
     planned(tue(13), tue(17), to="markcmiller86")),
    ("until-before-start", (), None, None, tue(17), tue(13), "must be after the start"),
    ("until-equals-start", (), None, None, tue(13), tue(13), "must be after the start"),
    ("starts-in-the-past", (), None, None, tue(11), tue(17), "start in the past"),
    ("not-the-primary", (), "cyrush", None, tue(13), tue(17),
     "Cyrus Harrison (cyrush) is not the Primary at Tue 2026-12-08 13:00 PST "
     "(Kathleen Biagas (biagas) is)"),
    ("delegate-not-on-roster", (), None, "octocat", tue(13), tue(17),
     "no person 'octocat' in the roster"),
    ("giver-not-on-roster", (), "octocat", None, tue(13), tue(17), "no person 'octocat'"),
    ("to-themselves", (), None, "biagas", tue(13), tue(17), "cannot delegate to themselves"),
    ("given-again", (AFTERNOON,), None, None, tue(13), tue(17),
     planned(tue(13), tue(17), number=1)),
    ("covered-by-one-recorded", (AFTERNOON,), None, None, tue(14), tue(16),
     planned(tue(13), tue(17), number=1)),
    ("overlaps-one-recorded", (AFTERNOON,), None, None, tue(15), tue(18),
     "already delegates to JustinPrivitera from Tue 2026-12-08 13:00 PST until "
     "Tue 2026-12-08 17:00 PST (#1): cancel that one first"),
    ("overlaps-one-to-someone-else", (AFTERNOON,), None, "markcmiller86", tue(14), tue(15),
     "already delegates"),
    ("follows-one-recorded", (AFTERNOON,), None, None, tue(17), tue(18),
     planned(tue(17), tue(18))),
    # A cancelled or ended one is recorded with its real end (see weekly.delegation).
    ("after-one-ended-early", (replace(AFTERNOON, until=tue(14)),), None, None, tue(15),
     tue(17), planned(tue(15), tue(17))),
    ("next-week-by-next-weeks-primary", (AFTERNOON,), None, None, tue(13, day=15),
     tue(17, day=15), ("JustinPrivitera", "cyrush", tue(13, day=15), tue(17, day=15), None)),
]


@pytest.mark.parametrize(("recorded", "by", "to", "start", "until", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_plan_delegation(recorded: tuple[Delegation, ...], by: str | None, to: str | None,
                         start: dt.datetime, until: dt.datetime, expected: object) -> None:
    result = plan_delegation(SCHEDULE, recorded, by=by, to=to, start=start, until=until,
                             now=NOW)
    if isinstance(expected, str):
        assert isinstance(result, Refusal) and expected in result.reason, outcome(result)
    else:
        assert outcome(result) == expected


def test_a_plan_says_who_and_whether_it_was_cut() -> None:
    plan = plan_delegation(SCHEDULE, (), by=None, to=None, start=tue(13), until=tue(9, day=15),
                           now=NOW)
    assert isinstance(plan, Planned)
    assert (plan.giver, plan.taker, plan.backup, plan.cut, plan.recorded) == (
        KATHLEEN, JUSTIN, KATHLEEN, True, False)
    third = plan_delegation(SCHEDULE, (), by=None, to="markcmiller86", start=tue(13),
                            until=tue(17), now=NOW)
    assert isinstance(third, Planned) and third.backup == JUSTIN and not third.cut


NO_BACKUP = Schedule(CAL, SCHEDULE.people, explicit_weeks=(
    WeekAssignment(dt.date(2026, 12, 7), primary=KATHLEEN),))


def test_without_a_backup_the_delegate_must_be_named() -> None:
    refused = plan_delegation(NO_BACKUP, (), by=None, to=None, start=tue(13), until=tue(17),
                              now=NOW)
    assert refused == Refusal("nobody is Backup at Tue 2026-12-08 13:00 PST to take over: "
                              "name who does")
    named = plan_delegation(NO_BACKUP, (), by=None, to="cyrush", start=tue(13), until=tue(17),
                            now=NOW)
    assert isinstance(named, Planned) and named.backup == KATHLEEN  # she fills the gap
    nobody = plan_delegation(NO_BACKUP, (), by=None, to="cyrush", start=tue(13, day=15),
                             until=tue(17, day=15), now=NOW)
    assert isinstance(nobody, Refusal) and "nobody is Primary" in nobody.reason


# ---------------------------------------------------------------------------------------------
# The effect


def who(schedule: Schedule, t: dt.datetime) -> tuple[str | None, str | None, str, str]:
    duty = schedule.duty_at(t)
    return (duty.primary.github if duty.primary else None,
            duty.backup.github if duty.backup else None, duty.primary_source,
            duty.backup_source)


ROTATION = ("biagas", "JustinPrivitera", "rotation", "rotation")
SWAPPED = ("JustinPrivitera", "biagas", "delegation", "delegation")


@pytest.mark.parametrize(("delegations", "at", "expected"), [
    pytest.param((AFTERNOON,), tue(12, 59), ROTATION, id="before"),
    pytest.param((AFTERNOON,), tue(13), SWAPPED, id="at-start"),
    pytest.param((AFTERNOON,), tue(16, 59), SWAPPED, id="during"),
    pytest.param((AFTERNOON,), tue(17), ROTATION, id="at-until"),
    pytest.param((replace(AFTERNOON, until=tue(14)),), tue(14, 30), ROTATION,
                 id="ended-early"),
    pytest.param((replace(AFTERNOON, to_login="markcmiller86"),), tue(14),
                 ("markcmiller86", "JustinPrivitera", "delegation", "rotation"),
                 id="to-a-third-person-the-backup-stays"),
    pytest.param((replace(AFTERNOON, from_login="cyrush", to_login="biagas"),), tue(14),
                 ROTATION, id="giver-is-not-primary-no-effect"),
    pytest.param((replace(AFTERNOON, to_login="left-the-team"),), tue(14), ROTATION,
                 id="delegate-no-longer-on-roster-no-effect"),
    pytest.param((AFTERNOON, Delegation("biagas", "markcmiller86", tue(9, day=9),
                                        tue(10, day=9), 2)),
                 tue(9, 30, day=9), ("markcmiller86", "JustinPrivitera", "delegation",
                                     "rotation"), id="two-delegations-second"),
])
def test_with_delegations(delegations: tuple[Delegation, ...], at: dt.datetime,
                          expected: tuple[str, str, str, str]) -> None:
    assert who(with_delegations(SCHEDULE, delegations), at) == expected


def test_a_delegation_does_not_overrule_a_later_swap_in_the_file() -> None:
    """The file gives Cyrus Tuesday 14:00-15:00 (a swap written after the delegation): the
    delegation holds only where Kathleen is the Primary."""
    swap = Override(tue(14), tue(15), "primary", CYRUS, "swap")
    base = replace(SCHEDULE, overrides=(*SCHEDULE.overrides, swap))
    schedule = with_delegations(base, (AFTERNOON,))
    assert who(schedule, tue(13, 30))[:2] == ("JustinPrivitera", "biagas")
    assert who(schedule, tue(14, 30))[:3] == ("cyrush", "JustinPrivitera", "override")
    assert who(schedule, tue(15, 30))[:2] == ("JustinPrivitera", "biagas")


def test_no_delegations_is_the_same_schedule() -> None:
    assert with_delegations(SCHEDULE, ()) is SCHEDULE
    assert delegation_at(SCHEDULE, tue(14)) is None


def test_delegation_at_names_the_giver() -> None:
    override = delegation_at(with_delegations(SCHEDULE, (AFTERNOON,)), tue(14))
    assert override is not None
    assert (override.person, override.on_behalf_of, override.start, override.end) == (
        JUSTIN, KATHLEEN, tue(13), tue(17))


@pytest.mark.parametrize(("arrival", "assignee"), [
    pytest.param(tue(11, 59), "biagas", id="just-before-noon"),
    pytest.param(tue(10), "biagas", id="morning"),
    pytest.param(tue(13, 30), "JustinPrivitera", id="during"),
    pytest.param(tue(12, 15), "JustinPrivitera", id="lunch-opens-during"),
    pytest.param(tue(17, 30), "biagas", id="evening-opens-after"),
])
def test_assignee_at_arrival_during_a_delegation(arrival: dt.datetime, assignee: str) -> None:
    schedule = with_delegations(SCHEDULE, (AFTERNOON,))
    person = assignee_at_arrival(arrival, CAL, schedule)
    assert person is not None and person.github == assignee


def test_oncall_shows_who_delegated() -> None:
    text = describe_oncall(with_delegations(SCHEDULE, (AFTERNOON,)), tue(14), 1)
    lines = text.splitlines()
    assert lines[1].split() == [
        "Primary", "Justin", "Privitera", "(JustinPrivitera)", "until", "Tue", "2026-12-08",
        "17:00", "PST", "(delegated", "by", "Kathleen", "Biagas,", "#1)"]
    assert lines[2].split()[:3] == ["Backup", "Kathleen", "Biagas"]
    assert lines[2].endswith("until Tue 2026-12-08 17:00 PST  (delegating to Justin "
                             "Privitera, #1)")
    assert "Primary Justin Privitera (JustinPrivitera) Tue 12-08 13:00-Tue 12-08 17:00" in text
    after = describe_oncall(with_delegations(SCHEDULE, (AFTERNOON,)), tue(17), 1)
    assert "delegat" not in after.splitlines()[1] + after.splitlines()[2]


def test_schedule_check_lists_the_delegations() -> None:
    schedule = with_delegations(SCHEDULE, (AFTERNOON,))
    report = check_schedule(schedule, CAL, tue(9, day=7), 2)
    assert report.delegations == (
        "Tue 2026-12-08 13:00 PST to Tue 2026-12-08 17:00 PST: Justin Privitera "
        "(JustinPrivitera) is Primary, delegated by Kathleen Biagas, #1",)
    text = render_report(report)
    assert "Delegations (1):\n  Tue 2026-12-08 13:00 PST" in text
    assert check_schedule(schedule, CAL, tue(9, day=21), 2).delegations == ()
    assert "Delegations" not in render_report(check_schedule(SCHEDULE, CAL, tue(9, day=7), 2))
