"""Repair a parsed MIME tree before its text is extracted, where senders break the rules.

Each repair makes the tree what a conforming sender would have written, so the extraction
after it (mail-parser's) needs no special case:

- a `multipart/*` whose boundary never appears has no parts: its body is text (RFC 2046
  §5.1.1 makes it unreadable, but a person wrote it);
- a text part is labelled with the codec its label means (`charsets.codec_for`: `gb2312`
  text is decoded as GB 18030), and unlabelled 8-bit text that is not UTF-8 as windows-1252;
- a `message/rfc822` part with a base64 or quoted-printable transfer encoding (RFC 2046 §5.2.1
  forbids both, some clients send them) is decoded and parsed as the message it holds;
- an RFC 2047 encoded word in an address header that Python's decoder refuses (broken base64,
  say) is replaced by what our lenient decoder makes of it, so a bad display name costs the
  name, not the message (mail-parser reads address headers with the strict decoder);
- every attached message gets, before it, the lines a forwarding client writes
  (`---------- Forwarded message ---------`, From, Date, Subject), so a reader of the issue
  sees who wrote the forwarded text and what it was about.

The tree is the caller's own, freshly parsed: it is changed in place. No I/O.
"""

from __future__ import annotations

import binascii
import email
import email.utils
import quopri
import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message

from gateway.inbound.charsets import codec_for, python_codec_for, without_controls
from gateway.inbound.header_text import decode_header_value

FORWARD_MARKER = "---------- Forwarded message ---------"
_ENCODED_CTE = frozenset({"base64", "quoted-printable"})
_PLAIN_CTE = frozenset({"", "7bit", "8bit", "binary"})


def repair_tree(message: Message) -> None:
    """Apply every repair above to `message` and its parts."""
    _repair_address_headers(message)
    # `walk()` reads a part's payload only after yielding the part: a message decoded here is
    # walked (and repaired) in turn.
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type.startswith("multipart/") and not part.is_multipart():
            part.set_type("text/plain")
            content_type = "text/plain"
        if content_type.startswith("text/"):
            _label_charset(part)
        elif content_type == "message/rfc822":
            _decode_attached_message(part)
    for parent in list(message.walk()):
        if parent.is_multipart() and parent.get_content_type() != "multipart/report":
            _add_forward_headers(parent)


_ADDRESS_HEADERS = ("from", "sender", "reply-to", "to", "cc", "bcc")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?.*?\?=")


def _repair_address_headers(message: Message) -> None:
    for name in _ADDRESS_HEADERS:
        values = [str(value) for value in message.get_all(name) or ()]
        if not any("=?" in value for value in values):
            continue  # the common case: nothing to decode, nothing to repair
        fixed = [_ENCODED_WORD.sub(_decodable_word, value) for value in values]
        if fixed != values:
            del message[name]
            for value in fixed:
                message[name] = value


def _decodable_word(match: re.Match[str]) -> str:
    word = match.group(0)
    try:
        str(make_header(decode_header(word)))
    except (HeaderParseError, UnicodeError, LookupError, ValueError, binascii.Error):
        text = decode_header_value(word).replace("=?", "")
        return "" if "\ufffd" in text else text  # garbage is no name: drop it
    return word


def _transfer_encoding(part: Message) -> str:
    return str(part.get("content-transfer-encoding", "")).strip().lower()


def _label_charset(part: Message) -> None:
    payload = part.get_payload()
    if isinstance(payload, str) and payload.isascii() and _transfer_encoding(part) in _PLAIN_CTE:
        return  # ASCII text reads the same in every codec the table names
    label = part.get_content_charset()
    codec = codec_for(label)
    if codec is None:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or data.isascii():
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            part.set_param("charset", "windows-1252", replace=True)
        return
    if label is not None and codec != python_codec_for(label):
        part.set_param("charset", codec, replace=True)


def _decode_attached_message(part: Message) -> None:
    encoding = _transfer_encoding(part)
    if encoding not in _ENCODED_CTE:
        return
    payload = part.get_payload()
    held = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(held, Message):
        return
    # The parser read the encoded text as a message: as the body of a header-less one, unless
    # (quoted-printable) its first lines looked like headers.
    encoded = held.as_string() if len(held) else str(held.get_payload())
    data = encoded.encode("ascii", "surrogateescape")
    try:
        raw = binascii.a2b_base64(data) if encoding == "base64" else quopri.decodestring(data)
    except binascii.Error:
        return
    part.set_payload([email.message_from_bytes(raw)])
    part.replace_header("Content-Transfer-Encoding", "8bit")


def _add_forward_headers(parent: Message) -> None:
    children = parent.get_payload()
    if not isinstance(children, list):
        return
    out: list[Message | str] = []
    for child in children:
        if isinstance(child, Message) and child.get_content_type() == "message/rfc822":
            held = child.get_payload()
            if isinstance(held, list) and held and isinstance(held[0], Message):
                out.append(_forward_lines(held[0]))
        out.append(child)
    if len(out) != len(children):
        parent.set_payload(out)


def _forward_lines(held: Message) -> Message:
    """A text part with the forwarded message's sender, date and subject: the name only when
    it has one (a third party's address need not be published on the tracker)."""
    lines = [FORWARD_MARKER]
    for name in ("from", "date", "subject"):
        raw = next((str(v) for k, v in held.raw_items() if k.lower() == name), None)
        if raw is None:
            continue
        value = " ".join(without_controls(decode_header_value(raw)).split())
        if name == "from":
            shown, addr = email.utils.parseaddr(value)
            value = shown.strip('"') or addr
        if value:
            lines.append(f"{name.capitalize()}: {value}")
    part = Message()
    part["Content-Type"] = "text/plain; charset=utf-8"
    part.set_payload("\n".join(lines) + "\n")
    return part
