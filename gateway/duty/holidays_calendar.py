"""Holidays: the days the team is closed, a national base adjusted by the lab's own closures.

Holds `HolidayCalendar`, the closures it is made of (`FixedClosure`, `AnnualClosure`,
`RelativeClosure`) and the helpers over the holidays package's national tables
(`national_holiday_names`, `base_name`). Pure, computed lazily per year and cached, so any year
works. It must not read config or files (`business_config` builds these from the `[business]`
table) nor know about opening hours (that is `businesstime`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import holidays as holidays_pkg

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
        start = month_day(year, self.month, self.day)
        end = month_day(year, self.through_month, self.through_day)
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
        kept = [n for n in names if base_name(n) not in cal.removed_names]
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


def base_name(name: str) -> str:
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
                names.setdefault(base_name(name), name.removesuffix(" (observed)").strip())
    return MappingProxyType(dict(sorted(names.items())))


def month_day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # Feb 29 in a common year
        return None


def _date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
