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

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import structlog

from gateway.duty.businesstime import BusinessCalendar
from gateway.inbound.spend import parse_spend
from gateway.inbound.thread import issue_thread_id
from gateway.store.db import Store, Tx, queue_rows
from gateway.store.engine import insert_or_ignore
from gateway.store.schema import deliveries, effort, gh_comments, threads
from gateway.store.values import OutboxRow
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


class TrackingService:
    def __init__(self, store: Store, rules: Rules, calendar: BusinessCalendar, repository: str,
                 *, on_first_response: Observer | None = None, relay: Relay | None = None,
                 on_queued: Callable[[], None] | None = None) -> None:
        self.store = store
        self.rules = rules
        self.calendar = calendar
        self.repository = repository.lower()
        self._observe = on_first_response
        self._relay = relay
        self._on_queued = on_queued  # wakes the mail sender after a relayed comment

    # -- webhook deliveries -----------------------------------------------------------------

    def handle_delivery(self, guid: str, event_name: str, payload: dict[str, Any],
                        now: dt.datetime) -> str:
        """Apply one delivery: "applied", "duplicate" or "ignored". A payload that cannot be
        used raises tracking.PayloadError (a ValueError: the web layer answers 400)."""
        event = parse_webhook(event_name, payload)
        with self.store.tx() as tx:
            # Insert first: of two concurrent deliveries with one GUID, exactly one inserts.
            claimed = tx.conn.execute(
                insert_or_ignore(tx.conn, deliveries, ["guid"]),
                {"guid": guid, "event": event_name, "received_at": now, "result": "pending"},
            ).rowcount
            if claimed != 1:
                return "duplicate"
            result, relayed = ("ignored", False) if event is None else self._apply(tx, event, now)
            tx.conn.execute(deliveries.update().where(deliveries.c.guid == guid)
                            .values(result=result))
        if relayed and self._on_queued is not None:
            self._on_queued()
        return result

    # -- events (webhooks and reconcile) ----------------------------------------------------

    def apply_event(self, event: Event, now: dt.datetime) -> str:
        with self.store.tx() as tx:
            result, relayed = self._apply(tx, event, now)
        if relayed and self._on_queued is not None:
            self._on_queued()
        return result

    def _apply(self, tx: Tx, event: Event, now: dt.datetime) -> tuple[str, bool]:
        """(result, whether a relay mail was queued) of applying `event` in `tx`."""
        if event.repository.lower() != self.repository:
            return "ignored", False
        if isinstance(event, CommentEvent) and not self._remember_comment(tx, event, now):
            return "duplicate", False
        tracked, row_exists = self._load(tx, event)
        updated = apply(tracked, event, self.rules)
        if not row_exists:
            self._insert(tx, updated, now)
            log.info("tracking.issue_seen", issue=event.number, thread=updated.thread_id)
        elif updated is not tracked:
            self._save(tx, updated)
        if updated.first_response_at and tracked.first_response_at != updated.first_response_at:
            hours = response_hours(updated, self.calendar)
            log.info("tracking.first_response", issue=event.number, by=updated.first_response_by,
                     business_hours=None if hours is None else round(hours, 2))
            if hours is not None and self._observe is not None and not tracked.first_response_at:
                self._observe(hours)
        relayed = False
        if isinstance(event, CommentEvent):
            self._record_effort(tx, updated.thread_id, event)
            relayed = self._relay_comment(tx, updated.thread_id, event, now)
        return "applied", relayed

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
        log.info("tracking.comment_relayed", issue=event.number, comment=event.comment_id,
                 row=row.key)
        return True

    def _remember_comment(self, tx: Tx, event: CommentEvent, now: dt.datetime) -> bool:
        """Record the comment; False when this exact change was already applied."""
        row = tx.conn.execute(sa.select(gh_comments).where(
            gh_comments.c.comment_id == event.comment_id)).first()
        if event.action == "created":
            if row is not None:
                return False
            tx.conn.execute(gh_comments.insert().values(
                comment_id=event.comment_id, issue_number=event.number, author=event.author,
                created_at=event.at, updated_at=now, deleted=False))
            return True
        if row is None:
            tx.conn.execute(gh_comments.insert().values(
                comment_id=event.comment_id, issue_number=event.number, author=event.author,
                created_at=event.at, updated_at=now, deleted=event.action == "deleted"))
            return True
        if row.deleted:
            return False
        tx.conn.execute(gh_comments.update().where(gh_comments.c.comment_id == event.comment_id)
                        .values(updated_at=now, deleted=event.action == "deleted"))
        return True

    def _record_effort(self, tx: Tx, thread_id: str, event: CommentEvent) -> None:
        tx.conn.execute(effort.delete().where(effort.c.comment_id == event.comment_id))
        if event.action == "deleted" or not self.rules.is_team(event.author):
            return
        lines = parse_spend(event.body, event.at, self.calendar.tz)
        for problem in lines.problems:
            log.warning("tracking.spend_unreadable", issue=event.number, comment=event.comment_id,
                        reason=problem.reason)
        rows = [{"comment_id": event.comment_id, "seq": n, "thread_id": thread_id,
                 "login": event.author, "day": spend.day, "minutes": spend.minutes}
                for n, spend in enumerate(lines.spends)]
        if rows:
            tx.conn.execute(effort.insert(), rows)

    # -- thread rows <-> TrackedIssue -------------------------------------------------------

    def _load(self, tx: Tx, event: Event) -> tuple[TrackedIssue, bool]:
        row = tx.conn.execute(sa.select(threads).where(
            threads.c.issue_number == event.number)).first()
        if row is not None:
            return self._tracked(row), True
        thread_id = issue_thread_id(event.number)
        if isinstance(event, IssueEvent):
            return issue_opened_on_github(event, thread_id, self.rules), False
        # A comment on an issue we have not seen: it existed before the gateway, or its
        # "opened" delivery was missed. The payload has no creation time for the issue we
        # trust more than the comment's own, so the issue "arrives" with the comment.
        opened = IssueEvent(action="opened", number=event.number, actor=event.issue_author,
                            at=event.at, issue_author=event.issue_author,
                            issue_created_at=event.at, state="open", assignees=(), labels=(),
                            repository=event.repository)
        return issue_opened_on_github(opened, thread_id, self.rules), False

    def _insert(self, tx: Tx, issue: TrackedIssue, now: dt.datetime) -> None:
        tx.conn.execute(threads.insert().values(
            thread_id=issue.thread_id, issue_number=issue.issue_number, root_key=None,
            title="", arrived_at=issue.arrived_at, created_at=now, **_columns(issue)))

    def _save(self, tx: Tx, issue: TrackedIssue) -> None:
        tx.conn.execute(threads.update().where(threads.c.thread_id == issue.thread_id)
                        .values(**_columns(issue)))

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

    # -- cursors ----------------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        with self.store.read() as tx:
            return tx.get_value(name)

    def set_cursor(self, name: str, value: str, now: dt.datetime) -> None:
        with self.store.tx() as tx:
            tx.put_value(name, value, now=now)


def _columns(issue: TrackedIssue) -> dict[str, Any]:
    return {
        "issue_author": issue.issue_author, "state": issue.state, "assignee": issue.assignee,
        "first_response_at": issue.first_response_at,
        "first_response_by": issue.first_response_by, "resolved_at": issue.resolved_at,
        "reopened_count": issue.reopened_count, "labels": json.dumps(list(issue.labels)),
    }
