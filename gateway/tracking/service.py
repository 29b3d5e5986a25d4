"""The tracking shell: apply GitHub events (webhook deliveries and reconcile reads) to the
store, idempotently, through the pure rules in `gateway.tracking.rules`.

A delivery is recorded by its `X-GitHub-Delivery` GUID in the same transaction as its effect,
so the same delivery twice is applied once. Comments are remembered by id, so a comment seen
by both a webhook and the reconcile loop changes nothing the second time, and `/spend` lines
are replaced, never added twice, when a comment is edited. Issues the gateway did not open (a
phone call written up on GitHub, an issue from before the gateway) get a thread on first sight.
Blocking: call it from a worker thread, not the event loop.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog

from gateway.duty.businesstime import BusinessCalendar
from gateway.inbound.spend import parse_spend
from gateway.inbound.thread import discussion_thread_id, issue_thread_id
from gateway.store.db import Store, Tx, queue_rows
from gateway.store.engine import insert_or_ignore_for
from gateway.store.prepared import Outcome, Prepared, run_together
from gateway.store.schema import deliveries, effort, gh_comments, threads
from gateway.store.values import OutboxRow
from gateway.tracking.commands import bookkeeping_only
from gateway.tracking.events import CommentEvent, Event, IssueEvent, parse_webhook
from gateway.tracking.rules import (
    Rules,
    TrackedIssue,
    apply,
    issue_opened_on_github,
    response_hours,
)

log = structlog.get_logger("gateway.tracking.events")

Observer = Callable[[float], None]
# Builds the mail relaying a team member's new comment (Notifier.relay_row), or None.
Relay = Callable[[Tx, CommentEvent, str, dt.datetime], OutboxRow | None]
# The rows that carry out the commands in a team member's new comment (CommandHandler.rows).
Commands = Callable[[Tx, CommentEvent, str, dt.datetime], list[OutboxRow]]


# The statements every delivery runs, built once and run on the driver's cursor
# (`gateway.store.prepared`: SQLAlchemy's SQL and type conversions, without its per-execution
# cost, most of a delivery's). The thread lookup reads the columns `_tracked` and
# `_discussion_scope` use, not the whole row.
_THREAD_COLUMNS = (
    threads.c.thread_id, threads.c.issue_number, threads.c.arrived_at, threads.c.created_at,
    threads.c.issue_author, threads.c.state, threads.c.assignee, threads.c.first_response_at,
    threads.c.first_response_by, threads.c.resolved_at, threads.c.reopened_count,
    threads.c.labels)
_THREAD = Prepared(sa.select(*_THREAD_COLUMNS).where(
    threads.c.target == sa.bindparam("target"),
    threads.c.issue_number == sa.bindparam("number")))
_COMMENT = Prepared(sa.select(gh_comments).where(
    gh_comments.c.target == sa.bindparam("target"),
    gh_comments.c.comment_id == sa.bindparam("comment_id")))
# A thread row and a comment row as the service reads them (from `_THREAD`, `_COMMENT` or a
# batch's `_Known`).
_ThreadRow = collections.namedtuple(  # type: ignore[misc]
    "_ThreadRow", [c.name for c in _THREAD_COLUMNS])
_CommentRow = collections.namedtuple(  # type: ignore[misc]
    "_CommentRow", [c.name for c in gh_comments.c])
_DELIVERY_RESULT = Prepared(deliveries.update().where(
    deliveries.c.guid == sa.bindparam("key")).values(result=sa.bindparam("outcome")))
_COMMENT_INSERT = Prepared(gh_comments.insert(), keys=(
    "target", "comment_id", "issue_number", "author", "created_at", "updated_at", "deleted"))
_COMMENT_UPDATE = Prepared(gh_comments.update().where(
    gh_comments.c.target == sa.bindparam("t"), gh_comments.c.comment_id == sa.bindparam("c"),
).values(updated_at=sa.bindparam("u"), deleted=sa.bindparam("d")))
_EFFORT_DELETE = Prepared(effort.delete().where(effort.c.target == sa.bindparam("t"),
                                                effort.c.comment_id == sa.bindparam("c")))
_EFFORT_INSERT = Prepared(effort.insert(), keys=(
    "target", "comment_id", "seq", "thread_id", "login", "day", "minutes"))
_TEAM_ACTIVITY = Prepared(threads.update().where(
    threads.c.thread_id == sa.bindparam("thread"),
    sa.or_(threads.c.last_team_at.is_(None), threads.c.last_team_at <= sa.bindparam("at")),
).values(last_team_at=sa.bindparam("at"), last_team_comment=sa.bindparam("comment")))
_CUSTOMER_ACTIVITY = Prepared(threads.update().where(
    threads.c.thread_id == sa.bindparam("thread"),
    sa.or_(threads.c.last_customer_at.is_(None), threads.c.last_customer_at < sa.bindparam("at")),
).values(last_customer_at=sa.bindparam("at")))


@dataclass(slots=True)
class _Queued:
    """Which senders a change queued rows for (woken after the commit)."""

    mail: bool = False
    github: bool = False


@dataclass(frozen=True, slots=True)
class AppliedDelivery:
    """What `record_delivery` did: "applied", "duplicate" or "ignored", and which senders
    it queued rows for."""

    result: str
    queued: _Queued


@dataclass(frozen=True, slots=True)
class IncomingDelivery:
    """A webhook delivery read and checked (`parse_delivery`), to be recorded: its GUID, its
    event name, the event (None: one the gateway does not track) and when it arrived."""

    guid: str
    event_name: str
    event: Event | None
    received_at: dt.datetime


def parse_delivery(guid: str, event_name: str, payload: dict[str, Any],
                   now: dt.datetime) -> IncomingDelivery:
    """Read a delivery's payload; one that cannot be used raises tracking.PayloadError (a
    ValueError: the web layer answers 400). Pure: nothing is written."""
    return IncomingDelivery(guid, event_name, parse_webhook(event_name, payload), now)


@dataclass(frozen=True, slots=True)
class DiscussionScope:
    """The discussions that are inquiries: those in `category` (a name) of `repository`."""

    repository: str
    category: str

    def holds(self, category: str | None) -> bool:
        return category is not None and category.casefold() == self.category.casefold()


class _Known:
    """The thread and comment rows a batch of deliveries reads: read once for the whole batch
    (a query each), then kept as the batch writes them, so that each delivery sees what the
    ones before it in the batch wrote, as it would reading the database. Only for the length
    of one transaction that holds the write lock (`Store.tx`): no one else writes these rows
    meanwhile. A key not in it is read from the database as usual."""

    def __init__(self, events: Sequence[Event]) -> None:
        """Nothing read yet: run `reads()` (with the batch's claim), then give `take` what
        they gave."""
        self.threads: dict[tuple[str, int], Any] = {(e.target, e.number): None for e in events}
        self.comments: dict[tuple[str, int], Any] = {
            (e.target, e.comment_id): None for e in events if isinstance(e, CommentEvent)}
        # (table, target, keys) of each read, in order: one a table and target, for up to
        # READ_CHUNK keys each.
        self._reads: list[tuple[str, str, Sequence[int]]] = [
            (table, target, part)
            for table, rows in (("threads", self.threads), ("comments", self.comments))
            for target in sorted({t for t, _ in rows})
            for part in _chunks([k for t, k in rows if t == target], READ_CHUNK)]

    def reads(self) -> list[tuple[Prepared, dict[str, Any]]]:
        """The batch's reads, to run with its claims."""
        return [(_keyed(table, _size(keys)), _keys(target, keys))
                for table, target, keys in self._reads]

    def take(self, outcomes: Sequence[Outcome]) -> None:
        """What `reads()` gave, in their order."""
        for (table, target, _), outcome in zip(self._reads, outcomes, strict=True):
            for row in outcome.rows:
                if table == "threads":
                    self.threads[(target, row.issue_number)] = _ThreadRow._make(row)
                else:
                    self.comments[(target, row.comment_id)] = _CommentRow._make(row)


@functools.cache
def _claims(size: int) -> Prepared:
    """`size` deliveries claimed at once (`TrackingService._claim_runs`)."""
    def statement(dialect: str) -> Any:
        rows = [{"guid": sa.bindparam(f"g{n}", type_=deliveries.c.guid.type),
                 "event": sa.bindparam(f"e{n}", type_=deliveries.c.event.type),
                 "received_at": sa.bindparam(f"r{n}", type_=deliveries.c.received_at.type),
                 # In the SQL, not a parameter a row: 16 rows stay at 48 parameters.
                 "result": sa.literal_column("'pending'")} for n in range(size)]
        insert = insert_or_ignore_for(dialect, deliveries, ["guid"])
        return insert.values(rows).returning(deliveries.c.guid)
    return Prepared(statement)


def _size(keys: Sequence[object]) -> int:
    """len(keys) rounded up to a power of two: a few statements serve every batch size."""
    return 1 << max(len(keys) - 1, 0).bit_length()


@functools.cache
def _keyed(table: str, size: int) -> Prepared:
    """The rows of `table` for one target and `size` numbers (threads) or comment ids."""
    keys: list[Any] = [sa.bindparam(f"k{n}") for n in range(size)]
    if table == "threads":
        return Prepared(sa.select(*_THREAD_COLUMNS).where(
            threads.c.target == sa.bindparam("target"), threads.c.issue_number.in_(keys)))
    return Prepared(sa.select(gh_comments).where(
        gh_comments.c.target == sa.bindparam("target"), gh_comments.c.comment_id.in_(keys)))


T = TypeVar("T")


# Rows a claim statement inserts, keys a read looks up, at most: powers of two whose statements
# stay within `gateway.store.prepared.CACHED_PARAMETERS` (with 32-row claims, 128 parameters,
# psycopg's conversion was ~30% of the committer's samples on PostgreSQL). A larger batch is
# several statements, sent in the same round trip.
CLAIM_CHUNK = 16  # 3 parameters a row: 48
READ_CHUNK = 32  # and the target: 33


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[n:n + size] for n in range(0, len(items), size)]


