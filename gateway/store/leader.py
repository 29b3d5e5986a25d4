"""Which instance leads when several share one PostgreSQL database (issue 18), and the fence
that keeps a deposed leader from writing.

Leadership is two things, both in the database:

- a **session advisory lock** (`pg_try_advisory_lock(LEADER_LOCK)`) held on a connection of
  its own: while that session lives no other instance can take it, and when it dies (the
  process killed, the host gone, `pg_terminate_backend`) PostgreSQL releases it at once;
- the **lease row** (`leader_lease`): the holder, its lock session's backend pid, when it
  last renewed (the database's clock), and the **epoch**, raised by one at every takeover.

A leader renews the lease every `lease / 3`. A standby polls: it takes the lock when it is
free; when the lock is held by a session whose lease has not been renewed for `lease` (a
leader paused by SIGSTOP or a long stall keeps its session, and so its lock, alive), it
terminates that session and takes over at its next poll. Taking over raises the epoch in a
write transaction, and every write transaction of a leader checks, first, that the epoch is
still its own (`Leadership.fence`, installed as `Store.fence`): write transactions run one at
a time (`gateway.store.engine`), so once the new epoch is committed no transaction of the old
leader can commit anything. Writes outside the database (GitHub, SMTP) cannot be fenced by the
database; the writers ask `still_leader` right before each one, which fails once a renewal is
overdue by the local monotonic clock: a leader that wakes from a pause longer than the lease
finds it stale before it sends anything, and stops.

Blocking; one `Leadership` per process, its calls from one thread (the app's leadership loop)
except `fence` and `still_leader`, which any thread may call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

from gateway.errors import GatewayError
from gateway.store.schema import leader_lease

log = structlog.get_logger("gateway.leader")

LEADER_LOCK = int.from_bytes(b"vg-leadr", "big")  # apart from the store's WRITE_LOCK
LEASE_NAME = "leader"


class Fenced(GatewayError):
    """This instance is no longer the leader: another took over (a higher epoch)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """The lease row as one read found it; `age` by the database's clock."""

    epoch: int
    holder: str | None
    backend_pid: int | None
    age: dt.timedelta | None  # since the last renewal; None: never held


def read_lease(conn: Connection) -> Lease | None:
    """The lease row as `conn` sees it (None when there is none); its age by the database's
    clock. Also what `check-config --online` shows of who leads."""
    row = conn.execute(sa.select(
        leader_lease.c.epoch, leader_lease.c.holder, leader_lease.c.backend_pid,
        (sa.func.now() - leader_lease.c.renewed_at).label("age"),
    ).where(leader_lease.c.name == LEASE_NAME)).first()
    if row is None:
        return None
    return Lease(int(row.epoch), row.holder, row.backend_pid, row.age)


