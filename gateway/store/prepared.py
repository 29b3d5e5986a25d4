"""A Core statement compiled once per dialect and run on the driver's own cursor.

SQLAlchemy's execution path costs about 45 µs a statement (cache key, execution context,
events, result metadata) where SQLite itself runs a webhook's small statements in 3 µs. For
the few statements every webhook delivery runs, `Prepared` keeps SQLAlchemy's SQL and its type
conversions and leaves out the rest: the statement is compiled by SQLAlchemy for the
connection's dialect once (with the parameter names it will be given, as `Connection.execute`
would compile it), and every bound value and every result column goes through the processors
SQLAlchemy itself would use (`dialect_impl(dialect).bind_processor / result_processor`), so
what is written and read is what `conn.execute` writes and reads. Both engines' test runs of
the tracking service go through it.

What it leaves out, on purpose: statement events (the store's own listeners are on `connect`,
`begin`, `commit`, `rollback` and `before_cursor_execute`, which still run for SQLAlchemy's
statements), SQLAlchemy's compiled-statement cache (each `Prepared` is its own), and
`executemany`. A statement with expanding or literal parameters is refused at compile time.

A write whose outcome nobody reads can be queued instead (`later`): the queued writes go out
together (`flush`) before anything else runs on the connection and before the commit, and are
forgotten on a rollback (`gateway.store.engine` registers the listeners that do it). On
PostgreSQL (psycopg's pipeline mode) they share a round trip with what follows them: the
statements of `run` and `run_together`, or the COMMIT (`flush_and_commit`); a transaction's
opening statement is queued the same way (`queue_sql`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.expression import Executable

_GIVEN = object()  # a parameter the caller gives


_PENDING = "gateway.pending_writes"  # key in Connection.info: the writes `later` queued
_IMMEDIATE: ContextVar[bool] = ContextVar("immediate_writes", default=False)


@contextlib.contextmanager
def immediate_writes() -> Iterator[None]:
    """`Prepared.later` runs its statement at once in this context (for comparing the two in
    tests, and for debugging a write that fails)."""
    token = _IMMEDIATE.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(token)


def flush(conn: Connection) -> None:
    """Send the writes `Prepared.later` queued on `conn`, in the order they were queued: on
    PostgreSQL in one round trip (psycopg's pipeline mode), on SQLite one after another. The
    store calls it before anything else runs on the connection (a statement through
    SQLAlchemy, a savepoint) and before the commit; a failing write raises here, and its
    transaction is rolled back as any other failure's."""
    if conn.info.get(_PENDING):
        _send(conn, ())


def flush_and_commit(conn: Connection) -> bool:
    """On PostgreSQL, with writes queued: send them and the COMMIT in one round trip (the
    driver's commit that SQLAlchemy makes next finds nothing to do). False, and nothing done,
    when there is nothing queued or no pipeline: the caller flushes and commits as usual."""
    if not conn.info.get(_PENDING) or not pipelined(conn):
        return False
    _send(conn, (), commit=True)
    return True


def queue_sql(conn: Connection, sql: str, args: Any = None) -> None:
    """Queue SQL with the writes (`flush` sends it in order): `Prepared.later`'s statements,
    and a transaction's opening statement on PostgreSQL, which then shares a round trip with
    the first statements that follow it."""
    conn.info.setdefault(_PENDING, []).append((sql, args))


def pipelined(conn: Connection) -> bool:
    """Whether queued statements share round trips on `conn` (PostgreSQL, libpq 14+)."""
    return conn.dialect.name == "postgresql" and _pipelines()


def _send(conn: Connection, bound: Sequence[tuple[_Compiled, Any]], *,
          commit: bool = False) -> list[Any]:
    """The queued writes, then `bound` (each on a cursor of its own, returned open for its
    results), then the COMMIT if asked (only with a pipeline): on PostgreSQL in one pipeline,
    that is one round trip; otherwise one after another. A failure is SQLAlchemy's error,
    naming the statement (or the pipeline) but never the values."""
    queued = conn.info.get(_PENDING) or []
    conn.info[_PENDING] = []
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    pipeline = pipelined(conn) and (len(queued) + len(bound) > 1 or commit)
    writes: Any = dbapi.cursor() if queued else None
    cursors = [dbapi.cursor() for _ in bound]
    where = "(queued writes)"
    try:
        with dbapi.pipeline() if pipeline else contextlib.nullcontext():
            for sql, args in queued:
                writes.execute(sql, args)
            for cursor, (compiled, args) in zip(cursors, bound, strict=True):
                where = compiled.sql
                cursor.execute(compiled.sql, args)
            if commit:
                dbapi.commit()
    except Exception as exc:
        for cursor in cursors:
            cursor.close()
        if pipeline:
            where = f"(a pipeline: {len(queued)} queued writes, then {len(bound)} statements)"
        raise _as_sqlalchemy(conn, where, exc) from exc
    finally:
        if writes is not None:
            writes.close()
    return cursors


# psycopg converts a statement's placeholders to PostgreSQL's ($1, $2...) with a regular
# expression over the SQL, and keeps the result only for statements of at most this many
# parameters (psycopg._queries.MAX_CACHED_STATEMENT_PARAMS); a larger one pays the conversion
# at every execution. Statements built for batches should stay within it.
CACHED_PARAMETERS = 50


@functools.cache
def _pipelines() -> bool:
    """Whether psycopg's libpq has pipeline mode (libpq 14 and later; the binary package
    bundles one). Without it the queued writes go one after another, as on SQLite."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


def _as_sqlalchemy(conn: Connection, statement: str, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy would have raised it (IntegrityError,
    OperationalError, ...), so callers see one kind of error whichever way a statement ran;
    its parameters are never shown."""
    error = conn.dialect.loaded_dbapi.Error
    if not isinstance(exc, error):
        return exc
    return sa_exc.DBAPIError.instance(statement, None, exc, error, hide_parameters=True,
                                      dialect=conn.dialect)


def discard(conn: Connection) -> None:
    """Forget the writes queued on `conn` (its transaction, or savepoint, is rolled back)."""
    conn.info.pop(_PENDING, None)


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's connection under `conn` (in its transaction): for SQL that
    needs nothing of SQLAlchemy's execution path. Close it when done."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run gave: the driver's rowcount, and the rows (a named tuple each)."""

    rowcount: int
    rows: list[Any]

    def first(self) -> Any:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the driver's order
    fixed: tuple[Any, ...]  # a value the statement itself gives (`.values(status="done")`)
    binds: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    row: Callable[..., Any] | None  # the named tuple type of a result row
    results: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    def __init__(self, statement: Executable | Callable[[str], Executable],
                 keys: Sequence[str] = ()) -> None:
        """`statement`, or a function from a dialect's name to it (a dialect's own INSERT ...
        ON CONFLICT). `keys`: the parameter names it is run with, for an INSERT or UPDATE
        whose columns they choose (SQLAlchemy compiles those for the keys given)."""
        self.statement = statement
        self.keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Outcome:
        """Run it now (after the writes queued before it, in one round trip with them on
        PostgreSQL) and return what it gave."""
        return run_together(conn, [(self, params)])[0]

    def parameters(self, dialect: Dialect) -> tuple[str, ...]:
        """The parameters the driver is given, in its order: the caller's and those the
        statement fills in itself (a value in `.values(...)`), which count against
        CACHED_PARAMETERS alike."""
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        return compiled.names

    def _outcome(self, compiled: _Compiled, cursor: Any) -> Outcome:
        rows = []
        if compiled.row is not None:
            for raw in cursor.fetchall():
                rows.append(compiled.row(*(value if proc is None else proc(value)
                                           for value, proc in zip(raw, compiled.results,
                                                                  strict=True))))
        return Outcome(cursor.rowcount, rows)

    def later(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Queue it on `conn`'s transaction, for a write whose outcome nobody reads: it is
        sent with the others queued (`flush`) before the next statement, savepoint or commit,
        so the database sees the writes in the order they were made, and a batch's writes cost
        one round trip instead of one each."""
        if _IMMEDIATE.get():
            self.run(conn, params)
            return
        compiled, args = self._bound(conn, params)
        queue_sql(conn, compiled.sql, args)

    def _bound(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        """The compiled statement and its parameters as the driver takes them."""
        compiled = self._by_dialect.get(conn.dialect.name) or self._compile(conn.dialect)
        values = []
        for name, fixed, proc in zip(compiled.names, compiled.fixed, compiled.binds, strict=True):
            value = params[name] if fixed is _GIVEN or name in params else fixed
            values.append(value if proc is None else proc(value))
        args: Any = (tuple(values) if compiled.positional
                     else dict(zip(compiled.names, values, strict=True)))
        return compiled, args

    def _compile(self, dialect: Dialect) -> _Compiled:
        with self._lock:
            found = self._by_dialect.get(dialect.name)
            if found is not None:
                return found
            statement: Any = (self.statement if isinstance(self.statement, Executable)
                              else self.statement(dialect.name))
            compiled: Any = statement.compile(
                dialect=dialect, column_keys=list(self.keys) if self.keys else None)
            by_name = {name: bind for bind, name in compiled.bind_names.items()}
            if getattr(compiled, "literal_execute_params", None) or any(
                    bind.expanding for bind in by_name.values()):
                raise ValueError("Prepared takes no expanding or literal parameters")
            if getattr(compiled, "insert_prefetch", None) or getattr(
                    compiled, "update_prefetch", None):
                raise ValueError("Prepared fills in no column defaults: give every value")
            if any(bind.callable is not None for bind in by_name.values()):
                raise ValueError("Prepared takes no bindparam(callable_=...)")
            positional = bool(compiled.positional)
            names = tuple(compiled.positiontup) if positional else tuple(by_name)
            binds = tuple(by_name[name].type.dialect_impl(dialect).bind_processor(dialect)
                          for name in names)
            # A value the statement holds itself (`.values(status="done")`) unless given.
            fixed = tuple(_GIVEN if by_name[name].required else by_name[name].value
                          for name in names)
            # A SELECT's columns, or an INSERT/UPDATE's RETURNING ones. `exported_columns` of
            # a DML statement made generatively from one whose columns were already asked for
            # keeps the old (empty) answer, so RETURNING is read from the statement itself.
            columns = list(getattr(statement, "selected_columns", None)
                           or getattr(statement, "_returning", None) or ())
            row = collections.namedtuple("Row", [c.name for c in columns]) if columns else None
            results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                            for c in columns)
            made = _Compiled(compiled.string, names, fixed, binds, positional, row, results)
            self._by_dialect[dialect.name] = made
            return made


def run_together(conn: Connection,
                 runs: Sequence[tuple[Prepared, Mapping[str, Any]]]) -> list[Outcome]:
    """`Prepared.run` of each, in order, and what each gave: on PostgreSQL in one round trip
    (with the writes queued before them), on SQLite one after another. For statements none of
    which needs another's result to be written: a batch's claim and the reads it would make
    anyway. A failing one raises as `run` does; the transaction is then rolled back as after
    any failure (PostgreSQL skips the rest of the pipeline)."""
    bound = [prepared._bound(conn, params) for prepared, params in runs]
    cursors = _send(conn, bound)
    try:
        return [prepared._outcome(compiled, cursor)
                for (prepared, _), (compiled, _), cursor in zip(runs, bound, cursors,
                                                                  strict=True)]
    finally:
        for cursor in cursors:
            cursor.close()
