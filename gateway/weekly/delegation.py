"""Record the Primary's temporary delegation, tell the delegate once, and read delegations back.

`delegate` checks a new delegation (`gateway.duty.delegation.plan_delegation`) against the
schedule and the delegations already recorded, then in ONE transaction records it and queues
one notice mail to the delegate (outbox key ``mail:delegation:<id>``, template
``delegation_mail.txt``); the mail sender sends it. `visit-gateway delegate` and the GitHub
``/delegate`` command call it; `cancel` ends one. Every consumer of the schedule reads the
delegations when it uses it (`schedule_at`, `schedule_reader`: one small query), so one recorded
by another process counts at once, without a restart. Must not decide what a delegation means
for the schedule (`gateway.duty.delegation` does).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import structlog

from gateway.duty.delegation import (
    Delegated,
    Delegation,
    Planned,
    Refusal,
    plan_delegation,
    with_delegations,
)
from gateway.duty.schedule import Schedule
from gateway.outbound.mail import OutboundMail
from gateway.outbound.render import Renderer
from gateway.store.db import Store, Tx, queue_rows
from gateway.store.delegations import (
    DelegationRow,
    add_delegation,
    cancel_delegation,
    delegations_between,
    get_delegation,
    in_force,
)
from gateway.store.values import OutboxRow

log = structlog.get_logger("gateway.weekly.delegation")

NOTICE = "delegation_mail.txt"
# What a consumer reads around an instant: a delegation lasts at most a week, and the weekly
# handoff looks back over the week that ended (up to six days late; see weekly.handoff).
LOOK_BACK = dt.timedelta(days=15)
LOOK_AHEAD = dt.timedelta(days=8)


def delegate(store: Store, schedule: Schedule, renderer: Renderer, by_login: str | None,
             until: dt.datetime, now: dt.datetime, source: str, *, to_login: str | None = None,
             start: dt.datetime | None = None,
             created_by: str | None = None) -> Delegated | Refusal:
    """Delegate the Primary role of `by_login` (default: the Primary at `start`) to
    `to_login` (default: the Backup at `start`) from `start` (default `now`) until `until`,
    in one transaction with its notice; see `delegate_in`."""
    with store.tx() as tx:
        return delegate_in(tx, schedule, renderer, by_login, until, now, source,
                           to_login=to_login, start=start, created_by=created_by)


def delegate_in(tx: Tx, schedule: Schedule, renderer: Renderer, by_login: str | None,
                until: dt.datetime, now: dt.datetime, source: str, *,
                to_login: str | None = None, start: dt.datetime | None = None,
                created_by: str | None = None) -> Delegated | Refusal:
    """`delegate` inside the caller's transaction. `schedule` is the schedule file's, without
    delegations; `source` is "cli" or "command"; `created_by` who asked (default the giver).
    A GitHub command should pass the comment's creation time as `now`: given twice (a webhook
    redelivered, then reconciled), it is the same delegation and is told once."""
    begin = start or now
    recorded = recorded_between(tx, begin, begin + LOOK_AHEAD)  # all it could overlap
    plan = plan_delegation(schedule, recorded, by=by_login, to=to_login, start=begin,
                           until=until, now=now)
    if isinstance(plan, Refusal):
        log.info("delegation.refused", by=by_login, to=to_login, source=source,
                 reason=plan.reason)
        return plan
    if plan.recorded:
        return _delegated(plan, plan.delegation, created=False)
    d = plan.delegation
    row, created = add_delegation(tx, from_login=d.from_login, to_login=d.to_login,
                                  start=d.start, until=d.until,
                                  created_by=created_by or d.from_login, source=source, now=now)
    stored = as_delegation(row)
    if created:
        queue_rows(tx.conn, [notice_row(renderer, plan, stored)], now)
        log.info("delegation.created", delegation=row.id, by=row.from_login, to=row.to_login,
                 start=row.start.isoformat(), until=row.until.isoformat(), source=source,
                 cut=plan.cut)
    return _delegated(plan, stored, created=created)


def cancel(store: Store, number: int, now: dt.datetime, by: str) -> DelegationRow | Refusal:
    """End delegation `number` now (one that has not begun never takes effect)."""
    with store.tx() as tx:
        row = get_delegation(tx, number)
        if row is None:
            return Refusal(f"there is no delegation #{number}")
        if row.cancelled_at is not None or row.until <= now:
            what = "was cancelled" if row.cancelled_at is not None else "is over"
            return Refusal(f"delegation #{number} {what} already")
        ended = cancel_delegation(tx, number, now=now, by=by)
    assert ended is not None
    log.info("delegation.cancelled", delegation=number, by=by, void=ended.void)
    return ended


def notice_row(renderer: Renderer, plan: Planned, delegation: Delegation) -> OutboxRow:
    """The one mail that tells the delegate (the giver in Cc), keyed by the delegation."""
    subject, body = renderer.render(
        NOTICE, primary=plan.giver, delegate=plan.taker, backup=plan.backup,
        start=delegation.start, until=delegation.until, number=delegation.id)
    mail = OutboundMail(kind=NOTICE.split(".")[0], to=((plan.taker.name, plan.taker.email),),
                        cc=((plan.giver.name, plan.giver.email),), subject=subject, body=body,
                        auto_submitted="auto-generated")
    return OutboxRow(key=f"mail:delegation:{delegation.id}", kind="send_mail", thread_id=None,
                     message_key=None, payload=mail.as_payload())


def as_delegation(row: DelegationRow) -> Delegation:
    """The schedule's view of a stored delegation: in force from its start to its end."""
    return Delegation(row.from_login, row.to_login, row.start, row.ends, row.id)


