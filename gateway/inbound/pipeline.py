"""The inbound shell: store raw messages, then parse, classify, thread and decide them.

Step 1 (`ingest_batch`, in `ingest`) stores the raw bytes under each message's key and commits;
only after that may the mailbox flag them. Step 2 (`process_batch`, here) parses every message
(pure), looks up all thread candidates of the batch in three queries, decides each message in
arrival order against a `ThreadIndex` that also sees the batch's own earlier decisions, and
writes everything in one transaction (the rows it queues: `outbox_rows`; a team member's
emailed `/spend` lines: `effort`). A crash between the steps leaves messages stored but
unprocessed; `process_pending` picks them up on the next start. One bad message is quarantined
with a reason; it never stops the loop. The daemon and `replay` share this code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from gateway.errors import MessageRejected
from gateway.inbound.classify import ClassifyRules, classify
from gateway.inbound.clean import clean_body
from gateway.inbound.decide import DecideSettings, decide
from gateway.inbound.effort import emailed_effort
from gateway.inbound.hotline import is_hotline_source, logged_label
from gateway.inbound.ingest import Ingested, duplicate_outcome, ingest_batch
from gateway.inbound.outbox_rows import outbox_rows
from gateway.inbound.parse import parse_email
from gateway.inbound.replyable import RecentReplyables
from gateway.inbound.thread import (
    thread_id_for,
)
from gateway.inbound.thread_index import ThreadIndex, github_match, prefetch, thread_for
from gateway.models import (
    AddComment,
    CreateIssue,
    Email,
    Kind,
    Outcome,
    RawArrival,
    ThreadMatch,
    Verdict,
)
from gateway.store.db import Store
from gateway.store.values import EffortEntry, NewThread, Recorded, StoredMessage

log = structlog.get_logger("gateway.inbound.pipeline")

AssigneeFor = Callable[[dt.datetime], str | None]
# The first comment of a new discussion: who is Primary (mentioned) and Backup for an inquiry
# that arrived at an instant, and by when it is due; None for no comment.
NoticeFor = Callable[[dt.datetime], str | None]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    list_address: str
    repository: str
    max_message_bytes: int
    classify: ClassifyRules
    decide: DecideSettings
    team_logins: Mapping[str, str] = field(default_factory=dict)  # roster email -> login
    # Where tracked discussions are (github.discussion_repository, when a category is set):
    # notifications and subject tokens naming one thread into it. None: not tracked.
    discussions_repository: str | None = None


@dataclass(frozen=True, slots=True)
class _Parsed:
    stored: StoredMessage
    email: Email | None
    rejected: Verdict | None


class Pipeline:
    def __init__(
        self,
        store: Store,
        settings: PipelineSettings,
        assignee_for: AssigneeFor,
        *,
        on_outcome: Callable[[Outcome], None] | None = None,
        notice_for: NoticeFor | None = None,
        assignee_batch: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
        replyables: RecentReplyables | None = None,
    ) -> None:
        """`assignee_batch`: a scope that `assignee_for` may answer several calls of one batch
        from one read in (`gateway.wiring.Assignee.batch`). `replyables`: where to keep what
        an answer to each parsed message needs (for the acknowledgement)."""
        self.store = store
        self.settings = settings
        self.assignee_for = assignee_for
        self.on_outcome = on_outcome
        self.notice_for = notice_for
        self.assignee_batch = assignee_batch or contextlib.nullcontext
        self.replyables = replyables

    # -- step 1 -----------------------------------------------------------------------------

    def ingest(
        self,
        raw: bytes,
        *,
        received_at: dt.datetime,
        folder: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
    ) -> Ingested:
        """Step 1 for one message. Safe to repeat."""
        return self.ingest_batch([RawArrival(raw, received_at, folder, uidvalidity, uid)])[0]

    def ingest_batch(self, arrivals: Sequence[RawArrival]) -> list[Ingested]:
        """Step 1: durably store every message not stored yet, in one transaction (`ingest`)."""
        return ingest_batch(self.store, arrivals)

    def duplicate_outcome(self, ingested: Ingested) -> Outcome:
        return duplicate_outcome(self.store, ingested)

    # -- step 2 -----------------------------------------------------------------------------

    def process_pending(self, now: dt.datetime) -> list[Outcome]:
        return self.process_batch(self.store.unprocessed_keys(), now=now)

    def process(self, key: str, *, now: dt.datetime) -> Outcome:
        return self.process_batch([key], now=now)[0]

    def process_batch(self, keys: Sequence[str], *, now: dt.datetime) -> list[Outcome]:
        """Step 2 for several stored messages, in the given (arrival) order, in one transaction.

        A message already decided is reported with its recorded verdict and not decided again.
        """
        with self.store.tx() as tx, self.assignee_batch():
            stored = tx.messages_by_keys(list(keys))
            missing = set(keys) - {message.key for message in stored}
            if missing:
                raise KeyError(f"not stored: {sorted(missing)}")
            parsed = [self._parse(item) for item in stored if item.status == "stored"]
            index = prefetch(tx, [p.email for p in parsed if p.email is not None],
                             self.settings.repository, self.settings.discussions_repository)
            decided: dict[str, tuple[Recorded, Outcome]] = {}
            for item in parsed:
                rec, outcome = self._decide_one(item, index, now)
                index.learn(rec)
                decided[item.stored.key] = (rec, outcome)
            tx.record_many([rec for rec, _ in decided.values()], now=now)
        if self.on_outcome is not None:
            for _rec, outcome in decided.values():
                self.on_outcome(outcome)
        outcomes = []
        for message in stored:
            if message.key in decided:
                outcomes.append(decided[message.key][1])
            else:
                kind = Kind(message.verdict) if message.verdict else Kind.QUARANTINE
                outcomes.append(
                    Outcome(
                        message.key,
                        message.message_id,
                        Verdict(kind, message.reason or ""),
                        message.thread_id,
                        (),
                    )
                )
        return outcomes

    def _parse(self, stored: StoredMessage) -> _Parsed:
        limit = self.settings.max_message_bytes
        if len(stored.raw) > limit:
            detail = f"{len(stored.raw):,} bytes over the {limit:,} limit"
            return _Parsed(stored, None, Verdict(Kind.QUARANTINE, "too-large", detail))
        try:
            email = parse_email(stored.raw, list_address=self.settings.list_address, key=stored.key)
        except MessageRejected as exc:
            return _Parsed(stored, None, Verdict(Kind.QUARANTINE, exc.reason, exc.detail))
        except Exception as exc:  # a parser bug must quarantine one message, not stop the daemon
            log.exception("mail.parse_failed", key=stored.key)
            return _Parsed(
                stored,
                None,
                Verdict(Kind.QUARANTINE, "unparseable", f"{type(exc).__name__}: {exc}"),
            )
        if self.replyables is not None:
            self.replyables.put(stored.key, email)
        return _Parsed(stored, email, None)

    def _decide_one(
        self, item: _Parsed, index: ThreadIndex, now: dt.datetime
    ) -> tuple[Recorded, Outcome]:
        stored = item.stored
        if stored.message_id is not None and not stored.key.startswith("mid:"):
            # Stored under its content key although it has a Message-ID: `ingest_batch` found an
            # earlier, different message with that id. Kept for an admin, never posted.
            return self._quarantined(stored, Verdict(
                Kind.QUARANTINE, "duplicate-id-different-content",
                "an earlier message with a different body has the same Message-ID"))
        if item.email is None:
            assert item.rejected is not None
            return self._quarantined(stored, item.rejected)
        try:
            return self._decide_email(item.email, stored, index, now)
        except Exception as exc:  # a bug in one message's handling quarantines that message
            log.exception("mail.process_failed", key=stored.key)
            return self._quarantined(
                stored, Verdict(Kind.QUARANTINE, "processing-error", f"{type(exc).__name__}: {exc}")
            )

    def _quarantined(self, stored: StoredMessage, verdict: Verdict) -> tuple[Recorded, Outcome]:
        # The detail may quote an exception raised over the mail's own text: the store keeps it
        # for `visit-gateway quarantine list`, the log line keeps only what precedes a colon
        # (our reason, or the exception's type).
        log.warning(
            "mail.quarantined",
            key=stored.key,
            uid=stored.uid,
            reason=verdict.reason,
            detail=verdict.detail.split(":", 1)[0][:120],
        )
        rec = Recorded(
            key=stored.key,
            verdict="quarantine",
            reason=verdict.reason,
            detail=verdict.detail,
            thread_id=None,
            new_thread=None,
            ids=(),
            outbox=(),
        )
        actions = decide(None, verdict, None, assignee=None, settings=self.settings.decide)
        return rec, Outcome(stored.key, stored.message_id, verdict, None, actions)

    def _decide_email(
        self, email: Email, stored: StoredMessage, index: ThreadIndex, now: dt.datetime
    ) -> tuple[Recorded, Outcome]:
        settings = self.settings
        sender = email.sender.addr if email.sender else None
        # A call or visit a team member logged (`visit-gateway log-inquiry`), vouched for by
        # where it was stored, not by its headers: human by construction, and a new inquiry.
        logged = (logged_label(email) if is_hotline_source(stored.folder, stored.uid)
                  else None)
        # Automatic mail first: a bounce from `MAILER-DAEMON (Mail Delivery System)` has no
        # sender address and is still ignored, never quarantined as no-sender.
        verdict = classify(email, settings.classify) if logged is None else None
        if verdict is not None:
            return self._ignored(email, verdict, index)
        if email.sender is None:
            return self._quarantined(
                stored, Verdict(Kind.QUARANTINE, "no-sender", "no From, Sender or Reply-To")
            )
        arrival = (
            stored.received_at if stored.uid is not None else (email.date or stored.received_at)
        )
        match = (thread_for(email, index, self.settings.repository,
                            self.settings.discussions_repository)
                 if logged is None else ThreadMatch(None, "hotline"))
        new_thread: NewThread | None = None
        assignee: str | None = None
        notice: str | None = None
        if match.thread_id is None:
            thread_id = thread_id_for(email.key)
            verdict = Verdict(Kind.NEW, match.reason)
            assignee = self.assignee_for(arrival)
            if settings.decide.target == "discussions" and self.notice_for is not None:
                notice = self.notice_for(arrival)
            new_thread = NewThread(
                thread_id=thread_id,
                issue_number=None,
                root_key=email.key,
                title=email.subject,
                arrived_at=arrival,
                assignee=assignee,
                target=settings.decide.target,
            )
        else:
            thread_id = match.thread_id
            verdict = Verdict(Kind.REPLY, match.reason)
            if (match.issue_number is not None
                    and (match.target, match.issue_number) not in index.refs):
                new_thread = _issue_thread(match, thread_id, email, arrival)
        # Cleaned once: the body of the action and, for a team member's reply, its /spend lines.
        cleaned = clean_body(email, settings.decide.footer_markers)
        actions = decide(
            email, verdict, thread_id, assignee=assignee, settings=settings.decide,
            cleaned=cleaned, notice=notice, logged=logged, now=now,
        )
        team_login = settings.team_logins.get(sender or "")
        responder = None
        spent: tuple[EffortEntry, ...] = ()
        if verdict.kind is Kind.REPLY and team_login:
            # A team member answered by email (the bot posts it): that is a response too, and
            # /spend lines in it are their effort (the bot's comment would not count).
            responder = (team_login, email.date or arrival)
            spent = emailed_effort(email, team_login, responder[1], settings.decide,
                                   cleaned=cleaned)
        rec = Recorded(
            key=email.key,
            verdict=verdict.kind.value,
            reason=verdict.reason,
            detail="",
            thread_id=thread_id,
            new_thread=new_thread,
            ids=((email.message_id, thread_id, "inbound"),) if email.message_id else (),
            outbox=tuple(
                row
                for action in actions
                if isinstance(action, CreateIssue | AddComment)
                for row in outbox_rows(action)
            ),
            # A caller who asked for no mail (no --ack) is nobody's customer to write to.
            customers=(sender,) if sender and not team_login and (
                logged is None or logged.ack) else (),
            responder=responder,
            effort=spent,
            # Anyone but the team writing in the thread keeps it from going stale; the time is
            # the mailbox's (a Date header is the sender's to choose).
            customer_at=None if team_login else arrival,
        )
        return rec, Outcome(
            email.key, email.message_id, verdict, thread_id, actions, sender, email.subject
        )

    def _ignored(
        self, email: Email, verdict: Verdict, index: ThreadIndex
    ) -> tuple[Recorded, Outcome]:
        """Ignored mail creates nothing, but GitHub's ids still thread later human replies."""
        thread_id: str | None = None
        new_thread: NewThread | None = None
        ids: tuple[tuple[str, str, str], ...] = ()
        if verdict.reason in ("github-notification", "github-reply-by-email"):
            repos = (self.settings.repository, self.settings.discussions_repository)
            match = (
                github_match(email, index, *repos)
                if verdict.reason == "github-notification"
                else None
            )
            match = match or thread_for(email, index, *repos)
            if match.thread_id is not None:
                thread_id = match.thread_id
                if (match.issue_number is not None
                        and (match.target, match.issue_number) not in index.refs):
                    new_thread = _issue_thread(match, thread_id, email, None)
                source = "github" if verdict.reason == "github-notification" else "inbound"
                if email.message_id:
                    ids = ((email.message_id, thread_id, source),)
        actions = decide(email, verdict, thread_id, assignee=None, settings=self.settings.decide)
        rec = Recorded(
            key=email.key,
            verdict=verdict.kind.value,
            reason=verdict.reason,
            detail=verdict.detail,
            thread_id=thread_id,
            new_thread=new_thread,
            ids=ids,
            outbox=(),
        )
        sender = email.sender.addr if email.sender else None
        return rec, Outcome(
            email.key, email.message_id, verdict, thread_id, actions, sender, email.subject
        )

def _issue_thread(
    match: ThreadMatch, thread_id: str, email: Email, arrival: dt.datetime | None
) -> NewThread:
    """A thread for an issue or discussion the gateway did not open (found through a GitHub
    id or subject token)."""
    return NewThread(
        thread_id=thread_id,
        issue_number=match.issue_number,
        root_key=None,
        title=email.subject,
        arrived_at=arrival,
        assignee=None,
        target=match.target,
    )
