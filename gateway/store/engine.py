"""The engine and what differs between database dialects: SQLite's pragmas and locking, and
the insert-or-ignore statement each dialect spells its own way.

Holds `create_engine` (a SQLite file's directory created, WAL and `BEGIN IMMEDIATE` set up on
every connection; other URLs get a pre-pinged pool) and `insert_or_ignore`. PostgreSQL support
(issue 18) changes this module. It must not hold the gateway's queries (`db` has them) nor know
its tables beyond the `sa.Table` it is handed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.store.errors import DatabaseUnavailable, driver_missing, location_error


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
    cache_key = (conn.dialect.name, table.name)
    statement = _INSERT_CACHE.get(cache_key)
    if statement is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(table).on_conflict_do_nothing(index_elements=keys)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
        _INSERT_CACHE[cache_key] = statement
    return statement
