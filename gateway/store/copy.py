"""Copy the state database to another engine (`visit-gateway db copy`), and verify the copy.

`copy_database` reads every table of `schema` from a source engine in one snapshot, batch by
batch (raw messages can be large: never a whole table in memory), and writes them to a target
already migrated to head, in one transaction: a copy that fails leaves the target as it was.
Tables go in dependency order (`metadata.sorted_tables`); keys, ids and timestamps are kept as
they are, and the target's id sequences are moved past the copied ids (`engine.after_copy`).
`table_digest` then reads both sides again: a count and a digest per table, which must match.

The digest is the sum, modulo 2**256, of one SHA-256 per row over its values as the schema's
types read them back (aware UTC datetimes, bytes, bools): independent of row order, since text
keys sort differently under SQLite's binary and PostgreSQL's locale collation, and still
sensitive to a row lost, added, doubled or changed. No gateway semantics here; no printing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.store.engine import after_copy
from gateway.store.schema import metadata

BATCH = 500  # rows per read and per INSERT; a few MB at most with raw messages


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table on one side: its row count and digest."""

    table: str
    rows: int
    digest: str


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    source: TableCheck
    target: TableCheck

    @property
    def same(self) -> bool:
        return self.source == self.target


class TargetNotEmpty(Exception):
    """The target already holds rows (`tables`: those that do) and replacing was not asked."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(", ".join(tables))
        self.tables = tables


def tables() -> list[sa.Table]:
    """The tables a copy moves, in dependency order: all but the leader lease, which belongs
    to the instances running on a database, not to its data (the target keeps its own row)."""
    return [t for t in metadata.sorted_tables if t.name != "leader_lease"]


def non_empty(conn: Connection) -> list[str]:
    """The tables that hold at least one row."""
    return [t.name for t in tables()
            if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()]


def copy_database(source: Engine, target: Engine, *, replace: bool = False,
                  batch: int = BATCH) -> list[TableCopy]:
    """Copy every row from `source` to `target` (both at the head revision), then verify it.
    A target with rows is refused (TargetNotEmpty) unless `replace`, which deletes them in the
    same transaction as the copy."""
    with source.connect() as reading, target.begin() as writing:
        reading = reading.execution_options(readonly=True)  # one snapshot (Store.read)
        found = non_empty(writing)
        if found and not replace:
            raise TargetNotEmpty(found)
        for table in reversed(tables() if found else []):
            writing.execute(table.delete())
        for table in tables():
            for rows in _batches(reading, table, batch):
                writing.execute(table.insert(), rows)
            after_copy(writing, table)
        reading.rollback()
    return [TableCopy(table.name, table_digest(source, table), table_digest(target, table))
            for table in tables()]


def table_digest(engine: Engine, table: sa.Table, *, batch: int = BATCH) -> TableCheck:
    """`table`'s row count and order-independent digest on `engine` (see the module)."""
    total, rows = 0, 0
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)
        for chunk in _batches(conn, table, batch):
            for row in chunk:
                data = "\x1f".join(_canonical(row[c.name]) for c in table.columns)
                total += int.from_bytes(hashlib.sha256(data.encode()).digest(), "big")
                rows += 1
        conn.rollback()
    return TableCheck(table.name, rows, f"{total % 2**256:064x}")


def _batches(conn: Connection, table: sa.Table, size: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of `table`, `size` at a time, streamed (a server-side cursor on PostgreSQL)."""
    query = sa.select(table).order_by(*table.primary_key.columns)
    # On the statement, not the connection: BEGIN's own statements are no cursor's.
    result = conn.execute(query.execution_options(yield_per=size))
    for partition in result.mappings().partitions():
        yield [dict(row) for row in partition]


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bytes | bytearray | memoryview):
        return "b:" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        return "t:" + value.astimezone(dt.UTC).isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{type(value).__name__}:{value}"
