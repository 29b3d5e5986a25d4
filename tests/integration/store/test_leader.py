"""Leadership on a real PostgreSQL (issue 18): one leader at a time, a standby takes over when
the leader's session dies or its lease goes stale, and the epoch fences the old leader's
transactions; SQLite refuses a second instance."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.errors import FatalError
from gateway.store.db import Store, unfenced
from gateway.store.instance_lock import hold
from gateway.store.leader import LEASE_NAME, Fenced, Leadership
from gateway.store.schema import leader_lease

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def pg(postgres_store_url: str) -> Iterator[Store]:
    store = Store.open(postgres_store_url)
    yield store
    store.close()


def leader(store: Store, name: str, lease: float = 30.0,
           clock: Clock | None = None) -> Leadership:
    return Leadership(store.engine, instance=name, lease=dt.timedelta(seconds=lease),
                      monotonic=clock or time.monotonic)


def write(store: Store, value: str) -> None:
    with store.tx() as tx:
        tx.put_value("probe", value, now=NOW)


def value(store: Store) -> str | None:
    with store.read() as tx:
        return tx.get_value("probe")


def test_one_leader_at_a_time_and_the_fence_lets_only_it_write(pg: Store) -> None:
    first, second = leader(pg, "host-a"), leader(pg, "host-b")
    assert first.try_acquire() and first.leading
    assert not second.try_acquire() and not second.leading
    lease = second.read()
    assert lease is not None and lease.holder == "host-a" and lease.epoch == first.epoch
    pg.fence = first.fence
    write(pg, "from a")
    assert value(pg) == "from a"
    assert first.renew() and first.still_leader()
    first.release()
    assert second.try_acquire() and second.epoch == (first.epoch or 0) + 1
    with pytest.raises(Fenced):  # the first one's transactions are fenced now
        write(pg, "late write from a")
    assert value(pg) == "from a"
    with unfenced():  # a webhook: any instance records it
        write(pg, "webhook")
    assert value(pg) == "webhook"
    assert first.lost.is_set() and not first.still_leader()
    second.release()


def test_a_terminated_session_hands_over_and_the_old_leader_is_fenced(pg: Store) -> None:
    first, second = leader(pg, "host-a"), leader(pg, "host-b")
    assert first.try_acquire()
    pid = first.read().backend_pid  # type: ignore[union-attr]
    with pg.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    deadline = time.monotonic() + 10
    while not second.try_acquire():
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.05)
    assert second.epoch == (first.epoch or 0) + 1
    assert not first.renew() and first.lost.is_set()
    pg.fence = first.fence
    with pytest.raises(Fenced):
        write(pg, "from the old leader")
    assert value(pg) is None
    second.release()
    first.release()


def test_a_paused_leader_is_deposed_once_its_lease_is_stale_and_writes_nothing(pg: Store) -> None:
    clock = Clock()
    first = leader(pg, "host-a", lease=2.0, clock=clock)
    second = leader(pg, "host-b", lease=2.0)
    assert first.try_acquire()
    assert not second.try_acquire()  # fresh: nobody is deposed
    assert first.read().backend_pid is not None  # type: ignore[union-attr]
    time.sleep(2.3)  # the "paused" leader renews nothing for longer than the lease
    clock.t += 2.3
    assert not second.try_acquire()  # ends the stale session…
    deadline = time.monotonic() + 10
    while not second.try_acquire():  # …and takes the lock once it is gone
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.05)
    # The old leader wakes: its own clock says the lease is overdue, before any write.
    assert not first.still_leader()
    with pytest.raises(Fenced):
        first.guard()
    pg.fence = first.fence
    with pytest.raises(Fenced):
        write(pg, "after the pause")
    second.release()
    first.release()


def test_a_missing_lease_row_is_made_at_the_first_takeover(pg: Store) -> None:
    with pg.engine.begin() as conn:
        conn.execute(leader_lease.delete())
    first = leader(pg, "host-a")
    assert first.try_acquire() and first.epoch == 1
    with pg.read() as tx:
        row = tx.conn.execute(sa.select(leader_lease).where(
            leader_lease.c.name == LEASE_NAME)).one()
    assert row.holder == "host-a" and row.epoch == 1
    first.release()


def test_sqlite_refuses_a_second_instance_and_a_killed_one_leaves_no_lock(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    held = hold(database)
    with pytest.raises(FatalError, match=r"another visit-gateway run \(pid \d+\)"):
        hold(database)
    held.close()
    hold(database).close()  # released: the next one gets it
    # A process killed while holding it leaves nothing behind.
    child = subprocess.Popen([sys.executable, "-c",
                              "import sys, time; from pathlib import Path; "
                              "from gateway.store.instance_lock import hold; "
                              f"h = hold(Path({str(database)!r})); print('held', flush=True); "
                              "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(FatalError, match=rf"pid {child.pid}\)"):
            hold(database)
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    hold(database).close()
