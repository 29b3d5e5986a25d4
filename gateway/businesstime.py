"""Business time: when the team is open, and how much open time lies between two instants.

Holds `BusinessCalendar` (time zone, opening spans, working weekdays, holidays), the arithmetic
over it (`is_open`, `next_opening`, `business_duration`, `add_business`) and
`calendar_from_mapping`, which builds one from the `[business]` config table. Pure: every
function takes its instants as arguments and never reads the clock; the only I/O is reading
the holidays file inside `calendar_from_mapping` (and `read_toml`, its helper, which
`schedule.load_schedule` shares).

Conventions. Every instant in or out is an aware `datetime`; naive ones raise ValueError, and
results are returned in UTC (convert with `calendar.local(t)` to show them). Opening spans are
half-open, ``[08:00, 12:00)``: `is_open` is False at 12:00. A deadline that uses up exactly the
rest of a span stays at that span's end, so 4 business hours from Monday 08:00 is Monday 12:00,
not 13:00; only a zero-length remainder at an off-hours start moves to the next opening.
Arithmetic is done per local day: each day's spans are turned into real instants with the
zone's rules for that date, so durations are real elapsed time across DST changes. A span
boundary that falls in a skipped wall time (spring forward) opens or closes at the moment of
the jump; one that falls in a repeated wall time opens at its first occurrence and closes at
its last, i.e. the team is open whenever the wall clock reads inside the span.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_pkg

from gateway.errors import ConfigError

UTC = dt.UTC
DEFAULT_TIMEZONE = "America/Los_Angeles"
_DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {
    **{name: i for i, name in enumerate(_WEEKDAYS)},
    **{name: i for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    "tues": 1, "thur": 3, "thurs": 3,
}
# A calendar that is never open would make `add_business` loop forever; give up after this.
_MAX_CLOSED_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Span:
    """One daily opening span in local wall time, half-open: [start, end)."""

    start: dt.time
    end: dt.time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


DEFAULT_SPANS = (Span(dt.time(8), dt.time(12)), Span(dt.time(13), dt.time(17)))


# ---------------------------------------------------------------------------------------------
# Holidays

# year -> {date: names}: the national base, which closures relative to a holiday need.
NationalTable = Callable[[int], Mapping[dt.date, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class FixedClosure:
    """Closed on the dates first..last (inclusive), once."""

    first: dt.date
    last: dt.date
    name: str

    def days_in(self, year: int, national: NationalTable) -> Iterable[dt.date]:
        lo = max(self.first, dt.date(year, 1, 1))
        hi = min(self.last, dt.date(year, 12, 31))
        return _date_range(lo, hi)


@dataclass(frozen=True, slots=True)
class AnnualClosure:
    """Closed every year from month/day to through-month/day; wraps past New Year if needed."""

    month: int
    day: int
    through_month: int
    through_day: int
    name: str

    def days_in(self, year: int, national: NationalTable) -> Iterable[dt.date]:
        start = _month_day(year, self.month, self.day)
        end = _month_day(year, self.through_month, self.through_day)
        if (self.month, self.day) <= (self.through_month, self.through_day):
            return _date_range(start, end) if start and end else ()
        # Wraps (e.g. 12-24 through 01-02): this year's tail plus the head of last year's closure.
        head = _date_range(dt.date(year, 1, 1), end) if end else []
        tail = _date_range(start, dt.date(year, 12, 31)) if start else []
        return [*head, *tail]


@dataclass(frozen=True, slots=True)
class RelativeClosure:
    """Closed `days_after` days after a named national holiday, every year."""

    holiday: str  # casefolded name as the holidays package spells it
    days_after: int
    name: str

    def days_in(self, year: int, national: NationalTable) -> Iterable[dt.date]:
        # The target may fall in a neighbouring year (Dec 31 + 1 day), so look one year around.
        shift = dt.timedelta(days=self.days_after)
        return [
            day + shift
            for y in (year - 1, year, year + 1)
            for day, names in national(y).items()
            # The holiday itself, not its "(observed)" day.
            if self.holiday in (n.casefold().strip() for n in names)
            and (day + shift).year == year
        ]


Closure = FixedClosure | AnnualClosure | RelativeClosure


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """The days the team is closed: a national base (optional) minus removals plus closures.

    Removals apply only to the national base (by date, or by name every year, which also
    removes that holiday's "(observed)" day); the lab's own closures always win. Computed
    lazily per year and cached, so any year works.
    """

    country: str | None = None
    subdivision: str | None = None
    closures: tuple[Closure, ...] = ()
    removed_names: frozenset[str] = frozenset()
    removed_dates: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if not self.country and any(isinstance(c, RelativeClosure) for c in self.closures):
            raise ValueError("a closure relative to a national holiday needs a country")

    def name_of(self, day: dt.date) -> str | None:
        """The holiday's name if `day` is a holiday, else None."""
        return _holiday_table(self, day.year).get(day)

    def in_year(self, year: int) -> Mapping[dt.date, str]:
        """Every holiday in `year`, date -> name."""
        return _holiday_table(self, year)


@functools.lru_cache(maxsize=512)
def _holiday_table(cal: HolidayCalendar, year: int) -> Mapping[dt.date, str]:
    table: dict[dt.date, str] = {}

    def national(y: int) -> Mapping[dt.date, tuple[str, ...]]:
        return _national(cal.country, cal.subdivision, y)

    for day, names in national(year).items():
        if day in cal.removed_dates:
            continue
        kept = [n for n in names if _base_name(n) not in cal.removed_names]
        if kept:
            table[day] = "; ".join(kept)
    for closure in cal.closures:
        for day in closure.days_in(year, national):
            table[day] = closure.name
    return MappingProxyType(dict(sorted(table.items())))


@functools.lru_cache(maxsize=256)
def _national(
    country: str | None, subdivision: str | None, year: int
) -> Mapping[dt.date, tuple[str, ...]]:
    if not country:
        return MappingProxyType({})
    base = holidays_pkg.country_holidays(country, subdiv=subdivision, years=year)
    return MappingProxyType({day: tuple(base.get_list(day)) for day in sorted(base)})


def _base_name(name: str) -> str:
    return name.casefold().removesuffix(" (observed)").strip()


@functools.lru_cache(maxsize=32)
def national_holiday_names(country: str, subdivision: str | None) -> Mapping[str, str]:
    """Casefolded name -> name, for the holidays the package knows in a country.

    Sampled over 2020-2035, which covers every rule-based holiday; used to reject typos in
    `holidays_remove` and `relative_to`. "(observed)" variants fold into their holiday.
    """
    names: dict[str, str] = {}
    for year in range(2020, 2036):
        for day_names in _national(country, subdivision, year).values():
            for name in day_names:
                names.setdefault(_base_name(name), name.removesuffix(" (observed)").strip())
    return MappingProxyType(dict(sorted(names.items())))


def _month_day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # Feb 29 in a common year
        return None


def _date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# ---------------------------------------------------------------------------------------------
# The calendar


def wall_to_instant(day: dt.date, at: dt.time, tz: ZoneInfo, *, last: bool = False) -> dt.datetime:
    """The UTC instant when the wall clock in `tz` reads `at` on `day`.

    A repeated wall time (autumn) gives its first occurrence, or its last if `last`; a skipped
    one (spring) gives the moment of the jump, the first instant the clock reads later than it.
    """
    naive = dt.datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(tz).replace(tzinfo=None) == naive:  # repeated: both readings exist
        return second if last else first
    # Skipped: PEP 495 maps fold=1 before the jump and fold=0 after it; bisect for the jump.
    lo, hi = second, first
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)  # zone transitions fall on whole seconds


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Opening hours of the team. Build from config with `calendar_from_mapping`."""

    tz: ZoneInfo = _DEFAULT_ZONE
    spans: tuple[Span, ...] = DEFAULT_SPANS
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0, as in date.weekday()
    holidays: HolidayCalendar = HolidayCalendar()

    def __post_init__(self) -> None:
        if not self.spans:
            raise ValueError("a business calendar needs at least one opening span")
        for before, after in itertools.pairwise(self.spans):
            if after.start < before.end:
                raise ValueError(f"opening spans must be sorted and disjoint: {before}, {after}")
        if any(s.start >= s.end for s in self.spans):
            raise ValueError("every opening span must start before it ends")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekdays must be a non-empty subset of 0..6")

    def local(self, t: dt.datetime) -> dt.datetime:
        """`t` in the calendar's time zone, for display and for local dates."""
        return _aware(t).astimezone(self.tz)

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and self.holidays.name_of(day) is None

    def openings(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The real (UTC) open intervals of local date `day`, ascending; () when closed."""
        return _openings(self, day)

    def is_open(self, t: dt.datetime) -> bool:
        u = _aware(t).astimezone(UTC)
        return any(s <= u < e for s, e in self.openings(self._day(u)))

    def next_opening(self, t: dt.datetime) -> dt.datetime:
        """`t` itself if open, else the start of the next opening span (UTC)."""
        return self.add_business(t, dt.timedelta(0))

    def business_duration(self, t0: dt.datetime, t1: dt.datetime) -> dt.timedelta:
        """Open time between t0 and t1; zero if t1 <= t0. Loops once per local day."""
        a, b = _aware(t0).astimezone(UTC), _aware(t1).astimezone(UTC)
        total = dt.timedelta(0)
        if b <= a:
            return total
        day, last = self._day(a), self._day(b)
        while day <= last:
            for s, e in self.openings(day):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total

    def add_business(self, t0: dt.datetime, d: dt.timedelta) -> dt.datetime:
        """The instant when `d` of open time has passed since `t0` (the deadline), in UTC.

        An off-hours `t0` counts from the next opening. A deadline that exactly uses up a span
        stays at that span's end (Mon 08:00 + 4h is Mon 12:00).
        """
        if d < dt.timedelta(0):
            raise ValueError(f"add_business needs a non-negative duration, got {d}")
        a = _aware(t0).astimezone(UTC)
        remaining = d
        day = self._day(a)
        closed_days = 0
        while closed_days < _MAX_CLOSED_DAYS:
            opened = False
            for s, e in self.openings(day):
                opened = True
                if e <= a:
                    continue
                start = max(s, a)
                if remaining <= e - start:
                    return start + remaining
                remaining -= e - start
            closed_days = 0 if opened else closed_days + 1
            day += dt.timedelta(days=1)
        raise ValueError(f"the business calendar has no opening for {_MAX_CLOSED_DAYS} days")

    def _day(self, u: dt.datetime) -> dt.date:
        return u.astimezone(self.tz).date()


@functools.lru_cache(maxsize=8192)
def _openings(cal: BusinessCalendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    if not cal.is_business_day(day):
        return ()
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for span in cal.spans:
        s = wall_to_instant(day, span.start, cal.tz)
        e = wall_to_instant(day, span.end, cal.tz, last=True)
        # Two spans that touch at a repeated wall time would overlap in real time.
        if out and s < out[-1][1]:
            s = out[-1][1]
        if s < e:
            out.append((s, e))
    return tuple(out)


def _aware(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"business time needs an aware datetime, got naive {t.isoformat()}")
    return t


# ---------------------------------------------------------------------------------------------
# TOML files (shared with schedule.load_schedule)

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path, *, what: str) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; returns (data, text). Syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file", f"{what} not found", "create it or correct the path",
                          source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("file", f"cannot read {what}: {exc}",
                          "check the file's permissions and that it is UTF-8",
                          source=str(path)) from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOML_POSITION.search(message)
        line = f":{pos.group(1)}" if pos else ""
        problem = _TOML_POSITION.sub(f"(column {pos.group(2)})" if pos else "", message).strip()
        raise ConfigError("TOML syntax", problem,
                          "correct the TOML at that line (https://toml.io)",
                          source=f"{path}{line}") from exc


def table_line(text: str, table: str, index: int | None = None) -> int | None:
    """Line number (1-based) of the ``[table]`` header, or of the `index`-th ``[[table]]``."""
    brackets = (r"\[", r"\]") if index is None else (r"\[\[", r"\]\]")
    pattern = re.compile(rf"^[ \t]*{brackets[0]}[ \t]*{re.escape(table)}[ \t]*{brackets[1]}",
                         re.MULTILINE)
    for i, match in enumerate(pattern.finditer(text)):
        if index is None or i == index:
            return text.count("\n", 0, match.start()) + 1
    return None


def check_keys(table: Mapping[str, Any], allowed: Sequence[str], *, prefix: str,
               source: str) -> None:
    """Reject unknown keys, suggesting the closest known one."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{prefix}{key}", "unknown key",
                              f"{hint}known keys: {', '.join(allowed)}", source=source)


