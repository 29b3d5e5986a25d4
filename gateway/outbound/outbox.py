"""Outbox rows as the writer and the `outbox` command see them: queries and state changes.

States: `pending` (not sent yet, or sent and known not applied), `sending` (a write may have
reached GitHub: find its marker before sending again — also what a crash mid-write leaves),
`done`, `failed` (GitHub refused it for good; kept for the admin), `dropped` (by an admin).
Every change is one short transaction, except what a sender asks to be committed together
(`commit`: the outcomes it held and the next rows' `sending` marks; the senders' docstrings say
when that is safe). Knows nothing about GitHub; values only.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.store.db import Store, Tx, queue_rows
from gateway.store.prepared import Prepared
from gateway.store.schema import message_ids, messages, outbox, threads
from gateway.store.values import OutboxRow

OPEN = ("pending", "sending")
# Rows that act on their thread's issue or discussion wait until it exists. `add_comment` and
# `assign` act on the thread wherever it lives (its `target`, fixed when it was made):
# a comment on a discussion is a top-level discussion comment; a discussion has no assignee.
NEEDS_ISSUE = frozenset({"add_comment", "assign", "send_mail", "label_discussion", "react",
                         "close_issue", "reopen_issue", "mark_answer", "close_discussion",
                         "reopen_discussion"})
GITHUB_KINDS = frozenset({"create_issue", "create_discussion", "label_discussion",
                          "add_comment", "assign", "react", "close_issue", "reopen_issue",
                          "mark_answer", "close_discussion", "reopen_discussion", "promote",
                          "lookup_known_issues", "store_attachments", "publish_attachment"})
# Rows that write files to the attachment store (`gateway.outbound.attachment_store`): idempotent
# by path and content, so they need no marker.
ATTACHMENT_KINDS = frozenset({"store_attachments", "publish_attachment"})
MAIL_KINDS = frozenset({"send_mail"})
# Writes that carry a hidden marker, so GitHub can be asked whether they already happened.
# The others are idempotent (a reaction, a label, a close, an answer): sent again, they change
# nothing.
MARKED_KINDS = frozenset({"create_issue", "create_discussion", "add_comment", "promote"})
# Rows that make their thread's issue or discussion.
CREATE_KINDS = {"create_issue": "issues", "create_discussion": "discussions"}
RESTORE_KEY = "outbox.restored"
# After a restore, GitHub writes queued this long after `outbox recheck` (the mail read again)
# look for their marker first.
RESTORE_WINDOW = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Restore:
    """A database restore, as `outbox recheck` recorded it."""

    at: dt.datetime  # when `outbox recheck` ran
    since: dt.datetime  # the newest activity in the restored database: about the backup's time

    def covers(self, created_at: dt.datetime) -> bool:
        """Whether a row queued at `created_at` may repeat a write made after the backup."""
        return created_at <= self.at + RESTORE_WINDOW


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    kind: str
    thread_id: str | None
    message_key: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    last_error: str | None
    issue_number: int | None  # of the row's thread, when known (a discussion's number there)
    thread_target: str = "issues"  # where the row's thread lives
    thread_node_id: str | None = None  # the discussion's GraphQL id

    @property
    def waits_for_issue(self) -> bool:
        """Open, and acts on its thread's issue, which does not exist yet."""
        return (self.status in OPEN and self.kind in NEEDS_ISSUE and self.thread_id is not None
                and self.issue_number is None)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id, key=row.key, kind=row.kind, thread_id=row.thread_id,
        message_key=row.message_key, payload=json.loads(row.payload), status=row.status,
        attempts=row.attempts, next_attempt_at=row.next_attempt_at, created_at=row.created_at,
        last_error=row.last_error, issue_number=row.issue_number,
        thread_target=row.target or "issues", thread_node_id=row.node_id,
    )


