"""Who is on call, as text, and a check of the schedule for the coming weeks.

Pure renderers and checks over a `Schedule`: `describe_oncall` (for ``visit-gateway oncall``)
and `check_schedule` + `render_report` (for ``visit-gateway schedule check``). They take the
instant to look from as an argument and return values or strings; no I/O, no clock. A schedule
with the Primary's delegations in force (`gateway.duty.delegation.with_delegations`) shows
them: who delegated, in `oncall`; each one, in the check's report.

Only business hours count in the checks: nobody on duty on a Saturday, or a new Primary with a
new Backup on a holiday, is not a problem. Load is counted in weeks, a week shared by a swap
split by business time (wall time for a week that is entirely closed), and compared with each
person's share: expected = weeks x fraction / sum of everyone's fractions.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.duty.businesstime import BusinessCalendar, wall_to_instant
from gateway.duty.schedule import ROLES, Duty, Person, Role, Schedule

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    week_start: dt.date  # local date of the week's handoff
    message: str


@dataclass(frozen=True, slots=True)
class LoadRow:
    person: Person
    primary_weeks: float
    backup_weeks: float
    expected_weeks: float  # for each role


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    start: dt.date
    weeks: int
    problems: tuple[Problem, ...]
    load: tuple[LoadRow, ...]
    delegations: tuple[str, ...] = ()  # the Primary's delegations in these weeks, as lines

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)


def describe_oncall(schedule: Schedule, at: dt.datetime, weeks: int) -> str:
    """Primary and Backup at `at` and until when, then the coming `weeks` weeks as a table."""
    tz = schedule.calendar.tz
    pieces = schedule.week_duties(at)
    lines = [f"On duty at {_when(at, tz)}:"]
    for role in ROLES:
        holder, source, until = _holding(pieces, role, at)
        override = schedule.override_at(role, at)
        if source == "delegation" and override is not None:
            source = override.reason  # "delegated by Ann Alpha, #3"
        lines.append(f"  {role.title():<8} {_who(holder):<34} until {_when(until, tz)}  "
                     f"({source})")
    lines += ["", f"Coming {weeks} weeks (handoff {schedule.handoff}, {tz.key}):"]
    rows = [("Week of", "Primary", "Backup", "From", "Also")]
    for week in schedule.weeks(at, weeks):
        source = (week.primary_source if week.primary_source == week.backup_source
                  else f"{week.primary_source}/{week.backup_source}")
        rows.append((f"{week.start.astimezone(tz):%Y-%m-%d}", _who(week.primary),
                     _who(week.backup), source, _also(schedule, week)))
    lines += _table(rows)
    return "\n".join(lines)


def check_schedule(schedule: Schedule, calendar: BusinessCalendar, start: dt.datetime,
                   weeks: int) -> ScheduleReport:
    """Look for problems in the `weeks` weeks from the one containing `start`."""
    problems: list[Problem] = []
    primary_load: dict[Person, float] = {}
    backup_load: dict[Person, float] = {}
    summaries = schedule.weeks(start - dt.timedelta(days=7), weeks + 1)
    for before, week in itertools.pairwise(summaries):
        week_date = week.start.astimezone(calendar.tz).date()
        pieces = schedule.week_duties(week.start)
        shares = _shares(calendar, pieces)
        for piece, share in zip(pieces, shares, strict=True):
            for served, holder in ((primary_load, piece.primary), (backup_load, piece.backup)):
                if holder is not None:
                    served[holder] = served.get(holder, 0.0) + share
        problems += [Problem(severity, week_date, message)
                     for severity, message in _piece_problems(calendar, pieces)]
        if week.primary is not None and week.primary == before.primary:
            problems.append(Problem("warning", week_date, f"{week.primary} is Primary two weeks "
                                    f"running (also the week of "
                                    f"{before.start.astimezone(calendar.tz):%Y-%m-%d})"))
    total = sum(p.fraction for p in schedule.people)
    load = tuple(
        LoadRow(p, round(primary_load.get(p, 0.0), 3), round(backup_load.get(p, 0.0), 3),
                round(weeks * p.fraction / total, 3) if total else 0.0)
        for p in schedule.people
    )
    first = summaries[1].start.astimezone(calendar.tz).date() if weeks else start.date()
    lo, hi = summaries[1 if weeks else 0].start, summaries[-1].end
    delegated = tuple(
        f"{_when(o.start, calendar.tz)} to {_when(o.end, calendar.tz)}: {_who(o.person)} is "
        f"Primary, {o.reason}" for o in schedule.overrides
        if o.source == "delegation" and o.role == "primary" and o.start < hi and lo < o.end)
    return ScheduleReport(first, weeks, tuple(problems), load, delegated)


def render_report(report: ScheduleReport) -> str:
    errors = sum(p.severity == "error" for p in report.problems)
    warnings = len(report.problems) - errors
    lines = [f"Schedule check, {_count(report.weeks, 'week')} from {report.start}: "
             f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"]
    lines += [f"  {p.severity:<7}  week of {p.week_start}  {p.message}" for p in report.problems]
    if report.delegations:
        lines += ["", f"Delegations ({len(report.delegations)}):"]
        lines += [f"  {line}" for line in report.delegations]
    lines += ["", f"Load over {_count(report.weeks, 'week')} (expected = weeks x fraction / sum of "
              "fractions):"]
    rows = [("Person", "Fraction", "Primary", "Backup", "Expected")]
    rows += [(_who(r.person), f"{r.person.fraction:.2f}", f"{r.primary_weeks:.1f}",
              f"{r.backup_weeks:.1f}", f"{r.expected_weeks:.1f}") for r in report.load]
    lines += _table(rows)
    lines.append("OK" if report.ok else "NOT OK: fix the errors above")
    return "\n".join(lines)


def _piece_problems(calendar: BusinessCalendar,
                    pieces: Sequence[Duty]) -> Iterator[tuple[Severity, str]]:
    """Problems during business hours, each reported once over the whole stretch it lasts."""
    found: dict[tuple[Severity, str], tuple[dt.datetime, dt.datetime]] = {}
    for piece in pieces:
        if not calendar.business_duration(piece.start, piece.end):
            continue
        for severity, what, start, end in _problems_of(calendar, piece):
            first, _ = found.get((severity, what), (start, end))
            found[(severity, what)] = (first, end)
    for (severity, what), (start, end) in found.items():
        yield severity, f"{what} {_stretch(calendar, start, end)}"


def _problems_of(calendar: BusinessCalendar,
                 piece: Duty) -> Iterator[tuple[Severity, str, dt.datetime, dt.datetime]]:
    primary, backup, start, end = piece.primary, piece.backup, piece.start, piece.end
    if primary is None:
        yield "error", "nobody is Primary", start, end
    if backup is None:
        yield "warning", "nobody is Backup", start, end
    if primary is not None and primary == backup:
        yield "error", f"{primary} is both Primary and Backup", start, end
    for role, person in (("Primary", primary), ("Backup", backup)):
        if person is None:
            continue
        for off in person.time_off:
            lo = max(start, _midnight(calendar, off.first))
            hi = min(end, _midnight(calendar, off.last + dt.timedelta(days=1)))
            if calendar.business_duration(lo, hi):
                yield "error", f"{person} is {role} during time off {off}", lo, hi
    if primary and backup and primary.experience == "new" and backup.experience == "new":
        yield "warning", f"new Primary {primary} is paired with new Backup {backup}", start, end


def _stretch(calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> str:
    first, last = _business_bounds(calendar, start, end)
    return f"from {_when(first, calendar.tz)} to {_when(last, calendar.tz)}"


def _business_bounds(calendar: BusinessCalendar, start: dt.datetime,
                     end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The first opening and the last closing within [start, end), which has business time."""
    first = calendar.next_opening(start)
    day = end.astimezone(calendar.tz).date()
    while True:
        closes = [min(e, end) for s, e in calendar.openings(day) if s < end]
        if closes:
            return first, closes[-1]
        day -= dt.timedelta(days=1)


