"""Turn raw message bytes into an `Email` value, and compute a message's storage key.

The stdlib parser builds the MIME tree (a long base64 body held as a marker, `base64_runs`),
`mime_repair` fixes what senders break in it, and mail-parser walks it for text parts and
attachments (`attachment_items` hands those on to `attachment_data`). Header values are decoded
here, from the raw bytes (`header_text`), and every text that reaches the tracker (subject,
names, bodies, file names) loses its control characters (`charsets.without_controls`). This
module also normalises addresses, Message-IDs and dates and finds the real sender of a Mailman
DMARC-munged post. It raises `MessageRejected` for input that is not an email at all; it never
does I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.feedparser
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Iterable, Iterator
from email.message import Message
from typing import Any

import mailparser
import mailparser.const
import mailparser.core
import mailparser.utils

from gateway.errors import MessageRejected
from gateway.inbound.attachment_payload import payload_size
from gateway.inbound.base64_runs import Runs, restore_tree
from gateway.inbound.charsets import without_controls
from gateway.inbound.header_text import decode_header_value
from gateway.inbound.mime_repair import repair_tree
from gateway.models import Address, Attachment, Email

_MSGID = re.compile(r"<([^<>\s]+)>")
# Trace headers differ between two deliveries of the same message; they must not change its key.
_TRACE_HEADERS = frozenset(
    {
        b"received",
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"x-uid",
        b"status",
        b"x-keywords",
        b"x-status",
        b"x-mozilla-status",
        b"x-mozilla-status2",
        b"envelope-to",
        b"x-envelope-to",
        b"x-spam-status",
        b"x-spam-score",
        b"x-spam-level",
        b"x-spam-checker-version",
        b"authentication-results",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"received-spf",
        b"x-received",
    }
)
_KNOWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "sender",
        "reply-to",
        "received",
        "mime-version",
        "content-type",
        "in-reply-to",
        "references",
        "return-path",
    }
)


# RFC 5322 §2.1.1 caps a line at 998 characters, so no real Message-ID is longer; real ones
# are under 250. A longer "id" is treated as no id at all: it would make keys, markers and
# database columns (600 characters) as long as the attacker likes.
MAX_MESSAGE_ID = 500
# Python's email parser (feedparser.headerRE): a header line starts with a field name and a
# colon, or continues the previous one; the first line that does neither ends the header block.
_HEADER_LINE = re.compile(rb"(?:From |[\041-\071\073-\176]*:|[\t ])")
_LEADING_BLANK_LINES = re.compile(rb"[\r\n]*")


def normalize_message_id(value: str) -> str | None:
    """`<local@Domain>` -> `<local@domain>`; None when there is no id in `value` (or only one
    longer than `MAX_MESSAGE_ID`)."""
    found = _MSGID.search(value)
    if found:
        ident = found.group(1)
    else:
        ident = value.strip().strip("<>").strip()
        if not ident or " " in ident or "@" not in ident:
            return None
    if len(ident) + 2 > MAX_MESSAGE_ID:
        return None
    local, _, domain = ident.rpartition("@")
    return f"<{local}@{domain.lower()}>" if local else f"<{ident}>"


def message_ids_in(value: str | None) -> tuple[str, ...]:
    """All Message-IDs in a References/In-Reply-To header, normalised, in order, unique."""
    if not value:
        return ()
    seen: dict[str, None] = {}
    for match in _MSGID.finditer(value):
        normal = normalize_message_id(match.group(0))
        if normal:
            seen.setdefault(normal, None)
    return tuple(seen)


def leading_blank_bytes(raw: bytes) -> int:
    """How many bytes `without_leading_blank_lines` takes off `raw`, without the copy."""
    blank = _LEADING_BLANK_LINES.match(raw)
    return blank.end() if blank else 0


def without_leading_blank_lines(raw: bytes) -> bytes:
    """`raw` without the empty lines some archivers write before the header block. Both the
    storage key and the parse start here, so they agree on where the headers are; a message
    that then starts with a non-header line still has no header block."""
    return raw.lstrip(b"\r\n") if raw[:1] in (b"\r", b"\n") else raw


def split_header_block(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header lines (line endings removed) and the body, split where a mail parser splits
    them (after `without_leading_blank_lines`): at the first empty line, or at the first line
    that is neither a header nor a continuation (that line starts the body). Whatever the length
    of the header block and whatever the mix of CRLF and LF: a body line that looks like a
    header is body."""
    lines, start = _header_lines(raw)
    return lines, raw[start:]


