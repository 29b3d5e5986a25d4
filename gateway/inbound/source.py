"""The mail source: the loop that drives a `Mailbox` and feeds the pipeline, in one thread.

Each round follows the exactly-once protocol of docs/ARCHITECTURE: fetch above the UID cursor,
store the raw bytes (`Pipeline.ingest_batch` commits), only then mark the mail processed in
IMAP, advance the cursor, decide the batch, and wake the GitHub writer. A crash between any two
steps loses nothing (the mail is still unmarked above the cursor, or stored and picked up by
`process_pending`) and duplicates nothing (the store deduplicates by message key). A changed
UIDVALIDITY restarts the cursor at 0 for the same reason.

Connection trouble is retried forever with exponential backoff and jitter (tenacity), one log
line per attempt. Only errors that cannot heal (a refused login, a missing folder, a bad
setting) before the first successful connect end `run()`. This module must not speak IMAP,
parse mail or touch GitHub; it logs keys and UIDs, never bodies or addresses.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from gateway.clock import Clock
from gateway.config.loader import ImapSection
from gateway.errors import ConfigError, GatewayError, TransientError
from gateway.inbound.imap import ImapAuthError, Mailbox
from gateway.inbound.pipeline import Pipeline
from gateway.log import exception_summary
from gateway.models import RawArrival
from gateway.store.leader import Fenced

log = structlog.get_logger("gateway.inbound.source")

MAX_BACKOFF = 60.0  # seconds between reconnect attempts, at most: mail waits no longer once
# the server is back (a reconnect is one TCP and TLS handshake a minute: nothing to a server)


@dataclass(slots=True)
class SourceStatus:
    """What /healthz and sd_notify read; written only by the source's thread."""

    connected: bool = False
    last_poll: dt.datetime | None = None
    last_mail: dt.datetime | None = None
    idle: bool = False
    last_error: str = ""


def _reason(exc: BaseException) -> str:
    """For the log and /healthz: our own errors' text; of anything else, only what cannot quote
    a message (a KeyError of a header value would carry an address)."""
    return str(exc) if isinstance(exc, GatewayError) else exception_summary(exc)[:300]


