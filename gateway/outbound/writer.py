"""The single serial GitHub writer: executes outbox rows, exactly once, in order.

For each row: if a previous attempt may have reached GitHub (`sending`: an unclear answer, or
a crash between POST and commit), look for the row's hidden marker first and record what is
found; only if it is not there, wait for the write budget, mark the row `sending` (committed),
POST, and record the result. Rate-limit answers pause all writes until GitHub's `retry-after`;
an unclear answer is retried with backoff after the marker check; a refused write is kept as
`failed` with GitHub's reason. A bad token or repository pauses the writer and logs it; mail
keeps arriving and waits in the outbox. Known-issue lookups are reads with a budget of their own
(`gateway.outbound.known_issues`). Runs in its own thread.

Group commit (issue 18). Rows never tried go in batches: the first open row of up to BATCH
threads, as many as the write budget allows right now, are marked `sending` in one
transaction, then written one after the other (the `guard` asked right before each write, as
for a single row); the transaction that marks the next batch also records this batch's
outcomes, so a backlog costs about one commit per batch instead of two per row. What keeps
exactly-once and order:
- A row is committed `sending` before its write, always; a crash before the write leaves it
  `sending` unwritten, which its marker lookup (or an idempotent resend) settles.
- A success is held for the next commit only for DEFERRABLE kinds. The marked kinds
  (`create_issue`, `create_discussion`, `add_comment`, `promote`) carry a hidden marker: a crash
  after the write and before the held commit leaves the row `sending`, and the next attempt
  finds the marker (after `settle`) and records what it found, exactly the protocol of a crash
  between POST and commit today, only more rows may be in it. `store_attachments` and
  `publish_attachment` are idempotent by path and content: written again, they change nothing.
  Every other kind commits its success at once, as before: `react`, `assign`, `close_issue`,
  `reopen_issue`, the discussion labels, answers, closes and reopens have no marker and are
  only idempotent as a state set — sent again later (after a crash) they could undo what a
  maintainer did in between (reopen an issue, assign someone else), so the window in which a
  crash repeats them stays as short as it was.
- Order: a batch holds one row per thread (its earliest open one), and a thread whose outcome
  is held is skipped when the next batch is picked, so a thread's next row (a comment after its
  issue) goes only after its predecessor's success is committed. Rows keep id order across the
  batch; a row that needs a marker lookup or a restore check goes alone, as before.
- Pacing: a row enters a batch only with a budget slot free now; with GitHub's limits (one
  write a second) a batch is one row, spaced as before. A rate limit or a bad token in the
  middle of a batch releases the rest unsent (back to `pending` as they were; the paused
  budget holds them), in the next commit; were that commit lost, they would be `sending` and
  looked for, which is safe.
- Fencing: every commit is a `Store.tx`, fenced; a leader deposed mid-batch raises Fenced at
  its next `guard` or commit and records nothing more: its held rows stay `sending`, and the
  new leader looks for their markers. A held row's success line (`github.issue_created`) is
  logged after the commit that records it, as it was one row at a time: a deposed leader logs
  none for writes it could not record.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
import structlog

from gateway.clock import Clock
from gateway.errors import ConfigError, PermanentError, RateLimited, TransientError
from gateway.inbound.thread import marker
from gateway.outbound.attachment_store import AttachmentStores
from gateway.outbound.discussions import (
    CreatedDiscussion,
    CreatedDiscussionComment,
    DiscussionTracker,
)
from gateway.outbound.github import (
    CreatedComment,
    CreatedIssue,
    GitHubAuthError,
    IssueTracker,
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
)
from gateway.outbound.known_issues import LOOKUP_KIND, KnownIssueLookups
from gateway.outbound.known_issues import search_budget as default_search_budget
from gateway.outbound.outbox import (
    ATTACHMENT_KINDS,
    GITHUB_KINDS,
    MARKED_KINDS,
    Outbox,
    OutboxItem,
    Restore,
    backoff_delay,
    drive,
    record_done,
    thread_key,
    wait_for,
)
from gateway.outbound.pacing import WriteBudget
from gateway.store.db import Tx
from gateway.store.leader import Fenced
from gateway.store.values import OutboxRow

log = structlog.get_logger("gateway.github")

MARKER_SLACK = dt.timedelta(minutes=10)  # clock skew between us and GitHub
AUTH_PAUSE = dt.timedelta(minutes=5)
ASSIGNABLE_TTL = dt.timedelta(hours=1)
# Group commit (see the module docstring): rows marked `sending` in one transaction, at most;
# batches a step runs before it returns (to the stop event's check).
BATCH = 32
ROUNDS = 8
# Kinds whose success may be committed after later writes: a crash in between leaves the row
# `sending`, and sending it again cannot make a second copy (marker lookup, or same content).
DEFERRABLE = MARKED_KINDS | ATTACHMENT_KINDS


@dataclass(slots=True)
class _Held:
    """What a batch's writes leave for its next commit."""

    items: list[OutboxItem] = field(default_factory=list)  # their threads wait for it
    outcomes: list[Callable[[Tx], None]] = field(default_factory=list)
    wake: bool = False  # a success: `on_success` after the commit
    # Success lines (`github.issue_created`, ...) of the held rows, logged after the commit:
    # a line says the write is recorded, and a deposed leader's commit (fenced) records none.
    lines: list[tuple[structlog.BoundLogger, str, dict[str, Any]]] = field(
        default_factory=list)


