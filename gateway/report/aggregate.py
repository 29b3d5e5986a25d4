"""Response-time and load reports: pure aggregation over plain rows.

`build_report` takes the rows `report_data.load_rows` reads from the store (threads, effort,
handoff reassignments), the rotation weeks from `Schedule.weeks` and the roster, and returns a
`Report`, which `gateway.report.render` turns into text. No I/O and no clock: the instant the
report is "as of" is passed in.

Counting rules.

* An inquiry belongs to the rotation week of its first business opening
  (`calendar.next_opening(arrived_at)`), the same rule that picks its assignee: mail that
  arrives on Sunday or before Monday's handoff counts in the week that starts Monday 08:00.
* Response time is business time from arrival to the first response
  (`BusinessCalendar.business_duration`), in hours. Medians use `statistics.median` (mean of
  the two middle values for an even count). The 90th percentile is the *nearest-rank* value:
  the smallest value with at least 90% of the values at or below it, i.e. ``sorted(xs)[ceil(0.9
  * n) - 1]``; it is always one of the observed values.
* Share within goal: answered inquiries whose response took at most the goal (exactly the goal
  meets it), over answered inquiries plus unanswered ones whose goal has already passed at
  `as_of`. Unanswered inquiries still inside their goal are left out; None when nothing counts.
* Week rows: "first responses" are the week's inquiries that have one; "resolved" counts
  threads resolved during the week (whenever they arrived), except those the stale rule
  closed as won't fix, which "closed stale" counts; "promoted" counts the product issues
  `/promote` opened during the week (`promotions`: their links); "handed off" counts the
  reassignments queued by the handoff that starts the week (outbox keys
  ``assign:handoff:<time>:<thread>``, dropped rows excluded); "open at week end" counts threads
  that had arrived before the week's end and were not resolved by then.
* People: weeks served as Primary/Backup are whole rotation weeks (`Schedule.weeks` gives the
  majority holder); expected = weeks x fraction / sum of the roster's fractions (as in
  `schedule check`). "Inquiries" counts the period's inquiries assigned to them, the median is
  over inquiries they answered first, and effort is `/spend` minutes recorded on days inside
  the period, in hours. Logins are matched case-insensitively.
* Labels: every label an inquiry carries counts it once; inquiries without labels count
  under "(none)".
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Duty, Person

GOAL = dt.timedelta(hours=4)
NO_LABEL = "(none)"


# ---- Input rows ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ThreadRow:
    thread_id: str
    arrived_at: dt.datetime | None
    issue_number: int | None = None
    assignee: str | None = None
    first_response_at: dt.datetime | None = None
    first_response_by: str | None = None
    resolved_at: dt.datetime | None = None
    state: str = "open"
    labels: tuple[str, ...] = ()
    reopened_count: int = 0
    closed_as: str | None = None  # "stale": closed as won't fix by the stale rule


@dataclass(frozen=True, slots=True)
class PromotionRow:
    """A product issue `/promote` opened for an inquiry."""

    thread_id: str
    at: dt.datetime
    url: str


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    """Files of the list's mail stored for the team, or one published by `/publish`."""

    at: dt.datetime
    files: int
    published: bool = False


@dataclass(frozen=True, slots=True)
class EffortRow:
    thread_id: str
    login: str
    day: dt.date
    minutes: int


@dataclass(frozen=True, slots=True)
class HandoffRow:
    """One issue reassigned by a weekly handoff."""

    thread_id: str
    at: dt.datetime  # the handoff instant
    login: str | None = None  # the new assignee


# ---- Output --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WeekStats:
    start: dt.date  # local date of the week's handoff
    primary: str | None  # GitHub login
    primary_name: str | None
    backup: str | None
    arrived: int
    responded: int
    within_goal: float | None  # share 0..1
    median_hours: float | None
    p90_hours: float | None
    resolved: int
    handed_off: int
    open_at_end: int
    stale_closed: int = 0
    promotions: tuple[str, ...] = ()  # links to the product issues opened this week
    attachments_stored: int = 0  # files of the list's mail stored this week
    attachments_published: int = 0  # of them, made public with /publish this week

    @property
    def promoted(self) -> int:
        return len(self.promotions)