# ---------------------------------------------------------------------------------------------
# Building a calendar from the [business] config table

_BUSINESS_KEYS = ("timezone", "hours", "weekdays", "holidays", "holidays_file",
                  "holidays_country", "holidays_subdivision", "holidays_add", "holidays_remove")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_ZONE_ABBREVIATIONS = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "PT": "America/Los_Angeles",
    "PACIFIC": "America/Los_Angeles", "MST": "America/Denver", "MDT": "America/Denver",
    "CST": "America/Chicago", "CDT": "America/Chicago", "EST": "America/New_York",
    "EDT": "America/New_York", "ET": "America/New_York",
}


def calendar_from_mapping(d: Mapping[str, Any], *, source: str, base_dir: Path) -> BusinessCalendar:
    """Build a `BusinessCalendar` from the `[business]` table; every bad value is a ConfigError.

    `source` names the config file in errors; `holidays_file` is resolved against `base_dir`.
    """
    check_keys(d, _BUSINESS_KEYS, prefix="business.", source=source)
    tz = _parse_zone(d.get("timezone", DEFAULT_TIMEZONE), source)
    spans = _parse_spans(d["hours"], source) if "hours" in d else DEFAULT_SPANS
    weekdays = _parse_weekdays(d["weekdays"], source) if "weekdays" in d else frozenset(range(5))

    country = _optional_str(d, "holidays_country", source)
    subdivision = _optional_str(d, "holidays_subdivision", source)
    if country is not None:
        country, subdivision = _check_country(country, subdivision, source)
    elif subdivision is not None:
        raise ConfigError("business.holidays_subdivision", "set without holidays_country",
                          'add holidays_country (e.g. "US") or remove it', source=source)
    known = national_holiday_names(country, subdivision) if country else None

    closures: list[Closure] = []
    for key in ("holidays", "holidays_add"):
        for i, item in enumerate(_list(d, key, source)):
            closures.append(parse_holiday(item, f"business.{key}[{i}]", source, known))
    if "holidays_file" in d:
        closures.extend(_load_holidays_file(d["holidays_file"], base_dir, source, known))

    removed_names: set[str] = set()
    removed_dates: set[dt.date] = set()
    for i, item in enumerate(_list(d, "holidays_remove", source)):
        key = f"business.holidays_remove[{i}]"
        if known is None:
            raise ConfigError(key, "removals apply to a national base, but holidays_country "
                              "is not set", 'set holidays_country (e.g. "US") or drop the '
                              "removal", source=source)
        day = _maybe_date(item)
        if day is not None:
            removed_dates.add(day)
        elif isinstance(item, str):
            removed_names.add(_known_name(item, known, key, source, country or ""))
        else:
            raise ConfigError(key, f"expected a date or a holiday name, got {item!r}",
                              'write e.g. "Columbus Day" or 2026-10-12', source=source)

    return BusinessCalendar(
        tz=tz, spans=spans, weekdays=weekdays,
        holidays=HolidayCalendar(country=country, subdivision=subdivision,
                                 closures=tuple(closures), removed_names=frozenset(removed_names),
                                 removed_dates=frozenset(removed_dates)),
    )