def _header_lines(raw: bytes) -> tuple[list[bytes], int]:
    """`split_header_block` without the copy of the body: where it starts in `raw`."""
    pos, size = leading_blank_bytes(raw), len(raw)
    lines: list[bytes] = []
    while pos < size:
        end = raw.find(b"\n", pos)
        nxt = size if end < 0 else end + 1
        line = raw[pos:nxt].rstrip(b"\r\n")
        if not line:
            return lines, nxt
        if not _HEADER_LINE.match(line):
            return lines, pos
        lines.append(line)
        pos = nxt
    return lines, size


def body_digest(raw: bytes) -> str:
    """sha256 of the body (after the header block), line endings normalised: two copies of one
    message have the same body whatever their headers say."""
    _, body = split_header_block(raw)
    return hashlib.sha256(body.replace(b"\r\n", b"\n").rstrip()).hexdigest()


def content_key(raw: bytes) -> str:
    """`sha256:` of the message without its trace headers: the key of a message with no usable
    Message-ID, and of one whose Message-ID an earlier, different message already has."""
    return _content_key(*split_header_block(raw))


def _content_key(head: list[bytes], body: bytes) -> str:
    kept: list[bytes] = []
    skipping = False
    for line in head:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line.strip())
            continue
        skipping = line.partition(b":")[0].strip().lower() in _TRACE_HEADERS
        if not skipping:
            kept.append(line.rstrip())
    digest = hashlib.sha256(b"\n".join(kept) + b"\n\n" + body.replace(b"\r\n", b"\n"))
    return f"sha256:{digest.hexdigest()}"


def message_key(raw: bytes) -> tuple[str, str | None]:
    """The storage key of a raw message and its normalised Message-ID.

    The key is `mid:<id>` when the message's header block has a Message-ID. Otherwise it is
    `content_key`, so a re-delivery of the same message (new Received lines) still gets the
    same key, where a hash of the raw bytes would not.
    """
    head, body_start = _header_lines(raw)
    message_id: str | None = None
    fields: list[list[bytes]] = []  # each Message-ID field with its continuation lines
    in_field = False
    for line in head:
        if line[:1] in (b" ", b"\t"):
            if in_field:
                fields[-1].append(line)
            continue
        in_field = line[:11].lower() == b"message-id:"
        if in_field:
            fields.append([line[11:]])
    for field in fields:  # the first one that holds an id
        value = b" ".join(part.strip() for part in field)
        message_id = normalize_message_id(value.decode("ascii", "replace"))
        if message_id:
            break
    if message_id:
        return f"mid:{message_id}", message_id
    return _content_key(head, raw[body_start:]), None


def _one_line(value: str) -> str:
    """A decoded header value for display: controls removed, whitespace runs one space."""
    return " ".join(without_controls(value).split())


def _addresses(values: list[str]) -> tuple[Address, ...]:
    """The mailboxes in raw header values (split before decoding: a decoded name may hold a
    comma); names decoded, 8-bit addresses (RFC 6532) decoded like any header text."""
    out: list[Address] = []
    for name, addr in email.utils.getaddresses(values):
        addr = decode_header_value(addr).strip().lower()
        if "@" not in addr:
            continue
        out.append(Address(_one_line(decode_header_value(name)).strip('"').strip(), addr))
    return tuple(out)


def _address_header(
    parsed: Any, raw: tuple[tuple[str, str], ...], name: str
) -> tuple[Address, ...]:
    """The mailboxes of the first `name` header. mail-parser has parsed them already; where the
    value is plain ASCII its result is exact and is used as it is. A value with encoded words
    or 8-bit bytes is parsed again here, because mail-parser decodes those names with the
    narrow codec of the label, or leaves 8-bit bytes as surrogates (`J\\udcfcrgen`)."""
    values = _values(raw, name)[:1]
    if values and (not values[0].isascii() or "=?" in values[0]):
        return _addresses(values)
    out: list[Address] = []
    for shown, addr in getattr(parsed, name.replace("-", "_")) or ():
        addr = str(addr).strip().lower()
        if "@" in addr:
            out.append(Address(_one_line(str(shown)).strip('"').strip(), addr))
    return tuple(out)


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _raw_headers(message: Message) -> tuple[tuple[str, str], ...]:
    """All headers as (lower-case name, raw value) pairs, in order: 8-bit bytes still held as
    surrogates, RFC 2047 words still encoded."""
    return tuple((name.lower(), str(value)) for name, value in message.raw_items())


