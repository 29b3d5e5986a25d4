"""The inbound shell: store raw messages, then parse, classify, thread and decide them.

Step 1 (`ingest_batch`) stores the raw bytes under each message's key and commits; only after
that may the mailbox flag them. Step 2 (`process_batch`) parses every message (pure), looks up
all thread candidates of the batch in three queries, decides each message in arrival order
against a `ThreadIndex` that also sees the batch's own earlier decisions, and writes everything
in one transaction. A crash between the steps leaves messages stored but unprocessed;
`process_pending` picks them up on the next start. One bad message is quarantined with a reason;
it never stops the loop. The daemon and `replay` share this code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import structlog

from gateway.errors import MessageRejected
from gateway.inbound.classify import ClassifyRules, classify
from gateway.inbound.clean import CleanBody, clean_body
from gateway.inbound.decide import DecideSettings, decide
from gateway.inbound.parse import body_digest, content_key, message_key, parse_email
from gateway.inbound.spend import parse_spend
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
    RawArrival,
    ThreadMatch,
    Verdict,
)
from gateway.store.db import Store, Tx
from gateway.store.values import (
    EffortEntry,
    NewRaw,
    NewThread,
    OutboxRow,
    Recorded,
    StoredMessage,
)

log = structlog.get_logger("gateway.inbound.pipeline")

AssigneeFor = Callable[[dt.datetime], str | None]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    list_address: str
    repository: str
    max_message_bytes: int
    classify: ClassifyRules
    decide: DecideSettings
    team_logins: Mapping[str, str] = field(default_factory=dict)  # roster email -> login


@dataclass(frozen=True, slots=True)
class Ingested:
    key: str
    message_id: str | None
    status: Literal["new", "known", "duplicate"]


@dataclass(slots=True)
class ThreadIndex:
    """What the store knows about the batch's candidate ids, plus the batch's own writes."""

    ids: dict[str, str] = field(default_factory=dict)
    issues: dict[int, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def learn(self, rec: Recorded) -> None:
        for message_id, thread_id, _source in rec.ids:
            self.ids.setdefault(message_id, thread_id)
        if rec.new_thread is not None and rec.new_thread.issue_number is not None:
            self.issues.setdefault(rec.new_thread.issue_number, rec.new_thread.thread_id)
        if rec.thread_id:
            self.keys[rec.key] = rec.thread_id


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
    ) -> None:
        self.store = store
        self.settings = settings
        self.assignee_for = assignee_for
        self.on_outcome = on_outcome

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
        """Step 1: durably store every message not stored yet, in one transaction.

        A key already stored is `known` when it is the same mailbox copy (same UID) or was never
        decided (a crash left it), and a `duplicate` when it is a second delivery.
        """
        keyed = [(arrival, *message_key(arrival.raw)) for arrival in arrivals]
        with self.store.tx() as tx:
            states = tx.message_states([key for _, key, _ in keyed])
            fresh: list[NewRaw] = []
            result: list[Ingested] = []
            for arrival, key, message_id in keyed:
                state = states.get(key)
                if state is not None and not ((arrival.uid is not None and state[1] == arrival.uid)
                                              or state[0] == "stored"):
                    # A second delivery under a known key. Same body: a duplicate. A different
                    # body under the same Message-ID is another message (a broken or hostile
                    # client reusing ids): keep it under its content key, to be quarantined.
                    rekeyed = self._other_message(tx, key, arrival.raw, fresh)
                    if rekeyed is not None:
                        log.warning("mail.duplicate_id_different_content", key=key,
                                    stored_as=rekeyed, uid=arrival.uid)
                        key = rekeyed
                        state = states.get(key) or tx.message_states([key]).get(key)
                if state is None:
                    states[key] = ("batch", arrival.uid)
                    fresh.append(NewRaw(key, message_id, arrival))
                    result.append(Ingested(key, message_id, "new"))
                    continue
                status, uid = state
                if (arrival.uid is not None and uid == arrival.uid) or status == "stored":
                    result.append(Ingested(key, message_id, "known"))
                else:
                    log.info("mail.duplicate", key=key, uid=arrival.uid, first_uid=uid)
                    result.append(Ingested(key, message_id, "duplicate"))
            tx.insert_raw_many(fresh)
        return result

    @staticmethod
    def _other_message(tx: Tx, key: str, raw: bytes, fresh: Sequence[NewRaw]) -> str | None:
        """The content key for `raw` when the message stored (or batched) under `key` has a
        different body; None when it is the same message delivered again."""
        if not key.startswith("mid:"):
            return None  # a content key: equal keys mean equal content
        first = next((r.arrival.raw for r in fresh if r.key == key), None)
        if first is None:
            stored = tx.get_message(key)
            first = stored.raw if stored is not None else None
        if first is None or body_digest(first) == body_digest(raw):
            return None
        return content_key(raw)

    def duplicate_outcome(self, ingested: Ingested) -> Outcome:
        stored = self.store.get_message(ingested.key)
        thread = stored.thread_id if stored else None
        return Outcome(
            ingested.key, ingested.message_id, Verdict(Kind.IGNORE, "duplicate"), thread, ()
        )

    # -- step 2 -----------------------------------------------------------------------------

    def process_pending(self, now: dt.datetime) -> list[Outcome]:
        return self.process_batch(self.store.unprocessed_keys(), now=now)

    def process(self, key: str, *, now: dt.datetime) -> Outcome:
        return self.process_batch([key], now=now)[0]

    def process_batch(self, keys: Sequence[str], *, now: dt.datetime) -> list[Outcome]:
        """Step 2 for several stored messages, in the given (arrival) order, in one transaction.

        A message already decided is reported with its recorded verdict and not decided again.
        """
        with self.store.tx() as tx:
            stored = tx.messages_by_keys(list(keys))
            missing = set(keys) - {message.key for message in stored}
            if missing:
                raise KeyError(f"not stored: {sorted(missing)}")
            parsed = [self._parse(item) for item in stored if item.status == "stored"]
            index = self._prefetch(tx, [p.email for p in parsed if p.email is not None])
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
        return _Parsed(stored, email, None)

    def _prefetch(self, tx: Tx, emails: list[Email]) -> ThreadIndex:
        repo = self.settings.repository
        ids: dict[str, None] = {}
        numbers: set[int] = set()
        keys: dict[str, None] = {}
        for email in emails:
            candidates = candidate_ids(email)
            ids.update(dict.fromkeys(candidates))
            for ident in (*candidates, email.message_id or ""):
                number = github_issue_number(ident, repo) if ident else None
                if number is not None:
                    numbers.add(number)
            number = subject_issue_number(email.subject, repo)
            if number is not None:
                numbers.add(number)
            keys.update(dict.fromkeys(marker_keys(email)))
        return ThreadIndex(
            ids=tx.threads_for_ids(list(ids)),
            issues=tx.threads_for_issues(numbers),
            keys=tx.threads_for_message_keys(list(keys)),
        )

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
            return self._decide_email(item.email, stored, index)
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

    def _match(self, email: Email, index: ThreadIndex) -> ThreadMatch:
        return match_thread(
            email,
            known_ids=index.ids,
            issue_threads=index.issues,
            marker_threads=index.keys,
            repository=self.settings.repository,
        )

    def _decide_email(
        self, email: Email, stored: StoredMessage, index: ThreadIndex
    ) -> tuple[Recorded, Outcome]:
        settings = self.settings
        sender = email.sender.addr if email.sender else None
        # Automatic mail first: a bounce from `MAILER-DAEMON (Mail Delivery System)` has no
        # sender address and is still ignored, never quarantined as no-sender.
        verdict = classify(email, settings.classify)
        if verdict is not None:
            return self._ignored(email, verdict, index)
        if email.sender is None:
            return self._quarantined(
                stored, Verdict(Kind.QUARANTINE, "no-sender", "no From, Sender or Reply-To")
            )
        arrival = (
            stored.received_at if stored.uid is not None else (email.date or stored.received_at)
        )
        match = self._match(email, index)
        new_thread: NewThread | None = None
        assignee: str | None = None
        if match.thread_id is None:
            thread_id = thread_id_for(email.key)
            verdict = Verdict(Kind.NEW, "new-thread")
            assignee = self.assignee_for(arrival)
            new_thread = NewThread(
                thread_id=thread_id,
                issue_number=None,
                root_key=email.key,
                title=email.subject,
                arrived_at=arrival,
                assignee=assignee,
            )
        else:
            thread_id = match.thread_id
            verdict = Verdict(Kind.REPLY, match.reason)
            if match.issue_number is not None and match.issue_number not in index.issues:
                new_thread = _issue_thread(match.issue_number, thread_id, email, arrival)
        # Cleaned once: the body of the action and, for a team member's reply, its /spend lines.
        cleaned = clean_body(email, settings.decide.footer_markers)
        actions = decide(
            email, verdict, thread_id, assignee=assignee, settings=settings.decide, cleaned=cleaned
        )
        team_login = settings.team_logins.get(sender or "")
        responder = None
        spent: tuple[EffortEntry, ...] = ()
        if verdict.kind is Kind.REPLY and team_login:
            # A team member answered by email (the bot posts it): that is a response too, and
            # /spend lines in it are their effort (the bot's comment would not count).
            responder = (team_login, email.date or arrival)
            spent = emailed_effort(email, team_login, responder[1], settings, cleaned=cleaned)
        rec = Recorded(
            key=email.key,
            verdict=verdict.kind.value,
            reason=verdict.reason,
            detail="",
            thread_id=thread_id,
            new_thread=new_thread,
            ids=((email.message_id, thread_id, "inbound"),) if email.message_id else (),
            outbox=tuple(
                _outbox_row(action)
                for action in actions
                if isinstance(action, CreateIssue | AddComment)
            ),
            customers=(sender,) if sender and not team_login else (),
            responder=responder,
            effort=spent,
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
            match = (
                self._github_match(email, index)
                if verdict.reason == "github-notification"
                else None
            )
            match = match or self._match(email, index)
            if match.thread_id is not None:
                thread_id = match.thread_id
                if match.issue_number is not None and match.issue_number not in index.issues:
                    new_thread = _issue_thread(match.issue_number, thread_id, email, None)
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

    def _github_match(self, email: Email, index: ThreadIndex) -> ThreadMatch | None:
        """A notification's own Message-ID names its issue: that is its thread."""
        if not email.message_id:
            return None
        number = github_issue_number(email.message_id, self.settings.repository)
        if number is None:
            return None
        return ThreadMatch(index.issues.get(number, issue_thread_id(number)), "github-id", number)


