"""Business calendar: opening hours, holidays, DST, and the [business] config table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.duty.business_config import calendar_from_mapping
from gateway.duty.businesstime import BusinessCalendar, Span, wall_to_instant
from gateway.duty.holidays_calendar import HolidayCalendar
from gateway.errors import ConfigError

LA = ZoneInfo("America/Los_Angeles")
H = dt.timedelta(hours=1)


def la(y: int, m: int, d: int, hh: int = 0, mm: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LA, fold=fold)


def build(table: dict[str, object], base_dir: Path = Path("/nonexistent")) -> BusinessCalendar:
    return calendar_from_mapping(table, source="gateway.toml", base_dir=base_dir)


# The lab: US federal holidays, minus Columbus Day, plus the day after Thanksgiving and a
# winter closure through New Year's Eve.
LAB = build({
    "holidays_country": "US",
    "holidays_add": [
        {"relative_to": "Thanksgiving Day", "days_after": 1, "name": "Day after Thanksgiving"},
        {"annual": "12-24", "through": "12-31", "name": "Winter closure"},
    ],
    "holidays_remove": ["Columbus Day"],
})
# Open every day 00:00-04:00 and 13:00-17:00: the spring and autumn changes (02:00) fall
# inside the first span.
NIGHT = BusinessCalendar(spans=(Span(dt.time(0), dt.time(4)), Span(dt.time(13), dt.time(17))),
                         weekdays=frozenset(range(7)))
# A zone with a 30-minute change at 02:00 (Lord Howe Island), open across it every day.
LORD_HOWE = BusinessCalendar(tz=ZoneInfo("Australia/Lord_Howe"),
                             spans=(Span(dt.time(1), dt.time(3)), Span(dt.time(9), dt.time(17))),
                             weekdays=frozenset(range(7)))


# ---------------------------------------------------------------------------------------------
# Deadlines: 4 business hours from arrival (LAB calendar)

DEADLINES = [
    # arrival (local)                         deadline (local)            why
    (la(2026, 3, 2, 8), la(2026, 3, 2, 12), "a whole morning span: the deadline stays at 12:00"),
    (la(2026, 3, 2, 10), la(2026, 3, 2, 15), "two hours before lunch, two after"),
    (la(2026, 3, 2, 12), la(2026, 3, 2, 17), "lunch-hour arrival at 12:00 counts from 13:00"),
    (la(2026, 3, 2, 12, 30), la(2026, 3, 2, 17), "lunch-hour arrival counts from 13:00"),
    (la(2026, 3, 3, 7, 15), la(2026, 3, 3, 12), "before opening counts from 08:00"),
    (la(2026, 3, 3, 16), la(2026, 3, 4, 11), "one hour today, three tomorrow"),
    (la(2026, 2, 27, 16), la(2026, 3, 2, 11), "Friday 16:00 runs into Monday"),
    (la(2026, 2, 27, 18, 30), la(2026, 3, 2, 12), "Friday evening counts from Monday 08:00"),
    (la(2026, 2, 28, 10), la(2026, 3, 2, 12), "Saturday counts from Monday 08:00"),
    (la(2026, 3, 1, 23, 59), la(2026, 3, 2, 12), "Sunday night counts from Monday 08:00"),
    # spring forward, Sunday 2026-03-08 02:00 PST -> 03:00 PDT
    (la(2026, 3, 6, 15), la(2026, 3, 9, 10), "Friday PST into Monday PDT"),
    (la(2026, 3, 7, 12), la(2026, 3, 9, 12), "Saturday before the change, Monday after"),
    (la(2026, 3, 8, 2, 30), la(2026, 3, 9, 12), "an arrival stamped in the skipped hour"),
    # fall back, Sunday 2026-11-01 02:00 PDT -> 01:00 PST
    (la(2026, 10, 30, 15), la(2026, 11, 2, 10), "Friday PDT into Monday PST"),
    (la(2026, 11, 1, 1, 30, fold=1), la(2026, 11, 2, 12), "the repeated hour, second time"),
    # holidays
    (la(2026, 5, 22, 17, 30), la(2026, 5, 26, 12), "Memorial Day Monday is skipped"),
    (la(2026, 5, 25, 9), la(2026, 5, 26, 12), "arrival on the holiday itself"),
    (la(2026, 9, 4, 15), la(2026, 9, 8, 10), "Friday before Labor Day"),
    (la(2026, 11, 25, 16), la(2026, 11, 30, 11), "Thanksgiving eve: Thu and Fri closed"),
    (la(2026, 12, 23, 15), la(2027, 1, 4, 10), "winter-closure eve: back on Jan 4"),
    (la(2026, 10, 12, 8), la(2026, 10, 12, 12), "Columbus Day was removed: open"),
    (la(2026, 7, 2, 16), la(2026, 7, 6, 11), "Independence Day observed on Friday Jul 3"),
]


@pytest.mark.parametrize(("arrival", "deadline", "why"), DEADLINES, ids=[c[2] for c in DEADLINES])
def test_four_hour_deadline(arrival: dt.datetime, deadline: dt.datetime, why: str) -> None:
    got = LAB.add_business(arrival, 4 * H)
    assert got == deadline, why
    assert LAB.business_duration(arrival, got) == 4 * H


def test_results_are_utc() -> None:
    assert LAB.add_business(la(2026, 3, 2, 8), H).tzinfo is dt.UTC
    assert LAB.next_opening(la(2026, 3, 2, 8)).tzinfo is dt.UTC


NEXT_OPENING = [
    (la(2026, 3, 2, 8), la(2026, 3, 2, 8)),
    (la(2026, 3, 2, 11, 59), la(2026, 3, 2, 11, 59)),
    (la(2026, 3, 2, 12), la(2026, 3, 2, 13)),
    (la(2026, 3, 2, 17), la(2026, 3, 3, 8)),
    (la(2026, 3, 6, 17), la(2026, 3, 9, 8)),
    (la(2026, 5, 23, 9), la(2026, 5, 26, 8)),
    (la(2026, 12, 24, 9), la(2027, 1, 4, 8)),
]


@pytest.mark.parametrize(("t", "opening"), NEXT_OPENING)
def test_next_opening(t: dt.datetime, opening: dt.datetime) -> None:
    assert LAB.next_opening(t) == opening
    assert LAB.is_open(t) == (t == opening)


DURATIONS = [
    (LAB, la(2026, 3, 2, 8), la(2026, 3, 2, 17), 8 * H),
    (LAB, la(2026, 3, 2, 11), la(2026, 3, 2, 14), 2 * H),
    (LAB, la(2026, 2, 27, 16), la(2026, 3, 2, 9), 2 * H),
    (LAB, la(2026, 2, 28, 0), la(2026, 3, 2, 0), 0 * H),
    (LAB, la(2026, 3, 2, 17), la(2026, 3, 2, 8), 0 * H),  # reversed
    (LAB, la(2026, 3, 2, 0), la(2026, 3, 9, 0), 40 * H),  # week across spring forward
    (LAB, la(2026, 10, 26, 0), la(2026, 11, 2, 0), 40 * H),  # week across fall back
    (LAB, la(2026, 11, 23, 0), la(2026, 11, 30, 0), 24 * H),  # Thanksgiving week
    (LAB, la(2026, 12, 21, 0), la(2027, 1, 4, 0), 24 * H),  # winter closure + New Year
    # Spans that contain the change: real elapsed time, not wall-clock time.
    (NIGHT, la(2026, 3, 8, 0), la(2026, 3, 8, 12), 3 * H),
    (NIGHT, la(2026, 11, 1, 0), la(2026, 11, 1, 12), 5 * H),
    (NIGHT, la(2026, 3, 7, 0), la(2026, 3, 7, 12), 4 * H),
    (LORD_HOWE, dt.datetime(2026, 4, 5, tzinfo=ZoneInfo("Australia/Lord_Howe")),
     dt.datetime(2026, 4, 5, 5, tzinfo=ZoneInfo("Australia/Lord_Howe")), 2.5 * H),
    (LORD_HOWE, dt.datetime(2026, 10, 4, tzinfo=ZoneInfo("Australia/Lord_Howe")),
     dt.datetime(2026, 10, 4, 5, tzinfo=ZoneInfo("Australia/Lord_Howe")), 1.5 * H),
]


@pytest.mark.parametrize(("cal", "t0", "t1", "expected"), DURATIONS)
def test_business_duration(cal: BusinessCalendar, t0: dt.datetime, t1: dt.datetime,
                           expected: dt.timedelta) -> None:
    assert cal.business_duration(t0, t1) == expected


def test_span_boundaries_in_skipped_and_repeated_wall_time() -> None:
    # 02:30 does not exist on 2026-03-08: a span opening then opens at the jump (03:00 PDT).
    late = BusinessCalendar(spans=(Span(dt.time(2, 30), dt.time(4)),),
                            weekdays=frozenset(range(7)))
    assert late.openings(dt.date(2026, 3, 8)) == ((la(2026, 3, 8, 3), la(2026, 3, 8, 4)),)
    assert late.business_duration(la(2026, 3, 8), la(2026, 3, 9)) == H
    # A span wholly inside the skipped hour never opens.
    ghost = BusinessCalendar(spans=(Span(dt.time(2, 10), dt.time(2, 50)),),
                             weekdays=frozenset(range(7)))
    assert ghost.openings(dt.date(2026, 3, 8)) == ()
    # 01:30 happens twice on 2026-11-01: open from the first 01:30 to... 03:00 PST.
    repeated = BusinessCalendar(spans=(Span(dt.time(1, 30), dt.time(3)),),
                                weekdays=frozenset(range(7)))
    assert repeated.business_duration(la(2026, 11, 1), la(2026, 11, 2)) == 2.5 * H
    # Two spans touching at a repeated time do not count the overlap twice.
    touching = BusinessCalendar(spans=(Span(dt.time(0), dt.time(1, 30)),
                                       Span(dt.time(1, 30), dt.time(3))),
                                weekdays=frozenset(range(7)))
    assert touching.business_duration(la(2026, 11, 1), la(2026, 11, 2)) == 4 * H
    # (fold=1 instants never compare equal across zones, PEP 495: compare in UTC.)
    second = la(2026, 11, 1, 1, 30, fold=1).astimezone(dt.UTC)
    assert wall_to_instant(dt.date(2026, 11, 1), dt.time(1, 30), LA, last=True) == second
    assert wall_to_instant(dt.date(2026, 11, 1), dt.time(1, 30), LA) == second - H


def test_holidays_work_for_any_year() -> None:
    assert LAB.holidays.name_of(dt.date(2040, 11, 23)) == "Day after Thanksgiving"
    assert LAB.holidays.name_of(dt.date(2040, 11, 22)) == "Thanksgiving Day"
    assert LAB.holidays.name_of(dt.date(1999, 12, 27)) == "Winter closure"
    assert LAB.holidays.name_of(dt.date(2035, 10, 8)) is None  # Columbus Day 2035, removed
    assert not LAB.is_business_day(dt.date(2033, 12, 30))
    wrapping = HolidayCalendar(closures=build(
        {"holidays": [{"annual": "12-28", "through": "01-02", "name": "Closure"}]}
    ).holidays.closures)
    assert sorted(wrapping.in_year(2030)) == [
        dt.date(2030, 1, 1), dt.date(2030, 1, 2), *(dt.date(2030, 12, d) for d in range(28, 32))
    ]


def test_explicit_dates_ranges_and_subdivision() -> None:
    cal = build({
        "holidays_country": "us",
        "holidays_subdivision": "ca",
        "holidays": [dt.date(2026, 6, 1), "2026-06-02",
                     {"date": dt.date(2026, 8, 10), "through": dt.date(2026, 8, 12),
                      "name": "Site closure"}],
        "holidays_remove": [dt.date(2026, 3, 31)],
    })
    assert cal.holidays.name_of(dt.date(2026, 6, 2)) == "Holiday"
    assert cal.holidays.name_of(dt.date(2026, 8, 11)) == "Site closure"
    assert cal.holidays.name_of(dt.date(2026, 11, 27)) == "Day After Thanksgiving"  # CA base
    assert cal.holidays.name_of(dt.date(2026, 3, 31)) is None  # Cesar Chavez Day, removed
    assert cal.holidays.name_of(dt.date(2027, 3, 31)) == "Cesar Chavez Day"


def test_holidays_file(tmp_path: Path) -> None:
    (tmp_path / "holidays.toml").write_text(
        '[[holiday]]\ndate = 2026-12-24\nname = "Winter closure"\n\n'
        '[[holiday]]\nannual = "07-05"\n'
    )
    cal = build({"holidays_file": "holidays.toml"}, base_dir=tmp_path)
    assert cal.holidays.name_of(dt.date(2026, 12, 24)) == "Winter closure"
    assert cal.holidays.name_of(dt.date(2031, 7, 5)) == "Holiday"
    assert cal.holidays.name_of(dt.date(2027, 12, 24)) is None


def test_defaults_and_full_table() -> None:
    assert build({}) == BusinessCalendar()
    cal = build({"timezone": "Europe/Berlin", "hours": ["13:00-18:00", "09:00 - 12:30"],
                 "weekdays": ["Monday", "tue", "WED", "thu"]})
    assert cal.tz == ZoneInfo("Europe/Berlin")
    assert cal.spans == (Span(dt.time(9), dt.time(12, 30)), Span(dt.time(13), dt.time(18)))
    assert cal.weekdays == frozenset({0, 1, 2, 3})


NAIVE = dt.datetime(2026, 3, 2, 9)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: LAB.is_open(NAIVE), "aware datetime"),
    (lambda: LAB.next_opening(NAIVE), "aware datetime"),
    (lambda: LAB.business_duration(NAIVE, la(2026, 3, 3)), "aware datetime"),
    (lambda: LAB.business_duration(la(2026, 3, 1), NAIVE), "aware datetime"),
    (lambda: LAB.add_business(NAIVE, H), "aware datetime"),
    (lambda: LAB.add_business(la(2026, 3, 2, 9), -H), "non-negative duration"),
])
def test_naive_or_negative_input_raises(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_long_durations_loop_by_day() -> None:
    # Ten years at one step per day; minute-stepping would take far longer than a second.
    start = la(2026, 1, 1)
    deadline = LAB.add_business(start, 10 * 250 * 8 * H)
    assert dt.date(2035, 1, 1) < deadline.date() < dt.date(2037, 1, 1)
    assert LAB.business_duration(start, deadline) == 10 * 250 * 8 * H


# ---------------------------------------------------------------------------------------------
# Properties

DST_DAYS = [dt.datetime(2026, 3, 8, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 4, 4, 14, tzinfo=dt.UTC), dt.datetime(2026, 10, 3, 14, tzinfo=dt.UTC)]
instants = st.one_of(
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 31),
                 timezones=st.just(dt.UTC)),
    st.builds(lambda day, offset: day + offset, st.sampled_from(DST_DAYS),
              st.timedeltas(min_value=dt.timedelta(hours=-30), max_value=dt.timedelta(hours=30))),
)
durations = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=200))
calendars = st.sampled_from([LAB, NIGHT, LORD_HOWE])
PROPERTY = settings(max_examples=150, deadline=None)


def inside(cal: BusinessCalendar, t: dt.datetime) -> bool:
    """Within an opening span, counting its end: a deadline may fall exactly at a close."""
    return any(s <= t <= e for s, e in cal.openings(cal.local(t).date()))


@PROPERTY
@given(calendars, instants, instants, instants)
def test_duration_is_additive(cal: BusinessCalendar, a: dt.datetime, b: dt.datetime,
                              c: dt.datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.business_duration(a, c) == cal.business_duration(a, b) + cal.business_duration(b, c)


@PROPERTY
@given(calendars, instants, durations)
def test_add_then_measure_gives_the_duration_back(cal: BusinessCalendar, t0: dt.datetime,
                                                  d: dt.timedelta) -> None:
    deadline = cal.add_business(t0, d)
    assert deadline >= t0
    assert cal.business_duration(t0, deadline) == d
    assert inside(cal, deadline)


@PROPERTY
@given(calendars, instants)
def test_next_opening_is_open_and_nothing_is_skipped(cal: BusinessCalendar,
                                                     t: dt.datetime) -> None:
    opening = cal.next_opening(t)
    assert cal.is_open(opening)
    assert opening >= t
    assert cal.business_duration(t, opening) == dt.timedelta(0)
    assert (opening == t) == cal.is_open(t)


# ---------------------------------------------------------------------------------------------
# Bad [business] tables: each error names the file, the key and the fix

BAD_TABLES = [
    ({"timezone": "America/Los_Angles"}, "business.timezone", 'did you mean "America/Los_Angeles"'),
    ({"timezone": "los angeles"}, "business.timezone", '"America/Los_Angeles"'),
    ({"timezone": "PST"}, "business.timezone", '"America/Los_Angeles"'),
    ({"timezone": 8}, "business.timezone", "e.g. timezone ="),
    ({"hours": ["08:00-12:00", "11:00-13:00"]}, "business.hours[1]", "make the spans disjoint"),
    ({"hours": ["17:00-13:00"]}, "business.hours[0]", "write the earlier time first"),
    ({"hours": ["8-12"]}, "business.hours[0]", 'write spans like "08:00-12:00"'),
    ({"hours": ["08:00-24:00"]}, "business.hours[0]", "use 00:00 to 23:59"),
    ({"hours": []}, "business.hours", "e.g. hours ="),
    ({"weekdays": ["mon", "fry"]}, "business.weekdays[1]", "use one of mon, tue"),
    ({"weekdays": []}, "business.weekdays", "e.g. weekdays ="),
    ({"holidays": ["2026-13-01"]}, "business.holidays[0]", "write a real date"),
    ({"holidays": [dt.datetime(2026, 12, 24, 9)]}, "business.holidays[0]", "give a plain date"),
    ({"holidays": [{"date": dt.date(2026, 12, 24), "annual": "12-24"}]}, "business.holidays[0]",
     "exactly one of"),
    ({"holidays": [{"annual": "13-01"}]}, "business.holidays[0].annual", 'write "MM-DD"'),
    ({"holidays": [{"date": dt.date(2026, 12, 24), "through": dt.date(2026, 12, 1)}]},
     "business.holidays[0].through", "on or after date"),
    ({"holidays": [{"dates": dt.date(2026, 12, 24)}]}, "business.holidays[0].dates",
     "did you mean 'date'"),
    ({"holidays_add": [{"relative_to": "Thanksgiving Day"}]},
     "business.holidays_add[0].relative_to",
     "set holidays_country"),
    ({"holidays_country": "US", "holidays_add": [{"relative_to": "Thanksgiving"}]},
     "business.holidays_add[0].relative_to", 'did you mean "Thanksgiving Day"'),
    ({"holidays_country": "US", "holidays_add": [{"relative_to": "Thanksgiving Day",
                                                  "days_after": 0}]},
     "business.holidays_add[0].days_after", "days_after = 1"),
    ({"holidays_remove": ["Columbus Day"]}, "business.holidays_remove[0]",
     "set holidays_country"),
    ({"holidays_country": "US", "holidays_remove": ["Colombus Day"]},
     "business.holidays_remove[0]", 'did you mean "Columbus Day"'),
    ({"holidays_country": "US", "holidays_subdivision": "ZZ"}, "business.holidays_subdivision",
     "use one of AK, AL"),
    ({"holidays_country": "UZZ"}, "business.holidays_country", "ISO 3166 code"),
    ({"holidays_subdivision": "CA"}, "business.holidays_subdivision", "add holidays_country"),
    ({"holidays_file": "missing.toml"}, "business.holidays_file", "missing.toml"),
    ({"hour": ["08:00-12:00"]}, "business.hour", "did you mean 'hours'"),
]


@pytest.mark.parametrize(("table", "key", "fix"), BAD_TABLES, ids=[c[1] for c in BAD_TABLES])
def test_bad_business_table(table: dict[str, object], key: str, fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(table)
    message = str(caught.value)
    assert message.startswith(f"gateway.toml: {key}: ")
    assert fix in message
    assert "(fix: " in message


@pytest.mark.parametrize(("text", "where", "expected"), [
    ('[[holiday]]\ndate = 2026-12-24\n[[holiday]]\ndate = "someday"\n', "holidays.toml:3",
     "holiday[1].date: 'someday' is not a date"),
    ('[[holiday]]\ndate = 2026-12-24\nname = \n', "holidays.toml:3", "TOML syntax"),
    ("[holiday]\ndate = 2026-12-24\n", "holidays.toml", "write each entry as [[holiday]]"),
    ('[[holidays]]\ndate = 2026-12-24\n', "holidays.toml", "did you mean 'holiday'"),
])
def test_bad_holidays_file(tmp_path: Path, text: str, where: str, expected: str) -> None:
    (tmp_path / "holidays.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        build({"holidays_file": "holidays.toml"}, base_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / where))
    assert expected in message
