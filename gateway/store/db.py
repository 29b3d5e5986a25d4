"""The state store: the queries and transactions the gateway needs (tables: `schema`).

One database (SQLite in WAL mode by default; the same Core code runs on PostgreSQL, tested on
both). Schema
changes go through alembic migrations in `migrations/`, applied on open. Every write that
must be atomic (a message's verdict with its outbox rows and thread ids) is one transaction
here. The values written and read are in `values`; the engine and what differs between
dialects in `engine`. This module knows nothing about email or GitHub semantics; it stores
values, and it must not branch on the dialect (that belongs in `engine`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

from gateway.models import RawArrival
from gateway.store.engine import (
    bytewise,
    create_engine,
    insert_or_ignore,
    insert_or_ignore_for,
    write_turn,
)
from gateway.store.errors import DatabaseUnavailable, connect_error
from gateway.store.prepared import Prepared, discard, driver_cursor, flush
from gateway.store.schema import (
    effort,
    kv,
    mailbox_state,
    message_ids,
    messages,
    outbox,
    thread_customers,
    threads,
)
from gateway.store.values import NewRaw, OutboxRow, Recorded, StoredMessage

_log = structlog.get_logger("gateway.store")
_UNFENCED: ContextVar[bool] = ContextVar("unfenced", default=False)


@contextmanager
def unfenced() -> Iterator[None]:
    """Write transactions in this context (and threads started from it with
    `asyncio.to_thread`, which copies the context) skip the leader's fence: for writes any
    instance may make, a webhook's (idempotent by its delivery GUID)."""
    token = _UNFENCED.set(True)
    try:
        yield
    finally:
        _UNFENCED.reset(token)


