"""The charset table (WHATWG labels), unlabelled 8-bit text, control characters, and the
header decoder built on them."""

from __future__ import annotations

import pytest

from gateway.inbound.charsets import codec_for, decode_8bit, decode_text, without_controls
from gateway.inbound.header_text import decode_header_value


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"), ("GB2312", "gb18030"), ('"gbk"', "gb18030"),
        ("iso-8859-1", "cp1252"), ("latin1", "cp1252"), ("us-ascii", "cp1252"),
        ("ascii", "cp1252"), ("ks_c_5601-1987", "cp949"), ("euc-kr", "cp949"),
        ("shift_jis", "cp932"), ("iso-8859-9", "cp1254"), ("tis-620", "cp874"),
        ("iso-8859-11", "cp874"), ("big5", "big5hkscs"), ("utf-8", "utf-8"),
        ("koi8-r", "koi8-r"), ("iso-2022-jp", "iso2022_jp"), ("x-no-such", None), (None, None),
    ],
)
def test_codec_for(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_labels_decode_with_their_superset() -> None:
    assert decode_text("朱镕".encode("gbk"), "gb2312") == "朱镕"
    assert decode_text(b"\x93quoted\x94 \x80", "iso-8859-1") == "\u201cquoted\u201d \u20ac"
    assert decode_text("한국어".encode("cp949"), "ks_c_5601-1987") == "한국어"
    assert decode_text(b"caf\xc3\xa9", "x-no-such") == "café"


def test_unlabelled_bytes_are_utf8_else_windows_1252() -> None:
    assert decode_8bit("Grüße".encode()) == "Grüße"
    assert decode_8bit("Grüße".encode("latin-1")) == "Grüße"
    assert decode_8bit(b"\x81") == "\x81"  # a windows-1252 hole: its C1 control, as WHATWG


def test_controls_are_removed_but_tab_and_newline_kept() -> None:
    assert without_controls("a\x00b\x07c\x1b[1;31md\x1b[0m\x7fe\x85f\tg\nh\x0ci") == "abcdef\tg\nhi"
    text = "no controls here\tat all\n"
    assert without_controls(text) is text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("plain", "plain"),
        ("=?gb2312?B?zfWGtA==?=", "王喆"),
        ("J\udcfcrgen", "Jürgen"),  # raw Latin-1 byte, as the parser keeps it
        ("J\udcc3\udcbcrgen", "Jürgen"),  # raw UTF-8 bytes
        ("=?utf-8?Q?a_b?= =?utf-8?Q?c?= d", "a bc d"),  # space between words dropped
        ("=?utf-8?B?4oK=?= =?utf-8?B?rA==?=", "€"),  # a character split over two words
        ("=?utf-8?B?QUJD?= =?utf-8?B?REVGR?=", "ABCDEF"),  # lone last base64 character
        ("=?utf-8?B?#?= x", " x"),  # nothing decodable: the word holds no text
        ("=?utf-8*fr?Q?=C3=A9t=C3=A9?=", "été"),  # RFC 2231 language
    ],
)
def test_decode_header_value(raw: str, text: str) -> None:
    assert decode_header_value(raw) == text