@dataclass(frozen=True, slots=True)
class PersonStats:
    login: str
    name: str
    fraction: float | None  # None: not in the roster
    primary_weeks: int
    backup_weeks: int
    expected_weeks: float
    inquiries: int
    responses: int
    median_hours: float | None
    effort_hours: float


@dataclass(frozen=True, slots=True)
class LabelStats:
    label: str
    count: int
    median_hours: float | None
    within_goal: float | None


@dataclass(frozen=True, slots=True)
class Report:
    first_day: dt.date  # local date of the first week's handoff
    end_day: dt.date  # local date of the handoff that ends the last week
    goal_hours: float
    weeks: tuple[WeekStats, ...]
    people: tuple[PersonStats, ...]
    labels: tuple[LabelStats, ...]
    timezone: str = ""
    totals: dict[str, Any] = field(default_factory=dict)


# ---- Statistics ----------------------------------------------------------------------------

def median(values: Sequence[float]) -> float | None:
    """`statistics.median`, or None for no values."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it
    (``sorted(values)[ceil(q / 100 * n) - 1]``, and the minimum for q = 0). None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile needs 0 <= q <= 100, got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def share(hits: int, total: int) -> float | None:
    return hits / total if total else None


# ---- Aggregation ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Inquiry:
    row: ThreadRow
    week: int  # index into the weeks
    hours: float | None  # business hours to first response
    met: bool | None  # None: unanswered and still inside the goal


def build_report(threads: Iterable[ThreadRow], effort: Iterable[EffortRow],
                 handoffs: Iterable[HandoffRow], weeks: Sequence[Duty],
                 people: Sequence[Person], calendar: BusinessCalendar, *,
                 as_of: dt.datetime, goal: dt.timedelta = GOAL,
                 promotions: Iterable[PromotionRow] = (),
                 attachments: Iterable[AttachmentRow] = ()) -> Report:
    """Aggregate the rows over `weeks` (consecutive rotation weeks, as `Schedule.weeks` gives)."""
    if not weeks:
        raise ValueError("a report needs at least one rotation week")
    threads = list(threads)
    handoffs = list(handoffs)
    promoted = sorted(promotions, key=lambda p: p.at)
    files = list(attachments)
    start, end = weeks[0].start, weeks[-1].end
    tz = calendar.tz
    inquiries = [_inquiry(t, weeks, calendar, as_of, goal) for t in threads
                 if t.arrived_at is not None]
    inside = [q for q in inquiries if q.week >= 0]

    week_rows = []
    for i, week in enumerate(weeks):
        mine = [q for q in inside if q.week == i]
        hours = [q.hours for q in mine if q.hours is not None]
        judged = [q.met for q in mine if q.met is not None]
        week_rows.append(WeekStats(
            start=week.start.astimezone(tz).date(),
            primary=week.primary.github if week.primary else None,
            primary_name=week.primary.name if week.primary else None,
            backup=week.backup.github if week.backup else None,
            arrived=len(mine),
            responded=len(hours),
            within_goal=share(sum(judged), len(judged)),
            median_hours=median(hours),
            p90_hours=percentile(hours, 90),
            resolved=sum(1 for t in threads if t.resolved_at is not None
                         and week.start <= t.resolved_at < week.end
                         and t.closed_as != "stale"),
            stale_closed=sum(1 for t in threads if t.resolved_at is not None
                             and week.start <= t.resolved_at < week.end
                             and t.closed_as == "stale"),
            promotions=tuple(p.url for p in promoted if week.start <= p.at < week.end),
            attachments_stored=sum(a.files for a in files if not a.published
                                   and week.start <= a.at < week.end),
            attachments_published=sum(a.files for a in files if a.published
                                      and week.start <= a.at < week.end),
            handed_off=sum(1 for h in handoffs if week.start <= h.at < week.end),
            open_at_end=sum(1 for t in threads if t.arrived_at is not None
                            and t.arrived_at < week.end
                            and (t.resolved_at is None or t.resolved_at >= week.end)),
        ))

    first_day, end_day = start.astimezone(tz).date(), end.astimezone(tz).date()
    person_rows = _people(inside, list(effort), weeks, people, first_day, end_day)
    label_rows = _labels(inside)
    all_hours = [q.hours for q in inside if q.hours is not None]
    judged = [q.met for q in inside if q.met is not None]
    totals = {"arrived": len(inside), "responded": len(all_hours),
              "within_goal": share(sum(judged), len(judged)),
              "median_hours": median(all_hours), "p90_hours": percentile(all_hours, 90)}
    return Report(first_day, end_day, goal / dt.timedelta(hours=1), tuple(week_rows),
                  person_rows, label_rows, timezone=str(tz), totals=totals)


def _inquiry(t: ThreadRow, weeks: Sequence[Duty], calendar: BusinessCalendar,
             as_of: dt.datetime, goal: dt.timedelta) -> _Inquiry:
    assert t.arrived_at is not None
    opening = calendar.next_opening(t.arrived_at)
    index = next((i for i, w in enumerate(weeks) if w.start <= opening < w.end), -1)
    hours: float | None = None
    met: bool | None = None
    if t.first_response_at is not None:
        taken = calendar.business_duration(t.arrived_at, t.first_response_at)
        hours = taken / dt.timedelta(hours=1)
        met = taken <= goal
    elif calendar.business_duration(t.arrived_at, as_of) > goal:
        met = False
    return _Inquiry(t, index, hours, met)


def _people(inside: Sequence[_Inquiry], effort: Sequence[EffortRow], weeks: Sequence[Duty],
            people: Sequence[Person], first_day: dt.date, end_day: dt.date
            ) -> tuple[PersonStats, ...]:
    total_fraction = sum(p.fraction for p in people)
    key: Callable[[str | None], str] = lambda s: (s or "").casefold()  # noqa: E731
    roster = {key(p.github): p for p in people}
    logins = [p.github for p in people]
    seen = set(roster)
    extra = [q.row.assignee for q in inside] + [q.row.first_response_by for q in inside]
    extra += [e.login for e in effort if first_day <= e.day < end_day]
    for login in extra:
        if login and key(login) not in seen:
            seen.add(key(login))
            logins.append(login)
    out = []
    for login in logins:
        person = roster.get(key(login))
        answered = [q.hours for q in inside
                    if key(q.row.first_response_by) == key(login) and q.hours is not None]
        minutes = sum(e.minutes for e in effort
                      if key(e.login) == key(login) and first_day <= e.day < end_day)
        out.append(PersonStats(
            login=login,
            name=person.name if person else login,
            fraction=person.fraction if person else None,
            primary_weeks=sum(1 for w in weeks
                              if w.primary and key(w.primary.github) == key(login)),
            backup_weeks=sum(1 for w in weeks
                             if w.backup and key(w.backup.github) == key(login)),
            expected_weeks=(len(weeks) * person.fraction / total_fraction
                            if person and total_fraction else 0.0),
            inquiries=sum(1 for q in inside if key(q.row.assignee) == key(login)),
            responses=len(answered),
            median_hours=median(answered),
            effort_hours=minutes / 60,
        ))
    return tuple(out)


def _labels(inside: Sequence[_Inquiry]) -> tuple[LabelStats, ...]:
    groups: dict[str, list[_Inquiry]] = {}
    for q in inside:
        for label in q.row.labels or (NO_LABEL,):
            groups.setdefault(label, []).append(q)
    out = []
    for label in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        qs = groups[label]
        hours = [q.hours for q in qs if q.hours is not None]
        judged = [q.met for q in qs if q.met is not None]
        out.append(LabelStats(label, len(qs), median(hours), share(sum(judged), len(judged))))
    return tuple(out)


__all__ = ["GOAL", "EffortRow", "HandoffRow", "LabelStats", "PersonStats", "Report", "ThreadRow",
           "WeekStats", "build_report", "median", "percentile", "share"]
