"""The mail the gateway kept but did not post: read-only queries for `visit-gateway quarantine`.

A quarantined message (unparseable, no sender, too large, a bug while handling it, or a
Message-ID an earlier, different message already has) stays in the store with its reason and
raw bytes, so an admin can look at it and, if it deserves it, forward it to the list again.
Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.schema import messages


@dataclass(frozen=True, slots=True)
class Quarantined:
    key: str
    received_at: dt.datetime
    reason: str
    detail: str
    size: int
    uid: int | None


_LIST = (sa.select(messages.c.key, messages.c.received_at, messages.c.reason, messages.c.detail,
                   messages.c.size, messages.c.uid)
         .where(messages.c.verdict == "quarantine")
         .order_by(messages.c.seq.desc()))


def quarantined(store: Store, *, limit: int = 50) -> list[Quarantined]:
    """The most recent quarantined messages, newest first."""
    with store.read() as tx:
        rows = tx.conn.execute(_LIST.limit(limit))
        return [Quarantined(r.key, r.received_at, r.reason or "", r.detail or "", r.size, r.uid)
                for r in rows]


def quarantined_raw(store: Store, key: str) -> bytes | None:
    """The raw bytes of a quarantined message, or None if `key` names no quarantined one."""
    query = sa.select(messages.c.raw).where(messages.c.key == key,
                                            messages.c.verdict == "quarantine")
    with store.read() as tx:
        return tx.conn.execute(query).scalar_one_or_none()
