"""Who is Primary and who is Backup at any instant: roster, rotation, weeks, overrides, ICS.

Pure: no I/O and no clock; `schedule_file.load_schedule` reads the schedule file into a
`Schedule`. Instants in and out are aware datetimes; results are in UTC.

Weeks run from one handoff to the next (default Monday 08:00 in the business time zone, so a
week is 167 or 169 real hours across DST). Each role is decided on its own, at each instant,
by the first source that names someone (precedence, highest first):

1. overrides/swaps (`[[override]]`): any date-time range and one role; where overrides
   overlap, the one listed later in the file wins. An override covering part of a week wins
   only for its range. The Primary's temporary delegations (`gateway.duty.delegation`) are
   overrides listed after the file's, so they win over all of it.
2. ICS events (`[calendar] ics`), see `gateway.duty.ics` for the naming convention.
3. explicit weeks (`[[week]]`): one handoff-to-handoff week, either role or both.
4. the rotation (`[rotation]`): Primary cycles through `primary` from `start`; Backup cycles
   through `backup`, or, if that is not given, is the rotation's next Primary.

Roles are layered independently: overriding the Primary leaves the Backup alone (which may
make them the same person: `oncall.check_schedule` reports it). A swap is written as
overrides (see docs/schedule.md). Before `rotation.start` the rotation names nobody.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.duty.businesstime import BusinessCalendar, wall_to_instant
from gateway.duty.ics import IcsFeed

Experience = Literal["new", "experienced"]
Role = Literal["primary", "backup"]
ROLES: tuple[Role, Role] = ("primary", "backup")
WEEK = dt.timedelta(days=7)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class DateRange:
    """Whole local days first..last, inclusive."""

    first: dt.date
    last: dt.date
    reason: str = ""

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last

    def __str__(self) -> str:
        span = str(self.first) if self.first == self.last else f"{self.first} to {self.last}"
        return f"{span} ({self.reason})" if self.reason else span


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    github: str
    experience: Experience = "experienced"
    fraction: float = 1.0  # share of their time on the project, 0..1
    time_off: tuple[DateRange, ...] = ()

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Handoff:
    """The weekly moment duty passes on, in local wall time."""

    weekday: int = 0  # Monday
    at: dt.time = dt.time(8)

    def __str__(self) -> str:
        return f"{DAY_NAMES[self.weekday][:3]} {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class Rotation:
    start: dt.date  # the local date of the first rotation week's handoff
    primary: tuple[Person, ...]
    backup: tuple[Person, ...] = ()  # empty: the rotation's next Primary


@dataclass(frozen=True, slots=True)
class WeekAssignment:
    start: dt.date  # local date of the week's handoff
    primary: Person | None = None
    backup: Person | None = None


@dataclass(frozen=True, slots=True)
class Override:
    start: dt.datetime  # aware, half-open [start, end)
    end: dt.datetime
    role: Role
    person: Person
    reason: str = ""
    # "override" for the file's [[override]]; "delegation" for the Primary's temporary
    # delegation (`gateway.duty.delegation`), whose Primary override names the delegator.
    source: str = "override"
    on_behalf_of: Person | None = None


@dataclass(frozen=True, slots=True)
class Duty:
    """Who holds each role over [start, end), and which source named them."""

    primary: Person | None
    backup: Person | None
    start: dt.datetime
    end: dt.datetime
    primary_source: str  # "override" | "delegation" | "ics" | "week" | "rotation" | "none"
    backup_source: str


@dataclass(frozen=True, slots=True)
class Schedule:
    calendar: BusinessCalendar
    people: tuple[Person, ...]
    handoff: Handoff = Handoff()
    rotation: Rotation | None = None
    explicit_weeks: tuple[WeekAssignment, ...] = ()
    overrides: tuple[Override, ...] = ()
    ics: IcsFeed | None = None

    def __post_init__(self) -> None:
        if self.ics is not None:
            for claim in self.ics.claims:
                find_person(self.people, claim.who)  # LookupError if unknown
        if self.rotation and self.rotation.start.weekday() != self.handoff.weekday:
            raise ValueError("rotation.start must fall on the handoff weekday")

    def duty_at(self, t: dt.datetime) -> Duty:
        """Who is on duty at `t`. start/end bound the stretch with these same two people,
        never crossing a handoff; the sources are those at `t`."""
        pieces = self.week_duties(t)
        i = next(i for i, p in enumerate(pieces) if p.start <= t < p.end)
        first = last = i
        while first > 0 and _same_people(pieces[first - 1], pieces[i]):
            first -= 1
        while last + 1 < len(pieces) and _same_people(pieces[last + 1], pieces[i]):
            last += 1
        here = pieces[i]
        return Duty(here.primary, here.backup, pieces[first].start, pieces[last].end,
                    here.primary_source, here.backup_source)

    def week_start(self, t: dt.datetime) -> dt.datetime:
        """The handoff that began the week containing `t` (UTC)."""
        return self._handoff_on(self._week_date(_aware(t)))

    def next_handoff(self, t: dt.datetime) -> dt.datetime:
        """The first weekly handoff strictly after `t` (UTC)."""
        return self._handoff_on(self._week_date(_aware(t)) + WEEK)

    def week_duties(self, t: dt.datetime) -> tuple[Duty, ...]:
        """The week containing `t` cut into pieces where both holders and sources are fixed."""
        week = self._week_date(_aware(t))
        lo, hi = self._handoff_on(week), self._handoff_on(week + WEEK)
        edges = {lo, hi}
        for override in self.overrides:
            edges.update(x for x in (override.start, override.end) if lo < x < hi)
        if self.ics is not None:
            for occ in self.ics.occurrences(lo, hi):
                edges.update(x for x in (occ.start, occ.end) if lo < x < hi)
        pieces: list[Duty] = []
        for a, b in itertools.pairwise(sorted(edges)):
            primary, primary_source = self._holder("primary", a, week)
            backup, backup_source = self._holder("backup", a, week)
            pieces.append(Duty(primary, backup, a, b, primary_source, backup_source))
        return tuple(pieces)

    def weeks(self, start: dt.datetime, n: int) -> list[Duty]:
        """One Duty per week from the week containing `start`: for each role, the person who
        holds it for the most business time that week (wall time if the whole week is closed);
        ties go to whoever held it first. Nobody only if nobody held the role at all."""
        t = self.week_start(start)
        out: list[Duty] = []
        for _ in range(n):
            pieces = self.week_duties(t)
            t = pieces[-1].end
            weigh = self._weigher(pieces)
            primary, primary_source = _majority([(p.primary, p.primary_source, weigh(p))
                                                 for p in pieces])
            backup, backup_source = _majority([(p.backup, p.backup_source, weigh(p))
                                               for p in pieces])
            out.append(Duty(primary, backup, pieces[0].start, pieces[-1].end,
                            primary_source, backup_source))
        return out

    def _weigher(self, pieces: Sequence[Duty]) -> Callable[[Duty], dt.timedelta]:
        if any(self.calendar.business_duration(p.start, p.end) for p in pieces):
            return lambda p: self.calendar.business_duration(p.start, p.end)
        return lambda p: p.end - p.start

    def override_at(self, role: Role, t: dt.datetime) -> Override | None:
        """The override that decides `role` at `t`, if any: where several cover `t`, the one
        listed later wins."""
        for override in reversed(self.overrides):
            if override.role == role and override.start <= t < override.end:
                return override
        return None

    def _holder(self, role: Role, t: dt.datetime, week: dt.date) -> tuple[Person | None, str]:
        override = self.override_at(role, t)
        if override is not None:
            return override.person, override.source
        if self.ics is not None:
            occ = self.ics.holder_at(role, t)
            if occ is not None:
                return find_person(self.people, occ.who), "ics"
        for assigned in self.explicit_weeks:
            person = getattr(assigned, role)
            if assigned.start == week and person is not None:
                return person, "week"
        rotation = self.rotation
        if rotation is not None and rotation.primary and week >= rotation.start:
            k = (week - rotation.start).days // 7
            if role == "primary":
                return rotation.primary[k % len(rotation.primary)], "rotation"
            if rotation.backup:
                return rotation.backup[k % len(rotation.backup)], "rotation"
            return rotation.primary[(k + 1) % len(rotation.primary)], "rotation"
        return None, "none"

    def _week_date(self, t: dt.datetime) -> dt.date:
        day = t.astimezone(self.calendar.tz).date()
        week = day - dt.timedelta(days=(day.weekday() - self.handoff.weekday) % 7)
        return week - WEEK if t < self._handoff_on(week) else week

    def _handoff_on(self, day: dt.date) -> dt.datetime:
        return wall_to_instant(day, self.handoff.at, self.calendar.tz)


def assignee_at_arrival(arrival: dt.datetime, calendar: BusinessCalendar,
                        schedule: Schedule) -> Person | None:
    """The Primary on duty at the inquiry's first business opening: mail that arrives on a
    weekend, a holiday or after the Friday close belongs to whoever opens the next day."""
    return schedule.duty_at(calendar.next_opening(arrival)).primary


def find_person(people: Sequence[Person], who: str) -> Person:
    """Match a name, GitHub login or email (any case), or an unambiguous first name."""
    wanted = who.strip().casefold()
    exact = [p for p in people
             if wanted in (p.name.casefold(), p.github.casefold(), p.email.casefold())]
    if not exact:
        exact = [p for p in people if p.name.casefold().split()[:1] == [wanted]]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise LookupError(f"{who!r} could be {' or '.join(p.name for p in exact)}")
    raise LookupError(f"no person {who!r} in the roster")


def _same_people(a: Duty, b: Duty) -> bool:
    return a.primary == b.primary and a.backup == b.backup


def _majority(held: list[tuple[Person | None, str, dt.timedelta]]) -> tuple[Person | None, str]:
    weights: dict[Person, dt.timedelta] = {}
    sources: dict[Person, dict[str, dt.timedelta]] = {}
    for person, source, weight in held:
        if person is not None:
            weights[person] = weights.get(person, dt.timedelta(0)) + weight
            by_source = sources.setdefault(person, {})
            by_source[source] = by_source.get(source, dt.timedelta(0)) + weight
    if not weights:
        return None, "none"
    best = max(weights, key=lambda p: weights[p])  # max keeps the first of equals
    return best, max(sources[best], key=lambda s: sources[best][s])


def _aware(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"schedule needs an aware datetime, got naive {t.isoformat()}")
    return t
