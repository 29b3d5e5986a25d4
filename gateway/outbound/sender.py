"""The mail sender: executes `send_mail` outbox rows through SMTP, in order, retrying.

A row carries a finished `OutboundMail` (rendered when it was queued). Its Message-ID is derived
from the row key, so the copy re-sent after a crash between SMTP's final reply and our commit
carries the same id and mail clients collapse the two; SMTP itself has no idempotency. After a
send, our Message-ID is recorded under the row's thread, so a customer's reply to it threads
into the right issue. SMTP down: rows wait with backoff, then go out in order, once each.

Recipients the server refuses one by one with a temporary reply (4xx: greylisting, a full
mailbox, a busy server) while it accepts the others get the same message later: a follow-up
row (`<key>#resend-<n>`, queued in the transaction that records the send) carries the refused
addresses as its envelope and the original's Message-ID and Date, so the copy is byte for byte
the message the others received. A permanent refusal (5xx) is only recorded in the row's
result. Runs in its own thread.

Group commit (issue 18): the first open row of up to BATCH threads are composed and marked
`sending` in one transaction (their Message-IDs recorded in it), then sent one after the other,
the `guard` asked right before each. Marking early is safe: a row `sending` but never sent is
sent once after a crash, as a row crashed mid-send is today. Outcomes are not held: SMTP has no
marker to look for, so each send's result is committed right after the relay's reply, and the
window in which a crash sends a message twice (with the same Message-ID) stays one message
wide. The batch's messages share one connection to the relay (`Mailer.session`). A thread's
next row is picked only by a later scan, after its predecessor's outcome is
committed: order within a thread is kept. A relay that fails transiently stops the batch:
its other rows go back as they were, unsent (one commit), instead of each failing in turn.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from gateway.clock import Clock
from gateway.errors import PermanentError, TransientError
from gateway.outbound.mail import MailIdentity, OutboundMail, compose, message_id_for
from gateway.outbound.outbox import (
    MAIL_KINDS,
    Outbox,
    OutboxItem,
    backoff_delay,
    drive,
    mark_sending,
    wait_for,
)
from gateway.outbound.smtp import Mailer, MailerSetupError, Refusal
from gateway.store.engine import insert_or_ignore
from gateway.store.schema import message_ids
from gateway.store.values import OutboxRow

log = structlog.get_logger("gateway.mail")

RESEND_LIMIT = 5  # follow-up generations for recipients refused temporarily, one by one
BATCH = 16  # rows marked `sending` in one transaction, at most (one per thread)


@dataclass(frozen=True, slots=True)
class _Composed:
    mail: OutboundMail
    raw: bytes
    recipients: tuple[str, ...]
    message_id: str
    original: str  # the row key the Message-ID derives from (a resend's original's)
    composed_at: dt.datetime


@dataclass(slots=True)
class SenderStatus:
    last_success: dt.datetime | None = None
    last_error: str = ""
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class MailSender:
    def __init__(self, outbox: Outbox, mailer: Mailer, identity: MailIdentity, clock: Clock,
                 *, backoff_base: float = 5.0, backoff_max: float = 900.0,
                 seed: int | None = None) -> None:
        self.outbox = outbox
        self.mailer = mailer
        self.identity = identity
        self.clock = clock
        self.status = SenderStatus()
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._random = random.Random(seed)
        # Called right before each message goes to the relay: raises (Fenced) when this
        # instance lost the lead. None: one instance, always allowed.
        self.guard: Callable[[], None] | None = None

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        drive(self.step, stop, wake)

    def step(self) -> float | None:
        now = self.clock.now()
        items, due = self.outbox.ready(now, MAIL_KINDS, limit=BATCH)
        if not items:
            return wait_for(due, now)
        batch = [(item, composed) for item in items
                 if (composed := self._compose(item)) is not None]
        if not batch:
            return None
        # One transaction marks the batch `sending`, with each message's id recorded first:
        # a reply to it must thread even if we crash right after SMTP accepts it (an id for
        # mail never sent threads nothing).
        with self.outbox.store.tx() as tx:
            ids = [{"message_id": c.message_id, "thread_id": item.thread_id,
                    "source": "outbound", "created_at": now} for item, c in batch
                   if item.thread_id]
            if ids:
                tx.conn.execute(insert_or_ignore(tx.conn, message_ids, ["message_id"]), ids)
            mark_sending(tx, [item for item, _ in batch], now)
        with self.mailer.session():  # the batch shares one connection to the relay
            for n, (item, composed) in enumerate(batch):
                if not self._send(item, composed):
                    # The relay failed (down, or refusing us): the rest would fail alike; they
                    # go back as they were, unsent, and wait for the next step.
                    self.outbox.commit([self.outbox.release(rest, self.clock.now())
                                        for rest, _ in batch[n + 1:]], (), self.clock.now())
                    break
        return None

    def _compose(self, item: OutboxItem) -> _Composed | None:
        """The row's message, ready for the relay; None (the row failed) if it cannot be."""
        original = str(item.payload.get("resend_of") or item.key)
        message_id = message_id_for(original, self.identity.message_id_domain)
        try:
            mail = OutboundMail.from_payload(item.payload)
            composed_at = _composed_at(item)
            raw = compose(mail, self.identity, message_id, composed_at)
            recipients = tuple(str(a) for a in item.payload.get("envelope") or mail.recipients)
        except (ValueError, KeyError, TypeError, PermanentError) as exc:  # this row is broken
            self.outbox.fail(item, self.clock.now(), f"cannot compose: {exc}")
            self._count("failed")
            log.error("mail.send_failed", row=item.key, thread=item.thread_id,
                      reason=f"cannot compose: {exc}")
            return None
        return _Composed(mail, raw, recipients, message_id, original, composed_at)

    def _send(self, item: OutboxItem, composed: _Composed) -> bool:
        """Send one row marked `sending` (committed) and commit its outcome at once: SMTP
        has no marker to look for, so a success held for later would widen the window in
        which a crash sends the message twice. False when the relay failed transiently."""
        bound = log.bind(row=item.key, thread=item.thread_id)
        mail, recipients = composed.mail, composed.recipients
        try:
            if self.guard is not None:
                self.guard()
            refused = self.mailer.send(composed.raw, self.identity.from_address, recipients)
        except (TransientError, MailerSetupError) as exc:
            # MailerSetupError (bad login, untrusted certificate) is the server's or the
            # config's fault, not this row's: keep the mail and retry after the fix.
            at = self.clock.now() + self._backoff(item.attempts + 1)
            status = "sending" if item.status == "sending" else "pending"
            self.outbox.reschedule(item, self.clock.now(), status=status, error=str(exc), at=at)
            self.status.last_error = str(exc)
            self._count("retry")
            bound.warning("mail.send_retry", kind=mail.kind, reason=str(exc),
                          retry_at=at.isoformat())
            return False
        except PermanentError as exc:
            self.outbox.fail(item, self.clock.now(), str(exc))
            self.status.last_error = str(exc)
            self._count("failed")
            bound.error("mail.send_failed", kind=mail.kind, reason=str(exc))
            return True
        now = self.clock.now()
        result: dict[str, object] = {"message_id": composed.message_id}
        if refused:
            result["refused"] = [str(r) for r in refused]
        resend = _resend_row(item, composed.original, composed.composed_at, refused)
        if resend is not None:
            result["resend"] = resend.key
        self.outbox.done(item, now, result,
                         follow_up=None if resend is None else lambda _tx: [resend])
        self.status.last_success = now
        self.status.sent += 1
        self._count("sent")
        bound.info("mail.sent", kind=mail.kind, recipients=len(recipients) - len(refused),
                   refused=len(refused), resend=None if resend is None else resend.key)
        return True

    def _count(self, outcome: str) -> None:
        self.status.outcomes[outcome] = self.status.outcomes.get(outcome, 0) + 1

    def _backoff(self, attempt: int) -> dt.timedelta:
        return backoff_delay(attempt, self._backoff_base, self._backoff_max, self._random)


def _composed_at(item: OutboxItem) -> dt.datetime:
    """The Date of the row's message: a follow-up keeps its original's."""
    text = item.payload.get("composed_at")
    return dt.datetime.fromisoformat(str(text)) if text else item.created_at


def _resend_row(item: OutboxItem, original: str, composed_at: dt.datetime,
                refused: tuple[Refusal, ...]) -> OutboxRow | None:
    """A follow-up row for the recipients refused with a temporary (4xx) reply, if any."""
    later = [r.address for r in refused if 400 <= r.code < 500]
    generation = int(item.payload.get("resend_generation", 0)) + 1
    if not later or generation > RESEND_LIMIT:
        return None
    payload = {**item.payload, "resend_of": original, "envelope": later,
               "composed_at": composed_at.isoformat(), "resend_generation": generation}
    return OutboxRow(key=f"{original}#resend-{generation}", kind=item.kind,
                     thread_id=item.thread_id, message_key=item.message_key, payload=payload)
