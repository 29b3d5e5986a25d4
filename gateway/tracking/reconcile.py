"""Reconcile: read from GitHub what webhooks may have missed, and apply it idempotently.

GitHub never redelivers a webhook the gateway missed (down, restarting, unreachable), so every
`interval` this loop reads the repository's comments updated since its cursor
(`GET /repos/{o}/{r}/issues/comments?since=`) and the state, labels and assignee of every
open tracked issue, and feeds them through the same `TrackingService` as webhooks. A webhook
arriving after reconcile, or reconcile reading what a webhook already applied, changes
nothing. Runs in its own thread.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.outbound.github import GitHubTracker, RemoteIssue, WriteRejected
from gateway.store.schema import threads
from gateway.tracking.events import CommentEvent, IssueAction, IssueEvent
from gateway.tracking.service import TrackingService

log = structlog.get_logger("gateway.tracking.reconcile")

CURSOR = "reconcile.comments_since"
OVERLAP = dt.timedelta(minutes=5)  # re-read a little: GitHub's `since` is by update time


@dataclass(frozen=True, slots=True)
class Window:
    """What a reconcile pass reads: GitHub's changes since `since`, from the cursor `name`
    kept in the store (or `first_lookback` before now on the very first pass)."""

    name: str
    stored: str | None
    since: dt.datetime

    @classmethod
    def open(cls, service: TrackingService, name: str, now: dt.datetime,
             first_lookback: dt.timedelta) -> Window:
        stored = service.cursor(name)
        since = dt.datetime.fromisoformat(stored) - OVERLAP if stored else now - first_lookback
        return cls(name, stored, since)

    def close(self, service: TrackingService, newest: dt.datetime, now: dt.datetime) -> None:
        """Move the cursor to the newest change read. GitHub's own timestamps move it, never
        our clock: no skew can skip a change. With nothing new it stays where it is."""
        if newest > self.since:
            service.set_cursor(self.name, newest.isoformat(), now)
        elif self.stored is None:
            service.set_cursor(self.name, (self.since + OVERLAP).isoformat(), now)


def run_every(once: Callable[[], object], interval: float, stop: threading.Event,
              **fields: str) -> None:
    """Call `once` every `interval` seconds until `stop`; a GitHub failure is a log line
    (`reconcile.failed`, with `fields`) and the next pass tries again."""
    while not stop.is_set():
        try:
            once()
        except GatewayError as exc:
            log.warning("reconcile.failed", reason=str(exc), **fields)
        stop.wait(interval)


class Reconciler:
    def __init__(self, service: TrackingService, tracker: GitHubTracker, clock: Clock,
                 *, repository: str, interval: float, first_lookback: dt.timedelta) -> None:
        self.service = service
        self.tracker = tracker
        self.clock = clock
        self.repository = repository
        self.interval = interval
        self.first_lookback = first_lookback
        self.last_success: dt.datetime | None = None

    def run(self, stop: threading.Event) -> None:
        run_every(self.once, self.interval, stop)

    def once(self) -> dict[str, int]:
        """One pass; returns what it applied, for logs and tests."""
        now = self.clock.now()
        window = Window.open(self.service, CURSOR, now, self.first_lookback)
        since = window.since
        applied = {"comments": 0, "issues": 0}
        issue_cache: dict[int, RemoteIssue] = {}
        newest = since
        for comment in self.tracker.comments_since(since):
            info = issue_cache.get(comment.number) or self.tracker.issue(comment.number)
            issue_cache[comment.number] = info
            event = CommentEvent(action="created", number=comment.number,
                                 comment_id=comment.comment_id, author=comment.author,
                                 at=comment.created_at, body=comment.body,
                                 issue_author=info.author, repository=self.repository)
            if self.service.apply_event(event, now) == "applied":
                applied["comments"] += 1
            newest = max(newest, comment.updated_at)
        for number, state, labels, assignee in self._issues_to_check(now):
            try:
                info = issue_cache.get(number) or self.tracker.issue(number)
            except WriteRejected as exc:  # 404/410: deleted, or never an issue at all
                if exc.status not in (404, 410):
                    raise
                # One gone issue must not stop every other issue's reconcile, round after
                # round: it stops being tracked, and the log says so once.
                self.service.untrack("issues", number, f"GitHub answers {exc.status}")
                continue
            if state == "open" and info.state == "open":
                applied["issues"] += self._sync_labels_and_assignee(info, labels, assignee, now)
            if state == "closed" and info.state == "open":
                reopened = IssueEvent(action="reopened", number=number, actor="",
                                      at=info.updated_at, issue_author=info.author,
                                      issue_created_at=info.created_at, state="open",
                                      assignees=info.assignees, labels=info.labels,
                                      repository=self.repository)
                if self.service.apply_event(reopened, now) == "applied":
                    applied["issues"] += 1
            elif state == "open" and info.state == "closed" and info.closed_at is not None:
                closed = IssueEvent(action="closed", number=number, actor="", at=info.closed_at,
                                   issue_author=info.author, issue_created_at=info.created_at,
                                   state="closed", assignees=info.assignees, labels=info.labels,
                                   repository=self.repository)
                if self.service.apply_event(closed, now) == "applied":
                    applied["issues"] += 1
        window.close(self.service, newest, now)
        self.last_success = now
        if any(applied.values()):
            log.info("reconcile.applied", **applied)
        return applied

    def _sync_labels_and_assignee(self, info: RemoteIssue, labels: tuple[str, ...],
                                  assignee: str | None, now: dt.datetime) -> int:
        """Labels and the assignee as GitHub has them now, when a webhook was missed (or a
        restored database predates the change): the report's label breakdown and the handoff
        (keep label, whose issue it is) read them. Returns how many changes were applied."""
        changed = 0
        events: list[IssueEvent] = []
        if sorted(x.casefold() for x in labels) != sorted(x.casefold() for x in info.labels):
            events.append(self._issue_event("labeled", info))
        remote = info.assignees[0] if info.assignees else None
        if (remote or "").casefold() != (assignee or "").casefold():
            events.append(self._issue_event("assigned" if remote else "unassigned", info))
        for event in events:
            if self.service.apply_event(event, now) == "applied":
                changed += 1
        return changed

    def _issue_event(self, action: IssueAction, info: RemoteIssue) -> IssueEvent:
        return IssueEvent(action=action, number=info.number, actor="", at=info.updated_at,
                          issue_author=info.author, issue_created_at=info.created_at,
                          state="open", assignees=info.assignees, labels=info.labels,
                          repository=self.repository)

    def _issues_to_check(self, now: dt.datetime
                         ) -> list[tuple[int, str, tuple[str, ...], str | None]]:
        """Open tracked issues (missed close, labels, assignee), and those closed within the
        look-back window (missed reopen), with their stored labels and assignee."""
        recent = now - self.first_lookback
        with self.service.store.read() as tx:
            rows = tx.conn.execute(sa.select(
                threads.c.issue_number, threads.c.state, threads.c.labels, threads.c.assignee,
            ).where(threads.c.target == "issues", threads.c.issue_number.is_not(None),
                    sa.or_(threads.c.state == "open", threads.c.resolved_at >= recent)))
            return [(row.issue_number, row.state, tuple(json.loads(row.labels or "[]")),
                     row.assignee) for row in rows]