def recorded_between(tx: Tx, lo: dt.datetime, hi: dt.datetime) -> tuple[Delegation, ...]:
    return tuple(as_delegation(row) for row in delegations_between(tx, lo, hi))


def schedule_at(tx: Tx, schedule: Schedule, t: dt.datetime) -> Schedule:
    """`schedule` with the delegations recorded around `t` in force (one query)."""
    return with_delegations(schedule, recorded_between(tx, t - LOOK_BACK, t + LOOK_AHEAD))


class ScheduleReader:
    """From an instant to the schedule in force around it, delegations read from the store at
    each call: for the daemon, which must see one the CLI added meanwhile.

    Inside `batch()` (the intake's decisions for one batch of mail, one transaction), one read
    of a window `BATCH_PAD` wider on each side serves every instant whose own window it holds,
    filtered exactly as the query filters (`in_force`): a batch's arrivals are close together,
    and a query per message was 14 % of the intake's time in a backlog. A delegation recorded
    during the batch counts from the next batch, as if recorded a moment later. The batch is
    the calling thread's own.
    """

    def __init__(self, store: Store, schedule: Schedule) -> None:
        self.store = store
        self.schedule = schedule
        self._local = threading.local()

    def __call__(self, t: dt.datetime) -> Schedule:
        lo, hi = t - LOOK_BACK, t + LOOK_AHEAD
        memo: _Read | None = getattr(self._local, "memo", None)
        if memo is None:
            with self.store.read() as tx:
                return schedule_at(tx, self.schedule, t)
        if not (memo.lo <= lo and hi <= memo.hi):
            memo.lo, memo.hi = lo - BATCH_PAD, hi + BATCH_PAD
            with self.store.read() as tx:
                memo.rows = delegations_between(tx, memo.lo, memo.hi, with_cancelled=True)
        return with_delegations(self.schedule,
                                tuple(as_delegation(r) for r in in_force(memo.rows, lo, hi)))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self._local.memo = _Read()
        try:
            yield
        finally:
            self._local.memo = None


BATCH_PAD = dt.timedelta(days=1)
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class _Read:
    """A batch's one read: the rows of [lo, hi) (empty and holding no window at first)."""
    lo: dt.datetime = _NEVER
    hi: dt.datetime = _NEVER
    rows: list[DelegationRow] = field(default_factory=list)


def describe_rows(rows: Sequence[DelegationRow], tz: dt.tzinfo, now: dt.datetime) -> list[str]:
    """One line per delegation, for `visit-gateway delegate --list`."""
    lines = []
    for row in rows:
        if row.void:
            state = "cancelled"
        elif row.ends <= now:
            state = "ended early" if row.ends < row.until else "over"
        else:
            state = "in force" if row.start <= now else "to come"
        lines.append(f"#{row.id:<4} {state:<11} {row.from_login} -> {row.to_login}  "
                     f"{_when(row.start, tz)} until {_when(row.ends, tz)}  "
                     f"(by {row.created_by}, {row.source})")
    return lines


def _delegated(plan: Planned, delegation: Delegation, *, created: bool) -> Delegated:
    return Delegated(delegation, plan.giver, plan.taker, plan.backup, created, plan.cut)


def _when(t: dt.datetime, tz: dt.tzinfo) -> str:
    return f"{t.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"
