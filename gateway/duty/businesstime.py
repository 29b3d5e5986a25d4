"""Business time: when the team is open, and how much open time lies between two instants.

Holds `BusinessCalendar` (time zone, opening spans, working weekdays, holidays), the arithmetic
over it (`is_open`, `next_opening`, `business_duration`, `add_business`) and `wall_to_instant`.
Pure: every function takes its instants as arguments and never reads the clock or a file. It
must not parse config (`business_config.calendar_from_mapping` builds a calendar from the
`[business]` table) nor compute holidays itself (`holidays_calendar` does).

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
import functools
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.duty.holidays_calendar import HolidayCalendar

UTC = dt.UTC
DEFAULT_TIMEZONE = "America/Los_Angeles"
_DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
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
    """Opening hours of the team. Build from config with `business_config.calendar_from_mapping`."""

    tz: ZoneInfo = _DEFAULT_ZONE
    spans: tuple[Span, ...] = DEFAULT_SPANS
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0, as in date.weekday()
    holidays: HolidayCalendar = HolidayCalendar()  # noqa: RUF009 (frozen, safe to share)

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
