"""The delegations table's queries: add one (idempotently), list those in a window, cancel one.

A delegation row says that `from_login` hands the Primary role to `to_login` over
[start, until). The rows are plain values (`DelegationRow`); what a delegation means for the
schedule, and whether one may be made, is decided above (`gateway.duty.delegation`,
`gateway.weekly.delegation`). Each function works inside the caller's `Tx`, so a delegation and
the notice that announces it are written in one transaction. Cancelling keeps the row: it ends
at `cancelled_at` (before it began: it never takes effect). No schedule, email or GitHub
semantics here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.store.db import Tx
from gateway.store.engine import insert_or_ignore
from gateway.store.schema import delegations


@dataclass(frozen=True, slots=True)
class DelegationRow:
    id: int
    from_login: str
    to_login: str
    start: dt.datetime
    until: dt.datetime  # as recorded; `ends` says when it ends after a cancellation
    created_at: dt.datetime
    created_by: str
    source: str  # "cli" | "command"
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = None

    @property
    def ends(self) -> dt.datetime:
        """When it stops being in force: `until`, or earlier when it was cancelled."""
        if self.cancelled_at is None:
            return self.until
        return max(self.start, min(self.until, self.cancelled_at))

    @property
    def void(self) -> bool:
        """Cancelled before it began: it never took effect."""
        return self.ends <= self.start


def add_delegation(tx: Tx, *, from_login: str, to_login: str, start: dt.datetime,
                   until: dt.datetime, created_by: str, source: str,
                   now: dt.datetime) -> tuple[DelegationRow, bool]:
    """Record a delegation; (the row, whether this call added or revived it). The same
    (from, to, start, until) given again adds no second row: it returns the first, and one
    that was cancelled is in force again (`cancelled_at` cleared)."""
    key = {"from_login": from_login, "to_login": to_login, "start_at": start, "until_at": until}
    existing = _find(tx, key)
    if existing is not None:
        if existing.cancelled_at is None:
            return existing, False
        tx.conn.execute(delegations.update().where(delegations.c.id == existing.id)
                        .values(cancelled_at=None, cancelled_by=None))
        return _by_id(tx, existing.id), True
    added = tx.conn.execute(insert_or_ignore(tx.conn, delegations, list(key)), {
        **key, "created_at": now, "created_by": created_by, "source": source}).rowcount == 1
    row = _find(tx, key)
    assert row is not None  # just inserted, or inserted by a concurrent transaction
    return row, added


def delegations_between(tx: Tx, lo: dt.datetime, hi: dt.datetime, *,
                        with_cancelled: bool = False) -> list[DelegationRow]:
    """The delegations in force at some instant of [lo, hi), oldest first; with
    `with_cancelled`, also those cancelled before they began or before `lo` (for listing)."""
    query = sa.select(delegations).where(delegations.c.start_at < hi,
                                         delegations.c.until_at > lo)
    rows = [_row(r) for r in tx.conn.execute(query.order_by(delegations.c.id))]
    return rows if with_cancelled else in_force(rows, lo, hi)


def in_force(rows: list[DelegationRow], lo: dt.datetime, hi: dt.datetime) -> list[DelegationRow]:
    """Those of `rows` (as `delegations_between` gives them, for a window that holds [lo, hi),
    `with_cancelled`) that `delegations_between(lo, hi)` gives: one read serves every
    window inside its own."""
    return [r for r in rows if r.start < hi and r.until > lo and not r.void and r.ends > lo]


def get_delegation(tx: Tx, number: int) -> DelegationRow | None:
    row = tx.conn.execute(sa.select(delegations).where(delegations.c.id == number)).first()
    return _row(row) if row is not None else None


def cancel_delegation(tx: Tx, number: int, *, now: dt.datetime,
                      by: str) -> DelegationRow | None:
    """End delegation `number` at `now` (one that has not begun never takes effect). One that
    is already over or cancelled is left as it is. None when there is no such delegation."""
    row = get_delegation(tx, number)
    if row is None or row.cancelled_at is not None or row.until <= now:
        return row
    tx.conn.execute(delegations.update().where(delegations.c.id == number)
                    .values(cancelled_at=now, cancelled_by=by))
    return _by_id(tx, number)


def _find(tx: Tx, key: dict[str, Any]) -> DelegationRow | None:
    row = tx.conn.execute(sa.select(delegations).where(
        *(delegations.c[name] == value for name, value in key.items()))).first()
    return _row(row) if row is not None else None


def _by_id(tx: Tx, number: int) -> DelegationRow:
    row = get_delegation(tx, number)
    assert row is not None
    return row


def _row(row: Any) -> DelegationRow:
    return DelegationRow(
        id=row.id, from_login=row.from_login, to_login=row.to_login, start=row.start_at,
        until=row.until_at, created_at=row.created_at, created_by=row.created_by,
        source=row.source, cancelled_at=row.cancelled_at, cancelled_by=row.cancelled_by)
