"""`MemoryMailbox`: an in-memory twin of `gateway.inbound.imap.ImapMailbox` for tests.

It keeps the `Mailbox` contract (UID cursor, processed marks, IDLE-like waits, UIDVALIDITY
changes) without a server, and can be told to fail any call. Test support only: the daemon
never uses it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence

from gateway.errors import TransientError
from gateway.inbound.imap import IDLE_SLICE, FetchedMessage


class MemoryMailbox:
    """An in-memory `Mailbox` for unit tests: same contract, no server. Thread-safe.

    `append()` delivers mail (waking `wait`), `fail(method, exc)` makes the next call of
    `method` raise `exc`, `reset_uidvalidity()` changes the epoch, `processed` holds the marked
    UIDs (moved ones leave `messages`).
    """

    default_date = dt.datetime(2026, 3, 3, 17, 14, tzinfo=dt.UTC)  # INTERNALDATE if none given

    def __init__(self, *, uidvalidity: int = 1, idle: bool = True, move: bool = False,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic  # what `wait` measures its timeout by, as ImapMailbox
        self.messages: dict[int, tuple[bytes, dt.datetime]] = {}
        self.processed: set[int] = set()
        self.connects = 0
        self.connected = False
        self._uidvalidity = uidvalidity
        self._next_uid = 1
        self._idle = idle
        self._move = move
        self._failures: dict[str, list[BaseException]] = {}
        self._news = threading.Condition()
        self._announced = 0

    @property
    def uidvalidity(self) -> int:
        return self._uidvalidity

    @property
    def uses_idle(self) -> bool:
        return self._idle

    def append(self, raw: bytes, when: dt.datetime | None = None) -> int:
        with self._news:
            uid, self._next_uid = self._next_uid, self._next_uid + 1
            self.messages[uid] = (raw, (when or self.default_date).astimezone(dt.UTC))
            self._news.notify_all()
            return uid

    def reset_uidvalidity(self, *, renumber: bool = False) -> None:
        with self._news:
            self._uidvalidity += 1
            self.connected = False  # like Dovecot: the session must log in again
            if renumber:  # every message gets a new, higher UID; marks travel with it
                for old_uid in sorted(self.messages):
                    uid, self._next_uid = self._next_uid, self._next_uid + 1
                    self.messages[uid] = self.messages.pop(old_uid)
                    if old_uid in self.processed:
                        self.processed.discard(old_uid)
                        self.processed.add(uid)

    def fail(self, method: str, exc: BaseException) -> None:
        self._failures.setdefault(method, []).append(exc)

    def _enter(self, method: str, *, needs_session: bool = True) -> None:
        pending = self._failures.get(method)
        if pending:
            raise pending.pop(0)
        if needs_session and not self.connected:
            raise TransientError("memory mailbox: not connected")

    def connect(self) -> None:
        self._enter("connect", needs_session=False)
        self.connects += 1
        self.connected = True

    def fetch_after(self, last_uid: int, limit: int) -> list[FetchedMessage]:
        self._enter("fetch_after")
        with self._news:
            self._announced = self._next_uid
            uids = sorted(uid for uid in self.messages if uid > last_uid)[:limit]
            return [FetchedMessage(uid, *self.messages[uid]) for uid in uids]

    def unprocessed_uids(self) -> list[int]:
        self._enter("unprocessed_uids")
        return sorted(uid for uid in self.messages if uid not in self.processed)

    def mark_processed(self, uids: Sequence[int]) -> None:
        self._enter("mark_processed")
        with self._news:
            self.processed.update(uids)
            if self._move:
                for uid in uids:
                    self.messages.pop(uid, None)

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        self._enter("wait")
        if not self._idle:
            return not stop.wait(timeout)
        deadline = self._monotonic() + timeout
        with self._news:
            while self._next_uid == self._announced and self.connected and not stop.is_set():
                left = deadline - self._monotonic()
                if left <= 0:
                    return False
                self._news.wait(min(left, IDLE_SLICE))
            if not self.connected:
                raise TransientError("memory mailbox: the server closed the connection")
            return self._next_uid != self._announced

    def close(self) -> None:
        self.connected = False
