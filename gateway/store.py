"""The state store: SQLAlchemy Core tables and the queries the gateway needs.

One database (SQLite in WAL mode by default; the same Core code runs on PostgreSQL). Schema
changes go through alembic migrations in `gateway/migrations/`, applied on open. Every write that
must be atomic (a message's verdict with its outbox rows and thread ids) is one transaction
here. This module knows nothing about email or GitHub semantics; it stores values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


messages = sa.Table(
    "messages",
    metadata,
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("message_id", sa.String(600), nullable=True, index=True),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("folder", sa.String(255), nullable=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=True),
    sa.Column("uid", sa.BigInteger, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # stored | processed
    sa.Column("verdict", sa.String(20), nullable=True),
    sa.Column("reason", sa.String(100), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("thread_id", sa.String(64), nullable=True, index=True),
    sa.Column("processed_at", UTCDateTime, nullable=True),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("thread_id", sa.String(64), primary_key=True),
    sa.Column("issue_number", sa.Integer, nullable=True, unique=True),
    sa.Column("root_key", sa.String(600), nullable=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("customers", sa.Text, nullable=False, server_default="[]"),  # JSON list
    sa.Column("arrived_at", UTCDateTime, nullable=True),
    sa.Column("assignee", sa.String(100), nullable=True),
    sa.Column("first_response_at", UTCDateTime, nullable=True),
    sa.Column("first_response_by", sa.String(100), nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

message_ids = sa.Table(
    "message_ids",
    metadata,
    sa.Column("message_id", sa.String(600), primary_key=True),
    sa.Column("thread_id", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(20), nullable=False),  # inbound | github | outbound
    sa.Column("created_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(700), nullable=False, unique=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("thread_id", sa.String(64), nullable=True, index=True),
    sa.Column("message_key", sa.String(600), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),  # pending|done|failed|dropped
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("guid", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(50), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("result", sa.String(50), nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("done_at", UTCDateTime, nullable=False),
)

mailbox_state = sa.Table(
    "mailbox_state",
    metadata,
    sa.Column("folder", sa.String(255), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    key: str
    seq: int
    message_id: str | None
    raw: bytes
    received_at: dt.datetime
    status: str
    verdict: str | None
    reason: str | None
    thread_id: str | None
    uid: int | None


@dataclass(frozen=True, slots=True)
class NewThread:
    thread_id: str
    issue_number: int | None
    root_key: str | None
    title: str
    customers: tuple[str, ...]
    arrived_at: dt.datetime | None
    assignee: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    key: str
    kind: str
    thread_id: str | None
    message_key: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recorded:
    """Everything one processed message writes, applied in one transaction."""

    key: str
    verdict: str
    reason: str
    detail: str
    thread_id: str | None
    new_thread: NewThread | None
    ids: tuple[tuple[str, str, str], ...]  # (message_id, thread_id, source)
    outbox: tuple[OutboxRow, ...]
    add_customers: tuple[str, ...] = ()


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
        # IMAP thread and the GitHub writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, synchronous: str = "full") -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine, synchronous)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """Queries over the state database. Thread-safe: each call uses its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, synchronous: str = "full", migrate: bool = True) -> Store:
        engine = create_engine(url, synchronous=synchronous)
        if migrate:
            from gateway.migrate import upgrade

            upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

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
        """Store a raw message unless its key is known. Returns (inserted, the stored row)."""
        with self.transaction() as conn:
            existing = conn.execute(sa.select(messages).where(messages.c.key == key)).first()
            if existing is not None:
                return False, _stored(existing)
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(messages.c.seq), 0))
            ).scalar_one()
            conn.execute(
                messages.insert().values(
                    key=key,
                    seq=seq + 1,
                    message_id=message_id,
                    raw=raw,
                    size=len(raw),
                    folder=folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    received_at=received_at,
                    status="stored",
                )
            )
            row = conn.execute(sa.select(messages).where(messages.c.key == key)).one()
            return True, _stored(row)

    def get_message(self, key: str) -> StoredMessage | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(messages).where(messages.c.key == key)).first()
            return _stored(row) if row is not None else None

    def unprocessed_keys(self) -> list[str]:
        """Messages stored but not yet decided (a crash between steps 1 and 2), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.key)
                .where(messages.c.status == "stored")
                .order_by(messages.c.seq)
            )
            return [row.key for row in rows]

    # -- threads and ids ---------------------------------------------------------------------

    def threads_for_ids(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(message_ids.c.message_id, message_ids.c.thread_id).where(
                    message_ids.c.message_id.in_(list(ids))
                )
            )
            return {row.message_id: row.thread_id for row in rows}

    def threads_for_issues(self, numbers: Iterable[int]) -> dict[int, str]:
        numbers = list(numbers)
        if not numbers:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(threads.c.issue_number, threads.c.thread_id).where(
                    threads.c.issue_number.in_(numbers)
                )
            )
            return {row.issue_number: row.thread_id for row in rows}

    def threads_for_message_keys(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.key, messages.c.thread_id).where(
                    messages.c.key.in_(list(keys)), messages.c.thread_id.is_not(None)
                )
            )
            return {row.key: row.thread_id for row in rows}

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(threads).where(threads.c.thread_id == thread_id)).first()
            return dict(row._mapping) if row is not None else None

    def record(self, rec: Recorded, *, now: dt.datetime) -> None:
        """Write a message's verdict, its thread, ids and outbox rows atomically."""
        with self.transaction() as conn:
            if rec.new_thread is not None:
                _insert_ignore(
                    conn,
                    threads,
                    "thread_id",
                    rec.new_thread.thread_id,
                    {
                        "thread_id": rec.new_thread.thread_id,
                        "issue_number": rec.new_thread.issue_number,
                        "root_key": rec.new_thread.root_key,
                        "title": rec.new_thread.title,
                        "customers": json.dumps(list(rec.new_thread.customers)),
                        "arrived_at": rec.new_thread.arrived_at,
                        "assignee": rec.new_thread.assignee,
                        "created_at": now,
                    },
                )
            if rec.add_customers and rec.thread_id:
                row = conn.execute(
                    sa.select(threads.c.customers).where(threads.c.thread_id == rec.thread_id)
                ).first()
                if row is not None:
                    known = json.loads(row.customers)
                    merged = known + [c for c in rec.add_customers if c not in known]
                    if merged != known:
                        conn.execute(
                            threads.update()
                            .where(threads.c.thread_id == rec.thread_id)
                            .values(customers=json.dumps(merged))
                        )
            for message_id, thread_id, source in rec.ids:
                _insert_ignore(
                    conn,
                    message_ids,
                    "message_id",
                    message_id,
                    {
                        "message_id": message_id,
                        "thread_id": thread_id,
                        "source": source,
                        "created_at": now,
                    },
                )
            for item in rec.outbox:
                _insert_ignore(
                    conn,
                    outbox,
                    "key",
                    item.key,
                    {
                        "key": item.key,
                        "kind": item.kind,
                        "thread_id": item.thread_id,
                        "message_key": item.message_key,
                        "payload": json.dumps(item.payload),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            conn.execute(
                messages.update()
                .where(messages.c.key == rec.key)
                .values(
                    status="processed",
                    verdict=rec.verdict,
                    reason=rec.reason,
                    detail=rec.detail or None,
                    thread_id=rec.thread_id,
                    processed_at=now,
                )
            )

    # -- outbox (read side; the writer lives in gateway.outbound) ---------------------------------

    def outbox_rows(self, *, status: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = sa.select(outbox).order_by(outbox.c.id)
            if status:
                query = query.where(outbox.c.status == status)
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- mailbox cursor ---------------------------------------------------------------------

    def mailbox_cursor(self, folder: str) -> tuple[int, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(mailbox_state).where(mailbox_state.c.folder == folder)
            ).first()
            return (row.uidvalidity, row.last_uid) if row is not None else None

    def set_mailbox_cursor(
        self, folder: str, uidvalidity: int, last_uid: int, *, now: dt.datetime
    ) -> None:
        with self.transaction() as conn:
            updated = conn.execute(
                mailbox_state.update()
                .where(mailbox_state.c.folder == folder)
                .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(
                    mailbox_state.insert().values(
                        folder=folder, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
                    )
                )


def _insert_ignore(
    conn: Connection, table: sa.Table, pk: str, value: Any, values: dict[str, Any]
) -> bool:
    exists = conn.execute(sa.select(table.c[pk]).where(table.c[pk] == value)).first()
    if exists is not None:
        return False
    conn.execute(table.insert().values(**values))
    return True


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
    )
