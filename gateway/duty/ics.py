"""ICS import: read Primary/Backup duty from the team's shared calendar (an iCalendar file).

`parse_ics(text, source=..., tz=...)` checks the whole file once, at load time, and returns an
`IcsFeed`; `IcsFeed.occurrences(start, end)` expands recurrences (RRULE/RDATE, EXDATE,
moved or edited occurrences via RECURRENCE-ID, TZID and X-WR-TIMEZONE zones) lazily per year
with icalendar + recurring-ical-events, so a rule without an end works for any date. Pure: it
takes the calendar's text, never a path or a URL; the caller reads or fetches it.

Naming convention (SUMMARY): ``Primary: <who>`` or ``Backup: <who>``, optionally prefixed with
"VisIt", with ``:``, ``-`` or ``=`` after the role, and several clauses joined with ``;``,
``/`` or ``,`` (``VisIt Primary - Kathleen``, ``Primary: Mark Miller; Backup: cyrush``). <who> is
a name, first name, GitHub login or email; `schedule` resolves it. Events whose SUMMARY has
neither word are not duty events and are ignored; one that has the word but not the form is an
error. Cancelled events (STATUS:CANCELLED) are ignored. All-day dates, and floating times of a
calendar without X-WR-TIMEZONE, are read in the business time zone. Where events for one role
overlap, the shorter one wins (a one-day swap inside a week-long event), then the one that
starts later.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.duty.businesstime import wall_to_instant
from gateway.errors import ConfigError

if TYPE_CHECKING:
    import icalendar

ROLES = ("primary", "backup")
UTC = dt.UTC
_ROLE_WORD = re.compile(r"\b(primary|backup)\b", re.IGNORECASE)
_CLAUSE = re.compile(
    r"^\s*(?:visit\s+)?(?P<role>primary|backup)\s*[:=\-\u2013\u2014]\s*(?P<who>\S.*?)\s*$",
    re.IGNORECASE,
)
_FIX_SUMMARY = ('write SUMMARY as "Primary: <name, GitHub login or email>" or '
                '"Backup: <...>" (see docs/schedule.md)')


@dataclass(frozen=True, slots=True)
class EventRef:
    """Enough about an event for an admin to find it in their calendar."""

    uid: str
    start: str  # local date of DTSTART, or "?" when missing
    summary: str

    def __str__(self) -> str:
        return f"event UID {self.uid} on {self.start} ({self.summary!r})"


@dataclass(frozen=True, slots=True)
class Claim:
    """One role clause of one event: `who` (as written) holds `role`."""

    role: str
    who: str
    event: EventRef


@dataclass(frozen=True, slots=True)
class IcsOccurrence:
    """One expanded occurrence of a duty event for one role, in UTC, half-open [start, end)."""

    role: str
    who: str
    start: dt.datetime
    end: dt.datetime
    uid: str
    summary: str


@dataclass(frozen=True, slots=True)
class IcsFeed:
    """A checked team calendar. `claims` lists every role clause of every VEVENT."""

    text: str
    source: str
    tz: ZoneInfo
    claims: tuple[Claim, ...]

    def occurrences(self, start: dt.datetime, end: dt.datetime) -> tuple[IcsOccurrence, ...]:
        """Duty occurrences overlapping [start, end), ordered by start."""
        local_years = range(start.astimezone(self.tz).year, end.astimezone(self.tz).year + 1)
        found = {occ for year in local_years for occ in _year(self, year)
                 if occ.start < end and occ.end > start}
        return tuple(sorted(found, key=lambda o: (o.start, o.end, o.role, o.uid)))

    def holder_at(self, role: str, t: dt.datetime) -> IcsOccurrence | None:
        """The occurrence that decides `role` at `t`: the shortest covering one, then latest."""
        covering = [o for o in _year(self, t.astimezone(self.tz).year)
                    if o.role == role and o.start <= t < o.end]
        if not covering:
            return None
        return min(covering, key=lambda o: (o.end - o.start, -o.start.timestamp(), o.uid))


def parse_summary(summary: str) -> list[tuple[str, str]] | None:
    """Role clauses of a SUMMARY; None if it is not a duty event. ValueError if malformed."""
    if not _ROLE_WORD.search(summary):
        return None
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"[;/,]", summary):
        if not part.strip():
            continue
        match = _CLAUSE.match(part)
        if match is None:
            raise ValueError(f"cannot read {part.strip()!r} as 'Role: person'")
        clauses.append((match["role"].lower(), match["who"]))
    return clauses


def parse_ics(text: str, *, source: str, tz: ZoneInfo) -> IcsFeed:
    """Check an iCalendar text and return its feed; every problem is a ConfigError.

    `source` names the file (or URL) in errors. Expands each event's first year once, so bad
    recurrence rules fail here rather than on a later query.
    """
    calendar = _parse(text, source)
    claims: list[Claim] = []
    years: set[int] = set()
    for component in calendar.walk("VEVENT"):
        ref = _ref(component, tz)
        clauses = _summary_clauses(ref, source)
        if clauses is None:
            continue
        for name, problem in getattr(component, "errors", []):
            raise ConfigError(str(ref), f"{name} is malformed: {problem}",
                              "fix or re-create the event in the calendar", source=source)
        start = component.get("DTSTART")
        if start is None:
            raise ConfigError(str(ref), "has no DTSTART", "give the event a start",
                              source=source)
        if (isinstance(start.dt, dt.datetime) and component.get("DTEND") is None
                and component.get("DURATION") is None):
            raise ConfigError(str(ref), "has a start time but no end (DTEND or DURATION)",
                              "give the event an end time, or make it an all-day event",
                              source=source)
        years.add(_local(start.dt, tz).astimezone(tz).year)
        claims.extend(Claim(role, who, ref) for role, who in clauses)
    feed = IcsFeed(text=text, source=source, tz=tz, claims=tuple(claims))
    for year in sorted(years):
        _year(feed, year)
    return feed


def _summary_clauses(ref: EventRef, source: str) -> list[tuple[str, str]] | None:
    try:
        return parse_summary(ref.summary)
    except ValueError as exc:
        raise ConfigError(str(ref), str(exc), _FIX_SUMMARY, source=source) from None


def _ref(component: Any, tz: ZoneInfo) -> EventRef:
    uid = str(component.get("UID", "(no UID)"))
    summary = str(component.get("SUMMARY", ""))
    try:
        start = component.get("DTSTART")
        day = _local(start.dt, tz).astimezone(tz).date().isoformat() if start else "?"
    except (ValueError, AttributeError):
        day = "?"
    return EventRef(uid, day, summary)


@functools.lru_cache(maxsize=8)
def _parse(text: str, source: str) -> icalendar.Calendar:
    # icalendar and recurring_ical_events are imported when a feed is read, not with this
    # module: most sites have no ICS feed, and the two cost every start some 50 ms.
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise ConfigError("ics", f"not a valid iCalendar file: {exc}",
                          "export the calendar again as iCalendar (.ics)", source=source) from None
    if not isinstance(calendar, icalendar.Calendar):
        raise ConfigError("ics", "no VCALENDAR in the file",
                          "export the calendar again as iCalendar (.ics)", source=source)
    return calendar


@functools.lru_cache(maxsize=8)
def _query(text: str, source: str) -> Any:
    # Bad series of events that are not duty events must not break the whole import; duty
    # events with bad properties were already rejected by parse_ics.
    import recurring_ical_events

    return recurring_ical_events.of(_parse(text, source), skip_bad_series=True)


@functools.lru_cache(maxsize=64)
def _year(feed: IcsFeed, year: int) -> tuple[IcsOccurrence, ...]:
    """Occurrences overlapping local calendar year `year`."""
    lo = wall_to_instant(dt.date(year, 1, 1), dt.time(0), feed.tz)
    hi = wall_to_instant(dt.date(year + 1, 1, 1), dt.time(0), feed.tz)
    query = _query(feed.text, feed.source)
    # Dates with a margin: floating and all-day events are placed in our zone below.
    try:
        components = query.between(dt.date(year, 1, 1) - dt.timedelta(days=2),
                                   dt.date(year + 1, 1, 1) + dt.timedelta(days=2))
    except ValueError as exc:  # recurring_ical_events' errors are ValueErrors
        raise ConfigError("ics", f"cannot expand the recurring events of {year}: {exc}",
                          "fix the event's repeat rule in the calendar",
                          source=feed.source) from None
    out: list[IcsOccurrence] = []
    for component in components:
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        clauses = parse_summary(str(component.get("SUMMARY", "")))
        if not clauses:
            continue
        start = _local(component["DTSTART"].dt, feed.tz)
        end = _local(component["DTEND"].dt, feed.tz) if "DTEND" in component else start
        if end <= start or end <= lo or start >= hi:
            continue
        uid = str(component.get("UID", ""))
        out.extend(IcsOccurrence(role, who, start, end, uid, str(component["SUMMARY"]))
                   for role, who in clauses)
    return tuple(out)


def _local(value: dt.date | dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """An ICS date or date-time as a UTC instant; dates and floating times are in `tz`."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return wall_to_instant(value.date(), value.time(), tz)
        return value.astimezone(UTC)
    return wall_to_instant(value, dt.time(0), tz)
