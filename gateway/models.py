"""Values that flow through the pipeline: emails, verdicts, thread matches and actions.

Everything here is a frozen, slotted dataclass so a decision can be compared with `==` in a
table-driven test. Nothing here does I/O or knows about configuration files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: display name (decoded) and the lower-cased address."""

    name: str
    addr: str

    @property
    def local(self) -> str:
        return self.addr.partition("@")[0]

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Email:
    """A parsed message: decoded headers, the ids used for threading, bodies and attachments.

    `sender` is the real person: for a Mailman DMARC-munged post it comes from X-Original-From,
    Reply-To or Cc instead of the list's own From address.
    """

    key: str
    message_id: str | None
    subject: str
    from_: Address | None
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: dt.datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    text_parts: tuple[str, ...]
    html_parts: tuple[str, ...]
    content_type: str
    part_types: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    size: int

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc


@dataclass(frozen=True, slots=True)
class RawArrival:
    """One message as the mailbox (or a file, for replay) hands it over, before it is stored."""

    raw: bytes
    received_at: dt.datetime
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


class Kind(StrEnum):
    NEW = "new"
    REPLY = "reply"
    IGNORE = "ignore"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the classifier and threader concluded; `reason` is a stable code (see README)."""

    kind: Kind
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """Where a human message belongs.

    `thread_id` is None for a brand-new thread. `issue_number` is set when the match came from a
    GitHub id or subject token, so the shell can create a thread for an issue (or, `target`
    "discussions", a discussion) it did not open.
    """

    thread_id: str | None
    reason: str
    issue_number: int | None = None
    target: str = "issues"


@dataclass(frozen=True, slots=True)
class KnownIssueLookup:
    """Search `repository` (the product's) for issues matching `terms`, most distinctive first,
    and show the best `limit` to the Primary ("is it a known issue?")."""

    repository: str
    terms: tuple[str, ...]
    limit: int


@dataclass(frozen=True, slots=True)
class CreateIssue:
    thread_id: str
    message_key: str
    title: str
    body: str
    assignee: str | None
    labels: tuple[str, ...]
    kind: str = field(default="create_issue", init=False)
    # "discussions": a discussion, labelled after it is made, with `notice` (naming the
    # Primary) as its first comment.
    target: str = "issues"
    notice: str | None = None
    # Look for known issues once it exists; the matches go to the Primary (in the notice, or
    # in a comment of their own), never to the customer.
    lookup: KnownIssueLookup | None = None
    # The payload of the row that stores the message's attachments before the body links
    # them (`gateway.inbound.attachments`); None: nothing to store.
    store: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AddComment:
    thread_id: str
    message_key: str
    body: str
    kind: str = field(default="add_comment", init=False)
    store: Mapping[str, Any] | None = None  # as CreateIssue.store


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str
    kind: str = field(default="ignore", init=False)


@dataclass(frozen=True, slots=True)
class Quarantine:
    reason: str
    detail: str = ""
    kind: str = field(default="quarantine", init=False)


Action = CreateIssue | AddComment | Ignore | Quarantine


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one message, as replay prints it and tests compare it."""

    key: str
    message_id: str | None
    verdict: Verdict
    thread_id: str | None
    actions: tuple[Action, ...]
    sender: str | None = None
    subject: str = ""
