"""Compose the gateway's outbound mail: values in, RFC 5322 bytes out.

Holds `MailIdentity` (who we are), `OutboundMail` (one message to send), `message_id_for` (the
deterministic Message-ID of an outbox row) and `compose`. Every message carries what keeps it
from looping and lets replies thread back: our Message-ID at our domain, In-Reply-To/References
to the customer's message, `Auto-Submitted` (RFC 3834), `X-Auto-Response-Suppress` (Exchange),
our loop header, and Reply-To the list. Text that came from email or GitHub (subjects, names,
ids) is sanitised here, so it can never add a header.

Pure: no sockets, no clock (the caller passes `date`), no config, no logging. Sending is
`gateway.outbound.smtp`; wording is `gateway.outbound.render`.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, cast, get_args

from gateway.errors import PermanentError
from gateway.inbound.body import mask_address

AutoSubmitted = Literal["auto-generated", "auto-replied"]
Recipient = tuple[str, str]  # (display name, address)

SUBJECT_LIMIT = 200
NAME_LIMIT = 100
MAX_REFERENCES = 20
MAX_ID_LENGTH = 250


class _HeaderClasses(HeaderRegistry):
    """The stdlib's header registry, making each header class once.

    `HeaderRegistry.__getitem__` builds a new class (`type(...)`) on every lookup: some 10 µs,
    and a message looks headers up twenty-odd times, a third of composing an
    acknowledgement. The class depends only on the registered class it specialises, so it is
    kept per registered class (a handful, and `map_to_type` needs nothing more); everything
    else is the stdlib's.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type[Any], type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        cls = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(cls)
        if made is None:
            made = self._made[cls] = super().__getitem__(name)
        return made


# RFC 5322 policy, CRLF line ends, 78-column folding. Headers we pre-fold ourselves (In-Reply-To,
# References) are emitted as they are: Python would otherwise fold a long msg-id into an RFC 2047
# encoded word (`=?utf-8?q?=3C...`), which no client recognises as an id, and threading breaks.
_POLICY = policy.SMTP.clone(header_factory=_HeaderClasses())
_OUTPUT_POLICY = _POLICY.clone(refold_source="none")

# Dot-atom addresses only (RFC 5322 3.4.1), ASCII: quoted local parts and SMTPUTF8 are not needed
# for the addresses we write to, and refusing them keeps every header predictable.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")  # no < > space
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 2.2 ftext
_LOOP_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")
# Invisible characters that reorder or hide text (Trojan Source, CVE-2021-42574) or a BOM.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
)
_NAME_SPECIALS = dict.fromkeys(map(ord, '<>"\\'))
# Unicode's control characters (category Cc) and lone surrogates (Cs, which cannot be encoded:
# surrogateescape'd bytes), as tables for str.translate: one pass in C, where a loop over
# unicodedata.category cost ~0.25 µs a character. The test checks them against unicodedata.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_SURROGATES = range(0xD800, 0xE000)
_BODY_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_CONTROLS), ord("\n"): "\n", ord("\t"): "\t",
    **dict.fromkeys(_SURROGATES, "\ufffd"), **_INVISIBLE,
}
_HEADER_TABLE: dict[int, str | None] = {
    **dict.fromkeys([*_CONTROLS, 0x2028, 0x2029], " "),  # Cc, Zl, Zp: a space
    **dict.fromkeys(_SURROGATES, "\ufffd"), **_INVISIBLE,
}


@dataclass(frozen=True, slots=True)
class MailIdentity:
    """Who the gateway is when it sends mail (from `[mail]` and `list.address`)."""

    from_address: str
    from_name: str
    reply_to: str  # the list address: answers go to the list and thread into the issue
    loop_header: str
    loop_id: str  # must be non-empty: the composition root passes `Config.loop_id`
    message_id_domain: str

    def __post_init__(self) -> None:
        for field_name in ("from_address", "reply_to"):
            if not _ADDRESS.fullmatch(getattr(self, field_name)):
                raise ValueError(f"MailIdentity.{field_name} is not an address like a@b.org")
        if not _HEADER_NAME.fullmatch(self.loop_header):
            raise ValueError(f"MailIdentity.loop_header {self.loop_header!r} is not a header name")
        if not self.loop_id:
            raise ValueError("MailIdentity.loop_id is empty: pass Config.loop_id, not mail.loop_id")
        if not _LOOP_ID.fullmatch(self.loop_id):
            raise ValueError(f"MailIdentity.loop_id {self.loop_id!r}: use printable ASCII, "
                             "at most 200 characters")
        if not _DOMAIN.fullmatch(self.message_id_domain):
            raise ValueError(f"MailIdentity.message_id_domain {self.message_id_domain!r} "
                             "is not a domain name")


