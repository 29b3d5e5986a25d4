"""The daemon's schedule reader: inside a batch, one read of the delegations serves every
instant its window holds, and answers exactly as a read per instant does.

The example schedule's week of Monday 2026-12-07 is Kathleen Biagas's (biagas) with Justin
Privitera (JustinPrivitera) as Backup; the weeks around it have other Primaries. Delegations
in force, cancelled before they began (void), cancelled halfway, and over long ago are
recorded; the answers inside and outside a batch are compared over three weeks of instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.config.loader import Config
from gateway.duty.load import load_duties
from gateway.duty.schedule import Schedule
from gateway.store.db import Store
from gateway.store.delegations import add_delegation, cancel_delegation
from gateway.weekly.delegation import BATCH_PAD, LOOK_AHEAD, ScheduleReader
from gateway.wiring import assignee_function

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=LA)


@pytest.fixture
def schedule(example_config: Config) -> Schedule:
    schedule = load_duties(example_config).schedule
    assert schedule is not None
    return schedule


def record(store: Store) -> None:
    with store.tx() as tx:
        def add(giver: str, taker: str, start: dt.datetime, until: dt.datetime) -> int:
            row, _ = add_delegation(tx, from_login=giver, to_login=taker, start=start,
                                    until=until, created_by="test", source="cli", now=NOW)
            return row.id
        add("biagas", "JustinPrivitera", at(8, 13), at(8, 17))       # in force
        void = add("biagas", "cyrush", at(9, 8), at(9, 12))          # cancelled before start
        halfway = add("biagas", "JustinPrivitera", at(10, 8), at(11, 17))
        add("brugger1", "biagas", at(2, 8), at(3, 17))               # the week before
        add("JustinPrivitera", "cyrush", at(15, 9), at(16, 12))      # the week after
        cancel_delegation(tx, void, now=at(8, 12), by="test")
        cancel_delegation(tx, halfway, now=at(10, 15), by="test")


@contextmanager
def counted(store: Store) -> Iterator[list[str]]:
    """The statements that read the delegations table, as they are executed."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM delegations" in statement:
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", note)


def duties(schedule: Schedule, t: dt.datetime) -> list[tuple[str | None, str | None]]:
    """Who is Primary and Backup at t and at each hour of the next day: what a reader's
    answer is used for."""
    out = []
    for hours in range(0, 25):
        duty = schedule.duty_at(t + dt.timedelta(hours=hours))
        out.append((duty.primary.github if duty.primary else None,
                    duty.backup.github if duty.backup else None))
    return out


def test_a_batch_answers_as_a_read_per_instant_does(store: Store, schedule: Schedule) -> None:
    record(store)
    reader = ScheduleReader(store, schedule)
    instants = [at(1, 0) + dt.timedelta(hours=7 * n) for n in range(3 * 24)]  # three weeks
    alone = [duties(reader(t), t) for t in instants]
    with reader.batch():
        batched = [duties(reader(t), t) for t in instants]
    assert batched == alone
    # The delegations make a difference in the instants compared (or the test shows nothing).
    assert alone != [duties(schedule, t) for t in instants]


def test_a_batch_of_close_arrivals_reads_the_delegations_once(
        store: Store, schedule: Schedule) -> None:
    record(store)
    reader = ScheduleReader(store, schedule)
    close = [at(8, 9) + dt.timedelta(minutes=7 * n) for n in range(40)]  # under five hours
    with counted(store) as reads:
        with reader.batch():
            for t in close:
                reader(t)
        assert len(reads) == 1
        with reader.batch():  # an instant past the padded window reads again
            reader(close[0])
            reader(close[0] + LOOK_AHEAD + BATCH_PAD + dt.timedelta(hours=1))
        assert len(reads) == 3
        for t in close[:3]:  # outside a batch: a read per call, as before
            reader(t)
        assert len(reads) == 6


def test_a_delegation_recorded_after_a_batch_counts_in_the_next(
        store: Store, example_config: Config) -> None:
    assignee = assignee_function(example_config, store=store)
    arrival = at(8, 14)
    with assignee.batch():
        assert assignee(arrival) == "biagas"
    with store.tx() as tx:
        add_delegation(tx, from_login="biagas", to_login="JustinPrivitera", start=at(8, 13),
                       until=at(8, 17), created_by="test", source="cli", now=NOW)
    with assignee.batch():
        assert assignee(arrival) == "JustinPrivitera"
    assert assignee(arrival) == "JustinPrivitera"
