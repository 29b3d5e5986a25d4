"""ICS import: naming convention, recurrences and their exceptions, zones, errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gateway.duty.ics import IcsFeed, parse_ics, parse_summary
from gateway.errors import ConfigError

LA = ZoneInfo("America/Los_Angeles")


def la(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LA)


def calendar(*events: str, extra: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n{e.strip()}\r\nEND:VEVENT\r\n"
                   for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{extra}{body}END:VCALENDAR\r\n"


def feed(*events: str, extra: str = "") -> IcsFeed:
    return parse_ics(calendar(*events, extra=extra), source="team.ics", tz=LA)


def spans(f: IcsFeed, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str, dt.datetime,
                                                                          dt.datetime]]:
    return [(o.role, o.who, o.start, o.end) for o in f.occurrences(start, end)]


@pytest.mark.parametrize(("summary", "expected"), [
    ("Primary: Mark Miller", [("primary", "Mark Miller")]),
    ("Backup: cyrush", [("backup", "cyrush")]),
    ("VisIt Primary - Kathleen", [("primary", "Kathleen")]),
    ("visit backup = biagas2@llnl.gov", [("backup", "biagas2@llnl.gov")]),
    ("PRIMARY \u2013 Eric", [("primary", "Eric")]),
    ("Primary: Mark Miller; Backup: cyrush", [("primary", "Mark Miller"), ("backup", "cyrush")]),
    ("Primary: Justin / Backup: Kathleen", [("primary", "Justin"), ("backup", "Kathleen")]),
    ("VisIt project meeting", None),
    ("Primaryschool visit", None),
])
def test_summary_convention(summary: str, expected: list[tuple[str, str]] | None) -> None:
    assert parse_summary(summary) == expected


@pytest.mark.parametrize("summary", ["Primary Mark", "Backup:", "Mark is primary",
                                     "Primary: Mark; lunch"])
def test_malformed_duty_summary(summary: str) -> None:
    with pytest.raises(ValueError, match="Role: person"):
        parse_summary(summary)


WEEKLY = """
UID:weekly-primary
SUMMARY:Primary: Mark
DTSTART;TZID=America/Los_Angeles:20260302T080000
DTEND;TZID=America/Los_Angeles:20260309T080000
RRULE:FREQ=WEEKLY;INTERVAL=3
EXDATE;TZID=America/Los_Angeles:20260323T080000
"""
MOVED = """
UID:weekly-primary
RECURRENCE-ID;TZID=America/Los_Angeles:20260413T080000
SUMMARY:Primary: Cyrus
DTSTART;TZID=America/Los_Angeles:20260414T080000
DTEND;TZID=America/Los_Angeles:20260420T080000
"""


def test_recurrence_with_exdate_and_moved_occurrence() -> None:
    f = feed(WEEKLY, MOVED)
    assert spans(f, la(2026, 3, 1), la(2026, 5, 12)) == [
        # The first crosses spring forward: 08:00 PST to 08:00 PDT, 167 real hours.
        ("primary", "Mark", la(2026, 3, 2, 8), la(2026, 3, 9, 8)),
        # 2026-03-23 is deleted by EXDATE; 2026-04-13 moved to Tuesday and changed hands.
        ("primary", "Cyrus", la(2026, 4, 14, 8), la(2026, 4, 20, 8)),
        ("primary", "Mark", la(2026, 5, 4, 8), la(2026, 5, 11, 8)),
    ]
    first = f.occurrences(la(2026, 3, 1), la(2026, 3, 3))[0]
    assert first.end - first.start == dt.timedelta(hours=167)
    assert f.holder_at("primary", la(2026, 4, 13, 12)) is None
    assert f.holder_at("primary", la(2026, 4, 15, 12)).who == "Cyrus"  # type: ignore[union-attr]


def test_rule_without_end_works_in_any_year() -> None:
    f = feed(WEEKLY)
    found = spans(f, la(2031, 1, 1), la(2031, 2, 1))
    assert found and all(s.astimezone(LA).weekday() == 0 for _, _, s, _ in found)


def test_all_day_floating_utc_and_other_zones() -> None:
    f = feed(
        "UID:a\nSUMMARY:Backup: biagas\nDTSTART;VALUE=DATE:20261030\nDTEND;VALUE=DATE:20261103",
        "UID:b\nSUMMARY:Primary: Eric\nDTSTART:20260601T080000\nDTEND:20260602T080000",
        "UID:c\nSUMMARY:Primary: Justin\nDTSTART:20260701T150000Z\nDTEND:20260701T160000Z",
        "UID:d\nSUMMARY:Primary: Kathleen\nDTSTART;TZID=America/New_York:20260801T110000\n"
        "DTEND;TZID=America/New_York:20260801T120000",
    )
    # All-day across fall back: local midnight to local midnight, one hour longer.
    assert spans(f, la(2026, 10, 29), la(2026, 11, 5)) == [
        ("backup", "biagas", la(2026, 10, 30), la(2026, 11, 3))]
    assert spans(f, la(2026, 6, 1), la(2026, 6, 2)) == [
        ("primary", "Eric", la(2026, 6, 1, 8), la(2026, 6, 2, 8))]
    assert spans(f, la(2026, 7, 1), la(2026, 7, 2))[0][2:] == (la(2026, 7, 1, 8),
                                                               la(2026, 7, 1, 9))
    assert spans(f, la(2026, 8, 1), la(2026, 8, 2))[0][2:] == (la(2026, 8, 1, 8),
                                                               la(2026, 8, 1, 9))


def test_x_wr_timezone_places_floating_times() -> None:
    f = feed("UID:g\nSUMMARY:Primary: Mark\nDTSTART:20260601T080000\nDTEND:20260601T090000",
             extra="X-WR-TIMEZONE:America/New_York\r\n")
    # The calendar names its zone (Google does): 08:00 New York is 05:00 here.
    assert spans(f, la(2026, 6, 1), la(2026, 6, 2))[0][2] == la(2026, 6, 1, 5)


def test_non_duty_cancelled_and_overlapping_events() -> None:
    f = feed(
        "UID:meet\nSUMMARY:VisIt project meeting\nDTSTART:20260302T100000\n"
        "DTEND:20260302T110000",
        "UID:gone\nSUMMARY:Primary: Ghost\nSTATUS:CANCELLED\nDTSTART;VALUE=DATE:20260302",
        "UID:week\nSUMMARY:Primary: Mark\nDTSTART:20260302T080000\nDTEND:20260309T080000",
        "UID:day\nSUMMARY:Primary: Eric\nDTSTART;VALUE=DATE:20260304\nDTEND;VALUE=DATE:20260305",
    )
    assert {o.uid for o in f.occurrences(la(2026, 3, 1), la(2026, 3, 10))} == {"week", "day"}
    # The shorter event wins where they overlap.
    assert f.holder_at("primary", la(2026, 3, 4, 9)).who == "Eric"  # type: ignore[union-attr]
    assert f.holder_at("primary", la(2026, 3, 5, 9)).who == "Mark"  # type: ignore[union-attr]
    assert f.holder_at("backup", la(2026, 3, 5, 9)) is None


def test_claims_list_every_component() -> None:
    f = feed(WEEKLY, MOVED)
    assert [(c.role, c.who, c.event.start) for c in f.claims] == [
        ("primary", "Mark", "2026-03-02"), ("primary", "Cyrus", "2026-04-14")]


@pytest.mark.parametrize(("text", "expected"), [
    ("not a calendar", "team.ics: ics: not a valid iCalendar file"),
    (calendar("UID:x1\nSUMMARY:Primary Mark\nDTSTART;VALUE=DATE:20260302"),
     "team.ics: event UID x1 on 2026-03-02 ('Primary Mark'): cannot read 'Primary Mark'"),
    (calendar("UID:x2\nSUMMARY:Primary: Mark\nDTSTART:20260302T080000"),
     "team.ics: event UID x2 on 2026-03-02 ('Primary: Mark'): has a start time but no end"),
    (calendar("UID:x3\nSUMMARY:Primary: Mark\nDTSTART;VALUE=DATE:20260302\nRRULE:FREQ=BOGUS"),
     "team.ics: event UID x3 on 2026-03-02 ('Primary: Mark'): RRULE is malformed"),
    (calendar("UID:x4\nSUMMARY:Backup: Mark"),
     "event UID x4 on ? ('Backup: Mark'): has no DTSTART"),
])
def test_bad_calendar(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ics(text, source="team.ics", tz=LA)
    assert expected in str(caught.value)
    assert "(fix: " in str(caught.value)


def test_the_daemon_starts_without_the_calendar_libraries() -> None:
    """icalendar and recurring_ical_events (some 50 ms of every start) are imported when a
    feed is read, not with the daemon's modules: most sites have no ICS feed."""
    import subprocess
    import sys

    code = ("import sys, gateway.cli, gateway.app, gateway.components; "
            "print(sorted({'icalendar', 'recurring_ical_events'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
