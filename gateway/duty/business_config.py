"""The `[business]` config table: validating it and building a `BusinessCalendar` from it.

Holds `calendar_from_mapping` and every parser it uses (`parse_holiday`, `parse_weekday`, time
zone, opening spans, weekdays, national base and removals, the holidays file). Every bad value
is a ConfigError naming the key and a fix. The only I/O is reading the holidays file the table
names; it must not do business-time arithmetic or compute holidays (`businesstime` and
`holidays_calendar` do).
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_pkg

from gateway.config.tomlfile import check_keys, is_file, read_toml, table_line
from gateway.duty.businesstime import DEFAULT_SPANS, DEFAULT_TIMEZONE, BusinessCalendar, Span
from gateway.duty.holidays_calendar import (
    AnnualClosure,
    Closure,
    FixedClosure,
    HolidayCalendar,
    RelativeClosure,
    base_name,
    month_day,
    national_holiday_names,
)
from gateway.errors import ConfigError

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
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {
    **{name: i for i, name in enumerate(_WEEKDAYS)},
    **{name: i for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    "tues": 1, "thur": 3, "thurs": 3,
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
    if not is_file(path):
        raise ConfigError("business.holidays_file", f"file not found: {path}",
                          f"create it or correct the path (relative to {base_dir})",
                          source=source)
    data, text = read_toml(path, what="holidays file", key="business.holidays_file")
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
    code = country.strip().upper()
    try:
        # The one country's module only: listing every supported country imports all ~250 of
        # them (0.1 s of the daemon's start), so that is done for the error's hint alone.
        subdivisions = list(holidays_pkg.country_holidays(code).subdivisions)
    except NotImplementedError:
        supported = holidays_pkg.list_supported_countries()
        close = difflib.get_close_matches(code, list(supported), n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise ConfigError("business.holidays_country", f"unknown country {country!r}",
                          f"{hint}use an ISO 3166 code the holidays package supports, e.g. "
                          '"US"', source=source) from None
    if subdivision is None:
        return code, None
    # Any case; the package's own spelling is kept ("NSW Western" is one of Australia's).
    wanted = subdivision.strip().upper()
    sub = next((known for known in subdivisions if known.upper() == wanted), None)
    if sub is None:
        raise ConfigError("business.holidays_subdivision",
                          f"{code} has no subdivision {subdivision!r}",
                          f"use one of {', '.join(subdivisions)}", source=source)
    return code, sub


def _known_name(name: str, known: Mapping[str, str], key: str, source: str, country: str) -> str:
    folded = base_name(name)
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
    if match is None or month_day(2000, int(match[1]), int(match[2])) is None:
        raise ConfigError(key, f"{value!r} is not a month-day", 'write "MM-DD", e.g. "12-24"',
                          source=source)
    return int(match[1]), int(match[2])
