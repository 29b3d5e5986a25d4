"""The engine and what differs between database dialects: how each one locks and isolates a
transaction, its session settings, and the insert-or-ignore statement each spells its own way.

Holds `create_engine`, `insert_or_ignore`, `bytewise` and `after_copy`. It must not hold the
gateway's queries (`db` has them) nor know its tables beyond the `sa.Table` it is handed.

The code above the store was written for SQLite's guarantee, and keeps it on every engine:
**write transactions (`Store.tx`, migrations) run one at a time; reads (`Store.read`) never wait
for them and see one snapshot.** Every read-modify-write in a `tx()` block (a cursor moved, a
value replaced, a thread's issue claimed, a delegation revived, an outbox row's transition) is
therefore safe without row locks, and no block needs to be written to be retried.

- SQLite (the file's directory created; WAL; `synchronous` from config): a write transaction
  is `BEGIN IMMEDIATE`, which takes the database's write lock up front (waiting up to the
  30 s busy timeout), so no transaction upgrades a read lock into a deadlock. A read is a
  deferred `BEGIN`: a WAL snapshot taken at its first read. Within one process the write
  transactions first take turns on a lock of the process's own, one per database file
  (`write_turn`): a thread waiting for it wakes the moment the holder commits, where SQLite's
  busy handler sleeps and looks again (after 1, 2, 5 ... up to 100 ms each time), so a writer
  overslept every commit it waited for and could lose each race to the others for a second
  (the mail sender did, beside the intake and the GitHub writer). Other processes (the
  command line) still meet the busy handler, which is what it is for.
- PostgreSQL (`postgresql+psycopg://`): a write transaction starts by taking one transaction-
  level advisory lock, `pg_advisory_xact_lock(WRITE_LOCK)`, released by its COMMIT or
  ROLLBACK, at READ COMMITTED: once a writer holds the lock every earlier writer has committed,
  and each of its statements sees their rows, exactly as after `BEGIN IMMEDIATE`. A read is
  `REPEATABLE READ, READ ONLY`: one snapshot for the whole block, as in WAL mode, and a write
  there is an error instead of a silent lock upgrade. Why not SERIALIZABLE: its
  serialization failures must be answered by running the transaction again, and a `with
  store.tx()` block cannot be re-run by the store (its body is the caller's, and may have
  side effects); why not `SELECT ... FOR UPDATE`: each caller would have to know which rows it
  is about to change (and lock rows that do not exist yet), spreading the engine's difference
  over every module that writes. The cost is SQLite's: writers queue, which one process with
  a few threads does not notice; the group commit of issue 18 relaxes it where it matters.
  Both opening statements are queued (`gateway.store.prepared.queue_sql`) rather than sent at
  BEGIN: they go out first, before anything else the transaction runs, in one round trip with
  its first statements; and a transaction's last queued writes go with its COMMIT
  (`flush_and_commit`). A webhook batch is then three round trips: psycopg's own BEGIN, the
  lock with the claim and the reads, the writes with the COMMIT.
  Session settings: `TimeZone=UTC`, and `lock_timeout` = SQLite's busy timeout (30 s), after
  which a waiting writer fails (an OperationalError, as "database is locked" is on SQLite).
  `preserve_rowcount`: psycopg's rowcount of an INSERT (0 when ON CONFLICT DO NOTHING skipped
  it) is what the callers of `insert_or_ignore` use to tell who inserted first; SQLAlchemy
  keeps it only for UPDATE and DELETE unless asked. Text sorts by the database's collation
  (often a locale's), where SQLite compares bytes: an ORDER BY on text uses `bytewise`.
  A pooled session is checked when it is taken from the pool (`_checked_sessions`) without a
  round trip: one the server ended (`pg_terminate_backend`, a restart, a failover) has
  something to read, its FATAL notice or the end of the stream, and only such a session, or one
  idle for longer than PING_AFTER seconds (a middlebox may have dropped it silently), is pinged;
  a dead one is replaced before the caller sees it. SQLAlchemy's `pool_pre_ping` pinged every
  checkout: a round trip for every transaction (a fifth of a webhook batch's time).
"""

from __future__ import annotations

import os
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from gateway.store.errors import DatabaseUnavailable, driver_missing, location_error
from gateway.store.prepared import discard, flush, flush_and_commit, pipelined, queue_sql


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock-prone lock upgrades between the
        # IMAP thread and the GitHub writer. Reads (Store.read) must not take it.
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


_TURNS: dict[str, threading.Lock] = {}  # a SQLite database's path -> its write turn
_TURNS_GUARD = threading.Lock()
TURN_TIMEOUT = 30.0  # seconds a write transaction waits for its turn: SQLite's busy timeout


def write_turn(engine: Engine) -> Callable[[], AbstractContextManager[None]]:
    """What a write transaction on `engine` holds around its BEGIN and COMMIT: on SQLite the
    turn of this process's writers to that file (module docstring), on PostgreSQL nothing (its
    advisory lock queues the waiters itself and wakes the next at once). Waiting longer than
    TURN_TIMEOUT fails as SQLite does when its busy timeout runs out ("database is locked")."""
    if engine.dialect.name != "sqlite":
        return nullcontext
    database = engine.url.database or ""
    key = (os.path.realpath(database) if database and database != ":memory:"
           else f"engine-{id(engine)}")
    with _TURNS_GUARD:
        turn = _TURNS.setdefault(key, threading.Lock())

    @contextmanager
    def held() -> Iterator[None]:
        if not turn.acquire(timeout=TURN_TIMEOUT):
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None,
                                          sqlite3.OperationalError("database is locked"))
        try:
            yield
        finally:
            turn.release()

    return held


