"""The bytes of one attachment as mail-parser lists it, and their count without decoding them.

mail-parser gives every attachment as a `payload` string: base64 text (`binary`) for a leaf
part, whatever its transfer encoding on the wire (a quoted-printable or 8-bit part is decoded
and re-encoded), or, for an attached multipart or message/rfc822 part (`binary` false), the
part flattened back to MIME text. The attachment's bytes are the base64 text decoded, so for a
text attachment they are the part's bytes once its transfer encoding is undone, in the charset
the sender wrote them in: never decoded to text and re-encoded. Flattened MIME text is encoded
as UTF-8, the 8-bit bytes the parser held as surrogates given back as they were.

Broken base64 is decoded as far as it goes, the way `binascii.a2b_base64` reads it (characters
outside the alphabet skipped, decoding stops at the first complete padding): a group cut short
by the end of the text still gives its complete bytes, a lone last character gives none.
`payload_size` counts exactly the bytes `payload_bytes` returns, without making them: the size
of a 25 MB attachment costs no 25 MB. Pure functions; no I/O.
"""

from __future__ import annotations

import binascii
from typing import Any

from gateway.inbound.base64_runs import Runs

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(_ALPHABET + b"=")))  # for bytes.translate
_SLICE = 1 << 20  # characters of base64 text cleaned at a time by `base64_size`


def payload_bytes(item: dict[str, Any], runs: Runs) -> bytes:
    """The bytes of the attachment mail-parser describes in `item`, its payload read through
    the `runs` of the message it came from."""
    payload = item.get("payload") or ""
    if isinstance(payload, bytes):
        return payload
    if item.get("binary"):
        return decode_base64(runs.source(payload))
    return _text_bytes(runs.restore(payload))


def payload_size(item: dict[str, Any], runs: Runs) -> int:
    """`len(payload_bytes(item, runs))`, without decoding base64."""
    payload = item.get("payload") or ""
    if isinstance(payload, bytes):
        return len(payload)
    if item.get("binary"):
        return base64_size(runs.source(payload))
    return len(_text_bytes(runs.restore(payload)))


def decode_base64(text: str | memoryview) -> bytes:
    """`text` decoded as `binascii.a2b_base64` decodes it, finishing a group the text ends
    inside of (RFC 2045 §6.8 asks a decoder to ignore what is not in the alphabet; it says
    nothing of a missing pad, which senders drop)."""
    try:  # ASCII text and a memoryview are read in place, without a bytes copy
        return binascii.a2b_base64(_ascii(text) if isinstance(text, str) else text)
    except binascii.Error:
        pass  # the text ended inside a group
    data = text.encode("ascii", "ignore") if isinstance(text, str) else bytes(text)
    try:
        return binascii.a2b_base64(data + b"==")
    except binascii.Error:
        pass  # one character of a group: no byte to make of it, drop it
    last = len(data) - 1
    while data[last] not in _ALPHABET:
        last -= 1
    return binascii.a2b_base64(data[:last] + data[last + 1 :])


def base64_size(text: str | memoryview) -> int:
    """`len(decode_base64(text))`: counts the alphabet characters up to where `a2b_base64`
    stops (a pad after the second or third character of a group, two after the second),
    cleaning a slice of `text` at a time."""
    count = 0  # alphabet characters decoded so far
    pads = 0  # pads since the last alphabet character, counted only where they can end a group
    for start in range(0, len(text), _SLICE):
        chunk = text[start : start + _SLICE]
        piece = chunk.encode("ascii", "ignore") if isinstance(chunk, str) else bytes(chunk)
        for position, run in enumerate(piece.translate(None, _NOT_BASE64).split(b"=")):
            if position and count % 4 >= 2:  # a pad before this run
                pads += 1
                if count % 4 + pads >= 4:
                    return _decoded_length(count)
            if run:
                count += len(run)
                pads = 0
    return _decoded_length(count)


def _decoded_length(count: int) -> int:
    return 3 * (count // 4) + max(0, count % 4 - 1)


def _ascii(text: str) -> str | bytes:
    """`text` as `a2b_base64` takes it: as it is when ASCII, else its ASCII characters."""
    return text if text.isascii() else text.encode("ascii", "ignore")


def _text_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return text.encode("utf-8", "replace")
