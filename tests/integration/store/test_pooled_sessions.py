"""Pooled PostgreSQL sessions are checked when taken from the pool, without a round trip for a
healthy one (gateway.store.engine._checked_sessions): a session the server ended is replaced
before a transaction sees it, a quiet one is not pinged, and one that rested longer than
PING_AFTER is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store import engine as engine_module
from gateway.store.db import Store

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def pg(postgres_store_url: str) -> Iterator[Store]:
    store = Store.open(postgres_store_url)
    yield store
    store.close()


@pytest.fixture
def pings(pg: Store, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    original = pg.engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        seen.append(dbapi_conn)
        return bool(original(dbapi_conn))

    monkeypatch.setattr(pg.engine.dialect, "do_ping", counted)
    return seen


def backend(store: Store) -> int:
    with store.tx() as tx:
        tx.put_value("probe", "x", now=NOW)
        return int(tx.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_session_the_server_ended_is_replaced_before_a_transaction_uses_it(
        pg: Store, pings: list[Any], postgres_store_url: str) -> None:
    first = backend(pg)  # back in the pool now
    admin = sa.create_engine(postgres_store_url, poolclass=sa.pool.NullPool)  # not the pool's
    try:
        with admin.connect() as other:
            # With a timeout the server answers once the backend has exited (PostgreSQL 14+).
            # Polling pg_stat_activity instead would read one snapshot for the whole
            # transaction: a first look before the exit would then never see it.
            ended = other.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"),
                                  {"pid": first}).scalar_one()
            assert ended, "the server did not end the pooled session within 10 s"
    finally:
        admin.dispose()
    before = len(pings)
    again = backend(pg)  # no error: the dead session never reached the transaction
    assert again != first
    assert len(pings) > before  # the one with the server's goodbye waiting was pinged


def test_a_quiet_session_is_reused_without_a_ping_until_it_rests_too_long(
        pg: Store, pings: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(engine_module.time, "monotonic", lambda: now[0])
    pid = backend(pg)  # a new session: pinged once, as any fresh one
    pinged = len(pings)
    for _ in range(5):
        now[0] += engine_module.PING_AFTER / 2
        assert backend(pg) == pid
    assert len(pings) == pinged  # five transactions, no round trip to check the session
    now[0] += engine_module.PING_AFTER + 1
    assert backend(pg) == pid
    assert len(pings) == pinged + 1  # rested too long: a middlebox may have dropped it