_SELECT = sa.select(outbox, threads.c.issue_number, threads.c.target,
                    threads.c.node_id).select_from(
    outbox.outerjoin(threads, outbox.c.thread_id == threads.c.thread_id)
)
# The scheduling scan reads only small columns: a backlog of thousands of rows must not be
# re-read with its bodies on every step.
_SCAN = (
    sa.select(outbox.c.id, outbox.c.kind, outbox.c.thread_id, outbox.c.next_attempt_at,
              outbox.c.created_at, threads.c.issue_number)
    .select_from(outbox.outerjoin(threads, outbox.c.thread_id == threads.c.thread_id))
    .where(outbox.c.status.in_(OPEN))
    .order_by(outbox.c.id)
)


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def open_items(self) -> list[OutboxItem]:
        """Every pending or in-flight row, oldest first."""
        with self.store.read() as tx:
            rows = tx.conn.execute(
                _SELECT.where(outbox.c.status.in_(OPEN)).order_by(outbox.c.id))
            return [_item(row) for row in rows]

    def items(self, *, status: str | None = None, limit: int = 200) -> list[OutboxItem]:
        query = _SELECT.order_by(outbox.c.id.desc()).limit(limit)
        if status:
            query = query.where(outbox.c.status == status)
        with self.store.read() as tx:
            return [_item(row) for row in tx.conn.execute(query)]

    def next_ready(self, now: dt.datetime, kinds: frozenset[str] | None = None
                   ) -> tuple[OutboxItem | None, dt.datetime | None]:
        """The row to send now, and otherwise when the earliest blocked row becomes due.

        Rows go in id (arrival) order within a thread: a thread's later rows wait while an
        earlier one is open, and a comment waits until its thread has an issue number.
        """
        items, soonest = self.ready(now, kinds, limit=1)
        return (items[0] if items else None), soonest

    def ready(self, now: dt.datetime, kinds: frozenset[str] | None = None, *, limit: int,
              held: frozenset[str] = frozenset()
              ) -> tuple[list[OutboxItem], dt.datetime | None]:
        """Up to `limit` rows that may be sent now, oldest first, at most one per thread (its
        earliest open row, as `next_ready` picks it); and, when there are none, when the
        earliest blocked row becomes due. Threads in `held` (`thread_key`s of rows whose
        outcome the caller holds, not committed yet) are skipped: their rows wait."""
        blocked: set[str] = set(held)
        soonest: dt.datetime | None = None
        chosen: list[int] = []
        scan = _SCAN if kinds is None else _SCAN.where(outbox.c.kind.in_(sorted(kinds)))
        with self.store.read() as tx:
            for row in tx.conn.execute(scan):
                thread = row.thread_id or f"row-{row.id}"
                if thread in blocked:
                    continue
                blocked.add(thread)
                if row.kind in NEEDS_ISSUE and row.thread_id and row.issue_number is None:
                    continue  # waits for its thread's issue to be created
                due = row.next_attempt_at or row.created_at
                if due <= now:
                    chosen.append(row.id)
                    if len(chosen) >= limit:
                        break
                elif not chosen:
                    soonest = due if soonest is None else min(soonest, due)
            if not chosen:
                return [], soonest
            rows = tx.conn.execute(_SELECT.where(outbox.c.id.in_(chosen)).order_by(outbox.c.id))
            return [_item(row) for row in rows], None

    def depth(self, now: dt.datetime, kinds: frozenset[str] | None = None) -> tuple[int, float]:
        """(rows waiting, age in seconds of the oldest) for /healthz and /metrics; only rows
        of `kinds` when given."""
        query = (sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                 .where(outbox.c.status.in_(OPEN)))
        if kinds is not None:
            query = query.where(outbox.c.kind.in_(sorted(kinds)))
        with self.store.read() as tx:
            row = tx.conn.execute(query).one()
        count, oldest = int(row[0]), row[1]
        if oldest is None:
            return count, 0.0
        oldest = oldest.replace(tzinfo=dt.UTC) if oldest.tzinfo is None else oldest
        return count, max((now - oldest).total_seconds(), 0.0)

    def mark_sending(self, item: OutboxItem, now: dt.datetime) -> None:
        self._update(item.id, now, status="sending", attempts=item.attempts + 1)

    def reschedule(self, item: OutboxItem, now: dt.datetime, *, status: str, error: str,
                   at: dt.datetime) -> None:
        self._update(item.id, now, status=status, last_error=error[:500], next_attempt_at=at)

    def fail(self, item: OutboxItem, now: dt.datetime, error: str) -> None:
        self._update(item.id, now, status="failed", last_error=error[:500])

    def done(self, item: OutboxItem, now: dt.datetime, result: dict[str, Any],
             *, issue_number: int | None = None, node_id: str | None = None,
             assignee: str | None = None,
             follow_up: Callable[[Tx], Sequence[OutboxRow]] | None = None) -> None:
        """Record success; for a new issue or discussion also give its thread the number
        (and a discussion's node id), and queue `follow_up` rows (the acknowledgement) in the
        same transaction. `assignee`: record the thread's new owner (a discussion, where no
        webhook will say so)."""
        with self.store.tx() as tx:
            record_done(tx, item, now, result, issue_number=issue_number, node_id=node_id,
                        assignee=assignee, follow_up=follow_up)

    def commit(self, outcomes: Sequence[Callable[[Tx], None]], marks: Sequence[OutboxItem],
               now: dt.datetime) -> None:
        """One transaction: record `outcomes` (held since their writes, e.g. `record_done`
        with its arguments bound), then mark `marks` `sending` (each attempt counted). Either
        may be empty; when both are, nothing is committed."""
        if not outcomes and not marks:
            return
        with self.store.tx() as tx:
            for outcome in outcomes:
                outcome(tx)
            if marks:
                mark_sending(tx, marks, now)

    def release(self, item: OutboxItem, now: dt.datetime) -> Callable[[Tx], None]:
        """The outcome of a row marked `sending` but never sent (its batch stopped before
        it): back to what it was before the mark (`item`)."""

        def outcome(tx: Tx) -> None:
            tx.conn.execute(outbox.update().where(outbox.c.id == item.id).values(
                status=item.status, next_attempt_at=item.next_attempt_at,
                attempts=item.attempts, updated_at=now))

        return outcome

    def set_node_id(self, thread_id: str, node_id: str) -> None:
        """Remember a discussion's node id found by number (one made on GitHub)."""
        with self.store.tx() as tx:
            tx.conn.execute(threads.update().where(threads.c.thread_id == thread_id,
                                                   threads.c.node_id.is_(None))
                            .values(node_id=node_id))

    def _update(self, row_id: int, now: dt.datetime, **values: Any) -> None:
        with self.store.tx() as tx:
            tx.conn.execute(outbox.update().where(outbox.c.id == row_id)
                            .values(updated_at=now, **values))

    # -- admin ------------------------------------------------------------------------------

    def retry(self, key: str, now: dt.datetime) -> bool:
        """Make a failed (or waiting) row due now. A `sending` row stays `sending`: its marker
        is still checked before it is sent again."""
        with self.store.tx() as tx:
            row = tx.conn.execute(sa.select(outbox.c.status).where(outbox.c.key == key)).first()
            if row is None or row.status in ("done", "dropped"):
                return False
            status = "sending" if row.status == "sending" else "pending"
            tx.conn.execute(outbox.update().where(outbox.c.key == key).values(
                status=status, next_attempt_at=now, updated_at=now))
            return True

    def recheck(self, now: dt.datetime) -> int:
        """After a database restore, GitHub may already hold what the restored database thinks
        is new: rows still pending, and the writes for mail processed after the backup, which
        the mailbox hands over again. Make every pending GitHub write look for its marker before
        it is sent, and record the restore, so that the writes queued in the next
        RESTORE_WINDOW do too (searching back to the backup's time) and an issue found that way
        is not acknowledged a second time. Returns the number of pending rows changed."""
        with self.store.tx() as tx:
            newest = [tx.conn.execute(sa.select(sa.func.max(column))).scalar()
                      for column in (outbox.c.updated_at, messages.c.received_at)]
            since = max((t for t in newest if t is not None), default=now)
            tx.put_value(RESTORE_KEY, json.dumps({"at": now.isoformat(),
                                                  "since": since.isoformat()}), now=now)
            result = tx.conn.execute(outbox.update().where(
                outbox.c.status == "pending",
                outbox.c.kind.in_(MARKED_KINDS),
            ).values(status="sending", updated_at=now))
            return int(result.rowcount)

    def restore(self) -> Restore | None:
        """The last restore `recheck` recorded, if any."""
        with self.store.read() as tx:
            value = tx.get_value(RESTORE_KEY)
        if value is None:
            return None
        data = json.loads(value)
        return Restore(dt.datetime.fromisoformat(data["at"]),
                       dt.datetime.fromisoformat(data["since"]))

    def drop(self, key: str, now: dt.datetime) -> bool:
        with self.store.tx() as tx:
            result = tx.conn.execute(outbox.update().where(
                outbox.c.key == key, outbox.c.status.in_(("pending", "sending", "failed"))
            ).values(status="dropped", updated_at=now))
            return result.rowcount == 1

    def settle_sending(self, until: dt.datetime, kinds: frozenset[str]) -> int:
        """At start: rows of `kinds` left `sending` by a process that died may have a request
        still in flight at GitHub; make them wait until `until` before their marker is looked
        for, so the lookup sees what that request did. Returns how many wait."""
        with self.store.tx() as tx:
            result = tx.conn.execute(outbox.update().where(
                outbox.c.status == "sending", outbox.c.kind.in_(sorted(kinds)),
                sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at < until),
            ).values(next_attempt_at=until))
            return int(result.rowcount)

    def writes_since(self, since: dt.datetime) -> list[dt.datetime]:
        """When recent writes finished (to resume the rate budget after a restart)."""
        with self.store.read() as tx:
            rows = tx.conn.execute(sa.select(outbox.c.updated_at).where(
                outbox.c.status == "done", outbox.c.updated_at >= since))
            return sorted(row.updated_at for row in rows)


