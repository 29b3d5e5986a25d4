"""`visit-gateway report` aggregation, checked by hand over a simulated month of traffic.

The month: four rotation weeks of the example schedule (handoff Monday 08:00 America/Los_Angeles,
PDT = UTC-7, hours 08-12 and 13-17, no holidays in range):

    week of 2026-04-13  Primary cyrush           Backup brugger1
    week of 2026-04-20  Primary brugger1         Backup biagas
    week of 2026-04-27  Primary biagas           Backup JustinPrivitera
    week of 2026-05-04  Primary JustinPrivitera  Backup cyrush

(rotation start 2026-01-05; week k = days/7 indexes the 8-slot rotation list; Backup is the
next slot: 04-13 is k=14 -> slot 6 cyrush, slot 7 brugger1, and so on.)

Every response time below is business hours from arrival to first response, worked out in the
comment next to each thread. `AS_OF` (Fri 2026-05-08 12:00) is the "now" of the report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.loader import load_config
from gateway.duty.load import business_calendar, duty_schedule
from gateway.report.aggregate import (
    NO_LABEL,
    EffortRow,
    HandoffRow,
    PromotionRow,
    ThreadRow,
    build_report,
    median,
    percentile,
)
from gateway.report.data import load_rows, recent_weeks, report_weeks
from gateway.report.render import (
    axis_ticks,
    bar_chart,
    render_csv,
    render_html,
    render_json,
    render_table,
)
from gateway.store.db import Store
from gateway.store.schema import effort, outbox, threads

from ...conftest import EXAMPLE_CONFIG

LA = ZoneInfo("America/Los_Angeles")
SINCE, UNTIL = dt.date(2026, 4, 13), dt.date(2026, 5, 10)
AS_OF = dt.datetime(2026, 5, 8, 12, 0, tzinfo=LA)


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LA)


UQ, OI, DOC = "usage question", "operational incident", "documentation"

# thread, arrived, first response, by, resolved, labels, assignee (= the week's Primary)
THREADS: list[tuple[str, dt.datetime, dt.datetime | None, str | None, dt.datetime | None,
                    list[str], str]] = [
    # Before the period (Fri 04-10): excluded from every cohort.
    ("t00", at(4, 10, 9), at(4, 10, 10), "JustinPrivitera", at(4, 10, 11), [UQ], "JustinPrivitera"),
    # Week 1, cyrush.
    ("t01", at(4, 13, 9), at(4, 13, 9, 30), "cyrush", at(4, 14, 10), [UQ], "cyrush"),  # 0.5
    ("t02", at(4, 13, 10), at(4, 13, 11), "cyrush", at(4, 15, 9), [UQ], "cyrush"),  # 1.0
    ("t03", at(4, 14, 14), at(4, 14, 16), "biagas", at(4, 17, 12), [OI], "cyrush"),  # 2.0
    # Wed 11:00 -> 15:00: 11-12 (1) + 13-15 (2) = 3.0
    ("t04", at(4, 15, 11), at(4, 15, 15), "cyrush", at(4, 22, 10), [UQ], "cyrush"),
    # Thu 16:00 -> Fri 11:00: 16-17 (1) + 08-11 (3) = 4.0, exactly the goal: meets it
    ("t05", at(4, 16, 16), at(4, 17, 11), "cyrush", None, [OI], "cyrush"),
    # Week 2, brugger1. Sunday arrival: first opening Mon 04-20 08:00, so week 2; 08-09 = 1.0
    ("t06", at(4, 19, 10), at(4, 20, 9), "brugger1", at(4, 20, 12), [UQ], "brugger1"),
    # Mon 09:00 -> Tue 09:00: 9-12 (3) + 13-17 (4) + 8-9 (1) = 8.0
    ("t07", at(4, 20, 9), at(4, 21, 9), "brugger1", at(4, 23, 9), [OI], "brugger1"),
    ("t08", at(4, 21, 10), at(4, 21, 10, 15), "biagas", at(4, 21, 11), [UQ], "brugger1"),  # 0.25
    # Wed 13:00 -> Thu 09:30: 13-17 (4) + 8-9:30 (1.5) = 5.5; no labels
    ("t09", at(4, 22, 13), at(4, 23, 9, 30), "brugger1", at(4, 30, 12), [], "brugger1"),
    # Fri 16:30 -> Mon 08:30: 0.5 + 0.5 = 1.0; resolved in week 3
    ("t10", at(4, 24, 16, 30), at(4, 27, 8, 30), "brugger1", at(4, 27, 10), [UQ], "brugger1"),
    # Week 3, biagas.
    ("t11", at(4, 27, 10), at(4, 27, 10, 30), "biagas", at(4, 28, 10), [UQ], "biagas"),  # 0.5
    ("t12", at(4, 27, 14), at(4, 27, 15, 30), "biagas", at(4, 29, 10), [UQ, DOC], "biagas"),  # 1.5
    ("t13", at(4, 28, 9), at(4, 28, 11), "JustinPrivitera", at(4, 30, 16), [OI], "biagas"),  # 2.0
    # Wed 15:00 -> Thu 10:30: 15-17 (2) + 8-10:30 (2.5) = 4.5, misses
    ("t14", at(4, 29, 15), at(4, 30, 10, 30), "biagas", at(5, 1, 12), [OI], "biagas"),
    ("t15", at(4, 30, 8, 30), at(4, 30, 9, 30), "biagas", at(5, 5, 10), [UQ], "biagas"),  # 1.0
    # Week 4, JustinPrivitera.
    ("t16", at(5, 4, 9), at(5, 4, 9, 45), "JustinPrivitera", at(5, 4, 11), [UQ],
     "JustinPrivitera"),  # 0.75
    # Mon 13:00 -> Tue 13:00: 13-17 (4) + 8-12 (4) = 8.0
    ("t17", at(5, 4, 13), at(5, 5, 13), "JustinPrivitera", None, [OI], "JustinPrivitera"),
    ("t18", at(5, 5, 10), at(5, 5, 11), "cyrush", at(5, 6, 9), [UQ], "JustinPrivitera"),  # 1.0
    # Unanswered; at AS_OF 2.5 business days have passed: past the goal, counts as a miss.
    ("t19", at(5, 6, 9), None, None, None, [UQ], "JustinPrivitera"),
    # Unanswered; at AS_OF (Fri 12:00) only 2 business hours have passed: left out of shares.
    ("t20", at(5, 8, 10), None, None, None, [OI], "JustinPrivitera"),
]

# comment_id, thread, login, day, minutes
EFFORT = [
    (1, "t01", "cyrush", dt.date(2026, 4, 13), 30),
    (2, "t04", "cyrush", dt.date(2026, 4, 15), 90),  # cyrush: 120 min = 2.0 h
    (3, "t03", "biagas", dt.date(2026, 4, 14), 45),
    (4, "t12", "biagas", dt.date(2026, 4, 28), 60),  # biagas: 105 min = 1.75 h
    (5, "t07", "brugger1", dt.date(2026, 4, 21), 120),  # 2.0 h
    (6, "t17", "JustinPrivitera", dt.date(2026, 5, 5), 150),  # 2.5 h
    (7, "t00", "JustinPrivitera", dt.date(2026, 4, 10), 60),  # before the period: left out
    (8, "t19", "outsider", dt.date(2026, 5, 6), 30),  # not in the roster: listed, 0.5 h
]

# Handoffs at Mon 08:00 PDT = 15:00Z. Week 2 reassigns t04, t05; week 3 t05, t09; week 4 t05.
HANDOFFS = [
    ("assign:handoff:2026-04-20T15:00Z:t04", "t04", "brugger1", "done"),
    ("assign:handoff:2026-04-20T15:00Z:t05", "t05", "brugger1", "done"),
    ("assign:handoff:2026-04-20T15:00Z:t99", "t99", "brugger1", "dropped"),  # dropped: ignored
    ("assign:handoff:2026-04-27T15:00Z:t05", "t05", "biagas", "done"),
    ("assign:handoff:2026-04-27T15:00Z:t09", "t09", "biagas", "pending"),
    ("assign:handoff:2026-05-04T15:00Z:t05", "t05", "JustinPrivitera", "done"),
    ("assign:t13", "t13", "biagas", "done"),  # not a handoff
]


def build_month_db(path: Path) -> str:
    """The simulated month in a fresh state database; returns its URL."""
    url = f"sqlite:///{path}"
    store = Store.open(url, synchronous="normal")
    created = at(4, 1, 0)
    try:
        with store.tx() as tx:
            tx.conn.execute(threads.insert(), [
                {"thread_id": tid, "issue_number": 100 + i, "title": f"inquiry {tid}",
                 "arrived_at": arrived, "assignee": assignee, "first_response_at": responded,
                 "first_response_by": by, "resolved_at": resolved,
                 "state": "closed" if resolved else "open", "labels": json.dumps(labels),
                 "reopened_count": 0, "created_at": arrived}
                for i, (tid, arrived, responded, by, resolved, labels, assignee)
                in enumerate(THREADS)])
            tx.conn.execute(effort.insert(), [
                {"comment_id": cid, "seq": 0, "thread_id": tid, "login": login, "day": day,
                 "minutes": minutes} for cid, tid, login, day, minutes in EFFORT])
            tx.conn.execute(outbox.insert(), [
                {"key": key, "kind": "assign", "thread_id": tid, "payload": json.dumps(
                    {"login": login}), "status": status, "attempts": 1,
                 "created_at": created, "updated_at": created}
                for key, tid, login, status in HANDOFFS])
    finally:
        store.close()
    return url


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    config = load_config(EXAMPLE_CONFIG, env={})
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    store = Store.open(build_month_db(tmp_path_factory.mktemp("report") / "state.db"))
    try:
        rows = load_rows(store)
    finally:
        store.close()
    weeks = report_weeks(schedule, calendar, SINCE, UNTIL)
    return build_report(rows.threads, rows.effort, rows.handoffs, weeks, schedule.people,
                        calendar, as_of=AS_OF)


# ---- statistics ----------------------------------------------------------------------------

def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    # n=5: rank ceil(4.5) = 5, the largest; n=10: rank 9; n=20: rank 18.
    assert percentile([3.0, 1.0, 2.0, 5.0, 4.0], 90) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 90) == 9.0
    assert percentile([float(x) for x in range(1, 21)], 90) == 18.0
    assert percentile([1.0, 2.0], 0) == 1.0 and percentile([1.0, 2.0], 50) == 1.0
    assert median([1.0, 4.0]) == 2.5 and median([]) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ---- the month, by hand ---------------------------------------------------------------------

def test_weeks_by_hand(month) -> None:  # type: ignore[no-untyped-def]
    rows = [(str(w.start), w.primary, w.backup, w.arrived, w.responded, w.within_goal,
             w.median_hours, w.p90_hours, w.resolved, w.handed_off, w.open_at_end)
            for w in month.weeks]
    assert rows == [
        # Week 1 hours [0.5, 1, 2, 3, 4]: median 2.0; p90 rank ceil(4.5)=5 -> 4.0; all 5 meet
        # (4.0 is exactly the goal). Resolved in the week: t01, t02, t03. Open at Mon 04-20
        # 08:00: t04, t05 and t06 (arrived Sunday, counted in week 2 but open at week 1's end).
        ("2026-04-13", "cyrush", "brugger1", 5, 5, 1.0, 2.0, 4.0, 3, 0, 3),
        # Week 2 (with Sunday's t06) hours [0.25, 1, 1, 5.5, 8]: median 1.0, p90 8.0;
        # 3 of 5 within 4 h = 0.6. Resolved: t04, t06, t07, t08. Handoff: t04, t05 (t99
        # dropped). Open at 04-27 08:00: t05, t09, t10 (resolved 10:00 that Monday).
        ("2026-04-20", "brugger1", "biagas", 5, 5, 0.6, 1.0, 8.0, 4, 2, 3),
        # Week 3 hours [0.5, 1, 1.5, 2, 4.5]: median 1.5, p90 4.5; 4/5 = 0.8. Resolved:
        # t09, t10, t11, t12, t13, t14. Handoff: t05, t09. Open at 05-04 08:00: t05, t15.
        ("2026-04-27", "biagas", "JustinPrivitera", 5, 5, 0.8, 1.5, 4.5, 6, 2, 2),
        # Week 4 hours [0.75, 1, 8]: median 1.0, p90 rank ceil(2.7)=3 -> 8.0. Judged: t16 and
        # t18 meet, t17 and t19 (overdue) miss, t20 still inside its goal: 2/4 = 0.5.
        # Resolved: t15, t16, t18. Handoff: t05. Open at 05-11 08:00: t05, t17, t19, t20.
        ("2026-05-04", "JustinPrivitera", "cyrush", 5, 3, 0.5, 1.0, 8.0, 3, 1, 4),
    ]
    assert month.first_day == SINCE and month.end_day == dt.date(2026, 5, 11)


def test_totals_by_hand(month) -> None:  # type: ignore[no-untyped-def]
    # 18 answered: .25 .5 .5 .75 1 1 1 1 1 | 1.5 2 2 3 4 4.5 5.5 8 8 -> median (1 + 1.5) / 2
    # = 1.25; p90 rank ceil(16.2) = 17 -> 8.0. Judged 19 (all but t20), met 5+3+4+2 = 14.
    assert month.totals == {"arrived": 20, "responded": 18, "within_goal": 14 / 19,
                            "median_hours": 1.25, "p90_hours": 8.0}


def test_people_by_hand(month) -> None:  # type: ignore[no-untyped-def]
    got = {p.login: p for p in month.people}
    # Roster order, then logins met in the data (the outsider with effort only).
    assert list(got) == ["markcmiller86", "cyrush", "biagas", "brugger1", "JustinPrivitera",
                         "outsider"]
    rows = {login: (p.primary_weeks, p.backup_weeks, p.inquiries, p.responses, p.median_hours,
                    p.effort_hours) for login, p in got.items()}
    assert rows == {
        "markcmiller86": (0, 0, 0, 0, None, 0.0),
        # first responses t01 .5, t02 1, t04 3, t05 4, t18 1 -> median 1.0; 30+90 min
        "cyrush": (1, 1, 5, 5, 1.0, 2.0),
        # t08 .25, t11 .5, t15 1, t12 1.5, t03 2, t14 4.5 -> (1 + 1.5) / 2 = 1.25; 45+60 min
        "biagas": (1, 1, 5, 6, 1.25, 1.75),
        # t06 1, t10 1, t09 5.5, t07 8 -> (1 + 5.5) / 2 = 3.25
        "brugger1": (1, 1, 5, 4, 3.25, 2.0),
        # t16 .75, t13 2, t17 8 -> 2.0 (t00 and its effort are before the period)
        "JustinPrivitera": (1, 1, 5, 3, 2.0, 2.5),
        "outsider": (0, 0, 0, 0, None, 0.5),
    }
    # expected = 4 weeks x fraction / 3.8 (0.5 + 0.8 + 1.0 + 0.5 + 1.0)
    assert got["cyrush"].expected_weeks == pytest.approx(3.2 / 3.8)
    assert got["biagas"].expected_weeks == pytest.approx(4.0 / 3.8)
    assert got["markcmiller86"].expected_weeks == pytest.approx(2.0 / 3.8)
    assert got["outsider"].fraction is None and got["outsider"].expected_weeks == 0.0


def test_labels_by_hand(month) -> None:  # type: ignore[no-untyped-def]
    rows = [(lab.label, lab.count, lab.median_hours, lab.within_goal) for lab in month.labels]
    assert rows == [
        # 12 threads; 11 answered: .25 .5 .5 .75 1 1 1 1 1 1.5 3 -> 6th = 1.0; all 11 meet,
        # t19 (overdue) misses: 11/12.
        (UQ, 12, 1.0, 11 / 12),
        # 7 threads; 6 answered: 2 2 4 4.5 8 8 -> (4 + 4.5) / 2 = 4.25; met t03, t05 (exactly
        # 4), t13; missed t07, t14, t17; t20 not yet judged: 3/6.
        (OI, 7, 4.25, 0.5),
        (NO_LABEL, 1, 5.5, 0.0),  # t09
        (DOC, 1, 1.5, 1.0),  # t12, counted under both of its labels
    ]


# ---- renderers ------------------------------------------------------------------------------

def test_csv_is_three_tables(month) -> None:  # type: ignore[no-untyped-def]
    blocks = render_csv(month).split("\n\n")
    assert len(blocks) == 3
    weeks, people, labels = (list(csv.DictReader(io.StringIO(b))) for b in blocks)
    assert [w["week"] for w in weeks] == ["2026-04-13", "2026-04-20", "2026-04-27", "2026-05-04"]
    assert weeks[1] == {"week": "2026-04-20", "primary": "brugger1", "backup": "biagas",
                        "arrived": "5", "first_responses": "5", "within_goal": "0.6",
                        "median_hours": "1.0", "p90_hours": "8.0", "resolved": "4",
                        "handed_off": "2", "open_at_end": "3",
                        "closed_stale": "0", "promoted": "0", "promotions": "",
                        "attachments_stored": "0", "attachments_published": "0"}
    assert people[0]["login"] == "markcmiller86" and people[0]["median_hours"] == ""
    assert people[2]["effort_hours"] == "1.75" and people[2]["expected_weeks"] == "1.05"
    assert [row["label"] for row in labels] == [UQ, OI, NO_LABEL, DOC]


def test_json_shape(month) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(render_json(month))
    assert set(data) == {"first_day", "end_day", "timezone", "goal_hours", "percentile_method",
                         "totals", "weeks", "people", "labels"}
    assert data["goal_hours"] == 4.0 and data["timezone"] == "America/Los_Angeles"
    assert data["weeks"][3]["within_goal"] == 0.5 and data["weeks"][3]["p90_hours"] == 8.0
    assert data["people"][1] == {
        "login": "cyrush", "name": "Cyrus Harrison", "fraction": 0.8, "primary_weeks": 1,
        "backup_weeks": 1, "expected_weeks": 0.84, "inquiries": 5, "responses": 5,
        "median_hours": 1.0, "effort_hours": 2.0}
    assert data["labels"][1] == {"label": OI, "count": 7, "median_hours": 4.25,
                                 "within_goal": 0.5}


def test_table_text(month) -> None:  # type: ignore[no-untyped-def]
    text = render_table(month)
    assert text.startswith("Response report, 4 rotation weeks 2026-04-13 to 2026-05-10")
    assert "20 inquiries, 18 answered, 74% within the 4-business-hour goal" in text
    week2 = next(line for line in text.splitlines() if line.strip().startswith("2026-04-20"))
    assert week2.split() == ["2026-04-20", "Eric", "Brugger", "5", "5", "60%", "1.0", "8.0",
                             "4", "2", "3", "0", "0", "0", "0"]


def test_html_has_charts_and_tables(month) -> None:  # type: ignore[no-untyped-def]
    page = render_html(month)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 3 and page.count("</svg>") == 3
    assert 'class="goal"' in page and "goal 4 h" in page  # the goal line
    assert "<style>" in page and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # self-contained
    # table values
    assert "<td>2026-04-20</td><td>Eric Brugger</td><td>5</td><td>5</td>" in page
    assert "<tr><td>2026-04-13</td>" in page  # 100% within goal: not marked
    # the share column is marked, and red when the goal was missed
    assert "<td class=goal>60%</td>" in page and "<tr class=miss><td>2026-04-20</td>" in page
    assert "<td>3.2</td>" in page  # brugger1's median 3.25, rounded half to even
    assert "<td>operational incident</td><td>7</td><td>4.2</td><td class=goal>50%</td>" in page
    # chart bars carry their values
    assert "<title>04-27 biagas p90: 4.5</title>" in page
    assert "<title>Cyrus weeks served: 1.0</title>" in page


def test_bar_chart_handles_empty_and_missing_values() -> None:
    svg = bar_chart([], [], title="empty", unit="h")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    svg = bar_chart(["a", "b"], [("x", "#000", [None, 2.0])], title="t", unit="h", goal=4)
    assert svg.count("<rect") == 2  # one bar and one legend swatch


def test_build_report_from_plain_rows_without_a_database() -> None:
    config = load_config(EXAMPLE_CONFIG, env={})
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    weeks = report_weeks(schedule, calendar, dt.date(2026, 4, 15), dt.date(2026, 4, 15))
    assert len(weeks) == 1 and weeks[0].start == at(4, 13, 8)
    report = build_report(
        [ThreadRow("a", at(4, 14, 9), assignee="cyrush", first_response_at=at(4, 14, 9, 6),
                   first_response_by="cyrush", labels=("x",))],
        [EffortRow("a", "CYRUSH", dt.date(2026, 4, 14), 6)],
        [HandoffRow("a", at(4, 13, 8))], weeks, schedule.people, calendar, as_of=at(4, 20, 8))
    assert report.weeks[0].median_hours == pytest.approx(0.1)
    assert report.weeks[0].handed_off == 1
    cyrus = next(p for p in report.people if p.login == "cyrush")
    assert cyrus.effort_hours == pytest.approx(0.1)  # logins match case-insensitively
    with pytest.raises(ValueError):
        build_report([], [], [], [], schedule.people, calendar, as_of=AS_OF)


def test_load_rows_reads_labels_and_skips_dropped_handoffs(tmp_path: Path) -> None:
    store = Store.open(build_month_db(tmp_path / "state.db"))
    try:
        rows = load_rows(store, before=at(4, 13, 0))
        with store.read() as tx:
            assert tx.conn.execute(sa.select(sa.func.count()).select_from(threads)).scalar() == 21
    finally:
        store.close()
    assert [t.thread_id for t in rows.threads] == ["t00"]
    assert rows.threads[0].labels == (UQ,)
    assert len(rows.effort) == 8
    assert sorted((h.thread_id, h.at.isoformat(), h.login) for h in rows.handoffs)[:2] == [
        ("t04", "2026-04-20T15:00:00+00:00", "brugger1"),
        ("t05", "2026-04-20T15:00:00+00:00", "brugger1")]
    assert len(rows.handoffs) == 5  # t99 dropped, assign:t13 is no handoff


@given(st.floats(min_value=0.001, max_value=1e6, allow_nan=False))
def test_axis_ticks_are_round_and_cover_the_data(value: float) -> None:
    ticks = axis_ticks(value)
    step = ticks[1]
    assert ticks[0] == 0 and ticks[-1] >= value * (1 - 1e-9) and 4 <= len(ticks) <= 7
    assert all(abs(b - a - step) <= 1e-9 * max(1.0, step) for a, b in pairwise(ticks))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(abs(mantissa - m) < 1e-6 for m in (1.0, 2.0, 2.5, 5.0))


def test_the_first_rotated_label_stays_inside_the_chart() -> None:
    """A long first label (a Primary with a long login) used to hang off the left edge."""
    categories = ["09-07 markcmiller86", *(f"09-{d} biagas" for d in range(14, 90, 7))]
    svg = bar_chart(categories, [("median", "#000", [1.0] * len(categories))], title="t",
                    unit="business hours", width=max(520, 70 * len(categories)))
    first = re.search(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end" transform', svg)
    assert first is not None
    assert float(first.group(1)) - 0.87 * 6.2 * len(categories[0]) >= 0


# Every instant the suite must pass at (issue 12), and the edges of a rotation week: the week
# under way is always the last of the 12, whatever the day, hour, holiday or DST switch.
@pytest.mark.parametrize("now", [
    dt.datetime(2026, 12, 5, 12, 0, tzinfo=LA),     # Saturday
    dt.datetime(2026, 12, 6, 23, 30, tzinfo=LA),    # Sunday night
    dt.datetime(2026, 12, 25, 9, 0, tzinfo=LA),     # a holiday, in business hours
    dt.datetime(2026, 3, 8, 3, 30, tzinfo=LA),      # just after spring forward
    dt.datetime(2026, 11, 1, 1, 30, fold=0, tzinfo=LA),  # inside the repeated hour
    dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=LA),
    dt.datetime(2026, 12, 31, 23, 59, tzinfo=LA),
    dt.datetime(2028, 2, 29, 12, 0, tzinfo=LA),
    dt.datetime(2026, 12, 7, 7, 59, tzinfo=LA),     # Monday, a minute before the handoff
    dt.datetime(2026, 12, 7, 8, 0, tzinfo=LA),      # Monday, the handoff itself
])
def test_recent_weeks_are_twelve_ending_with_the_week_under_way(now: dt.datetime) -> None:
    config = load_config(EXAMPLE_CONFIG, env={})
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    weeks = recent_weeks(schedule, now)
    assert len(weeks) == 12
    assert weeks[-1].start <= now < weeks[-1].end
    assert all(a.end == b.start for a, b in pairwise(weeks))
    assert all(w.start.astimezone(LA).weekday() == 0 for w in weeks)
    assert all(w.start.astimezone(LA).time() == dt.time(8, 0) for w in weeks)


def test_stale_closures_and_promotions_count_apart_from_resolutions() -> None:
    config = load_config(EXAMPLE_CONFIG, env={})
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    weeks = report_weeks(schedule, calendar, dt.date(2026, 4, 15), dt.date(2026, 4, 15))
    product = "https://github.com/visit-dav/visit/issues/9"
    report = build_report(
        [ThreadRow("a", at(4, 6, 9), resolved_at=at(4, 14, 9), state="closed"),
         ThreadRow("b", at(4, 6, 9), resolved_at=at(4, 15, 9), state="closed",
                   closed_as="stale"),
         ThreadRow("c", at(4, 6, 9), resolved_at=at(4, 16, 9), state="closed",
                   closed_as="promoted")],
        [], [], weeks, schedule.people, calendar, as_of=at(4, 20, 8),
        promotions=[PromotionRow("c", at(4, 16, 9), product),
                    PromotionRow("d", at(4, 30, 9), "https://example.org/later")])
    [week] = report.weeks
    assert (week.resolved, week.stale_closed, week.promoted) == (2, 1, 1)
    assert week.promotions == (product,)
    assert product in render_csv(report) and "Closed stale" in render_table(report)


def test_load_rows_reads_promotions_from_the_done_promote_rows(store: Store) -> None:
    from gateway.store.db import queue_rows
    from gateway.store.schema import outbox
    from gateway.store.values import OutboxRow

    with store.tx() as tx:
        queue_rows(tx.conn, [OutboxRow("promote:issues:7:0", "promote", "th-1", None, {}),
                             OutboxRow("promote:issues:8:0", "promote", "th-2", None, {})],
                   at(4, 14, 9))
        tx.conn.execute(outbox.update().where(outbox.c.key == "promote:issues:7:0").values(
            status="done", result='{"number": 9, "url": "https://x/9"}', updated_at=at(4, 14, 10)))
    assert load_rows(store).promotions == (PromotionRow("th-1", at(4, 14, 10), "https://x/9"),)


def test_attachments_stored_and_published_count_per_week(store: Store) -> None:
    from gateway.store.db import queue_rows
    from gateway.store.schema import outbox
    from gateway.store.values import OutboxRow

    with store.tx() as tx:
        queue_rows(tx.conn, [
            OutboxRow("attachments:<a@x>", "store_attachments", "th-1", "<a@x>", {}),
            OutboxRow("attachments:<b@x>", "store_attachments", "th-2", "<b@x>", {}),
            OutboxRow("attachments:<c@x>", "store_attachments", "th-3", "<c@x>", {}),
            OutboxRow("publish:issues:5:0", "publish_attachment", "th-1", None, {}),
        ], at(4, 14, 9))
        for key, result, when in (("attachments:<a@x>", '{"files": 3}', at(4, 14, 10)),
                                  ("attachments:<b@x>", '{"files": 2}', at(4, 15, 10)),
                                  ("publish:issues:5:0", '{"url": "u"}', at(4, 16, 10))):
            tx.conn.execute(outbox.update().where(outbox.c.key == key).values(
                status="done", result=result, updated_at=when))
        # Still pending (the third message's files): not counted.
    rows = load_rows(store)
    config = load_config(EXAMPLE_CONFIG, env={})
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    weeks = report_weeks(schedule, calendar, dt.date(2026, 4, 15), dt.date(2026, 4, 15))
    report = build_report([], [], [], weeks, schedule.people, calendar, as_of=at(4, 20, 8),
                          attachments=rows.attachments)
    [week] = report.weeks
    assert (week.attachments_stored, week.attachments_published) == (5, 1)
    assert "Files stored" in render_table(report)
    assert "attachments_stored,attachments_published" in render_csv(report)