class _HeldLog:
    """A batch row's logger: its info lines wait for the commit once its outcome is held."""

    def __init__(self, bound: structlog.BoundLogger, held: _Held, item: OutboxItem) -> None:
        self._bound, self._held, self._item = bound, held, item

    def info(self, event: str, **values: Any) -> None:
        if any(i is self._item for i in self._held.items):
            self._held.lines.append((self._bound, event, values))
        else:
            self._bound.info(event, **values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bound, name)


@dataclass(slots=True)
class WriterStatus:
    """What /healthz and sd_notify read."""

    last_success: dt.datetime | None = None
    last_error: str = ""
    paused_until: dt.datetime | None = None
    healthy: bool = True
    writes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    listener: Callable[[str], None] | None = None  # e.g. the Prometheus counter

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.listener is not None:
            self.listener(outcome)


class GitHubWriter:
    def __init__(self, outbox: Outbox, tracker_factory: Callable[[], IssueTracker],
                 budget: WriteBudget, clock: Clock, *, status: WriterStatus | None = None,
                 seed: int | None = None, backoff_base: float = 1.0,
                 backoff_max: float = 600.0,
                 on_issue_created: Callable[[Tx, str, int], OutboxRow | None] | None = None,
                 on_success: Callable[[], None] | None = None,
                 discussions_factory: Callable[[], DiscussionTracker] | None = None,
                 search_budget: WriteBudget | None = None,
                 settle: dt.timedelta = dt.timedelta(seconds=60),
                 attachments: AttachmentStores | None = None) -> None:
        self.outbox = outbox
        self._tracker_factory = tracker_factory
        self._tracker: IssueTracker | None = None
        # Makes a DiscussionTracker whose `setup` has run (ids of the repository, category
        # and labels); None where discussions are not configured.
        self._discussions_factory = discussions_factory
        self._discussions: DiscussionTracker | None = None
        # How long a request of a process that died may still be applied at GitHub: twice the
        # request timeout. Rows it left `sending` wait that long before their marker lookup.
        self._settle = settle
        self.budget = budget
        self.clock = clock
        self.status = status or WriterStatus()
        self._assignable: dict[str, tuple[bool, dt.datetime]] = {}
        self._random = random.Random(seed)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._on_issue_created = on_issue_created
        self._on_success = on_success  # e.g. wake the mail sender: an ack may be queued
        # The attachment stores `store_attachments` and `publish_attachment` rows write to.
        self.attachments = attachments
        # Called right before each write to GitHub: raises (Fenced) when this instance may
        # no longer write (it lost the lead). None: one instance, always allowed.
        self.guard: Callable[[], None] | None = None
        self._held: _Held | None = None  # while a batch is written
        # Known-issue searches: reads, paced by their own budget (GitHub's `search` resource).
        self.lookups = KnownIssueLookups(outbox, lambda: self.tracker.search_issues,
                                         search_budget or default_search_budget(), clock,
                                         self._backoff)

    @property
    def tracker(self) -> IssueTracker:
        if self._tracker is None:
            self._tracker = self._tracker_factory()
        return self._tracker

    @property
    def discussions(self) -> DiscussionTracker:
        if self._discussions is None:
            if self._discussions_factory is None:
                raise ConfigError("github.target", "a row acts on a discussion, but no "
                                  "discussion category is configured",
                                  "set github.discussion_category (and restart)")
            self._discussions = self._discussions_factory()
        return self._discussions

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Send rows until `stop` is set; sleep until `wake`, a due row or a budget slot."""
        now = self.clock.now()
        self.budget.seed(self.outbox.writes_since(now - dt.timedelta(hours=1)))
        waiting = self.outbox.settle_sending(now + self._settle, MARKED_KINDS)
        if waiting:
            log.info("github.settling", rows=waiting, seconds=self._settle.total_seconds())
        drive(self.step, stop, wake)

    def step(self) -> float | None:
        """Do one unit of work. Returns None to go on at once, else seconds to wait at most."""
        now = self.clock.now()
        items, due = self.outbox.ready(now, GITHUB_KINDS, limit=BATCH)
        if not items:
            return wait_for(due, now)
        item = items[0]
        if item.kind == LOOKUP_KIND:  # a search: never waits for, nor spends, the writes' budget
            self.lookups.run(item)
            return None
        if item.kind == "store_attachments" and item.payload.get("store") == "local":
            self._send(item, now, budget=False)  # files on this host: no GitHub budget
            return None
        allowed = self.budget.next_allowed(now)
        if allowed > now:
            return max((allowed - now).total_seconds(), 0.01)
        batch = self._batchable(items, now)
        if not batch:
            self._send(item, now)
            return None
        self.outbox.commit((), batch, now)
        rounds = 0
        while batch:
            held = self._write_batch(batch)
            rounds += 1
            # The next batch is marked in the transaction that records this one's outcomes;
            # its rows skip the threads whose outcome is held (their next row waits for it).
            now = self.clock.now()
            batch = []
            if rounds < ROUNDS and self.budget.next_allowed(now) <= now:
                items, _due = self.outbox.ready(
                    now, GITHUB_KINDS, limit=BATCH,
                    held=frozenset(thread_key(i) for i in held.items))
                batch = self._batchable(items, now)
            self.outbox.commit(held.outcomes, batch, now)
            for bound, event, values in held.lines:
                bound.info(event, **values)
            if held.wake and self._on_success is not None:
                self._on_success()  # after the commit: an acknowledgement may be queued
        return None

    def _batchable(self, items: list[OutboxItem], now: dt.datetime) -> list[OutboxItem]:
        """The leading rows of `items` that go as one batch, each given its budget slot: only
        rows never tried (`pending`, no restore to look behind) of kinds that spend the write
        budget, and only as many as the budget allows right now (one, with GitHub's limits)."""
        restore = self.outbox.restore()
        batch: list[OutboxItem] = []
        for item in items:
            if (item.status != "pending" or item.kind == LOOKUP_KIND
                    or (item.kind == "store_attachments" and item.payload.get("store") == "local")
                    or (item.kind in MARKED_KINDS and restore is not None
                        and restore.covers(item.created_at))
                    or self.budget.next_allowed(now) > now):
                break
            self.budget.record(now)
            self.status.writes += 1
            batch.append(item)
        return batch

    def _write_batch(self, batch: list[OutboxItem]) -> _Held:
        """Write each row of `batch` (all marked `sending`, committed) in order. Returns the
        outcomes held for the next commit: the successes of DEFERRABLE kinds, and the rows
        released unsent when a rate limit or a bad token stopped the batch."""
        held = _Held()
        self._held = held
        try:
            for n, item in enumerate(batch):
                if self.budget.paused_until is not None and self.budget.paused_until > \
                        self.clock.now():
                    for rest in batch[n:]:  # unsent: as they were, the budget waits
                        held.items.append(rest)
                        held.outcomes.append(self.outbox.release(rest, self.clock.now()))
                    break
                bound = log.bind(row=item.key, thread=item.thread_id, kind=item.kind)
                self._post(item, cast(structlog.BoundLogger, _HeldLog(bound, held, item)))
        finally:
            self._held = None
        return held

    # -- one row ----------------------------------------------------------------------------

    def _send(self, item: OutboxItem, now: dt.datetime, *, budget: bool = True) -> None:
        """One row on its own: its marker looked for first if it may have been written."""
        bound = log.bind(row=item.key, thread=item.thread_id, kind=item.kind)
        try:
            restore = self._restore(item)
            if (item.status == "sending" or restore is not None) and self._found(
                    item, now, bound, restore):
                return
        except TransientError as exc:  # a read during the marker check failed
            self._failed_before_write(item, bound, exc)
            return
        now = self.clock.now()
        self.outbox.mark_sending(item, now)
        if budget:
            self.budget.record(now)
            self.status.writes += 1
        self._post(item, bound)

    def _failed_before_write(self, item: OutboxItem, bound: structlog.BoundLogger,
                             exc: Exception) -> None:
        at = self.clock.now() + self._backoff(item.attempts + 1)
        status = "sending" if item.status == "sending" else "pending"
        self.outbox.reschedule(item, self.clock.now(), status=status, error=str(exc), at=at)
        self.status.count("transient")
        bound.warning("github.retry", reason=str(exc), retry_at=at.isoformat())

    def _post(self, item: OutboxItem, bound: structlog.BoundLogger) -> None:
        """Write one row marked `sending` (committed) and record its outcome."""
        try:
            if self.guard is not None:
                self.guard()
            self._write(item, bound)
        except Fenced:
            raise  # another instance leads now: this one stops, writing nothing more
        except RateLimited as exc:
            until = self.clock.now() + dt.timedelta(seconds=exc.retry_after)
            self.budget.pause(until)
            self.status.paused_until = until
            # Nothing was written: a rate-limited request is refused before it is applied.
            status = "sending" if item.status == "sending" else "pending"
            self.outbox.reschedule(item, self.clock.now(), status=status, error=str(exc), at=until)
            self.status.count("rate_limited")
            bound.warning("github.rate_limited", retry_after=exc.retry_after, reason=str(exc))
        except OutcomeUnknown as exc:
            at = self.clock.now() + self._backoff(item.attempts + 1)
            self.outbox.reschedule(item, self.clock.now(), status="sending", error=str(exc), at=at)
            self.status.count("unclear")
            self.status.last_error = str(exc)
            bound.warning("github.write_unclear", reason=str(exc), attempt=item.attempts + 1,
                          retry_at=at.isoformat())
        except ConfigError as exc:
            # A category or label that does not exist (any more): nothing heals it but the
            # admin; the row keeps its place, as for a bad token.
            until = self._pause_for_admin(item, exc)
            bound.error("github.config_error", key=exc.key, reason=exc.problem, fix=exc.fix,
                        retry_at=until.isoformat())
        except (GitHubAuthError, RepositoryNotFound) as exc:
            until = self._pause_for_admin(item, exc)
            bound.error("github.auth_failed", reason=str(exc), retry_at=until.isoformat())
        except WriteRejected as exc:
            self.outbox.fail(item, self.clock.now(), str(exc))
            self.status.count("rejected")
            bound.error("github.write_failed", status=exc.status, reason=str(exc))
        except TransientError as exc:  # e.g. a read before the write failed
            self._failed_before_write(item, bound, exc)
        except PermanentError as exc:
            self.outbox.fail(item, self.clock.now(), str(exc))
            self.status.count("rejected")
            bound.error("github.write_failed", reason=str(exc))
        except sa.exc.SQLAlchemyError:
            raise  # the store itself failed: the component stops, the daemon says why
        except Exception as exc:  # a bug: this row backs off, the writer and the others go on
            at = self.clock.now() + self._backoff(item.attempts + 1)
            # It may have been written: "sending" makes the next try look for its marker.
            self.outbox.reschedule(item, self.clock.now(), status="sending",
                                   error=f"internal error ({type(exc).__name__})", at=at)
            self.status.count("error")
            self.status.last_error = f"internal error ({type(exc).__name__})"
            bound.exception("github.row_error", retry_at=at.isoformat())

    def _done(self, item: OutboxItem, result: dict[str, Any], *,
              issue_number: int | None = None, node_id: str | None = None,
              assignee: str | None = None,
              follow_up: Callable[[Tx], Sequence[OutboxRow]] | None = None) -> None:
        """Record a row's success: held for the batch's next commit when its kind may be
        (DEFERRABLE, inside a batch), else committed now."""
        now = self.clock.now()
        if self._held is not None and item.kind in DEFERRABLE:
            self._held.items.append(item)
            self._held.outcomes.append(functools.partial(
                record_done, item=item, now=now, result=result, issue_number=issue_number,
                node_id=node_id, assignee=assignee, follow_up=follow_up))
            return
        self.outbox.done(item, now, result, issue_number=issue_number, node_id=node_id,
                         assignee=assignee, follow_up=follow_up)

    def _pause_for_admin(self, item: OutboxItem, exc: Exception) -> dt.datetime:
        """A wrong token, repository, category or label: pause every write for AUTH_PAUSE
        (nothing heals but the admin); the row keeps its place and status. Returns until."""
        until = self.clock.now() + AUTH_PAUSE
        self.budget.pause(until)
        status = "sending" if item.status == "sending" else "pending"
        self.outbox.reschedule(item, self.clock.now(), status=status, error=str(exc), at=until)
        self.status.healthy = False
        self.status.last_error = str(exc)
        self.status.count("auth_failed")
        return until

    def _restore(self, item: OutboxItem) -> Restore | None:
        """The database restore this row's write may repeat a write from before, if any."""
        if item.kind not in MARKED_KINDS:
            return None
        restore = self.outbox.restore()
        return restore if restore is not None and restore.covers(item.created_at) else None

    def _found(self, item: OutboxItem, now: dt.datetime, bound: structlog.BoundLogger,
               restore: Restore | None = None) -> bool:
        """After an unclear attempt, or after a restore: is the write already on GitHub?
        Record it if so. An issue found after a restore was acknowledged when it was made."""
        if item.kind not in MARKED_KINDS:
            return False  # assigning, labelling, reacting, closing again is harmless
        token = marker(item.message_key or item.key)
        since = item.created_at if restore is None else min(item.created_at, restore.since)
        since -= MARKER_SLACK
        if item.kind == "create_discussion":
            discussion = self.discussions.find_discussion(token, since)
            if discussion is not None:
                self._discussion_done(item, discussion, bound, found=True,
                                      acknowledge=restore is None)
                return True
        elif (item.kind == "add_comment" and item.thread_target == "discussions"
                and item.issue_number is not None):
            found = self.discussions.find_comment(item.issue_number, token, since)
            if found is not None:
                self._discussion_comment_done(item, found, bound, found=True)
                return True
        elif item.kind == "promote":
            issue = self.tracker.find_issue_in(item.payload["repository"], token, since)
            if issue is not None:
                self._promoted(item, issue, bound, found=True)
                return True
        elif item.kind == "create_issue":
            issue = self.tracker.find_issue(token, since)
            if issue is not None:
                self._issue_done(item, issue, bound, found=True,
                                 acknowledge=restore is None)
                return True
        elif item.kind == "add_comment" and item.issue_number is not None:
            comment = self.tracker.find_comment(item.issue_number, token, since)
            if comment is not None:
                self._comment_done(item, comment, bound, found=True)
                return True
        if restore is not None:
            bound.info("github.not_found_after_restore", attempt=item.attempts)
        else:
            bound.info("github.not_found_after_unclear", attempt=item.attempts)
        return False

    def _write(self, item: OutboxItem, bound: structlog.BoundLogger) -> None:
        payload = item.payload
        if item.kind in ATTACHMENT_KINDS:
            self._write_attachments(item, bound)
        elif item.kind == "promote":  # an issue in another repository, whatever the target
            body = f"{payload['body']}\n\n{marker(item.key)}"
            try:
                issue = self.tracker.create_issue_in(payload["repository"], payload["title"],
                                                     body, payload.get("labels", []))
            except RepositoryNotFound as exc:  # the command named it: this row fails, not all
                raise WriteRejected(404, str(exc)) from exc
            self._promoted(item, issue, bound, found=False)
        elif item.thread_target == "discussions" or item.kind == "create_discussion":
            self._write_discussion(item, bound)
        elif item.kind in ("react", "close_issue", "reopen_issue"):
            self._write_issue_state(item, bound)
        elif item.kind == "create_issue":
            assignee = payload.get("assignee")
            if assignee and not self._can_assign(assignee):
                bound.warning("github.assignee_not_assignable", assignee=assignee,
                              fix="give the account push access to the repository")
                assignee = None
            try:
                issue = self.tracker.create_issue(payload["title"], payload["body"],
                                                  payload.get("labels", []), assignee)
            except WriteRejected as exc:
                if not (assignee and exc.status == 422 and "assign" in str(exc).lower()):
                    raise
                # GitHub refuses (422) an assignee it cannot assign when the token has push
                # access; create the issue anyway, unassigned, and say so.
                bound.warning("github.assignee_refused", assignee=assignee, reason=str(exc))
                self._assignable[assignee] = (False, self.clock.now())
                issue = self.tracker.create_issue(payload["title"], payload["body"],
                                                  payload.get("labels", []), None)
            if assignee and assignee not in issue.assignees:
                bound.warning("github.assignee_dropped", assignee=assignee, issue=issue.number)
            self._issue_done(item, issue, bound, found=False)
        elif item.kind == "add_comment":
            if item.issue_number is None:
                raise TransientError("the thread has no issue yet")
            body = payload["body"]
            if item.message_key is None:  # a comment of our own (handoff, reminder): mark it
                body = f"{body}\n\n{marker(item.key)}"
            comment = self.tracker.add_comment(item.issue_number, body)
            self._comment_done(item, comment, bound, found=False)
        elif item.kind == "assign":
            if item.issue_number is None:
                raise TransientError("the thread has no issue yet")
            login = payload["login"]
            if not self._can_assign(login):
                raise WriteRejected(422, f"{login} cannot be assigned: give the account push "
                                         "access to the repository")
            assignees = self.tracker.set_assignee(item.issue_number, login)
            self._done(item, {"assignees": list(assignees)})
            self._success("created")
            bound.info("github.assigned", issue=item.issue_number, assignee=login)
        else:
            raise PermanentError(f"unknown outbox row kind {item.kind!r}")

    def _write_discussion(self, item: OutboxItem, bound: structlog.BoundLogger) -> None:
        """A row whose thread is (or becomes) a discussion. Comments are top-level: replies
        nest one level only, and mail threads deeper (docs/design/discussions.md §0)."""
        payload = item.payload
        if item.kind == "create_discussion":
            created = self.discussions.create_discussion(payload["title"], payload["body"])
            self._discussion_done(item, created, bound, found=False)
            return
        if item.kind == "assign":  # a discussion has no assignee: the store records the owner
            login = payload["login"]
            self._done(item, {"skipped": "discussions have no assignee"},
                             assignee=login)
            self._success("created")
            bound.info("github.owner_recorded", discussion=item.issue_number, assignee=login)
            return
        if item.issue_number is None:
            raise TransientError("the thread has no discussion yet")
        node_id = item.thread_node_id
        if node_id is None:  # a discussion opened on GitHub: found by its number, once
            node_id = self.discussions.discussion_id(item.issue_number)
            if item.thread_id:
                self.outbox.set_node_id(item.thread_id, node_id)
        if item.kind == "label_discussion":
            try:
                label_ids = self.discussions.label_ids(payload.get("labels", []))
            except ConfigError as exc:
                if not payload.get("optional"):
                    raise
                # A label the rule would like (wontfix) but the repository lacks: the rest of
                # the rule goes on; only a configured discussion label stops the writer.
                bound.warning("github.label_missing", key=exc.key, reason=exc.problem)
                self._state_done(item, bound, "github.label_skipped")
                return
            labels = self.discussions.add_labels(node_id, label_ids)
            self._done(item, {"labels": list(labels)})
            self._success("created")
            bound.info("github.discussion_labelled", discussion=item.issue_number)
        elif item.kind == "add_comment":
            body = payload["body"]
            if item.message_key is None:  # a comment of our own (notice, handoff): mark it
                body = f"{body}\n\n{marker(item.key)}"
            comment = self.discussions.add_comment(node_id, body)
            self._discussion_comment_done(item, comment, bound, found=False)
        elif item.kind == "react":
            comment_node, _parent = self.discussions.comment_node_id(
                item.issue_number, int(payload["comment_id"]))
            self.discussions.add_reaction(comment_node, "THUMBS_UP")
            self._state_done(item, bound, "github.reacted")
        elif item.kind == "mark_answer":
            comment_node, parent = self.discussions.comment_node_id(
                item.issue_number, int(payload["comment_id"]))
            if parent is not None:
                raise WriteRejected(422, "only a top-level comment can be the answer")
            if self.discussions.answerable:
                self.discussions.mark_answer(comment_node)
                self._state_done(item, bound, "github.answer_marked")
            else:  # a category without answers: closing it is how it is resolved
                self.discussions.close_discussion(node_id, "RESOLVED")
                self._state_done(item, bound, "github.discussion_closed")
        elif item.kind == "close_discussion":
            self.discussions.close_discussion(node_id, payload.get("reason", "RESOLVED"))
            self._state_done(item, bound, "github.discussion_closed")
        elif item.kind == "reopen_discussion":
            answer = payload.get("unmark_comment_id")
            if answer is not None and self.discussions.answerable:
                comment_node, _parent = self.discussions.comment_node_id(
                    item.issue_number, int(answer))
                self.discussions.unmark_answer(comment_node)
            try:
                unlabel = self.discussions.label_ids(payload.get("remove_labels", []))
            except ConfigError:
                unlabel = ()  # the label does not exist: nothing to take off
            if unlabel:
                self.discussions.remove_labels(node_id, unlabel)
            self.discussions.reopen_discussion(node_id)
            self._state_done(item, bound, "github.discussion_reopened")
        else:
            raise PermanentError(f"outbox row kind {item.kind!r} cannot act on a discussion")

    def _write_attachments(self, item: OutboxItem, bound: structlog.BoundLogger) -> None:
        """Store a message's attachments, or publish one stored file. A store or repository
        only the admin can fix fails this row, not the writer: the message still posts (its
        links work once `outbox retry` has stored the files)."""
        stores = self.attachments
        try:
            if stores is None:
                raise ConfigError("attachments.store", "a row writes attachments, but no "
                                  "attachment store is configured",
                                  "set attachments.store and its keys (and restart)")
            if item.kind == "publish_attachment":
                published = stores.publish(item.payload, marker(item.key))
                self._done(item, {
                    "url": published.url, "raw_url": published.raw_url,
                    "path": published.path, "by": item.payload.get("by", "")})
                self._success("created")
                bound.info("attachments.published", issue=item.issue_number,
                           by=item.payload.get("by", ""))
                return
            stored = stores.store(item.message_key, item.payload, marker(item.key))
        except (ConfigError, RepositoryNotFound) as exc:
            fix = exc.fix if isinstance(exc, ConfigError) else (
                "create the repository (private, with one commit) or give the token access, "
                f"then: visit-gateway outbox retry {item.key}")
            self.outbox.fail(item, self.clock.now(), str(exc))
            self.status.count("rejected")
            bound.error("attachments.store_failed", reason=str(exc), fix=fix)
            return
        if item.payload.get("store") != "local":
            # One write was counted before; a commit is a blob per file, a tree, a commit and
            # the branch moved (fewer when some were there already: counted as if not).
            for _ in range(stored.files + 2):
                self.budget.record(self.clock.now())
        self._done(item, {"files": stored.files, "bytes": stored.bytes,
                                                  "commit": stored.commit})
        self._success("created")
        bound.info("attachments.stored", files=stored.files, bytes=stored.bytes,
                   store=item.payload.get("store", ""))

    def _write_issue_state(self, item: OutboxItem, bound: structlog.BoundLogger) -> None:
        """A reaction, a close or a reopen on the thread's issue: idempotent, no marker."""
        if item.issue_number is None:
            raise TransientError("the thread has no issue yet")
        payload = item.payload
        if item.kind == "react":
            self.tracker.add_reaction(int(payload["comment_id"]), payload.get("content", "+1"))
            self._state_done(item, bound, "github.reacted")
        elif item.kind == "close_issue":
            self.tracker.close_issue(item.issue_number, payload["state_reason"],
                                     payload.get("labels", []))
            self._state_done(item, bound, "github.issue_closed")
        else:
            self.tracker.reopen_issue(item.issue_number, payload.get("remove_labels", []))
            self._state_done(item, bound, "github.issue_reopened")

    def _state_done(self, item: OutboxItem, bound: structlog.BoundLogger, event: str) -> None:
        self._done(item, {"done": item.kind})
        self._success("created")
        bound.info(event, issue=item.issue_number)

    def _promoted(self, item: OutboxItem, issue: CreatedIssue, bound: structlog.BoundLogger,
                  *, found: bool) -> None:
        """The product issue exists: record it (its link, for the report) and queue the
        comment linking it (`then`), in one transaction."""
        self._done(item, {"number": issue.number, "url": issue.url,
                                                  "repository": item.payload["repository"]})
        self._success("found_existing" if found else "created")
        bound.info("github.found_existing" if found else "github.promoted",
                   issue=item.issue_number, product_issue=issue.number,
                   repository=item.payload["repository"])

    def _discussion_done(self, item: OutboxItem, discussion: CreatedDiscussion,
                         bound: structlog.BoundLogger, *, found: bool,
                         acknowledge: bool = True) -> None:
        self._thread_done(item, discussion.number, discussion.url, bound, found=found,
                          acknowledge=acknowledge, node_id=discussion.node_id)
        bound.info("github.found_existing" if found else "github.discussion_created",
                   discussion=discussion.number)

    def _discussion_comment_done(self, item: OutboxItem, comment: CreatedDiscussionComment,
                                 bound: structlog.BoundLogger, *, found: bool) -> None:
        self._done(item, {"comment_id": comment.comment_id,
                                                  "url": comment.url})
        self._success("found_existing" if found else "created")
        bound.info("github.found_existing" if found else "github.comment_created",
                   discussion=item.issue_number, comment=comment.comment_id)

    def _issue_done(self, item: OutboxItem, issue: CreatedIssue, bound: structlog.BoundLogger,
                    *, found: bool, acknowledge: bool = True) -> None:
        self._thread_done(item, issue.number, issue.url, bound, found=found,
                          acknowledge=acknowledge)
        bound.info("github.found_existing" if found else "github.issue_created",
                   issue=issue.number)

    def _thread_done(self, item: OutboxItem, number: int, url: str,
                     bound: structlog.BoundLogger, *, found: bool, acknowledge: bool,
                     node_id: str | None = None) -> None:
        hook = self._on_issue_created if acknowledge else None
        thread = item.thread_id

        def follow_up(tx: Tx) -> list[OutboxRow]:
            if hook is None or thread is None:
                return []
            try:
                row = hook(tx, thread, number)
            except Exception:  # never lose the record of an issue GitHub already has
                bound.exception("notify.ack_failed", issue=number)
                return []
            return [row] if row is not None else []

        self._done(item, {"number": number, "url": url},
                         issue_number=number, node_id=node_id, follow_up=follow_up)
        self._success("found_existing" if found else "created")

    def _comment_done(self, item: OutboxItem, comment: CreatedComment,
                      bound: structlog.BoundLogger, *, found: bool) -> None:
        self._done(item, {"comment_id": comment.comment_id,
                                                  "url": comment.url})
        self._success("found_existing" if found else "created")
        bound.info("github.found_existing" if found else "github.comment_created",
                   issue=item.issue_number, comment=comment.comment_id)

    def _success(self, outcome: str) -> None:
        if self._held is not None:
            self._held.wake = True  # `_on_success` after the batch's commit
        elif self._on_success is not None:
            self._on_success()
        self.status.last_success = self.clock.now()
        self.status.healthy = True
        self.status.paused_until = None
        self.status.count(outcome)

    def _can_assign(self, login: str) -> bool:
        cached = self._assignable.get(login)
        now = self.clock.now()
        if cached is not None and now - cached[1] < ASSIGNABLE_TTL:
            return cached[0]
        answer = self.tracker.can_assign(login)
        self._assignable[login] = (answer, now)
        return answer

    def _backoff(self, attempt: int) -> dt.timedelta:
        return backoff_delay(attempt, self._backoff_base, self._backoff_max, self._random)