def thread_key(item: OutboxItem) -> str:
    """The key `Outbox.ready` orders a row's thread by (a row without a thread is its own)."""
    return item.thread_id or f"row-{item.id}"


def mark_sending(tx: Tx, items: Sequence[OutboxItem], now: dt.datetime) -> None:
    """Mark `items` `sending` in `tx`, counting an attempt for each."""
    tx.conn.execute(
        outbox.update().where(outbox.c.id == sa.bindparam("row_id")).values(
            status="sending", attempts=sa.bindparam("tries"), updated_at=now),
        [{"row_id": item.id, "tries": item.attempts + 1} for item in items])


# What every written row runs, built once and run on the driver's cursor
# (`gateway.store.prepared`): a backlog runs them once a message.
_DONE = Prepared(outbox.update().where(outbox.c.id == sa.bindparam("row")).values(
    status="done", result=sa.bindparam("r"), last_error=None, updated_at=sa.bindparam("at")))
_ASSIGNED = Prepared(threads.update().where(threads.c.thread_id == sa.bindparam("thread"))
                     .values(assignee=sa.bindparam("login")))
_SAME_ISSUE = Prepared(sa.select(threads).where(
    threads.c.target == sa.bindparam("target"), threads.c.issue_number == sa.bindparam("number"),
    threads.c.thread_id != sa.bindparam("thread")))