class Store:
    """The database. Work happens in a `Tx`: `with store.tx() as tx:` for writes (one
    transaction, one at a time: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL),
    `with store.read() as tx:` for reads (no write lock, one snapshot). Thread-safe: each
    block uses its own pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._turn = write_turn(engine)  # this process's writers take turns (SQLite)
        # Run first in every write transaction (unless `unfenced`): the leader's epoch check
        # (`gateway.store.leader.Leadership.fence`) when several instances share the database.
        self.fence: Callable[[Connection], None] | None = None

    @classmethod
    def open(cls, url: str, *, synchronous: str = "full", migrate: bool = True,
             setting: str = "database.url") -> Store:
        """Open (and migrate) the database. What an admin must fix (a read-only or missing
        directory, a missing driver) is a `DatabaseUnavailable` naming `setting`; a database
        server that does not answer is a `TransientError`."""
        engine = create_engine(url, synchronous=synchronous, setting=setting)
        if migrate:
            from gateway.store.migrate import SchemaTooNew, upgrade

            try:
                upgrade(engine)
            except SchemaTooNew as exc:
                engine.dispose()
                raise DatabaseUnavailable(
                    setting, f"the database's schema is at revision {exc.revision}, which a newer "
                    "version of visit-gateway made and this one does not know",
                    "run the newer version (upgrade this host's package; docs/postgresql.md, "
                    "Upgrading)") from None
            except sa.exc.OperationalError as exc:
                engine.dispose()
                raise connect_error(url, setting, exc) from None
            except BaseException:
                engine.dispose()
                raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """A write transaction; what its work deferred with `Tx.after_commit` runs once it
        has committed (never, if it rolled back)."""
        with self._turn(), self.engine.begin() as conn:
            fence = self.fence
            if fence is not None and not _UNFENCED.get():
                fence(conn)
            tx = Tx(conn)
            yield tx
        tx.run_deferred()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(readonly=True)
            tx = Tx(conn)
            yield tx
            conn.rollback()
        tx.run_deferred()

    # Convenience wrappers for callers that need one query on its own.

    def get_message(self, key: str) -> StoredMessage | None:
        with self.read() as tx:
            return tx.get_message(key)

    def unprocessed_keys(self) -> list[str]:
        with self.read() as tx:
            return tx.unprocessed_keys()

    def outbox_rows(self, *, status: str | None = None) -> list[dict[str, Any]]:
        with self.read() as tx:
            return tx.outbox_rows(status=status)

    def threads_for_ids(self, ids: Sequence[str]) -> dict[str, str]:
        with self.read() as tx:
            return tx.threads_for_ids(ids)

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        with self.read() as tx:
            return tx.thread(thread_id)

    def mailbox_cursor(self, folder: str) -> tuple[int, int] | None:
        with self.read() as tx:
            return tx.mailbox_cursor(folder)

    def last_mail_at(self) -> dt.datetime | None:
        """When the newest stored message arrived (STATUS= "last mail at" after a restart)."""
        with self.read() as tx:
            return tx.conn.execute(sa.select(messages.c.received_at)
                                   .order_by(messages.c.seq.desc()).limit(1)).scalar()

    def set_mailbox_cursor(
        self, folder: str, uidvalidity: int, last_uid: int, *, now: dt.datetime
    ) -> None:
        with self.tx() as tx:
            tx.set_mailbox_cursor(folder, uidvalidity, last_uid, now=now)


class Tx:
    """Queries on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._savepoints = 0
        self._deferred: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def after_commit(self, effect: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Call `effect(*args, **kwargs)` once this transaction has committed: what a change
        tells the world (a log line, a metric) happens once, and only for what was kept. A
        savepoint rolled back drops what was deferred inside it; a read-only `Tx` (no commit)
        calls it when its block ends."""
        self._deferred.append((effect, args, kwargs))

    def run_deferred(self) -> None:
        """Call what `after_commit` deferred, in order (`Store` does, after the commit)."""
        deferred, self._deferred = self._deferred, []
        for effect, args, kwargs in deferred:
            try:
                effect(*args, **kwargs)
            except Exception as exc:  # the change is committed: tell, and go on with the rest
                _log.error("store.after_commit_failed", effect=getattr(effect, "__name__", "?"),
                           error=type(exc).__name__)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside undoes only what was written inside.

        Plain SQL (SAVEPOINT, RELEASE, ROLLBACK TO: the same on both engines) rather than
        SQLAlchemy's `begin_nested`, whose bookkeeping cost a third of a webhook delivery's
        write in a group commit; SQLAlchemy's own transaction is not touched."""
        self._savepoints += 1
        name = f"vg_sp{self._savepoints}"
        # Straight to the driver's cursor: SQLAlchemy has nothing to track here, and its
        # execution path was most of a savepoint's cost.
        flush(self.conn)  # writes queued before it are not the savepoint's to undo
        cursor = driver_cursor(self.conn)
        try:
            cursor.execute(f"SAVEPOINT {name}")
            deferred = len(self._deferred)
            try:
                yield
                flush(self.conn)  # a queued write that fails is this savepoint's failure
            except BaseException:
                discard(self.conn)
                del self._deferred[deferred:]
                cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
                cursor.execute(f"RELEASE SAVEPOINT {name}")
                raise
            cursor.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            cursor.close()

    # -- messages ---------------------------------------------------------------------------

    def insert_raw(
        self,
        *,
        key: str,
        message_id: str | None,
        raw: bytes,
        received_at: dt.datetime,
        folder: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
    ) -> tuple[bool, StoredMessage]:
        """Store one raw message unless its key is known. Returns (inserted, the stored row)."""
        existing = self.messages_by_keys([key])
        if existing:
            return False, existing[0]
        arrival = RawArrival(raw, received_at, folder, uidvalidity, uid)
        self.insert_raw_many([NewRaw(key, message_id, arrival)])
        return True, self.messages_by_keys([key])[0]

    def insert_raw_many(self, rows: Sequence[NewRaw]) -> None:
        """Insert raw messages whose keys the caller checked are new (insert-or-ignore)."""
        if not rows:
            return
        self.conn.execute(
            insert_or_ignore(self.conn, messages, ["key"]),
            [
                {
                    "key": r.key,
                    "message_id": r.message_id,
                    "raw": r.arrival.raw,
                    "size": len(r.arrival.raw),
                    "folder": r.arrival.folder,
                    "uidvalidity": r.arrival.uidvalidity,
                    "uid": r.arrival.uid,
                    "received_at": r.arrival.received_at,
                    "status": "stored",
                }
                for r in rows
            ],
        )

    def message_states(self, keys: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        """key -> (status, uid) for the keys already stored; raw bytes are not read."""
        if not keys:
            return {}
        rows = self.conn.execute(_MESSAGE_STATES, {"keys": list(keys)})
        return {row.key: (row.status, row.uid) for row in rows}

    def messages_by_keys(self, keys: Sequence[str]) -> list[StoredMessage]:
        """The stored messages for `keys`, in the order of `keys` (unknown keys skipped)."""
        if not keys:
            return []
        rows = self.conn.execute(_MESSAGES_BY_KEYS, {"keys": list(keys)})
        found = {row.key: _stored(row) for row in rows}
        return [found[key] for key in keys if key in found]

    def get_message(self, key: str) -> StoredMessage | None:
        found = self.messages_by_keys([key])
        return found[0] if found else None

    def unprocessed_keys(self) -> list[str]:
        """Messages stored but not yet decided (a crash between steps 1 and 2), oldest first."""
        rows = self.conn.execute(
            sa.select(messages.c.key).where(messages.c.status == "stored").order_by(messages.c.seq)
        )
        return [row.key for row in rows]

    # -- threads and ids ---------------------------------------------------------------------

    def threads_for_ids(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = self.conn.execute(_IDS_LOOKUP, {"ids": list(ids)})
        return {row.message_id: row.thread_id for row in rows}

    def threads_for_refs(self, refs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """Threads by (target, number): GitHub issues and discussions."""
        found: dict[tuple[str, int], str] = {}
        for target in sorted({target for target, _ in refs}):
            numbers = sorted({number for t, number in refs if t == target})
            rows = self.conn.execute(_REFS_LOOKUP, {"target": target, "numbers": numbers})
            found.update({(target, row.issue_number): row.thread_id for row in rows})
        return found

    def threads_for_message_keys(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self.conn.execute(
            sa.select(messages.c.key, messages.c.thread_id).where(
                messages.c.key.in_(list(keys)), messages.c.thread_id.is_not(None)
            )
        )
        return {row.key: row.thread_id for row in rows}

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(threads).where(threads.c.thread_id == thread_id)).first()
        return dict(row._mapping) if row is not None else None

    def customers(self, thread_id: str) -> list[str]:
        rows = self.conn.execute(
            sa.select(thread_customers.c.address)
            .where(thread_customers.c.thread_id == thread_id)
            .order_by(thread_customers.c.first_seen, bytewise(thread_customers.c.address))
        )
        return [row.address for row in rows]

    def record(self, rec: Recorded, *, now: dt.datetime) -> None:
        self.record_many([rec], now=now)

    def record_many(self, recs: Sequence[Recorded], *, now: dt.datetime) -> None:
        """Write decisions (verdict, new thread, ids, customers, outbox rows): a few
        executemany statements for the whole batch, inside the caller's transaction."""
        if not recs:
            return
        conn = self.conn
        new_threads = [
            {
                "thread_id": r.new_thread.thread_id,
                "issue_number": r.new_thread.issue_number,
                "root_key": r.new_thread.root_key,
                "title": r.new_thread.title,
                "arrived_at": r.new_thread.arrived_at,
                "assignee": r.new_thread.assignee,
                "target": r.new_thread.target,
                "created_at": now,
            }
            for r in recs
            if r.new_thread is not None
        ]
        if new_threads:
            conn.execute(insert_or_ignore(conn, threads, ["thread_id"]), new_threads)
        customers = [
            {"thread_id": r.thread_id, "address": c, "first_seen": now}
            for r in recs
            if r.thread_id
            for c in r.customers
        ]
        if customers:
            conn.execute(
                insert_or_ignore(conn, thread_customers, ["thread_id", "address"]), customers
            )
        ids = [
            {"message_id": m, "thread_id": t, "source": src, "created_at": now}
            for r in recs
            for m, t, src in r.ids
        ]
        if ids:
            conn.execute(insert_or_ignore(conn, message_ids, ["message_id"]), ids)
        queue_rows(conn, [item for r in recs for item in r.outbox], now)
        spent = [{"comment_id": e.comment_id, "seq": e.seq, "thread_id": r.thread_id,
                  "login": e.login, "day": e.day, "minutes": e.minutes}
                 for r in recs if r.thread_id for e in r.effort]
        if spent:
            conn.execute(insert_or_ignore(conn, effort, ["target", "comment_id", "seq"]), spent)
        responses = [
            {"t": r.thread_id, "by": r.responder[0], "at": r.responder[1]}
            for r in recs
            if r.responder and r.thread_id
        ]
        if responses:
            conn.execute(_EARLIER_RESPONSE, responses)
            conn.execute(_LATER_TEAM, responses)
        customer_at = [{"t": r.thread_id, "at": r.customer_at} for r in recs
                       if r.customer_at is not None and r.thread_id]
        if customer_at:
            conn.execute(_LATER_CUSTOMER, customer_at)
        conn.execute(
            _MARK_PROCESSED,
            [
                {
                    "k": r.key,
                    "verdict": r.verdict,
                    "reason": r.reason,
                    "detail": r.detail or None,
                    "thread_id": r.thread_id,
                    "processed_at": now,
                }
                for r in recs
            ],
        )

    # -- outbox (read side; the writer lives in gateway.outbound) ---------------------------------

    def outbox_rows(self, *, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(outbox).order_by(outbox.c.id)
        if status:
            query = query.where(outbox.c.status == status)
        return [dict(row._mapping) for row in self.conn.execute(query)]

    # -- mailbox cursor ---------------------------------------------------------------------

    def mailbox_cursor(self, folder: str) -> tuple[int, int] | None:
        row = self.conn.execute(
            sa.select(mailbox_state).where(mailbox_state.c.folder == folder)
        ).first()
        return (row.uidvalidity, row.last_uid) if row is not None else None

    def set_mailbox_cursor(
        self, folder: str, uidvalidity: int, last_uid: int, *, now: dt.datetime
    ) -> None:
        updated = self.conn.execute(
            mailbox_state.update()
            .where(mailbox_state.c.folder == folder)
            .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
        )
        if updated.rowcount == 0:
            self.conn.execute(
                mailbox_state.insert().values(
                    folder=folder, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
                )
            )

    # -- small named values (kv) --------------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        return self.conn.execute(sa.select(kv.c.value).where(kv.c.key == key)).scalar()

    def put_value(self, key: str, value: str, *, now: dt.datetime) -> None:
        if self.conn.execute(kv.update().where(kv.c.key == key)
                             .values(value=value, updated_at=now)).rowcount == 0:
            self.conn.execute(kv.insert().values(key=key, value=value, updated_at=now))


_MESSAGES_BY_KEYS = sa.select(messages).where(
    messages.c.key.in_(sa.bindparam("keys", expanding=True))
)
_MESSAGE_STATES = sa.select(messages.c.key, messages.c.status, messages.c.uid).where(
    messages.c.key.in_(sa.bindparam("keys", expanding=True))
)
_IDS_LOOKUP = sa.select(message_ids.c.message_id, message_ids.c.thread_id).where(
    message_ids.c.message_id.in_(sa.bindparam("ids", expanding=True))
)
_REFS_LOOKUP = sa.select(threads.c.issue_number, threads.c.thread_id).where(
    threads.c.target == sa.bindparam("target"),
    threads.c.issue_number.in_(sa.bindparam("numbers", expanding=True)),
)
# The earliest response wins, however events arrive (see gateway.tracking.rules).
_EARLIER_RESPONSE = (
    threads.update()
    .where(
        threads.c.thread_id == sa.bindparam("t"),
        sa.or_(
            threads.c.first_response_at.is_(None),
            threads.c.first_response_at > sa.bindparam("at"),
        ),
    )
    .values(first_response_at=sa.bindparam("at"), first_response_by=sa.bindparam("by"))
)
# The stale rule's clocks: the latest reply of each side wins, in any order of arrival.
_LATER_TEAM = (
    threads.update()
    .where(threads.c.thread_id == sa.bindparam("t"),
           sa.or_(threads.c.last_team_at.is_(None),
                  threads.c.last_team_at < sa.bindparam("at")))
    .values(last_team_at=sa.bindparam("at"), last_team_comment=None)
)
_LATER_CUSTOMER = (
    threads.update()
    .where(threads.c.thread_id == sa.bindparam("t"),
           sa.or_(threads.c.last_customer_at.is_(None),
                  threads.c.last_customer_at < sa.bindparam("at")))
    .values(last_customer_at=sa.bindparam("at"))
)
_MARK_PROCESSED = (
    messages.update()
    .where(messages.c.key == sa.bindparam("k"))
    .values(
        status="processed",
        verdict=sa.bindparam("verdict"),
        reason=sa.bindparam("reason"),
        detail=sa.bindparam("detail"),
        thread_id=sa.bindparam("thread_id"),
        processed_at=sa.bindparam("processed_at"),
    )
)


_QUEUE_KEYS = ("key", "kind", "thread_id", "message_key", "payload", "status", "attempts",
               "next_attempt_at", "created_at", "updated_at")
_QUEUE_ONE = Prepared(lambda dialect: insert_or_ignore_for(dialect, outbox, ["key"]), _QUEUE_KEYS)


def queue_rows(conn: Connection, rows: Sequence[OutboxRow], now: dt.datetime, *,
               later: bool = False) -> None:
    """Queue outbox rows, due now; a row whose key is already queued is left as it is.
    `later`: a single row's INSERT is itself queued (`Prepared.later`) and goes out with the
    next statement or the COMMIT, where an error in it surfaces."""
    values = [{"key": r.key, "kind": r.kind, "thread_id": r.thread_id,
               "message_key": r.message_key, "payload": json.dumps(r.payload),
               "status": "pending", "attempts": 0, "next_attempt_at": now,
               "created_at": now, "updated_at": now} for r in rows]
    if len(values) == 1:  # the usual case (a follow-up, an acknowledgement): the cheap path
        (_QUEUE_ONE.later if later else _QUEUE_ONE.run)(conn, values[0])
    elif values:
        conn.execute(insert_or_ignore(conn, outbox, ["key"]), values)


def _stored(row: Any) -> StoredMessage:
    return StoredMessage(
        key=row.key,
        seq=row.seq,
        message_id=row.message_id,
        raw=row.raw,
        received_at=row.received_at,
        status=row.status,
        verdict=row.verdict,
        reason=row.reason,
        thread_id=row.thread_id,
        uid=row.uid,
        folder=row.folder,
    )
