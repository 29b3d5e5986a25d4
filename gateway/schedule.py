"""Who is Primary and who is Backup at any instant: roster, rotation, weeks, overrides, ICS.

Pure, except `load_schedule`, the one explicit loader (it reads the schedule TOML and the ICS
file it names; a URL is fetched by the caller's `fetch_url`, never here). Instants in and out
are aware datetimes; results are in UTC.

Weeks run from one handoff to the next (default Monday 08:00 in the business time zone, so a
week is 167 or 169 real hours across DST). Each role is decided on its own, at each instant,
by the first source that names someone (precedence, highest first):

1. overrides/swaps (`[[override]]`): any date-time range and one role; where overrides
   overlap, the one listed later in the file wins. An override covering part of a week wins
   only for its range.
2. ICS events (`[calendar] ics`), see `gateway.ics` for the naming convention.
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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from gateway.businesstime import (
    BusinessCalendar,
    check_keys,
    parse_weekday,
    read_toml,
    table_line,
    wall_to_instant,
)
from gateway.errors import ConfigError
from gateway.ics import IcsFeed, parse_ics

Experience = Literal["new", "experienced"]
Role = Literal["primary", "backup"]
ROLES: tuple[Role, Role] = ("primary", "backup")
WEEK = dt.timedelta(days=7)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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
        return f"{_DAY_NAMES[self.weekday][:3]} {self.at:%H:%M}"


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


@dataclass(frozen=True, slots=True)
class Duty:
    """Who holds each role over [start, end), and which source named them."""

    primary: Person | None
    backup: Person | None
    start: dt.datetime
    end: dt.datetime
    primary_source: str  # "override" | "ics" | "week" | "rotation" | "none"
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

    def _holder(self, role: Role, t: dt.datetime, week: dt.date) -> tuple[Person | None, str]:
        for override in reversed(self.overrides):  # later-listed wins
            if override.role == role and override.start <= t < override.end:
                return override.person, "override"
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


# ---------------------------------------------------------------------------------------------
# Loading the schedule file

_TOP_KEYS = ("person", "rotation", "week", "override", "calendar")
_PERSON_KEYS = ("name", "email", "github", "experience", "fraction", "time_off")
_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_HANDOFF = re.compile(r"^\s*([A-Za-z]+)\s+(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class _File:
    """Where we are in the schedule file, for error messages."""

    path: Path
    text: str

    def at(self, table: str, index: int | None = None) -> str:
        line = table_line(self.text, table, index)
        return f"{self.path}:{line}" if line else str(self.path)


def load_schedule(path: Path, *, calendar: BusinessCalendar,
                  fetch_url: Callable[[str], str] | None = None) -> Schedule:
    """Read a schedule TOML file (and the ICS file it names); every problem is a ConfigError
    naming the file, the line and key (``person[3].fraction``, indexes count from 0) and a fix.

    An `https://` ICS location is fetched with `fetch_url` (the caller's, so this module does
    no network I/O); without one it is an error.
    """
    if not path.is_file():
        raise ConfigError("schedule.file", f"schedule file not found: {path}",
                          "copy config/schedule.example.toml there, or correct schedule.file "
                          "in the gateway config", source=str(path))
    data, text = read_toml(path, what="schedule file")
    f = _File(path, text)
    check_keys(data, _TOP_KEYS, prefix="", source=str(path))
    people = _people(_tables(data, "person", f), f)
    rotation_table = data.get("rotation", {})
    if not isinstance(rotation_table, Mapping):
        raise ConfigError("rotation", "must be a table", "write [rotation]", source=str(path))
    handoff, rotation = _rotation(rotation_table, people, f)
    weeks = _weeks(_tables(data, "week", f), people, handoff, f)
    overrides = _overrides(_tables(data, "override", f), people, calendar, f)
    ics = _ics(data.get("calendar"), people, calendar, f, fetch_url)
    return Schedule(calendar=calendar, people=people, handoff=handoff, rotation=rotation,
                    explicit_weeks=weeks, overrides=overrides, ics=ics)


def _tables(data: Mapping[str, Any], name: str, f: _File) -> list[Mapping[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(name, "must be an array of tables", f"write each one as [[{name}]]",
                          source=str(f.path))
    return value


def _people(tables: list[Mapping[str, Any]], f: _File) -> tuple[Person, ...]:
    people: list[Person] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        where, key = f.at("person", i), f"person[{i}]"
        check_keys(table, _PERSON_KEYS, prefix=f"{key}.", source=where)
        name = _text(table, "name", key, where, 'e.g. name = "Mark Miller"')
        email = _text(table, "email", key, where, 'e.g. email = "miller86@llnl.gov"')
        github = _text(table, "github", key, where, 'e.g. github = "markcmiller86"')
        if "@" not in email:
            raise ConfigError(f"{key}.email", f"{email!r} is not an email address",
                              'e.g. email = "miller86@llnl.gov"', source=where)
        if not _GITHUB_LOGIN.match(github):
            raise ConfigError(f"{key}.github", f"{github!r} is not a GitHub login",
                              "give the login without @ or URL, e.g. markcmiller86",
                              source=where)
        experience = table.get("experience", "experienced")
        if experience not in ("new", "experienced"):
            raise ConfigError(f"{key}.experience", f"{experience!r} is not new or experienced",
                              'write experience = "new" or "experienced"', source=where)
        fraction = table.get("fraction", 1.0)
        if (not isinstance(fraction, int | float) or isinstance(fraction, bool)
                or not 0 <= fraction <= 1):
            raise ConfigError(f"{key}.fraction", f"{fraction!r} is not a share between 0 and 1",
                              "give the share of their time on the project, e.g. 0.5",
                              source=where)
        for field_name, value in (("name", name), ("github", github), ("email", email)):
            other = seen.setdefault(f"{field_name}:{value.casefold()}", i)
            if other != i:
                raise ConfigError(f"{key}.{field_name}", f"{value!r} is also person[{other}]",
                                  "list each person once, with a unique name, login and email",
                                  source=where)
        time_off = _time_off(table.get("time_off", []), f"{key}.time_off", where)
        people.append(Person(name, email, github, cast(Experience, experience), float(fraction),
                             time_off))
    return tuple(people)


def _time_off(value: Any, key: str, where: str) -> tuple[DateRange, ...]:
    fix = 'write time_off = [{ from = 2026-07-06, until = 2026-07-10, reason = "vacation" }]'
    if not isinstance(value, list):
        raise ConfigError(key, "must be a list", fix, source=where)
    ranges: list[DateRange] = []
    for i, item in enumerate(value):
        k = f"{key}[{i}]"
        if isinstance(item, Mapping):
            check_keys(item, ("from", "until", "reason"), prefix=f"{k}.", source=where)
            first = _date(item.get("from"), f"{k}.from", where)
            last = _date(item.get("until", first), f"{k}.until", where)
            reason = str(item.get("reason", ""))
        else:
            first = last = _date(item, k, where)
            reason = ""
        if last < first:
            raise ConfigError(f"{k}.until", f"{last} is before from {first}",
                              "until is the last day off, on or after from", source=where)
        ranges.append(DateRange(first, last, reason))
    return tuple(ranges)


def _rotation(table: Mapping[str, Any], people: Sequence[Person],
              f: _File) -> tuple[Handoff, Rotation | None]:
    where = f.at("rotation")
    check_keys(table, ("primary", "backup", "start", "handoff"), prefix="rotation.",
               source=where)
    handoff = Handoff()
    if "handoff" in table:
        text = table["handoff"]
        match = _HANDOFF.match(text) if isinstance(text, str) else None
        weekday = parse_weekday(match[1]) if match else None
        if (match is None or weekday is None or int(match[2]) > 23 or int(match[3]) > 59):
            raise ConfigError("rotation.handoff", f"{text!r} is not a weekday and time",
                              'write e.g. handoff = "mon 08:00"', source=where)
        handoff = Handoff(weekday, dt.time(int(match[2]), int(match[3])))
    if "primary" not in table:
        if "backup" in table or "start" in table:
            raise ConfigError("rotation.primary", "missing", "list the Primary order, e.g. "
                              'primary = ["markcmiller86", "cyrush"]', source=where)
        return handoff, None
    primary = _logins(table["primary"], "rotation.primary", people, where, f)
    backup = _logins(table.get("backup", []), "rotation.backup", people, where, f,
                     allow_empty=True)
    if "start" not in table:
        raise ConfigError("rotation.start", "missing", "give the date of the first rotation "
                          "week's handoff, e.g. start = 2026-01-05", source=where)
    start = _date(table["start"], "rotation.start", where)
    if start.weekday() != handoff.weekday:
        aligned = start - dt.timedelta(days=(start.weekday() - handoff.weekday) % 7)
        raise ConfigError("rotation.start", f"{start} is a {_DAY_NAMES[start.weekday()]}, but "
                          f"handoffs are on {_DAY_NAMES[handoff.weekday]}",
                          f"use start = {aligned}", source=where)
    return handoff, Rotation(start, primary, backup)


def _logins(value: Any, key: str, people: Sequence[Person], where: str, f: _File, *,
            allow_empty: bool = False) -> tuple[Person, ...]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ConfigError(key, "must be a list of people", f'e.g. {key.split(".")[-1]} = '
                          '["markcmiller86", "cyrush", "biagas"]', source=where)
    return tuple(_person(who, f"{key}[{i}]", people, where, f) for i, who in enumerate(value))


def _person(who: Any, key: str, people: Sequence[Person], where: str, f: _File) -> Person:
    if not isinstance(who, str):
        raise ConfigError(key, f"expected a GitHub login, got {who!r}",
                          'write the login as a string, e.g. "cyrush"', source=where)
    try:
        return find_person(people, who)
    except LookupError as exc:
        known = ", ".join(p.github for p in people) or "none"
        raise ConfigError(key, str(exc), f"use a GitHub login, name or email of a [[person]] "
                          f"in {f.path.name} (known: {known}), or add that person",
                          source=where) from None


def _weeks(tables: list[Mapping[str, Any]], people: Sequence[Person], handoff: Handoff,
           f: _File) -> tuple[WeekAssignment, ...]:
    weeks: list[WeekAssignment] = []
    seen: dict[dt.date, int] = {}
    for i, table in enumerate(tables):
        where, key = f.at("week", i), f"week[{i}]"
        check_keys(table, ("start", "primary", "backup"), prefix=f"{key}.", source=where)
        if "start" not in table:
            raise ConfigError(f"{key}.start", "missing", "give the handoff date of the week, "
                              "e.g. start = 2026-03-02", source=where)
        start = _date(table["start"], f"{key}.start", where)
        if start.weekday() != handoff.weekday:
            aligned = start - dt.timedelta(days=(start.weekday() - handoff.weekday) % 7)
            raise ConfigError(f"{key}.start", f"{start} is not a handoff day "
                              f"({_DAY_NAMES[handoff.weekday]})",
                              f"use the week's handoff date, start = {aligned}", source=where)
        if seen.setdefault(start, i) != i:
            raise ConfigError(f"{key}.start", f"week {start} is also week[{seen[start]}]",
                              "merge the two [[week]] entries", source=where)
        if "primary" not in table and "backup" not in table:
            raise ConfigError(key, "names nobody", 'add primary = "..." and/or backup = "..."',
                              source=where)
        primary, backup = (_person(table[r], f"{key}.{r}", people, where, f) if r in table
                           else None for r in ROLES)
        weeks.append(WeekAssignment(start, primary, backup))
    return tuple(weeks)


def _overrides(tables: list[Mapping[str, Any]], people: Sequence[Person],
               calendar: BusinessCalendar, f: _File) -> tuple[Override, ...]:
    overrides: list[Override] = []
    for i, table in enumerate(tables):
        where, key = f.at("override", i), f"override[{i}]"
        check_keys(table, ("from", "until", "role", "person", "reason"), prefix=f"{key}.",
                   source=where)
        for required in ("from", "until", "role", "person"):
            if required not in table:
                raise ConfigError(f"{key}.{required}", "missing", "an override needs from, "
                                  "until, role and person", source=where)
        start = _instant(table["from"], f"{key}.from", where, calendar, end=False)
        end = _instant(table["until"], f"{key}.until", where, calendar, end=True)
        if end <= start:
            raise ConfigError(f"{key}.until", "is not after from",
                              "until must be later than from (a date until is inclusive)",
                              source=where)
        role = table["role"]
        if role not in ROLES:
            raise ConfigError(f"{key}.role", f"{role!r} is not a role",
                              'write role = "primary" or role = "backup"', source=where)
        person = _person(table["person"], f"{key}.person", people, where, f)
        overrides.append(Override(start, end, role, person, str(table.get("reason", ""))))
    return tuple(overrides)


def _instant(value: Any, key: str, where: str, calendar: BusinessCalendar, *,
             end: bool) -> dt.datetime:
    """A date is local midnight (an `until` date covers that whole day); a date-time without
    an offset is local wall time in the business time zone."""
    if isinstance(value, str):
        try:
            text = value.strip()
            parse = dt.date.fromisoformat if len(text) == 10 else dt.datetime.fromisoformat
            value = parse(text)
        except ValueError:
            pass
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return wall_to_instant(value.date(), value.time(), calendar.tz)
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end else value
        return wall_to_instant(day, dt.time(0), calendar.tz)
    raise ConfigError(key, f"{value!r} is not a date or date-time",
                      "write 2026-12-02 or 2026-12-02T13:00:00-08:00", source=where)


def _ics(table: Any, people: Sequence[Person], calendar: BusinessCalendar, f: _File,
         fetch_url: Callable[[str], str] | None) -> IcsFeed | None:
    if table is None:
        return None
    where = f.at("calendar")
    if not isinstance(table, Mapping):
        raise ConfigError("calendar", "must be a table", "write [calendar]", source=where)
    check_keys(table, ("ics",), prefix="calendar.", source=where)
    location = table.get("ics")
    if location is None:
        return None
    if not isinstance(location, str) or not location.strip():
        raise ConfigError("calendar.ics", "must be a path or URL",
                          'e.g. ics = "team-calendar.ics"', source=where)
    if location.startswith(("http://", "https://")):
        if fetch_url is None:
            raise ConfigError("calendar.ics", f"{location} is a URL, and no fetcher was given",
                              "download the .ics and give its path, or load the schedule "
                              "through the gateway, which fetches URLs", source=where)
        text, source = fetch_url(location), location
    else:
        ics_path = f.path.parent / location
        if not ics_path.is_file():
            raise ConfigError("calendar.ics", f"file not found: {ics_path}",
                              f"export the team calendar to that path or correct it "
                              f"(relative to {f.path.parent})", source=where)
        try:
            text = ics_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("calendar.ics", f"cannot read {ics_path}: {exc}",
                              "check the file's permissions and that it is UTF-8",
                              source=where) from exc
        source = str(ics_path)
    feed = parse_ics(text, source=source, tz=calendar.tz)
    for claim in feed.claims:
        try:
            find_person(people, claim.who)
        except LookupError as exc:
            known = ", ".join(p.github for p in people) or "none"
            raise ConfigError(str(claim.event), f"{claim.role.title()}: {exc}",
                              f"use a name, first name, GitHub login or email of a [[person]] "
                              f"in {f.path} (known: {known}), or add that person",
                              source=source) from None
    return feed


def _text(table: Mapping[str, Any], name: str, key: str, where: str, fix: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        problem = "missing" if value is None else f"{value!r} is not a non-empty string"
        raise ConfigError(f"{key}.{name}", problem, fix, source=where)
    return value.strip()


def _date(value: Any, key: str, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(key, f"{value!r} is not a date", "write a date like 2026-01-05",
                      source=where)