_CLAIMED = Prepared(threads.update().where(threads.c.thread_id == sa.bindparam("thread"))
                    .values(issue_number=sa.bindparam("number"), target=sa.bindparam("target"),
                            node_id=sa.bindparam("node")))


def record_done(tx: Tx, item: OutboxItem, now: dt.datetime, result: dict[str, Any],
                *, issue_number: int | None = None, node_id: str | None = None,
                assignee: str | None = None,
                follow_up: Callable[[Tx], Sequence[OutboxRow]] | None = None) -> None:
    """`Outbox.done` in the caller's transaction. Its writes are queued (`Prepared.later`):
    they go out before the next statement on the connection, or with the COMMIT, so on
    PostgreSQL a batch of held outcomes is not four round trips for each of them. A write
    that fails then fails the transaction, as it would have failed it here."""
    _DONE.later(tx.conn, {"row": item.id, "r": json.dumps(result), "at": now})
    queue_rows(tx.conn, then_rows(item, result), now, later=True)
    if assignee is not None and item.thread_id:
        _ASSIGNED.later(tx.conn, {"thread": item.thread_id, "login": assignee})
    if issue_number is not None and item.thread_id:
        _claim_issue(tx.conn, item.thread_id, issue_number,
                     target=CREATE_KINDS.get(item.kind, "issues"), node_id=node_id)
    if follow_up is not None:
        queue_rows(tx.conn, follow_up(tx), now, later=True)


