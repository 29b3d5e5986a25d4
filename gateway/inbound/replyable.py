"""What an answer to a message needs from it, kept from the intake's parse for the writer.

When a new inquiry's issue exists, the writer queues the acknowledgement to its sender
(`gateway.weekly.notify.Notifier.ack_row`). That needs four things from the inquiry's first
message: its sender, subject and Message-ID, and a hotline record's label. Parsing the stored
message again for them was a quarter of the writer's CPU in a backlog: the intake parsed the
same bytes a moment before. `RecentReplyables` keeps those four things, made by the same
`replyable` from the same `Email`, for the last messages the intake parsed; a key not there
any more (after a restart, or once evicted) is parsed from the store as before, so the answer
never depends on the cache. Only these small values are kept, never a body.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from gateway.inbound.hotline import Logged, logged_label
from gateway.models import Address, Email


@dataclass(frozen=True, slots=True)
class Replyable:
    sender: Address | None
    subject: str
    message_id: str | None
    # The hotline label the message carries; it means something only for a message
    # `is_hotline_source` vouches for (the caller checks that).
    logged: Logged | None


def replyable(email: Email) -> Replyable:
    return Replyable(email.sender, email.subject, email.message_id, logged_label(email))


class RecentReplyables:
    """The `Replyable` of the last `size` messages put, by message key; thread-safe (the
    intake puts, the writer gets)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[str, Replyable] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, email: Email) -> None:
        item = replyable(email)
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: str) -> Replyable | None:
        with self._lock:
            return self._items.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