def _header_pairs(raw: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """All headers as (lower-case name, decoded one-line value) pairs, repeated headers kept.
    Plain ASCII values (most of them) are returned as they are, without a decoding pass."""
    return tuple((name, " ".join(decode_header_value(value).split())) for name, value in raw)


def _values(raw: tuple[tuple[str, str], ...], wanted: str) -> list[str]:
    return [value for name, value in raw if name == wanted]


def _real_sender(
    from_: Address | None,
    reply_to: tuple[Address, ...],
    cc: tuple[Address, ...],
    headers: tuple[tuple[str, str], ...],
    list_address: str,
) -> Address | None:
    """The person who wrote the message, undoing Mailman's DMARC From munging."""
    if from_ is None:
        return reply_to[0] if reply_to else None
    if from_.addr != list_address.lower():
        return from_
    # "Jane Roe via visit-users" <visit-users@...>: Mailman's dmarc_moderation_action=munge.
    person = from_.name.rsplit(" via ", 1)[0].strip() if " via " in from_.name else from_.name
    for name, value in headers:
        if name == "x-original-from":
            found = _addresses([value])
            if found:
                return Address(found[0].name or person, found[0].addr)
    for candidate in (*reply_to, *cc):
        if candidate.addr != list_address.lower():
            return Address(candidate.name or person, candidate.addr)
    return from_


# Header names whose values `MailParser._make_mail` does not run through `decode_header_part`:
# address headers (parsed earlier, in `_reset`), its computed parts (`date`, `received`, ...) and
# the names it reserves for its own metadata. Both sets are mail-parser internals (4.8): with a
# mail-parser that lacks them, `_parse_message` below uses the stock parser.
_COMPUTED_PARTS = getattr(mailparser.const, "COMPUTED_PARTS", None)
_RESERVED_MAIL_KEYS = getattr(mailparser.core, "_RESERVED_MAIL_KEYS", None)
_NOT_DECODED_BY_MAKE_MAIL = frozenset(
    {*mailparser.const.ADDRESSES_HEADERS, *(_COMPUTED_PARTS or ()), *(_RESERVED_MAIL_KEYS or ())}
)


class _MailParser(mailparser.MailParser):  # type: ignore[misc]  # mail-parser is untyped
    """mail-parser, minus the two summary dicts it builds at the end of every parse.

    `MailParser.parse()` ends with `_make_mail()` twice, building `mail` (every header) and
    `mail_partial` (the main ones): each header decoded again, plus the computed parts.
    `parse_email` reads neither dict, and building them only reads the parsed state, so
    skipping them changes no value it uses (they were a tenth of mail-parser's time, on the
    benchmark corpus and on fixtures/emails alike).

    What is kept is the one way building them shows: decoding a header value can raise (an
    encoded word whose charset holds a NUL byte raises ValueError; mail-parser then fails the
    whole parse, and the message is `unparseable`) or log "Failed decoding header part". So
    every value whose decoding could do either, a str holding an encoded word or an 8-bit
    value held as a Header, is still decoded by the same function in the same passes, its text
    dropped. A plain str without "=?" decodes to itself, silently.
    """

    def _make_mail(self, complete: bool = True) -> dict[str, Any]:
        for name, value in self.message.items() if self.message is not None else ():
            lowered = name.lower()
            if (
                (not isinstance(value, str) or "=?" in value)
                and lowered not in _NOT_DECODED_BY_MAKE_MAIL
                and (complete or lowered in mailparser.const.OTHERS_PARTS)
            ):
                mailparser.utils.decode_header_part(value)
        return {}


def _parse_message(message: Message) -> Any:
    """mail-parser over an already parsed (and repaired) message, through `_MailParser`: the
    same walk and the same errors as `mailparser.MailParser(message)`."""
    if _COMPUTED_PARTS is None or _RESERVED_MAIL_KEYS is None:
        return mailparser.MailParser(message)
    return _MailParser(message)


def _tree(pieces: Iterable[bytes]) -> Message:
    """The MIME tree of a message fed in `pieces`.

    `email.message_from_bytes` decodes the whole message into one str and reads that through a
    StringIO, which holds it at 4 bytes a character: a 34 MB message cost 200 MB before a part
    was built. The parser reads its input 8192 characters at a time anyway (`Parser.parse`);
    fed the same 8192 bytes (one character each, as ASCII with surrogateescape, which is how
    `BytesParser` decodes them) it makes the same calls, so builds the same tree, without
    either copy (`Runs.pieces` cuts them so)."""
    parser = email.feedparser.BytesFeedParser(policy=email.policy.compat32)
    for piece in pieces:
        parser.feed(piece)
    return parser.close()


def _read(raw: bytes) -> tuple[Message, Runs]:
    """The MIME tree of `without_leading_blank_lines(raw)`, as `email.message_from_bytes` builds
    it but for the long base64 runs an attachment's payload marks (`base64_runs`), and those
    runs. Raises MessageRejected when it has none of the headers every email has."""
    runs = Runs.find(raw)
    message = _tree(runs.pieces(leading_blank_bytes(raw)))
    if not {name.lower() for name in message} & _KNOWN_HEADERS:
        raise MessageRejected("unparseable", "no RFC 5322 header found")
    restore_tree(message, runs)
    return message, runs


def _walk(message: Message) -> Any:
    """`message` repaired (in place) and walked by mail-parser: the walk whose `attachments`
    `parse_email` describes and `attachment_items` hands on."""
    repair_tree(message)
    return _parse_message(message)


@contextlib.contextmanager
def _unparseable() -> Iterator[None]:
    """Any error but our own refusal, raised while reading the tree, as MessageRejected."""
    try:
        yield
    except MessageRejected:
        raise
    except Exception as exc:  # mail-parser raises many kinds; any of them means "not an email"
        raise MessageRejected("unparseable", f"{type(exc).__name__}: {exc}") from exc


def attachment_items(raw: bytes) -> tuple[list[dict[str, Any]], Runs]:
    """mail-parser's description of each attachment of `raw` (`payload`, `binary`, names,
    types), in order: the very list `parse_email(raw, ...).attachments` is made from, by the
    same reading of the same bytes; and the runs their payloads may mark (`payload_bytes` reads
    them). The MIME tree is dropped on return; an item holds only its own payload text (or a
    marker). Raises MessageRejected where `parse_email` does."""
    with _unparseable():
        message, runs = _read(raw)
        return list(_walk(message).attachments), runs


def parse_email(raw: bytes, *, list_address: str, key: str | None = None) -> Email:
    """Parse `raw` into an Email. Raises MessageRejected('unparseable') for non-email input."""
    if key is None:
        key, _ = message_key(raw)
    size = len(raw)
    with _unparseable():
        message, runs = _read(raw)
        # What the message declares, read before `repair_tree` changes any part of it.
        raw_headers = _raw_headers(message)
        content_type = message.get_content_type()
        part_types = tuple(part.get_content_type() for part in message.walk())
        parsed = _walk(message)
    headers = _header_pairs(raw_headers)
    from_ = _first(_address_header(parsed, raw_headers, "from"))
    sender_header = _first(_addresses(_values(raw_headers, "sender")))
    reply_to = _address_header(parsed, raw_headers, "reply-to")
    to = _address_header(parsed, raw_headers, "to")
    cc = _address_header(parsed, raw_headers, "cc")
    message_id = normalize_message_id(_first_value(headers, "message-id"))
    sender = _real_sender(from_ or sender_header, reply_to, cc, headers, list_address)
    attachments = tuple(_attachment(item, runs) for item in parsed.attachments)
    return Email(
        key=key,
        message_id=message_id,
        subject=_one_line(_first_value(headers, "subject")),
        from_=from_,
        sender=sender,
        reply_to=reply_to,
        to=to,
        cc=cc,
        date=_date(_first_value(headers, "date")),
        in_reply_to=message_ids_in(_first_value(headers, "in-reply-to")),
        references=message_ids_in(" ".join(_values(headers, "references"))),
        headers=headers,
        text_parts=tuple(_text(part) for part in parsed.text_plain),
        html_parts=tuple(_text(part) for part in parsed.text_html),
        content_type=content_type,
        part_types=part_types,
        attachments=attachments,
        size=size,
    )


def _first_value(headers: tuple[tuple[str, str], ...], wanted: str) -> str:
    return next((value for name, value in headers if name == wanted), "")


def _first(items: tuple[Address, ...]) -> Address | None:
    return items[0] if items else None


def _text(part: str) -> str:
    if "\x1b$" in part or "\x1b(" in part:
        part = _decode_iso2022(part)
    return without_controls(part.replace("\r\n", "\n").replace("\r", "\n"))


def _decode_iso2022(part: str) -> str:
    """mail-parser leaves 7bit ISO-2022 text (Japanese, Korean mail) undecoded: its escape
    sequences are plain ASCII. Decode it here; text that is not ISO-2022 is left alone."""
    try:
        raw = part.encode("ascii")
    except UnicodeEncodeError:
        return part
    for codec in ("iso-2022-jp-2", "iso-2022-kr"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return part


def _attachment(item: dict[str, Any], runs: Runs) -> Attachment:
    return Attachment(
        filename=_one_line(decode_header_value(str(item.get("filename") or "unnamed"))),
        content_type=str(item.get("mail_content_type") or "application/octet-stream"),
        size=payload_size(item, runs),
        inline=bool(item.get("content-id"))
        and not item.get("content-disposition", "").startswith("attachment"),
    )