def _issue_thread(
    number: int, thread_id: str, email: Email, arrival: dt.datetime | None
) -> NewThread:
    """A thread for an issue the gateway did not open (found through a GitHub id)."""
    return NewThread(
        thread_id=thread_id,
        issue_number=number,
        root_key=None,
        title=email.subject,
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


def emailed_effort_id(key: str) -> int:
    """The effort table's comment id for a message's /spend lines: negative, so it never meets
    a GitHub comment id (whose webhooks replace their own entries), and stable per message."""
    return -int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "big") - 1


def emailed_effort(email: Email, login: str, at: dt.datetime, settings: PipelineSettings,
                   *, cleaned: CleanBody | None = None) -> tuple[EffortEntry, ...]:
    """The `/spend` lines a team member wrote in the new text of an emailed reply; quoted
    text (an earlier mail's /spend included) is not read. `cleaned`: the email's clean body,
    when the caller has it already."""
    if cleaned is None:
        cleaned = clean_body(email, settings.decide.footer_markers)
    visible = cleaned.visible
    lines = parse_spend(visible, at, settings.decide.body.display_tz)
    for problem in lines.problems:
        log.warning("mail.spend_unreadable", key=email.key, reason=problem.reason)
    comment_id = emailed_effort_id(email.key)
    return tuple(EffortEntry(comment_id, n, login, spend.day, spend.minutes)
                 for n, spend in enumerate(lines.spends))