def _padded(items: Sequence[T]) -> list[T]:
    """`items` filled up to `_size(items)` with copies of the last one (a repeated key reads
    or claims nothing more)."""
    return [items[min(n, len(items) - 1)] for n in range(_size(items))]


def _keys(target: str, keys: Sequence[int]) -> dict[str, Any]:
    """The parameters of `_keyed(..., _size(keys))`."""
    return {"target": target, **{f"k{n}": key for n, key in enumerate(_padded(keys))}}


class TrackingService:
    def __init__(self, store: Store, rules: Rules, calendar: BusinessCalendar, repository: str,
                 *, on_first_response: Observer | None = None, relay: Relay | None = None,
                 on_queued: Callable[[], None] | None = None,
                 discussions: DiscussionScope | None = None,
                 commands: Commands | None = None,
                 on_github_queued: Callable[[], None] | None = None) -> None:
        self.store = store
        self.rules = rules
        self.calendar = calendar
        self.repository = repository.lower()
        self.discussions = discussions
        self._commands = commands
        self._on_github_queued = on_github_queued  # wakes the GitHub writer
        self._observe = on_first_response
        self._relay = relay
        self._on_queued = on_queued  # wakes the mail sender after a relayed comment

    # -- webhook deliveries -----------------------------------------------------------------

    def handle_delivery(self, guid: str, event_name: str, payload: dict[str, Any],
                        now: dt.datetime) -> str:
        """Apply one delivery: "applied", "duplicate" or "ignored". A payload that cannot be
        used raises tracking.PayloadError (a ValueError: the web layer answers 400)."""
        with self.store.tx() as tx:
            applied = self.record_delivery(tx, guid, event_name, payload, now)
        self.wake(applied)
        return applied.result

    def record_delivery(self, tx: Tx, guid: str, event_name: str, payload: dict[str, Any],
                        now: dt.datetime) -> AppliedDelivery:
        """`handle_delivery` in the caller's transaction; call `wake` with what it returns
        once that has committed."""
        return self.record_deliveries(tx, [parse_delivery(guid, event_name, payload, now)])[0]

    def record_deliveries(self, tx: Tx,
                          batch: Sequence[IncomingDelivery]) -> list[AppliedDelivery]:
        """Record and apply `batch` in the caller's transaction (a group commit's), in order;
        what each did, in the same order. Call `wake` with each once that has committed.

        Each delivery is claimed by its GUID before anything of it is applied: of two
        deliveries with one GUID (GitHub redelivering, two instances, twice in one batch),
        exactly one is applied and the others are "duplicate". The claims are one statement
        for the batch, sent with the batch's reads (one round trip on PostgreSQL); the results
        are queued with its other writes."""
        events = [d.event for d in batch if d.event is not None]
        known = _Known(events) if len(events) > 1 else None  # one alone: read as it goes
        # The claim and the batch's reads in one round trip on PostgreSQL: the reads cover
        # every event, claimed or not (a duplicate's rows are read for nothing, and rarely).
        claims = self._claim_runs(batch)
        outcomes = run_together(tx.conn, [*claims, *(known.reads() if known else ())])
        if known is not None:
            known.take(outcomes[len(claims):])
        claimed = {row.guid for outcome in outcomes[:len(claims)] for row in outcome.rows}
        applied: list[AppliedDelivery] = []
        results: dict[str, str] = {}
        for delivery in batch:
            if delivery.guid not in claimed:
                applied.append(AppliedDelivery("duplicate", _Queued()))
                continue
            claimed.discard(delivery.guid)  # a second copy in this batch is a duplicate
            result, queued = (("ignored", _Queued()) if delivery.event is None
                              else self._apply(tx, delivery.event, delivery.received_at, known))
            results[delivery.guid] = result
            applied.append(AppliedDelivery(result, queued))
        self._record_results(tx, results)
        return applied

    @staticmethod
    def _claim_runs(batch: Sequence[IncomingDelivery]) -> list[tuple[Prepared, dict[str, Any]]]:
        """The statements that insert a row for each new GUID in `batch` and return the
        GUIDs they inserted: one row a GUID, its first copy's; `CLAIM_CHUNK` rows a
        statement."""
        first: dict[str, IncomingDelivery] = {}
        for d in batch:
            first.setdefault(d.guid, d)
        runs = []
        for part in _chunks(list(first.values()), CLAIM_CHUNK):
            rows = _padded(part)  # the copies conflict and do nothing
            params: dict[str, Any] = {}
            for n, d in enumerate(rows):
                params[f"g{n}"], params[f"e{n}"], params[f"r{n}"] = (
                    d.guid, d.event_name, d.received_at)
            runs.append((_claims(len(rows)), params))
        return runs

    def _record_results(self, tx: Tx, results: dict[str, str]) -> None:
        """Queued with the batch's other writes: on PostgreSQL they go in one round trip."""
        for guid, result in results.items():
            _DELIVERY_RESULT.later(tx.conn, {"key": guid, "outcome": result})

    def wake(self, applied: AppliedDelivery) -> None:
        """After the commit of `record_delivery`: wake the senders that have new rows."""
        self._wake(applied.queued)

    # -- events (webhooks and reconcile) ----------------------------------------------------

    def apply_event(self, event: Event, now: dt.datetime) -> str:
        with self.store.tx() as tx:
            result, queued = self._apply(tx, event, now)
        self._wake(queued)
        return result

    def _wake(self, queued: _Queued) -> None:
        """After the commit: wake the senders that have new rows."""
        if queued.mail and self._on_queued is not None:
            self._on_queued()
        if queued.github and self._on_github_queued is not None:
            self._on_github_queued()

    def _apply(self, tx: Tx, event: Event, now: dt.datetime,
               known: _Known | None = None) -> tuple[str, _Queued]:
        """(result, which senders got rows) of applying `event` in `tx` (reading and keeping
        up to date the rows a batch read, `known`)."""
        if event.target == "discussions":
            scope = self.discussions
            if scope is None or event.repository.lower() != scope.repository.lower():
                return "ignored", _Queued()
        elif event.repository.lower() != self.repository:
            return "ignored", _Queued()
        row = self._row(tx, event, known)
        if event.target == "discussions":
            moved = self._discussion_scope(tx, event, row, known)
            if moved is not None:
                return moved, _Queued()
        if isinstance(event, CommentEvent) and not self._remember_comment(tx, event, now,
                                                                          known):
            return "duplicate", _Queued()
        tracked, row_exists = self._load(event, row)
        updated = apply(tracked, event, self.rules)
        if not row_exists:
            self._insert(tx, updated, now, event, known)
            tx.after_commit(log.info, "tracking.issue_seen", issue=event.number,
                            thread=updated.thread_id, target=event.target)
        elif updated is not tracked:
            self._save(tx, updated, event, known)
        if updated.first_response_at and tracked.first_response_at != updated.first_response_at:
            hours = response_hours(updated, self.calendar)
            tx.after_commit(log.info, "tracking.first_response", issue=event.number,
                            by=updated.first_response_by,
                            business_hours=None if hours is None else round(hours, 2))
            if hours is not None and self._observe is not None and not tracked.first_response_at:
                tx.after_commit(self._observe, hours)
        queued = _Queued()
        if isinstance(event, CommentEvent):
            self._record_activity(tx, updated.thread_id, event)
            self._record_effort(tx, updated.thread_id, event)
            queued.mail = self._relay_comment(tx, updated.thread_id, event, now)
            queued.github = self._run_commands(tx, updated.thread_id, event, now)
        return "applied", queued

    def _record_activity(self, tx: Tx, thread_id: str, event: CommentEvent) -> None:
        """The stale rule's clocks: a new comment by the team (not the bot: the mail it
        posts was counted when it arrived) or by anyone else, the customer's side."""
        if event.action != "created" or self.rules.is_bot(event.author):
            return
        if self.rules.is_team(event.author):
            if bookkeeping_only(event.body):  # /spend, /internal, commands: not a reply
                return
            top_level = event.parent_id is None  # only a top-level comment can be the answer
            _TEAM_ACTIVITY.later(tx.conn, {
                "thread": thread_id, "at": event.at,
                "comment": event.comment_id if top_level else None})
        else:
            _CUSTOMER_ACTIVITY.later(tx.conn, {"thread": thread_id, "at": event.at})

    def _run_commands(self, tx: Tx, thread_id: str, event: CommentEvent,
                      now: dt.datetime) -> bool:
        """Queue what a roster member's commands do, in this transaction: the comment is
        remembered by id in it too, so no redelivery or reconcile runs them twice."""
        if (self._commands is None or not self.rules.is_team(event.author)
                or self.rules.is_bot(event.author)):
            return False
        rows = self._commands(tx, event, thread_id, now)
        queue_rows(tx.conn, rows, now)
        return bool(rows)

    def _relay_comment(self, tx: Tx, thread_id: str, event: CommentEvent,
                       now: dt.datetime) -> bool:
        """Queue the mail for a team member's new comment in this transaction: the comment is
        remembered by id in it too, so a redelivery or the reconcile loop never mails twice."""
        if (self._relay is None or event.action != "created"
                or not self.rules.is_team(event.author) or self.rules.is_bot(event.author)):
            return False
        row = self._relay(tx, event, thread_id, now)
        if row is None:
            return False
        queue_rows(tx.conn, [row], now)
        tx.after_commit(log.info, "tracking.comment_relayed", issue=event.number,
                        comment=event.comment_id, row=row.key)
        return True

    def _discussion_scope(self, tx: Tx, event: Event, row: Any,
                          known: _Known | None) -> str | None:
        """Whether a discussion event concerns an inquiry: None to apply it, else the result.

        A discussion is an inquiry while it is in the configured category of the configured
        repository. One that is transferred, deleted or moved to another category stops being
        tracked (state "moved": no reminders, no handoff), and the log says so; one moved back
        into the category is tracked again. Comments on an untracked one change nothing."""
        scope = self.discussions
        assert scope is not None
        leaves = isinstance(event, IssueEvent) and (
            event.action in ("transferred", "deleted")
            or (event.action == "category_changed" and not scope.holds(event.category)))
        if row is None:
            # Only a discussion in the category becomes an inquiry on first sight.
            return "ignored" if leaves or not scope.holds(event.category) else None
        if leaves:
            if row.state != "moved":
                assert isinstance(event, IssueEvent)
                tx.conn.execute(threads.update().where(threads.c.thread_id == row.thread_id)
                                .values(state="moved"))
                if known is not None:
                    known.threads[(event.target, event.number)] = row._replace(state="moved")
                tx.after_commit(
                    log.warning, "tracking.discussion_untracked", discussion=event.number,
                    thread=row.thread_id, action=event.action,
                    to=event.new_repository if event.action == "transferred"
                    else event.category if event.action == "category_changed" else None)
            return "applied"
        if row.state == "moved":
            if not (isinstance(event, IssueEvent) and event.action == "category_changed"):
                return "ignored"
            back = "closed" if row.resolved_at is not None else "open"
            tx.conn.execute(threads.update().where(threads.c.thread_id == row.thread_id)
                            .values(state=back))
            if known is not None:
                known.threads[(event.target, event.number)] = row._replace(state=back)
            tx.after_commit(log.info, "tracking.discussion_tracked_again",
                            discussion=event.number, thread=row.thread_id)
            return "applied"
        return None

    def _remember_comment(self, tx: Tx, event: CommentEvent, now: dt.datetime,
                          known: _Known | None) -> bool:
        """Record the comment; False when this exact change was already applied."""
        key = (event.target, event.comment_id)
        if known is not None and key in known.comments:
            row = known.comments[key]
        else:
            row = _COMMENT.run(tx.conn, {"target": event.target,
                                         "comment_id": event.comment_id}).first()
        if event.action == "created" and row is not None:
            return False
        if row is not None and row.deleted:
            return False
        deleted = event.action == "deleted"
        if row is None:
            values = {"target": event.target, "comment_id": event.comment_id,
                      "issue_number": event.number, "author": event.author,
                      "created_at": event.at, "updated_at": now, "deleted": deleted}
            _COMMENT_INSERT.later(tx.conn, values)
            if known is not None:
                known.comments[key] = _CommentRow(**_stored(values))
            return True
        _COMMENT_UPDATE.later(tx.conn, {"t": event.target, "c": event.comment_id, "u": now,
                                      "d": deleted})
        if known is not None:
            known.comments[key] = row._replace(**_stored({"updated_at": now, "deleted": deleted}))
        return True

    def _record_effort(self, tx: Tx, thread_id: str, event: CommentEvent) -> None:
        if event.action != "created":  # a new comment has no rows yet (`_remember_comment`)
            _EFFORT_DELETE.later(tx.conn, {"t": event.target, "c": event.comment_id})
        if event.action == "deleted" or not self.rules.is_team(event.author):
            return
        lines = parse_spend(event.body, event.at, self.calendar.tz)
        for problem in lines.problems:
            tx.after_commit(log.warning, "tracking.spend_unreadable", issue=event.number,
                            comment=event.comment_id, reason=problem.reason)
        rows = [{"target": event.target, "comment_id": event.comment_id, "seq": n,
                 "thread_id": thread_id, "login": event.author, "day": spend.day,
                 "minutes": spend.minutes}
                for n, spend in enumerate(lines.spends)]
        for row in rows:  # queued with the delivery's other writes
            _EFFORT_INSERT.later(tx.conn, row)

    # -- thread rows <-> TrackedIssue -------------------------------------------------------

    def _row(self, tx: Tx, event: Event, known: _Known | None) -> Any:
        key = (event.target, event.number)
        if known is not None and key in known.threads:
            return known.threads[key]
        return _THREAD.run(tx.conn, {"target": event.target, "number": event.number}).first()

    def _load(self, event: Event, row: Any) -> tuple[TrackedIssue, bool]:
        if row is not None:
            return self._tracked(row), True
        thread_id = (discussion_thread_id(event.number) if event.target == "discussions"
                     else issue_thread_id(event.number))
        if isinstance(event, IssueEvent):
            return issue_opened_on_github(event, thread_id, self.rules), False
        # A comment on an issue we have not seen: it existed before the gateway, or its
        # "opened" delivery was missed. The payload has no creation time for the issue we
        # trust more than the comment's own, so the issue "arrives" with the comment.
        opened = IssueEvent(action="opened", number=event.number, actor=event.issue_author,
                            at=event.at, issue_author=event.issue_author,
                            issue_created_at=event.at, state="open", assignees=(), labels=(),
                            repository=event.repository, target=event.target,
                            category=event.category)
        return issue_opened_on_github(opened, thread_id, self.rules), False

    def _insert(self, tx: Tx, issue: TrackedIssue, now: dt.datetime, event: Event,
                known: _Known | None) -> None:
        values = {"thread_id": issue.thread_id, "issue_number": issue.issue_number,
                  "arrived_at": issue.arrived_at, "created_at": now, **_columns(issue)}
        tx.conn.execute(threads.insert().values(root_key=None, title="", target=event.target,
                                                **values))
        if known is not None:
            known.threads[(event.target, event.number)] = _ThreadRow(**_stored(values))

    def _save(self, tx: Tx, issue: TrackedIssue, event: Event, known: _Known | None) -> None:
        columns = _columns(issue)
        tx.conn.execute(threads.update().where(threads.c.thread_id == issue.thread_id)
                        .values(**columns))
        key = (event.target, event.number)
        if known is not None and known.threads.get(key) is not None:
            known.threads[key] = known.threads[key]._replace(**_stored(columns))

    def _tracked(self, row: Any) -> TrackedIssue:
        author = row.issue_author
        customer = (author is not None and not self.rules.is_team(author)
                    and not self.rules.is_bot(author))
        return TrackedIssue(
            thread_id=row.thread_id, issue_number=row.issue_number,
            arrived_at=row.arrived_at or row.created_at, issue_author=author,
            customer_logins=frozenset({author.casefold()}) if customer else frozenset(),
            state=row.state, assignee=row.assignee,
            first_response_at=row.first_response_at,
            first_response_by=row.first_response_by, resolved_at=row.resolved_at,
            reopened_count=row.reopened_count, labels=tuple(json.loads(row.labels or "[]")),
        )

    def untrack(self, target: str, number: int, reason: str) -> None:
        """Stop tracking the thread of `number` in `target` (GitHub no longer has it there):
        state "moved", so no reminder, handoff or reconcile touches it again."""
        with self.store.tx() as tx:
            changed = tx.conn.execute(threads.update().where(
                threads.c.target == target, threads.c.issue_number == number,
                threads.c.state != "moved").values(state="moved")).rowcount
        if changed:
            log.warning("tracking.untracked", target=target, number=number, reason=reason)

    # -- cursors ----------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        with self.store.read() as tx:
            return tx.get_value(name)

    def set_cursor(self, name: str, value: str, now: dt.datetime) -> None:
        with self.store.tx() as tx:
            tx.put_value(name, value, now=now)


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """`values` as the database gives them back: instants in UTC (`UTCDateTime`)."""
    return {name: value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value
            for name, value in values.items()}


def _columns(issue: TrackedIssue) -> dict[str, Any]:
    return {
        "issue_author": issue.issue_author, "state": issue.state, "assignee": issue.assignee,
        "first_response_at": issue.first_response_at,
        "first_response_by": issue.first_response_by, "resolved_at": issue.resolved_at,
        "reopened_count": issue.reopened_count, "labels": json.dumps(list(issue.labels)),
    }
