"""The values the store writes and reads: frozen rows, compared with `==` in tests.

Holds a stored message as read back (`StoredMessage`), what step 1 stores (`NewRaw`) and what a
decided message writes in one transaction (`Recorded`, with its `NewThread`, `OutboxRow` and
`EffortEntry` parts). Plain data: no SQLAlchemy, no queries, no I/O (`db` runs the queries) and
no email or GitHub semantics beyond the names of the fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gateway.models import RawArrival


@dataclass(frozen=True, slots=True)
class StoredMessage:
    key: str
    seq: int
    message_id: str | None
    raw: bytes
    received_at: dt.datetime
    status: str
    verdict: str | None
    reason: str | None
    thread_id: str | None
    uid: int | None
    folder: str | None = None  # the IMAP folder, or where else it came from (None: replay)


@dataclass(frozen=True, slots=True)
class NewRaw:
    key: str
    message_id: str | None
    arrival: RawArrival


@dataclass(frozen=True, slots=True)
class NewThread:
    thread_id: str
    issue_number: int | None
    root_key: str | None
    title: str
    arrived_at: dt.datetime | None
    assignee: str | None
    target: str = "issues"  # where its issue or discussion is made (github.target then)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    key: str
    kind: str
    thread_id: str | None
    message_key: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EffortEntry:
    """One `/spend` line: `comment_id` is GitHub's comment id, or negative for one read from an
    emailed reply (see `gateway.inbound.effort.emailed_effort_id`)."""

    comment_id: int
    seq: int
    login: str
    day: dt.date
    minutes: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """Everything one processed message writes, applied in one transaction."""

    key: str
    verdict: str
    reason: str
    detail: str
    thread_id: str | None
    new_thread: NewThread | None
    ids: tuple[tuple[str, str, str], ...]  # (message_id, thread_id, source)
    outbox: tuple[OutboxRow, ...]
    customers: tuple[str, ...] = ()  # addresses to remember for the thread (never published)
    responder: tuple[str, dt.datetime] | None = None  # a team member's emailed reply
    customer_at: dt.datetime | None = None  # when a customer wrote it (the stale rule)
    effort: tuple[EffortEntry, ...] = ()  # /spend lines in that reply
