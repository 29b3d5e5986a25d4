"""Decode a raw header value to text: RFC 2047 encoded words and undeclared 8-bit bytes.

Python's `email` package reads a message's bytes as ASCII and keeps every other byte as a lone
surrogate (`\\udcfc` for 0xFC); its header decoder raises on a broken encoded word and decodes
`gb2312` words with the narrow codec. Here the original bytes are recovered from the surrogates
and decoded as `charsets.decode_8bit` does (UTF-8 when valid, else windows-1252), and encoded
words go through the one charset table (`charsets.decode_text`). A word that cannot be decoded
costs that word, best effort, never the header nor the message: nothing here raises. Pure.
"""

from __future__ import annotations

import binascii
import re

from gateway.inbound.charsets import decode_8bit, decode_text

# RFC 2047 §2: =?charset?encoding?encoded-text?=; the charset may carry an RFC 2231 language
# (`utf-8*en`). Encoded text has no "?" but broken mailers put spaces in it: allow them.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?(.*?)\?=")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode_header_value(value: str) -> str:
    """The text of one header value as a parser keeps it (surrogates for 8-bit bytes)."""
    if value.isascii() and "=?" not in value:
        return value
    out: list[str] = []
    pending = b""  # bytes of adjacent encoded words in one charset, decoded together (§6.2)
    pending_charset = ""
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (pending and between.isspace()):  # space between words is dropped
            if pending:
                out.append(decode_text(pending, pending_charset))
                pending = b""
            out.append(_unlabelled(between))
        charset = match.group(1).partition("*")[0]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:  # not decodable: shown as it came
            if pending:
                out.append(decode_text(pending, pending_charset))
                pending = b""
            out.append(_unlabelled(match.group(0)))
        elif pending and charset.lower() != pending_charset.lower():
            out.append(decode_text(pending, pending_charset))
            pending, pending_charset = data, charset
        else:
            pending, pending_charset = pending + data, charset
        pos = match.end()
    if pending:
        out.append(decode_text(pending, pending_charset))
    out.append(_unlabelled(value[pos:]))
    return "".join(out)


def _unlabelled(text: str) -> str:
    """Header text outside encoded words: its 8-bit bytes (surrogates) decoded."""
    if text.isascii():
        return text
    return decode_8bit(text.encode("utf-8", "surrogateescape"))


def _word_bytes(encoding: str, text: str) -> bytes | None:
    raw = text.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        return _QP_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), raw.replace(b"_", b" "))
    # Base64, leniently: characters outside the alphabet (and padding) are dropped, and a last
    # lone character, which cannot hold a whole byte, with them (RFC 4648 §3.3 lets a decoder
    # ignore what is not in the alphabet).
    data = _NOT_BASE64.sub(b"", raw)
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return None