def parse_holiday(item: Any, key: str, source: str, known: Mapping[str, str] | None) -> Closure:
    """One holiday entry: a date, or a table with `date`, `annual` or `relative_to`."""
    day = _maybe_date(item)
    if day is not None:
        return FixedClosure(day, day, "Holiday")
    if isinstance(item, dt.datetime):
        raise ConfigError(key, f"{item.isoformat()} is a date-time", "give a plain date, "
                          "e.g. 2026-12-24", source=source)
    if isinstance(item, str) and re.match(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$", item):
        raise ConfigError(key, f"{item!r} is not a valid date", "write a real date, e.g. "
                          "2026-12-24", source=source)
    if not isinstance(item, Mapping):
        raise ConfigError(key, f"expected a date or a table, got {item!r}",
                          'write 2026-12-24 or { date = 2026-12-24, name = "Winter closure" }',
                          source=source)
    check_keys(item, ("date", "annual", "relative_to", "through", "days_after", "name"),
               prefix=f"{key}.", source=source)
    kinds = [k for k in ("date", "annual", "relative_to") if k in item]
    if len(kinds) != 1:
        raise ConfigError(key, "needs exactly one of date, annual, relative_to",
                          'e.g. { date = 2026-12-24 }, { annual = "12-24", through = "12-31" } '
                          'or { relative_to = "Thanksgiving Day", days_after = 1 }',
                          source=source)
    name = item.get("name", "Holiday")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{key}.name", "must be a non-empty string", 'e.g. name = "Winter '
                          'closure"', source=source)
    if kinds == ["date"]:
        first = _require_date(item["date"], f"{key}.date", source)
        last = _require_date(item.get("through", first), f"{key}.through", source)
        if last < first:
            raise ConfigError(f"{key}.through", f"{last} is before date {first}",
                              "give the last closed day, on or after date", source=source)
        return FixedClosure(first, last, name)
    if kinds == ["annual"]:
        month, mday = _month_day_of(item["annual"], f"{key}.annual", source)
        tmonth, tday = _month_day_of(item.get("through", item["annual"]), f"{key}.through",
                                     source)
        return AnnualClosure(month, mday, tmonth, tday, name)
    holiday = item["relative_to"]
    if known is None:
        raise ConfigError(f"{key}.relative_to", "needs a national base, but "
                          "business.holidays_country is not set",
                          'set holidays_country (e.g. "US") or use a date', source=source)
    if not isinstance(holiday, str):
        raise ConfigError(f"{key}.relative_to", "must be a holiday name",
                          'e.g. relative_to = "Thanksgiving Day"', source=source)
    offset = item.get("days_after", 1)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset == 0:
        raise ConfigError(f"{key}.days_after", f"must be a non-zero whole number, got {offset!r}",
                          "e.g. days_after = 1 for the day after, -1 for the day before",
                          source=source)
    return RelativeClosure(_known_name(holiday, known, f"{key}.relative_to", source, ""),
                           offset, name)


