"""Reconcile for discussions: what webhooks may have missed, read over GraphQL, as tracking events.

The discussions twin of `gateway.tracking.reconcile` (issue 15 design §1.3). Pure:
`discussion_events` turns one remote discussion into the events that bring a thread to its
state; `missing_events` keeps those a stored thread lacks; `departure` is the one event saying a
tracked discussion left (deleted, transferred, moved to another category). `DiscussionReconciler`
is the shell: every `interval` it reads the configured category's discussions updated since its
cursor, and re-reads by node id every open tracked discussion it did not just see (a comment need
not bump `Discussion.updatedAt`, and a discussion that left shows only there), then applies the
events through the same `TrackingService` as webhooks. Comments are always applied (the store
remembers them by id); a thread's own events only where its stored state lags, so a round with
nothing new applies nothing. What becomes of a thread whose discussion left is the rules', not
this module's. Runs in its own thread: the tracker blocks.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
import structlog

from gateway.clock import Clock
from gateway.errors import ConfigError, GatewayError
from gateway.outbound.discussions import GHOST, DiscussionTracker, RemoteDiscussion
from gateway.store.schema import threads
from gateway.tracking.events import CommentEvent, Event, IssueAction, IssueEvent, IssueState
from gateway.tracking.reconcile import Window, run_every
from gateway.tracking.service import TrackingService

log = structlog.get_logger("gateway.tracking.reconcile")

CURSOR = "reconcile.discussions_since"


@dataclass(frozen=True, slots=True)
class StoredDiscussion:
    """A discussion thread's row, as much of it as reconcile compares with GitHub."""

    number: int
    node_id: str | None
    state: IssueState
    labels: tuple[str, ...]
    author: str | None
    created_at: dt.datetime


def discussion_events(d: RemoteDiscussion, repository: str) -> list[Event]:
    """The events that bring a thread to `d`'s state, oldest first: opened (at its creation),
    one comment event per comment and reply (when posted), answered (when the answer was
    chosen), closed (when closed) and labeled with its labels now (at `updatedAt`: GitHub keeps
    no time for a label).

    `repository` is the configured one: the events name it (in its spelling) while `d` is
    there, and `d.repository` once `d` was transferred, so they are visibly another
    repository's (the service ignores those). Logins are GraphQL's: a bot's has no "[bot]"
    suffix (`gateway.outbound.discussions.normalize_login` compares them)."""
    where = repository if d.repository.casefold() == repository.casefold() else d.repository
    events: list[Event] = [replace(_thread_event(d, "opened", d.created_at, where),
                                   actor=d.author, state="open")]
    events += [CommentEvent(action="created", number=d.number, comment_id=c.comment_id,
                            author=c.author, at=c.created_at, body=c.body, issue_author=d.author,
                            repository=where, target="discussions", category=d.category,
                            parent_id=c.parent_id)
               for c in d.comments]
    if d.answered:
        events.append(_thread_event(d, "answered", d.answer_chosen_at or d.updated_at, where))
    if d.closed:
        events.append(_thread_event(d, "closed", d.closed_at or d.updated_at, where))
    events.append(_thread_event(d, "labeled", d.updated_at, where))
    return sorted(events, key=lambda e: e.at)  # stable: "opened" stays first


def _thread_event(d: RemoteDiscussion, action: IssueAction, at: dt.datetime,
                  repository: str) -> IssueEvent:
    return IssueEvent(action=action, number=d.number, actor="", at=at, issue_author=d.author,
                      issue_created_at=d.created_at, state="closed" if d.closed else "open",
                      assignees=(), labels=d.labels, repository=repository,
                      target="discussions", category=d.category)


def missing_events(d: RemoteDiscussion, stored: StoredDiscussion | None,
                   repository: str) -> list[Event]:
    """Of `discussion_events(d, repository)`, what the stored thread lacks: everything for a
    discussion without a thread (the service opens one, as for a webhook); else every comment
    (the store drops those it has, by id), labeled when the labels differ, answered and closed
    while the thread is open, and reopened when the thread is closed but GitHub shows it
    neither closed nor answered (a missed reopen or unanswer)."""
    events = discussion_events(d, repository)
    if stored is None:
        return events
    lagging: set[IssueAction] = set()
    if _folded(stored.labels) != _folded(d.labels):
        lagging.add("labeled")
    if stored.state == "open":
        lagging |= {"answered", "closed"}
    kept = [e for e in events if isinstance(e, CommentEvent) or e.action in lagging]
    if stored.state == "closed" and not d.closed and not d.answered:
        kept.append(_thread_event(d, "reopened", d.updated_at, repository))
    return kept


def _folded(labels: Collection[str]) -> list[str]:
    return sorted(label.casefold() for label in labels)


def departure(stored: StoredDiscussion, d: RemoteDiscussion | None, *, repository: str,
              category_id: str, category: str, now: dt.datetime) -> IssueEvent | None:
    """The event saying the tracked discussion of `stored` left the configured repository and
    category (node id `category_id`, named `category`); None while it is still there.

    deleted: `d` is None (deleted, or the token can no longer see it); at `now`, as GitHub
    keeps no trace. transferred: `d.repository` differs; the event names the thread's number
    here and where the discussion went (`new_repository`, `new_number`). category_changed:
    `d.category_id` differs; the event names the new category."""
    if d is None:
        return IssueEvent(action="deleted", number=stored.number, actor="", at=now,
                          issue_author=stored.author or GHOST,
                          issue_created_at=stored.created_at, state=stored.state, assignees=(),
                          labels=stored.labels, repository=repository, target="discussions",
                          category=category)
    if d.repository.casefold() != repository.casefold():
        return replace(_thread_event(d, "transferred", d.updated_at, repository),
                       number=stored.number, new_number=d.number, new_repository=d.repository)
    if d.category_id != category_id:
        return replace(_thread_event(d, "category_changed", d.updated_at, repository),
                       number=stored.number)
    return None