# A row's payload may carry `then`: rows to queue, in the same transaction, once it is done
# (promotion: the product issue, then the comment linking it, then the resolution). In their
# payloads' text, FILL_START + name + FILL_END is replaced by that field of the done row's result
# (`url`, `number`, `comment_id`, `node_id`, a lookup's `matches`), which is only known then;
# text filled in is not read again for fills. An entry with `unless_empty: NAME` is left out
# when the result's NAME is empty (a lookup that found nothing: no comment).
THEN = "then"
FILL_START, FILL_END = "{{gateway:", "}}"
_FILL = re.compile(re.escape(FILL_START) + r"([A-Za-z_]+)" + re.escape(FILL_END))


def then_rows(item: OutboxItem, result: dict[str, Any]) -> list[OutboxRow]:
    """The rows `item` asked to queue once it is done, with the result filled in.

    Each entry of `item.payload["then"]` is {key, kind, payload, thread_id?, message_key?};
    the thread defaults to the item's. Keys are fixed by whoever queued the item, so queuing
    them again (a crash and a marker found) changes nothing."""
    rows = []
    for entry in item.payload.get(THEN) or ():
        if entry.get("unless_empty") and not result.get(entry["unless_empty"]):
            continue
        rows.append(OutboxRow(
            key=str(entry["key"]), kind=str(entry["kind"]),
            thread_id=entry.get("thread_id", item.thread_id),
            message_key=entry.get("message_key"),
            payload=_fill(entry.get("payload") or {}, result)))
    return rows


def _fill(value: Any, result: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _FILL.sub(lambda m: str(result[m.group(1)]) if m.group(1) in result
                         else m.group(0), value)
    if isinstance(value, dict):
        return {k: _fill(v, result) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, result) for v in value]
    return value


IDLE_WAIT = 30.0  # seconds a sender sleeps with nothing due (a wake-up event cuts it short)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> dt.timedelta:
    """Exponential backoff with jitter for the `attempt`-th retry: base * 2^(attempt-1) seconds,
    times a random 0.5-1.5, never more than `cap`."""
    raw = base * 2.0 ** min(attempt - 1, 16) * (0.5 + rng.random())
    return dt.timedelta(seconds=min(raw, cap))


def wait_for(due: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds until the earliest waiting row is due, or IDLE_WAIT when nothing waits."""
    return IDLE_WAIT if due is None else max((due - now).total_seconds(), 0.05)


def drive(step: Callable[[], float | None], stop: threading.Event,
          wake: threading.Event) -> None:
    """Run a sender's `step` until `stop`: at once again when it returns None, else after at
    most the seconds it returns, or sooner when `wake` is set (new work)."""
    while not stop.is_set():
        delay = step()
        if delay is None:
            continue
        wake.wait(timeout=delay)
        wake.clear()


def _claim_issue(conn: sa.Connection, thread_id: str, number: int, *, target: str = "issues",
                 node_id: str | None = None) -> None:
    """Give `thread_id` issue (or discussion) `number` in `target`. A thread made earlier for
    the same one from a GitHub notification id or webhook (`gh-N`, `ghd-N`) is merged into
    it, so both sets of ids keep threading."""
    other = _SAME_ISSUE.run(conn, {"target": target, "number": number,
                                   "thread": thread_id}).first()
    if other is not None:
        # A webhook for our own new issue may have come before this commit: keep what it
        # tracked (a first response, a close) on the thread that survives.
        mine = conn.execute(sa.select(threads).where(threads.c.thread_id == thread_id)).one()
        kept: dict[str, Any] = {}
        if other.first_response_at and (mine.first_response_at is None
                                        or other.first_response_at < mine.first_response_at):
            kept |= {"first_response_at": other.first_response_at,
                     "first_response_by": other.first_response_by}
        for column in ("state", "resolved_at", "reopened_count", "labels"):
            kept[column] = getattr(other, column)
        if kept:
            conn.execute(threads.update().where(threads.c.thread_id == thread_id).values(**kept))
        conn.execute(message_ids.update().where(message_ids.c.thread_id == other.thread_id)
                     .values(thread_id=thread_id))
        conn.execute(messages.update().where(messages.c.thread_id == other.thread_id)
                     .values(thread_id=thread_id))
        conn.execute(outbox.update().where(outbox.c.thread_id == other.thread_id)
                     .values(thread_id=thread_id))
        conn.execute(threads.delete().where(threads.c.thread_id == other.thread_id))
    _CLAIMED.later(conn, {"thread": thread_id, "number": number, "target": target,
                          "node": node_id})