class MailSource:
    def __init__(
        self,
        mailbox_factory: Callable[[], Mailbox],
        pipeline: Pipeline,
        settings: ImapSection,
        *,
        clock: Clock,
        on_new_work: Callable[[], None],
        status: SourceStatus,
    ) -> None:
        self._factory = mailbox_factory
        self._pipeline = pipeline
        self._settings = settings
        self._clock = clock
        self._on_new_work = on_new_work
        self.status = status
        self._backoff = wait_exponential_jitter(max=MAX_BACKOFF)  # 1, 2, 4 ... s, + 0-1 s jitter
        self._retrying = Retrying()
        self._ever_connected = False
        self._served = False  # the current session completed a round: the next failure is new
        self._pending = True  # stored-but-undecided messages may exist

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set. Raises only what cannot heal before the first connect."""
        self._process_pending()
        attempt = 0
        while not stop.is_set():
            failure, was_connected = self._session(stop)
            if failure is None:
                return
            if isinstance(failure, ConfigError) or (
                not self._ever_connected and not isinstance(failure, TransientError)
            ):
                raise failure
            self._pending = True
            attempt = 1 if self._served else attempt + 1
            self._served = False
            delay = self._delay(attempt)
            self._log_failure(failure, was_connected, attempt, delay)
            stop.wait(delay)

    def _delay(self, attempt: int) -> float:
        state = RetryCallState(self._retrying, None, (), {})
        state.attempt_number = attempt
        return float(self._backoff(state))

    def _log_failure(
        self, failure: BaseException, was_connected: bool, attempt: int, delay: float
    ) -> None:
        reason = _reason(failure)
        self.status.last_error = reason
        if was_connected:
            log.warning("imap.disconnected", reason=reason)
        if isinstance(failure, ImapAuthError):
            log.error("imap.login_failed", attempt=attempt, delay=round(delay, 1), reason=reason)
            return
        if not isinstance(failure, GatewayError):  # a bug or a database problem: keep the trace
            log.error("imap.round_failed", exc_info=failure)
        level = log.warning if isinstance(failure, TransientError) else log.error
        level("imap.reconnecting", attempt=attempt, delay=round(delay, 1), reason=reason)

    def _session(self, stop: threading.Event) -> tuple[BaseException | None, bool]:
        """Connect and serve rounds until stopped (None) or something fails (the error)."""
        connected = False
        mailbox: Mailbox | None = None
        try:
            mailbox = self._factory()
            mailbox.connect()
            connected = self._ever_connected = True
            cursor = self._start_cursor(mailbox)
            self.status.connected, self.status.idle = True, mailbox.uses_idle
            log.info("imap.connected", host=self._settings.host, folder=self._settings.folder,
                     idle=mailbox.uses_idle, uidvalidity=mailbox.uidvalidity)
            if self._pending:
                self._process_pending()
            while not stop.is_set():
                count, cursor = self._round(mailbox, cursor)
                self._served = True
                # A short batch is not the end: fetch_after also stops at a size budget.
                if count == 0 and not stop.is_set():
                    # Fetch after the wait whatever it returns: the SEARCH is the truth, and
                    # one per poll interval also catches an IDLE notification that never came.
                    mailbox.wait(self._settings.poll_interval, stop)
        except Fenced:
            raise  # another instance leads: this one stops reading the mailbox
        except Exception as exc:
            return exc, connected
        finally:
            self.status.connected = False
            if mailbox is not None:
                mailbox.close()
        return None, connected

    def _start_cursor(self, mailbox: Mailbox) -> int:
        folder, validity = self._settings.folder, mailbox.uidvalidity
        stored = self._pipeline.store.mailbox_cursor(folder)
        if stored is not None and stored[0] == validity:
            return stored[1]
        # UIDs of another UIDVALIDITY mean nothing (RFC 3501 2.3.1.1): read the folder again;
        # the store knows every message by its key, so nothing is decided or posted twice.
        (log.warning if stored else log.info)(
            "imap.uidvalidity_changed", folder=folder, old=stored[0] if stored else None,
            new=validity, unprocessed=len(mailbox.unprocessed_uids()))
        self._pipeline.store.set_mailbox_cursor(folder, validity, 0, now=self._clock.now())
        return 0

    def _round(self, mailbox: Mailbox, cursor: int) -> tuple[int, int]:
        settings = self._settings
        fetched = mailbox.fetch_after(cursor, settings.fetch_batch)
        self.status.last_poll = self._clock.now()
        if not fetched:
            return 0, cursor
        ingested = self._pipeline.ingest_batch([
            RawArrival(item.raw, item.internal_date, settings.folder, mailbox.uidvalidity,
                       item.uid)
            for item in fetched
        ])  # committed: from here on the mail is safe, so it may be marked in IMAP
        uids = [(item.uid, len(item.raw)) for item in fetched]
        del fetched  # stored: processing reads the store, so the fetched bytes can go now
        for (uid, size), result in zip(uids, ingested, strict=True):
            log.info("mail.received", key=result.key, uid=uid, size=size, status=result.status)
        count = len(uids)
        mailbox.mark_processed([uid for uid, _ in uids])
        last_uid = max(uid for uid, _ in uids)
        self._pipeline.store.set_mailbox_cursor(
            settings.folder, mailbox.uidvalidity, last_uid, now=self._clock.now())
        keys = list(dict.fromkeys(r.key for r in ingested if r.status in ("new", "known")))
        if keys:
            self._pipeline.process_batch(keys, now=self._clock.now())
        self.status.last_mail = self._clock.now()
        self._on_new_work()
        return count, last_uid

    def _process_pending(self) -> None:
        """Decide messages a crash left stored but undecided (before the first fetch)."""
        outcomes = self._pipeline.process_pending(self._clock.now())
        self._pending = False
        if outcomes:
            log.info("mail.pending_processed", count=len(outcomes))
            self._on_new_work()