@dataclass(frozen=True, slots=True)
class OutboundMail:
    """One message to send, as the outbox stores it (`as_payload` / `from_payload`).

    `in_reply_to` is the message this one answers (the customer's original); `references` lists
    the ids of the conversation oldest first, the customer's original first so their client
    threads it. `thread_id` says which thread our Message-ID must be recorded under.
    """

    kind: str
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: AutoSubmitted = "auto-generated"
    thread_id: str | None = None
    # Whose words these are (a relayed comment): From shows "<name> via <gateway name>".
    on_behalf_of: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients (RCPT TO): every To and Cc address once, in order."""
        return tuple(dict.fromkeys(addr.lower() for _name, addr in (*self.to, *self.cc)))

    def as_payload(self) -> dict[str, Any]:
        """A JSON-able dict for an outbox row's payload."""
        return {
            "kind": self.kind,
            "to": [list(pair) for pair in self.to],
            "cc": [list(pair) for pair in self.cc],
            "subject": self.subject,
            "body": self.body,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "auto_submitted": self.auto_submitted,
            "thread_id": self.thread_id,
            "on_behalf_of": self.on_behalf_of,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> OutboundMail:
        """The inverse of `as_payload`; raises ValueError for a payload it did not write."""
        auto = payload.get("auto_submitted", "auto-generated")
        if auto not in get_args(AutoSubmitted):
            raise ValueError(f"auto_submitted {auto!r} is not one of {get_args(AutoSubmitted)}")
        try:
            return cls(
                kind=str(payload["kind"]),
                to=tuple((str(name), str(addr)) for name, addr in payload["to"]),
                cc=tuple((str(name), str(addr)) for name, addr in payload.get("cc", ())),
                subject=str(payload["subject"]),
                body=str(payload["body"]),
                in_reply_to=payload.get("in_reply_to"),
                references=tuple(str(ref) for ref in payload.get("references", ())),
                auto_submitted=cast(AutoSubmitted, auto),
                thread_id=payload.get("thread_id"),
                on_behalf_of=payload.get("on_behalf_of"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an OutboundMail payload: {exc!r}") from exc


def message_id_for(row_key: str, domain: str) -> str:
    """The Message-ID of the mail an outbox row sends: the same for every attempt.

    SMTP has no idempotency: when the connection drops after DATA, or the process dies between
    the server's 250 and our commit, we cannot know whether the message went out, and the outbox
    sends it again. Because the id is derived from the row key (never random, never the time),
    the second copy carries the same Message-ID, and mail clients (Gmail, Thunderbird) and list
    archives collapse it with the first. It is a mitigation, not a guarantee. The id is also
    known before sending, so it can be recorded in `message_ids` in the same transaction as the
    row and a reply that arrives seconds later still threads.
    """
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{domain!r} is not a domain name")
    digest = hashlib.sha256(b"visit-gateway outbound mail\0" + row_key.encode("utf-8")).digest()
    token = base64.b32encode(digest[:20]).decode("ascii").lower()  # 160 bits, 32 characters
    return f"<vg.{token}@{domain.lower()}>"


def clean_header_text(value: str, *, limit: int = SUBJECT_LIMIT) -> str:
    """One line of header text: no CR/LF or other controls, no invisible reordering
    characters, whitespace collapsed, at most `limit` characters (cut with an ellipsis)."""
    text = " ".join(value.translate(_HEADER_TABLE).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_body(text: str) -> str:
    """Body text with LF line ends, no control characters but tab, ending in one newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n\n").translate(_BODY_TABLE)
    return text.rstrip("\n") + "\n"


def compose(
    mail: OutboundMail, identity: MailIdentity, message_id: str, date: dt.datetime
) -> bytes:
    """The message as bytes with CRLF line ends, ready for `SmtpMailer.send`.

    Raises ValueError for a bad `message_id` or a naive `date` (caller bugs), and PermanentError
    for a recipient address that cannot be written safely (retrying cannot fix it).
    """
    if not _MSG_ID.fullmatch(message_id) or len(message_id) > MAX_ID_LENGTH:
        raise ValueError(f"{message_id!r} is not a Message-ID like <local@domain>")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("compose needs an aware date")
    if not mail.to:
        raise ValueError("an outbound mail needs at least one To recipient")
    message = EmailMessage(policy=_POLICY)
    from_name = identity.from_name
    if mail.on_behalf_of:
        from_name = f"{mail.on_behalf_of} via {identity.from_name}"
    message["From"] = _kept("From", ((from_name, identity.from_address),))
    message["To"] = _kept("To", mail.to)
    to_addrs = {addr.lower() for _name, addr in mail.to}
    cc = tuple((name, addr) for name, addr in mail.cc if addr.lower() not in to_addrs)
    if cc:
        message["Cc"] = _kept("Cc", cc)
    message["Reply-To"] = _kept("Reply-To", (("", identity.reply_to),))
    message["Subject"] = clean_header_text(mail.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    parent = _valid_id(mail.in_reply_to)
    references = _references(mail.references, parent)
    if parent:
        message.set_raw("In-Reply-To", parent)
    if references:
        message.set_raw("References", "\n ".join(references))  # one id per line: never split
    # RFC 3834: no auto-responder answers this.
    message["Auto-Submitted"] = _kept("Auto-Submitted", mail.auto_submitted)
    # Exchange/Outlook do not honour Auto-Submitted; this asks them for no out-of-office or
    # auto-reply (MS-OXCMAIL 2.2.3.2.14). We never drop inbound mail on it (Outlook sets it).
    message["X-Auto-Response-Suppress"] = _kept("X-Auto-Response-Suppress", "OOF, AutoReply")
    # Verbatim, never folded or encoded: classify compares it with the configured loop id.
    message.set_raw(identity.loop_header, identity.loop_id)
    # No `Precedence: bulk`: it is not a standard (RFC 3834 section 2 prefers Auto-Submitted),
    # Mailman holds or discards posts carrying bulk/junk precedence on some list settings, and
    # receiving providers file "bulk" mail as marketing. Auto-Submitted says what we mean.
    body = clean_body(mail.body)
    message.set_content(body, charset="utf-8", cte=_transfer_encoding(body))
    return message.as_bytes(policy=_OUTPUT_POLICY)


class _Kept(str):
    """A header parsed once, with its folded form for the output policy kept.

    The email package takes any value with a `name` as a header object, stores it as it is and
    writes what its `fold(policy=...)` returns (`EmailPolicy.header_store_parse` and `fold`), so
    a message given this one neither parses nor folds the header again.
    """

    name: str
    _header: BaseHeader
    _folded: str

    def __new__(cls, header: BaseHeader) -> _Kept:
        kept = super().__new__(cls, header)
        kept.name = header.name
        kept._header = header
        kept._folded = header.fold(policy=_OUTPUT_POLICY)
        return kept

    def fold(self, *, policy: Any) -> str:
        return self._folded if policy is _OUTPUT_POLICY else str(self._header.fold(policy=policy))


@functools.lru_cache(maxsize=256)  # a parsed header is a few kB
def _kept(name: str, value: str | tuple[Recipient, ...]) -> _Kept:
    """Header `name` with `value` (text, or display names with addresses), parsed and folded
    by the policy once. Parsing and folding headers is most of composing a message, and the
    same ones come again and again: our From and Reply-To, the fixed headers, the people of a
    thread. Raises PermanentError for an unsafe address."""
    parsed: Any = value
    if not isinstance(value, str):
        parsed = [_address(display, addr) for display, addr in value]
    return _Kept(_POLICY.header_factory(name, parsed))


def _address(name: str, addr: str) -> Address:
    addr = addr.strip()
    if not _ADDRESS.fullmatch(addr) or len(addr) > 254:
        raise PermanentError(f"cannot send to {mask_address(addr)!r}: not a plain address")
    # Quotes, angle brackets and backslashes in a display name only serve spoofing
    # ("support@lab.gov" <x@evil>); the policy quotes commas and encodes non-ASCII.
    display = clean_header_text(name.translate(_NAME_SPECIALS), limit=NAME_LIMIT)
    try:
        return Address(display_name=display, addr_spec=addr)
    except (ValueError, IndexError):  # the policy's parser found a defect
        raise PermanentError(f"cannot send to {mask_address(addr)!r}: not a plain address"
                             ) from None


def _valid_id(value: str | None) -> str | None:
    """A Message-ID we can repeat verbatim, or None (a garbled id cannot thread anyway)."""
    if value is None:
        return None
    value = value.strip()
    return value if _MSG_ID.fullmatch(value) and len(value) <= MAX_ID_LENGTH else None


def _references(refs: tuple[str, ...], parent: str | None) -> list[str]:
    """Valid ids once each, in the given order, the parent last if absent (RFC 5322 3.6.4);
    long chains keep the first (the thread's root) and the newest ones."""
    ids = [ident for ident in (_valid_id(ref) for ref in refs) if ident]
    if parent:
        ids.append(parent)
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_REFERENCES:
        unique = [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
    return unique


def _transfer_encoding(body: str) -> str:
    """7bit when every line is short ASCII, else quoted-printable: never 8bit, which needs the
    server's 8BITMIME (RFC 6152) and which a relay may mangle."""
    if body.isascii() and all(len(line) <= 78 for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"