def _holding(pieces: Sequence[Duty], role: Role,
             at: dt.datetime) -> tuple[Person | None, str, dt.datetime]:
    i = next(i for i, p in enumerate(pieces) if p.start <= at < p.end)
    holder = getattr(pieces[i], role)
    last = i
    while last + 1 < len(pieces) and getattr(pieces[last + 1], role) == holder:
        last += 1
    return holder, getattr(pieces[i], f"{role}_source"), pieces[last].end


def _also(schedule: Schedule, week: Duty) -> str:
    """Who else holds a role for part of the week (a swap), during business hours."""
    notes: list[str] = []
    tz = schedule.calendar.tz
    for role in ROLES:
        main = getattr(week, role)
        for piece in schedule.week_duties(week.start):
            other = getattr(piece, role)
            if other != main and schedule.calendar.business_duration(piece.start, piece.end):
                start, end = _business_bounds(schedule.calendar, piece.start, piece.end)
                notes.append(f"{role.title()} {_who(other)} "
                             f"{start.astimezone(tz):%a %m-%d %H:%M}-"
                             f"{end.astimezone(tz):%a %m-%d %H:%M}")
    return "; ".join(notes)


def _shares(calendar: BusinessCalendar, pieces: Sequence[Duty]) -> list[float]:
    """Each piece's share of its week: by business time, or wall time if the week is closed."""
    weights = [calendar.business_duration(p.start, p.end) for p in pieces]
    if not any(weights):
        weights = [p.end - p.start for p in pieces]
    total = sum(weights, dt.timedelta(0))
    return [w / total for w in weights]


def _midnight(calendar: BusinessCalendar, day: dt.date) -> dt.datetime:
    return wall_to_instant(day, dt.time(0), calendar.tz)


def _who(person: Person | None) -> str:
    return f"{person.name} ({person.github})" if person else "nobody"


def _when(t: dt.datetime, tz: dt.tzinfo) -> str:
    return f"{t.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
