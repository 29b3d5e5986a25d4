"""On SQLite the write transactions of one process take turns on a lock of its own
(`gateway.store.engine.write_turn`), so none of them waits in SQLite's busy handler, which
sleeps and looks again. These tests turn that handler off (busy timeout 0): a second writer
then fails at once with "database is locked" unless the turn made it wait."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store import engine as engine_module
from gateway.store.db import Store

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


def _without_busy_handler(store: Store) -> None:
    store.engine.dispose()  # the pooled sessions were opened with a 30 s busy timeout

    @sa.event.listens_for(store.engine, "connect")
    def _impatient(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on one file in this process (as the daemon and a command it runs)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    one, two = Store.open(url), Store.open(url, migrate=False)
    for store in (one, two):
        _without_busy_handler(store)
    yield one, two
    one.close()
    two.close()


def _hold(store: Store, entered: threading.Event, release: threading.Event) -> None:
    with store.tx() as tx:
        tx.put_value("first", "1", now=NOW)
        entered.set()
        release.wait(10)


@pytest.mark.parametrize("second", ["same store", "another store on the file"])
def test_a_writer_waits_for_its_turn_instead_of_failing(
        stores: tuple[Store, Store], second: str) -> None:
    first, other = stores
    waiter = first if second == "same store" else other
    entered, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(first, entered, release))
    holder.start()
    assert entered.wait(10)
    outcome: list[object] = []

    def write() -> None:
        try:
            with waiter.tx() as tx:
                tx.put_value("second", "2", now=NOW)
            outcome.append("committed")
        except Exception as exc:  # what SQLite says without the turn: "database is locked"
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    # A sleep, not a timed join: under libfaketime (scripts/test-clock) a timed wait on a
    # lock never runs out; a sleep does.
    time.sleep(0.3)
    assert writer.is_alive() and outcome == []  # waiting, not failed, while the first holds
    release.set()
    holder.join(10)
    writer.join(10)
    assert outcome == ["committed"]
    with first.read() as tx:
        assert (tx.get_value("first"), tx.get_value("second")) == ("1", "2")


def test_a_turn_not_given_in_time_fails_as_a_locked_database(
        stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = stores
    # No wait at all: under libfaketime a timed wait on a lock never runs out.
    monkeypatch.setattr(engine_module, "TURN_TIMEOUT", 0)
    entered, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(first, entered, release))
    holder.start()
    try:
        assert entered.wait(10)
        with pytest.raises(sa.exc.OperationalError, match="database is locked"), \
                first.tx() as tx:
            tx.put_value("second", "2", now=NOW)
    finally:
        release.set()
        holder.join(10)
    with first.tx() as tx:  # the turn is free again: nothing was left held
        tx.put_value("third", "3", now=NOW)


def test_postgresql_needs_no_turn_of_its_own() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@localhost/none")
    assert engine_module.write_turn(engine) is engine_module.nullcontext
