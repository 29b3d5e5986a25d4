"""The schedule file: reading its TOML, and the ICS file it names, into a `Schedule`.

Holds `load_schedule`, the one explicit loader, and the parsing of each table (`[[person]]`,
`[rotation]`, `[[week]]`, `[[override]]`, `[calendar]`). Every problem is a ConfigError naming
the file, the line and key (``person[3].fraction``) and a fix. It reads local files but never
the network (an ICS URL is fetched by the caller's `fetch_url`), and it must not decide who is
on duty: that is `schedule`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gateway.config.tomlfile import check_keys, is_file, read_toml, table_line
from gateway.duty.business_config import parse_weekday
from gateway.duty.businesstime import BusinessCalendar, wall_to_instant
from gateway.duty.ics import IcsFeed, parse_ics
from gateway.duty.schedule import (
    DAY_NAMES,
    ROLES,
    DateRange,
    Experience,
    Handoff,
    Override,
    Person,
    Rotation,
    Schedule,
    WeekAssignment,
    find_person,
)
from gateway.errors import ConfigError

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
    if not is_file(path):
        raise ConfigError("schedule.file", f"schedule file not found: {path}",
                          "copy config/schedule.example.toml there, or correct schedule.file "
                          "in the gateway config", source=str(path))
    data, text = read_toml(path, what="schedule file", key="schedule.file")
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
        raise ConfigError("rotation.start", f"{start} is a {DAY_NAMES[start.weekday()]}, but "
                          f"handoffs are on {DAY_NAMES[handoff.weekday]}",
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
                              f"({DAY_NAMES[handoff.weekday]})",
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
        if not is_file(ics_path):
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
