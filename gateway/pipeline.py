"""The inbound shell: store a raw message, then parse, classify, thread and decide it.

Step 1 (`ingest`) stores the raw bytes under the message's key and commits; only after that
may the mailbox flag it. Step 2 (`process`) runs the pure functions and writes the verdict,
thread, ids and outbox rows in one transaction. A crash between the steps leaves the message
stored but unprocessed; `process_pending` picks it up on the next start. One bad message is
quarantined with a reason; it never stops the loop. The daemon and `replay` share this code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from gateway.decide import DecideSettings, decide
from gateway.errors import MessageRejected
from gateway.inbound.classify import ClassifyRules, classify
from gateway.inbound.parse import message_key, parse_email
from gateway.inbound.thread import (
    candidate_ids,
    github_issue_number,
    issue_thread_id,
    marker_keys,
    match_thread,
    subject_issue_number,
    thread_id_for,
)
from gateway.models import (
    AddComment,
    CreateIssue,
    Email,
    Kind,
    Outcome,
    ThreadMatch,
    Verdict,
)
from gateway.store import NewThread, OutboxRow, Recorded, Store

log = structlog.get_logger("gateway.pipeline")

AssigneeFor = Callable[[dt.datetime], str | None]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    list_address: str
    repository: str
    max_message_bytes: int
    classify: ClassifyRules
    decide: DecideSettings


@dataclass(frozen=True, slots=True)
class Ingested:
    key: str
    message_id: str | None
    status: Literal["new", "known", "duplicate"]


class Pipeline:
    def __init__(self, store: Store, settings: PipelineSettings, assignee_for: AssigneeFor) -> None:
        self.store = store
        self.settings = settings
        self.assignee_for = assignee_for

    def ingest(
        self,
        raw: bytes,
        *,
        received_at: dt.datetime,
        folder: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
    ) -> Ingested:
        """Step 1: durably store `raw` (unless already stored). Safe to repeat."""
        key, message_id = message_key(raw)
        inserted, stored = self.store.insert_raw(
            key=key,
            message_id=message_id,
            raw=raw,
            received_at=received_at,
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
        )
        if inserted:
            return Ingested(key, message_id, "new")
        same_copy = uid is not None and stored.uid == uid
        if same_copy or stored.status == "stored":
            return Ingested(key, message_id, "known")
        log.info("mail.duplicate", key=key, uid=uid, first_uid=stored.uid)
        return Ingested(key, message_id, "duplicate")

    def duplicate_outcome(self, ingested: Ingested) -> Outcome:
        stored = self.store.get_message(ingested.key)
        thread = stored.thread_id if stored else None
        return Outcome(
            ingested.key, ingested.message_id, Verdict(Kind.IGNORE, "duplicate"), thread, ()
        )

    def process_pending(self, now: dt.datetime) -> list[Outcome]:
        return [self.process(key, now=now) for key in self.store.unprocessed_keys()]

    def process(self, key: str, *, now: dt.datetime) -> Outcome:
        """Step 2: decide one stored message and record the decision atomically."""
        stored = self.store.get_message(key)
        if stored is None:
            raise KeyError(key)
        bound = log.bind(key=key, uid=stored.uid)
        if len(stored.raw) > self.settings.max_message_bytes:
            return self._quarantine(
                key,
                stored.message_id,
                "too-large",
                f"{len(stored.raw):,} bytes over the {self.settings.max_message_bytes:,} limit",
                now,
            )
        try:
            email = parse_email(stored.raw, list_address=self.settings.list_address, key=key)
        except MessageRejected as exc:
            return self._quarantine(key, stored.message_id, exc.reason, exc.detail, now)
        except Exception as exc:  # a parser bug must quarantine one message, not stop the daemon
            bound.exception("mail.parse_failed")
            return self._quarantine(
                key, stored.message_id, "unparseable", f"{type(exc).__name__}: {exc}", now
            )
        arrival = (
            stored.received_at if stored.uid is not None else (email.date or stored.received_at)
        )
        try:
            outcome = self._decide_and_record(email, arrival, now)
        except Exception as exc:  # same: a bug in one message's handling quarantines it
            bound.exception("mail.process_failed")
            return self._quarantine(
                key, stored.message_id, "processing-error", f"{type(exc).__name__}: {exc}", now
            )
        bound.info(
            "mail.classified",
            verdict=outcome.verdict.kind.value,
            reason=outcome.verdict.reason,
            thread=outcome.thread_id,
            actions=[action.kind for action in outcome.actions],
        )
        return outcome

    def _quarantine(
        self, key: str, message_id: str | None, reason: str, detail: str, now: dt.datetime
    ) -> Outcome:
        verdict = Verdict(Kind.QUARANTINE, reason, detail)
        self.store.record(
            Recorded(
                key=key,
                verdict="quarantine",
                reason=reason,
                detail=detail,
                thread_id=None,
                new_thread=None,
                ids=(),
                outbox=(),
            ),
            now=now,
        )
        log.warning("mail.quarantined", key=key, reason=reason, detail=detail)
        return Outcome(
            key,
            message_id,
            verdict,
            None,
            decide(None, verdict, None, assignee=None, settings=self.settings.decide),
        )

    def _match(self, email: Email) -> ThreadMatch:
        repo = self.settings.repository
        ids = candidate_ids(email)
        numbers = {n for n in (github_issue_number(i, repo) for i in ids) if n is not None}
        subject_number = subject_issue_number(email.subject, repo)
        if subject_number is not None:
            numbers.add(subject_number)
        return match_thread(
            email,
            known_ids=self.store.threads_for_ids(ids),
            issue_threads=self.store.threads_for_issues(numbers),
            marker_threads=self.store.threads_for_message_keys(marker_keys(email)),
            repository=repo,
        )

    def _decide_and_record(self, email: Email, arrival: dt.datetime, now: dt.datetime) -> Outcome:
        settings = self.settings
        sender = email.sender.addr if email.sender else None
        ignored = classify(email, settings.classify)
        if ignored is None and email.sender is None:
            ignored = Verdict(Kind.QUARANTINE, "no-sender", "no From, Sender or Reply-To")
        if ignored is not None:
            return self._record_ignored(email, ignored, sender, now)
        match = self._match(email)
        new_thread: NewThread | None = None
        if match.thread_id is None:
            thread_id = thread_id_for(email.key)
            verdict = Verdict(Kind.NEW, "new-thread")
            assignee = self.assignee_for(arrival)
            new_thread = NewThread(
                thread_id=thread_id,
                issue_number=None,
                root_key=email.key,
                title=email.subject,
                customers=(sender,) if sender else (),
                arrived_at=arrival,
                assignee=assignee,
            )
        else:
            thread_id = match.thread_id
            verdict = Verdict(Kind.REPLY, match.reason)
            assignee = None
            if match.issue_number is not None and self.store.thread(thread_id) is None:
                new_thread = _issue_thread(match.issue_number, thread_id, email, arrival)
        actions = decide(email, verdict, thread_id, assignee=assignee, settings=settings.decide)
        ids = [(email.message_id, thread_id, "inbound")] if email.message_id else []
        self.store.record(
            Recorded(
                key=email.key,
                verdict=verdict.kind.value,
                reason=verdict.reason,
                detail="",
                thread_id=thread_id,
                new_thread=new_thread,
                ids=tuple(ids),
                outbox=tuple(
                    _outbox_row(action)
                    for action in actions
                    if isinstance(action, CreateIssue | AddComment)
                ),
                add_customers=(sender,) if sender and verdict.kind is Kind.REPLY else (),
            ),
            now=now,
        )
        return Outcome(
            email.key, email.message_id, verdict, thread_id, actions, sender, email.subject
        )

    def _record_ignored(
        self, email: Email, verdict: Verdict, sender: str | None, now: dt.datetime
    ) -> Outcome:
        """Ignored mail creates nothing, but its ids still thread later human replies."""
        thread_id: str | None = None
        new_thread: NewThread | None = None
        ids: list[tuple[str, str, str]] = []
        threadable = verdict.reason in ("github-notification", "github-reply-by-email")
        if threadable:
            match = self._github_match(email) if verdict.reason == "github-notification" else None
            match = match or self._match(email)
            if match.thread_id is not None:
                thread_id = match.thread_id
                if match.issue_number is not None and self.store.thread(thread_id) is None:
                    new_thread = _issue_thread(match.issue_number, thread_id, email, None)
                source = "github" if verdict.reason == "github-notification" else "inbound"
                if email.message_id:
                    ids.append((email.message_id, thread_id, source))
        if verdict.kind is Kind.QUARANTINE:
            log.warning("mail.quarantined", key=email.key, reason=verdict.reason)
        actions = decide(email, verdict, thread_id, assignee=None, settings=self.settings.decide)
        self.store.record(
            Recorded(
                key=email.key,
                verdict=verdict.kind.value,
                reason=verdict.reason,
                detail=verdict.detail,
                thread_id=thread_id,
                new_thread=new_thread,
                ids=tuple(ids),
                outbox=(),
            ),
            now=now,
        )
        return Outcome(
            email.key, email.message_id, verdict, thread_id, actions, sender, email.subject
        )

    def _github_match(self, email: Email) -> ThreadMatch | None:
        """A notification's own Message-ID names its issue: that is its thread."""
        if not email.message_id:
            return None
        number = github_issue_number(email.message_id, self.settings.repository)
        if number is None:
            return None
        known = self.store.threads_for_issues([number])
        return ThreadMatch(known.get(number, issue_thread_id(number)), "github-id", number)


def _issue_thread(
    number: int, thread_id: str, email: Email, arrival: dt.datetime | None
) -> NewThread:
    title = email.subject
    return NewThread(
        thread_id=thread_id,
        issue_number=number,
        root_key=None,
        title=title,
        customers=(),
        arrived_at=arrival,
        assignee=None,
    )


def _outbox_row(action: CreateIssue | AddComment) -> OutboxRow:
    if isinstance(action, CreateIssue):
        return OutboxRow(
            key=f"issue:{action.message_key}",
            kind="create_issue",
            thread_id=action.thread_id,
            message_key=action.message_key,
            payload={
                "title": action.title,
                "body": action.body,
                "assignee": action.assignee,
                "labels": list(action.labels),
            },
        )
    return OutboxRow(
        key=f"comment:{action.message_key}",
        kind="add_comment",
        thread_id=action.thread_id,
        message_key=action.message_key,
        payload={"body": action.body},
    )