class Leadership:
    def __init__(self, engine: Engine, *, instance: str, lease: dt.timedelta,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self.instance = instance
        self.lease = lease
        self._monotonic = monotonic
        self._conn: Connection | None = None  # the lock session, while leading
        self._epoch: int | None = None
        self._renewed = 0.0  # monotonic time of the last renewal that reached the database
        self._lost = threading.Event()

    @property
    def epoch(self) -> int | None:
        return self._epoch

    @property
    def leading(self) -> bool:
        return self._epoch is not None and not self._lost.is_set()

    # -- standby --------------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the lead if the lock is free; if it is held by a session whose lease is stale,
        end that session (the next call takes it). True once leading."""
        if self.leading:
            return True
        # Its own session, in autocommit, outside the store's write lock: a paused leader
        # holding that lock must not keep a standby from deposing it.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT",
                                                         unlocked=True)
        try:
            got = bool(conn.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({LEADER_LOCK})").scalar())
            if not got:
                self._depose_stale(conn)
                conn.close()
                return False
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() or 0)
            epoch = self._take(pid)
        except BaseException:
            conn.close()
            raise
        self._conn, self._epoch = conn, epoch
        self._renewed = self._monotonic()
        self._lost.clear()
        log.info("leader.acquired", instance=self.instance, epoch=epoch)
        return True

    def _take(self, pid: int) -> int:
        """Raise the epoch and write ourselves in, in one write transaction (serialised with
        every fenced transaction of the leader before us)."""
        with self._engine.begin() as tx:
            row = tx.execute(
                leader_lease.update().where(leader_lease.c.name == LEASE_NAME)
                .values(epoch=leader_lease.c.epoch + 1, holder=self.instance, backend_pid=pid,
                        renewed_at=sa.func.now())
                .returning(leader_lease.c.epoch)).first()
            if row is None:  # the migration inserts the row; a copied database may lack it
                tx.execute(leader_lease.insert().values(
                    name=LEASE_NAME, epoch=1, holder=self.instance, backend_pid=pid,
                    renewed_at=sa.func.now()))
                return 1
            return int(row.epoch)

    def _depose_stale(self, conn: Connection) -> None:
        lease = self.read(conn)
        if lease is None or lease.age is None or lease.age < self.lease or not lease.backend_pid:
            return
        # Only while that session still holds the leader lock; then every session of its
        # process (named alike: `engine.application_name`), since a paused leader may hold
        # the store's write lock in another one, which would stall everyone.
        ended = conn.execute(sa.text(
            "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a WHERE "
            "a.application_name = (SELECT h.application_name FROM pg_stat_activity h "
            "JOIN pg_locks l ON l.pid = h.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND h.pid = :pid AND ((l.classid::bigint << 32) | l.objid::bigint) = :key) "
            "AND a.application_name <> '' AND a.pid <> pg_backend_pid()"),
            {"pid": lease.backend_pid, "key": LEADER_LOCK}).all()
        if ended:
            log.warning("leader.deposed", holder=lease.holder, epoch=lease.epoch,
                        lease_age=round(lease.age.total_seconds(), 1))

    def read(self, conn: Connection | None = None) -> Lease | None:
        """The lease row (None when there is none)."""
        if conn is not None:
            return read_lease(conn)
        with self._engine.connect() as own:
            own = own.execution_options(readonly=True)
            try:
                return read_lease(own)
            finally:
                own.rollback()

    # -- leader ---------------------------------------------------------------------------------

    def renew(self) -> bool:
        """Renew the lease on the lock session; False (and leadership lost) when the session
        is gone or the epoch is no longer ours."""
        conn, epoch = self._conn, self._epoch
        if conn is None or epoch is None or self._lost.is_set():
            return False
        try:
            done = conn.execute(
                leader_lease.update().where(leader_lease.c.name == LEASE_NAME,
                                            leader_lease.c.epoch == epoch)
                .values(renewed_at=sa.func.now())).rowcount == 1
        except sa.exc.DBAPIError as exc:
            self._lose("the lock session failed", type(exc).__name__)
            return False
        if not done:
            self._lose("another instance took over", "epoch")
            return False
        self._renewed = self._monotonic()
        return True

    def still_leader(self) -> bool:
        """Whether this process may still write outside the database: leading, and the last
        renewal younger than the lease by our own monotonic clock (a long pause fails it)."""
        if not self.leading:
            return False
        overdue = self._monotonic() - self._renewed >= self.lease.total_seconds()
        if overdue:
            self._lose("the lease was not renewed in time", "overdue")
        return not overdue

    def confirm(self) -> bool:
        """Whether this instance still leads, asked of the database (after a component
        failed: a session ended by a standby looks like any database error). An answer that
        cannot be had counts as no: the instance stops and comes back as a standby."""
        if not self.leading:
            return False
        try:
            lease = self.read()
        except sa.exc.SQLAlchemyError:
            self._lose("the database did not answer", "unreachable")
            return False
        if lease is None or lease.epoch != self._epoch:
            self._lose("another instance took over", "epoch")
            return False
        return True

    def guard(self) -> None:
        """Right before a write outside the database (GitHub, SMTP): Fenced unless
        `still_leader`."""
        if not self.still_leader():
            raise Fenced("this instance no longer holds the lease: it writes nothing more")

    def lease_age_seconds(self) -> float | None:
        """Seconds since the lease was last renewed, by the database's clock (for /metrics
        and /healthz); None when it cannot be read."""
        try:
            lease = self.read()
        except sa.exc.DBAPIError:
            return None
        return lease.age.total_seconds() if lease is not None and lease.age else None

    def fence(self, conn: Connection) -> None:
        """The check at the start of each of the leader's write transactions."""
        epoch = self._epoch
        if epoch is None or self._lost.is_set():
            raise Fenced("this instance is not the leader")
        found = conn.execute(sa.select(leader_lease.c.epoch).where(
            leader_lease.c.name == LEASE_NAME)).scalar()
        if found != epoch:
            self._lose("another instance took over", "epoch")
            raise Fenced(f"the lease's epoch is {found}, not ours ({epoch}): another instance "
                         "leads")

    def _lose(self, reason: str, why: str) -> None:
        if not self._lost.is_set():
            self._lost.set()
            log.error("leader.lost", instance=self.instance, epoch=self._epoch, reason=reason,
                      why=why)

    @property
    def lost(self) -> threading.Event:
        """Set once leadership is lost: the process must stop leading (it exits)."""
        return self._lost

    def release(self) -> None:
        """Give the lock back (a clean stop): a standby takes over at its next poll."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LEADER_LOCK})")
            except sa.exc.SQLAlchemyError:
                pass  # the session is gone (or broken): the lock went with it
            finally:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    conn.close()