class DiscussionReconciler:
    def __init__(self, service: TrackingService, tracker: DiscussionTracker, clock: Clock,
                 *, repository: str, category_id: str, category: str, interval: float,
                 first_lookback: dt.timedelta) -> None:
        self.service = service
        self.tracker = tracker
        self.clock = clock
        self.repository = repository
        self.category_id = category_id
        self.category = category
        self.interval = interval
        self.first_lookback = first_lookback
        self.last_success: dt.datetime | None = None

    def run(self, stop: threading.Event) -> None:
        run_every(self.once, self.interval, stop, target="discussions")

    @staticmethod
    def run_when_ready(make: Callable[[], DiscussionReconciler], interval: float,
                       stop: threading.Event) -> None:
        """Run the reconciler `make` builds (it resolves the category's id on GitHub), trying
        again every `interval` while GitHub cannot be reached or a name is wrong."""
        while not stop.is_set():
            try:
                reconciler = make()
            except ConfigError as exc:
                log.error("reconcile.failed", target="discussions", key=exc.key,
                          reason=exc.problem, fix=exc.fix)
            except GatewayError as exc:
                log.warning("reconcile.failed", target="discussions", reason=str(exc))
            else:
                reconciler.run(stop)
                return
            stop.wait(interval)

    def once(self) -> dict[str, int]:
        """One pass; returns what it applied (comments and replies; the discussions' own
        events), for logs and tests."""
        now = self.clock.now()
        window = Window.open(self.service, CURSOR, now, self.first_lookback)
        since = window.since
        applied = {"comments": 0, "discussions": 0}
        recent = self.tracker.discussions_since(since, self.category_id)
        known = self._stored({d.number for d in recent})
        self._remember_node_ids(recent, known)
        newest = since
        for remote in recent:
            self._apply(missing_events(remote, known.get(remote.number), self.repository),
                        now, applied)
            newest = max(newest, remote.updated_at)
        # Open threads whose discussion did not just show up in the category: re-read by id.
        seen = {remote.number for remote in recent}
        self._reread({t.node_id: t for t in known.values()
                      if t.state == "open" and t.node_id and t.number not in seen}, now, applied)
        window.close(self.service, newest, now)
        self.last_success = now
        if any(applied.values()):
            log.info("reconcile.applied", target="discussions", **applied)
        return applied

    def _reread(self, unseen: dict[str, StoredDiscussion], now: dt.datetime,
                applied: dict[str, int]) -> None:
        """Apply what GitHub shows of these threads' discussions (by node id): what they
        lack, or the one event saying the discussion left."""
        found = self.tracker.discussions_by_id(list(unseen)) if unseen else {}
        for node_id, thread in unseen.items():
            d = found.get(node_id)
            left = departure(thread, d, repository=self.repository,
                             category_id=self.category_id, category=self.category, now=now)
            if left is not None:
                if left.action == "deleted":
                    log.info("reconcile.discussion_gone", discussion=thread.number)
                else:
                    log.info("reconcile.discussion_moved", discussion=thread.number,
                             how=left.action, repository=left.new_repository,
                             category=left.category)
                self._apply([left], now, applied)
            elif d is not None:
                self._apply(missing_events(d, thread, self.repository), now, applied)

    def _remember_node_ids(self, recent: Sequence[RemoteDiscussion],
                           known: dict[int, StoredDiscussion]) -> None:
        """A thread made from a webhook has no node id (the webhook's may be in GitHub's
        older format): keep the one GraphQL gave, so later rounds can re-read it by id."""
        missing = {d.number: d.node_id for d in recent
                   if d.number in known and known[d.number].node_id is None}
        if not missing:
            return
        with self.service.store.tx() as tx:
            for number, node_id in missing.items():
                tx.conn.execute(threads.update().where(
                    threads.c.target == "discussions", threads.c.issue_number == number,
                    threads.c.node_id.is_(None)).values(node_id=node_id))
        for number, node_id in missing.items():
            known[number] = replace(known[number], node_id=node_id)

    def _apply(self, events: list[Event], now: dt.datetime, applied: dict[str, int]) -> None:
        for event in events:
            if self.service.apply_event(event, now) == "applied":
                applied["comments" if isinstance(event, CommentEvent) else "discussions"] += 1

    def _stored(self, numbers: Collection[int]) -> dict[int, StoredDiscussion]:
        """Discussion threads by number: the open ones (to re-read) and those among
        `numbers` (to compare with what was just read)."""
        with self.service.store.read() as tx:
            rows = tx.conn.execute(sa.select(
                threads.c.issue_number, threads.c.node_id, threads.c.state, threads.c.labels,
                threads.c.issue_author, threads.c.arrived_at, threads.c.created_at,
            ).select_from(threads).where(
                threads.c.target == "discussions", threads.c.issue_number.is_not(None),
                sa.or_(threads.c.state == "open", threads.c.issue_number.in_(list(numbers))),
            ).order_by(threads.c.issue_number))  # re-read (and logged) in number order
            return {row.issue_number: StoredDiscussion(
                number=row.issue_number, node_id=row.node_id,
                state="closed" if row.state == "closed" else "open",
                labels=tuple(json.loads(row.labels or "[]")), author=row.issue_author,
                created_at=row.arrived_at or row.created_at) for row in rows}