# The key of the advisory lock every PostgreSQL write transaction takes: "vg-store" as a
# big-endian int64, in the single-key space (other advisory locks must use other keys).
WRITE_LOCK = int.from_bytes(b"vg-store", "big")
_BUSY_TIMEOUT_MS = 30000


def _postgresql_sessions(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Session settings outside any transaction, so the pool's reset rollback keeps them.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(f"SET lock_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.close()
        dbapi_conn.autocommit = autocommit

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("unlocked", False):
            return  # the leader election's own session (gateway.store.leader): never waits
        if options.get("readonly", False):
            opening = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        else:
            opening = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        if pipelined(conn):
            # Queued: it goes out first, before anything else runs in the transaction, in
            # one round trip with the first statements (`gateway.store.prepared.flush`).
            queue_sql(conn, opening)
        else:
            conn.exec_driver_sql(opening)


PING_AFTER = 10.0  # seconds a pooled PostgreSQL session may rest before it is pinged again


def _checked_sessions(engine: Engine) -> None:
    """A session taken from the pool is alive, or is replaced (module docstring)."""

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["gateway.idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("gateway.idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER \
                and not _has_news(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure: this session cannot be trusted
            raise sa.exc.DisconnectionError(f"the pooled session failed its ping "
                                            f"({type(exc).__name__})") from None


def _has_news(dbapi_conn: Any) -> bool:
    """Something waits to be read on a session between transactions, where nothing should
    (the server's goodbye, or the end of the stream), or it is closed already."""
    try:
        if dbapi_conn.closed:
            return True
        waiting = select.poll()  # poll, not select: no limit on the descriptor's number
        waiting.register(dbapi_conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(waiting.poll(0))
    except Exception:  # closed under us, or not a socket any more
        return True


def _queued_writes(engine: Engine) -> None:
    """The writes `Prepared.later` queues go out before anything else SQLAlchemy runs on the
    connection and before its commit, and are forgotten when it rolls back."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Connection, *_args: Any) -> None:
        flush(conn)

    @sa.event.listens_for(engine, "commit")
    def _on_commit(conn: Connection) -> None:
        if not flush_and_commit(conn):  # PostgreSQL: the last writes and COMMIT together
            flush(conn)

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(conn: Connection) -> None:
        discard(conn)


def application_name() -> str:
    """How this process's PostgreSQL sessions are named (`pg_stat_activity.application_name`):
    `visit-gateway@<host>:<pid>`, so the leader election can end every session of a paused
    leader (`gateway.store.leader`), and an admin can see whose sessions they are."""
    return f"visit-gateway@{socket.gethostname()[:32]}:{os.getpid()}"[:63]


def create_engine(url: str, *, synchronous: str = "full",
                  setting: str = "database.url") -> Engine:
    """An engine for `url` (no connection yet). A SQLite file's directory is created. A
    directory that cannot be, or a driver that is not installed, is a `DatabaseUnavailable`
    naming `setting`, the key that chose the database."""
    try:
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///").split("?", 1)[0]
            if path and path != ":memory:":
                try:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise location_error(Path(path), setting, exc) from None
            engine = sa.create_engine(url, connect_args={"timeout": 30,
                                                         "check_same_thread": False})
            _sqlite_pragmas(engine, synchronous)
            _queued_writes(engine)
            return engine
        if sa.engine.make_url(url).get_backend_name() == "postgresql":
            engine = sa.create_engine(url, execution_options={"preserve_rowcount": True},
                                      connect_args={"application_name": application_name()})
            _postgresql_sessions(engine)
            _checked_sessions(engine)
            _queued_writes(engine)
            return engine
        return sa.create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # the dialect's DBAPI module (psycopg, pymysql, ...)
        raise driver_missing(url, setting, exc) from None
    except sa.exc.ArgumentError as exc:  # also NoSuchModuleError: an unknown dialect
        raise DatabaseUnavailable(setting, f"not a database URL SQLAlchemy can use "
                                  f"({type(exc).__name__})",
                                  "write it as sqlite:////var/lib/visit-gateway/state.db or "
                                  "postgresql+psycopg://user@host/name") from None


_INSERT_CACHE: dict[tuple[str, str], Any] = {}


def insert_or_ignore(conn: Connection, table: sa.Table, keys: list[str]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL (built once per table)."""
    return insert_or_ignore_for(conn.dialect.name, table, keys)


def insert_or_ignore_for(dialect: str, table: sa.Table, keys: list[str]) -> Any:
    """`insert_or_ignore` for the dialect named `dialect`."""
    cache_key = (dialect, table.name)
    statement = _INSERT_CACHE.get(cache_key)
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(table).on_conflict_do_nothing(index_elements=keys)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
        _INSERT_CACHE[cache_key] = statement
    return statement


def after_copy(conn: Connection, table: sa.Table) -> None:
    """After rows were inserted into `table` with their ids given (`db copy`): on PostgreSQL,
    move the id's sequence past the largest one, or the next insert would repeat an id. SQLite
    needs nothing: a new rowid is the largest one plus one."""
    column = table.autoincrement_column
    if conn.dialect.name != "postgresql" or column is None:
        return
    sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
    conn.execute(sa.select(sa.func.setval(sequence, sa.func.coalesce(sa.func.max(column), 0) + 1,
                                          False)))


class bytewise(FunctionElement[str]):
    """A text expression compared byte by byte, as SQLite compares text, on every engine (for
    an ORDER BY that must not depend on a PostgreSQL database's locale)."""

    type = sa.String()
    name = "bytewise"
    inherit_cache = True


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(bytewise, "postgresql")
def _bytewise_postgresql(element: bytewise, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'