def _load_holidays_file(value: Any, base_dir: Path, source: str,
                        known: Mapping[str, str] | None) -> list[Closure]:
    if not isinstance(value, str) or not value:
        raise ConfigError("business.holidays_file", "must be a path string",
                          'e.g. holidays_file = "holidays.toml"', source=source)
    path = base_dir / value
    if not path.is_file():
        raise ConfigError("business.holidays_file", f"file not found: {path}",
                          f"create it or correct the path (relative to {base_dir})",
                          source=source)
    data, text = read_toml(path, what="holidays file")
    check_keys(data, ("holiday",), prefix="", source=str(path))
    entries = data.get("holiday", [])
    if not isinstance(entries, list):
        raise ConfigError("holiday", "must be an array of tables",
                          "write each entry as [[holiday]]", source=str(path))
    closures: list[Closure] = []
    for i, entry in enumerate(entries):
        line = table_line(text, "holiday", i)
        where = f"{path}:{line}" if line else str(path)
        closures.append(parse_holiday(entry, f"holiday[{i}]", where, known))
    return closures


def _parse_zone(value: Any, source: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise ConfigError("business.timezone", f"expected an IANA name, got {value!r}",
                          f'e.g. timezone = "{DEFAULT_TIMEZONE}"', source=source)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        suggestion = _closest_zone(value)
        fix = (f'did you mean "{suggestion}"?' if suggestion
               else f'use an IANA name such as "{DEFAULT_TIMEZONE}"')
        raise ConfigError("business.timezone", f"unknown time zone {value!r}", fix,
                          source=source) from None


def _closest_zone(name: str) -> str | None:
    if name.upper() in _ZONE_ABBREVIATIONS:
        return _ZONE_ABBREVIATIONS[name.upper()]
    zones = available_timezones()
    folded = {z.casefold(): z for z in zones}
    wanted = name.strip().replace(" ", "_").casefold()
    if wanted in folded:
        return folded[wanted]
    cities = {z.rsplit("/", 1)[-1].casefold(): z for z in zones if "/" in z}
    if wanted in cities:
        return cities[wanted]
    close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def _parse_spans(value: Any, source: str) -> tuple[Span, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError("business.hours", "must be a non-empty list of spans",
                          'e.g. hours = ["08:00-12:00", "13:00-17:00"]', source=source)
    spans: list[tuple[Span, int]] = []
    for i, text in enumerate(value):
        key = f"business.hours[{i}]"
        match = _SPAN.match(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(key, f"{text!r} is not a span HH:MM-HH:MM",
                              'write spans like "08:00-12:00"', source=source)
        h0, m0, h1, m1 = (int(g) for g in match.groups())
        if h0 > 23 or h1 > 23 or m0 > 59 or m1 > 59:
            raise ConfigError(key, f"{text!r} is not a time of day",
                              "use 00:00 to 23:59 (a span cannot reach 24:00)", source=source)
        span = Span(dt.time(h0, m0), dt.time(h1, m1))
        if span.start >= span.end:
            raise ConfigError(key, f"{text!r} ends before it starts",
                              "write the earlier time first; spans cannot cross midnight",
                              source=source)
        spans.append((span, i))
    spans.sort(key=lambda pair: pair[0].start)
    for (before, i), (after, j) in itertools.pairwise(spans):
        if after.start < before.end:
            raise ConfigError(f"business.hours[{max(i, j)}]",
                              f"{after} overlaps {before}",
                              "make the spans disjoint, e.g. 08:00-12:00 and 13:00-17:00",
                              source=source)
    return tuple(span for span, _ in spans)


def _parse_weekdays(value: Any, source: str) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise ConfigError("business.weekdays", "must be a non-empty list of day names",
                          'e.g. weekdays = ["mon", "tue", "wed", "thu", "fri"]', source=source)
    days: set[int] = set()
    for i, name in enumerate(value):
        index = _WEEKDAY_ALIASES.get(name.strip().casefold()) if isinstance(name, str) else None
        if index is None:
            raise ConfigError(f"business.weekdays[{i}]", f"unknown weekday {name!r}",
                              f"use one of {', '.join(_WEEKDAYS)}", source=source)
        days.add(index)
    return frozenset(days)


def parse_weekday(name: str) -> int | None:
    """Monday=0 for "mon"/"monday" (any case), None if unknown."""
    return _WEEKDAY_ALIASES.get(name.strip().casefold())


def _check_country(country: str, subdivision: str | None,
                   source: str) -> tuple[str, str | None]:
    supported = holidays_pkg.list_supported_countries()
    code = country.strip().upper()
    if code not in supported:
        close = difflib.get_close_matches(code, list(supported), n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise ConfigError("business.holidays_country", f"unknown country {country!r}",
                          f"{hint}use an ISO 3166 code the holidays package supports, e.g. "
                          '"US"', source=source)
    if subdivision is None:
        return code, None
    sub = subdivision.strip().upper()
    if sub not in supported[code]:
        raise ConfigError("business.holidays_subdivision",
                          f"{code} has no subdivision {subdivision!r}",
                          f"use one of {', '.join(supported[code])}", source=source)
    return code, sub


def _known_name(name: str, known: Mapping[str, str], key: str, source: str, country: str) -> str:
    folded = _base_name(name)
    if folded in known:
        return folded
    close = difflib.get_close_matches(folded, list(known), n=1)
    hint = f'did you mean "{known[close[0]]}"? ' if close else ""
    where = f" in {country}" if country else ""
    raise ConfigError(key, f"no national holiday named {name!r}{where}",
                      f"{hint}known names: {', '.join(known.values())}", source=source)


def _optional_str(d: Mapping[str, Any], key: str, source: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"business.{key}", f"must be a non-empty string, got {value!r}",
                          'e.g. holidays_country = "US"', source=source)
    return value


def _list(d: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = d.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"business.{key}", f"must be a list, got {value!r}",
                          f"write {key} = [ ... ]", source=source)
    return value


def _maybe_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _require_date(value: Any, key: str, source: str) -> dt.date:
    day = _maybe_date(value)
    if day is None:
        raise ConfigError(key, f"{value!r} is not a date", "write a date like 2026-12-24",
                          source=source)
    return day


def _month_day_of(value: Any, key: str, source: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if match is None or _month_day(2000, int(match[1]), int(match[2])) is None:
        raise ConfigError(key, f"{value!r} is not a month-day", 'write "MM-DD", e.g. "12-24"',
                          source=source)
    return int(match[1]), int(match[2])
