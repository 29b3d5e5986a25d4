"""Turn mail bytes into clean text: which codec a charset label means, and which characters
must not reach GitHub.

Mail says `gb2312`, `iso-8859-1` or `ks_c_5601-1987` and means the superset that its sender's
software wrote, the same superset every browser reads (WHATWG Encoding Standard, "Encodings",
https://encoding.spec.whatwg.org/#names-and-labels): `codec_for` is the one label -> codec
table, used for bodies and for RFC 2047 words alike. Bytes that carry no label (raw 8-bit
headers) are UTF-8 when they are valid UTF-8, else windows-1252. Pure; no I/O.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

# Label -> Python codec, where the WHATWG standard decodes a label with a superset of the codec
# Python would pick for it. Labels not listed here use Python's own codec for the label.
_SUPERSETS: dict[str, str] = {
    **dict.fromkeys(
        (
            "us-ascii", "ascii", "ansi_x3.4-1968", "iso-ir-6", "iso646-us", "us", "ibm367",
            "cp367", "csascii", "iso-8859-1", "iso8859-1", "iso_8859-1", "iso88591",
            "iso_8859-1:1987", "iso-ir-100", "latin1", "l1", "ibm819", "cp819", "csisolatin1",
            "x-cp1252",
        ),
        "cp1252",
    ),
    **dict.fromkeys(
        ("gb2312", "gb_2312", "gb_2312-80", "chinese", "csgb2312", "csiso58gb231280",
         "iso-ir-58", "x-gbk", "gbk", "cp936", "ms936", "windows-936", "euc-cn"),
        "gb18030",
    ),
    **dict.fromkeys(
        ("euc-kr", "euckr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601",
         "korean", "csksc56011987", "cseuckr", "iso-ir-149", "windows-949", "cp949"),
        "cp949",
    ),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "csshiftjis", "ms932", "ms_kanji",
         "windows-31j", "cp932"),
        "cp932",
    ),
    **dict.fromkeys(
        ("iso-8859-9", "iso8859-9", "iso_8859-9", "iso88599", "iso_8859-9:1989", "iso-ir-148",
         "latin5", "l5", "csisolatin5"),
        "cp1254",
    ),
    **dict.fromkeys(
        ("iso-8859-11", "iso8859-11", "iso88591-1", "tis-620", "tis620", "dos-874",
         "windows-874"),
        "cp874",
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"),
    **dict.fromkeys(("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8",
                     "utf8"), "utf-8"),
}


@lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec that decodes text labelled `label`, or None for a label no codec has
    (or no label). Labels are compared case-insensitively, surrounding quotes and blanks off."""
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    if name in _SUPERSETS:
        return _SUPERSETS[name]
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


@lru_cache(maxsize=256)
def python_codec_for(label: str) -> str | None:
    """The codec Python itself decodes `label` with (None: it has none); where it differs from
    `codec_for(label)`, a text part's label is replaced before mail-parser decodes it."""
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def decode_8bit(data: bytes) -> str:
    """Unlabelled bytes: UTF-8 when they are valid UTF-8, else windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", _C1_FOR_HOLES)


def _c1_for_holes(exc: UnicodeError) -> tuple[str, int]:
    # Python's cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; WHATWG decodes each to
    # the C1 control of the same number (which `without_controls` then removes).
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


_C1_FOR_HOLES = "visit-gateway-c1"
codecs.register_error(_C1_FOR_HOLES, _c1_for_holes)


def decode_text(data: bytes, label: str | None) -> str:
    """`data` in the codec `label` stands for; unknown or missing labels as `decode_8bit`.
    Undecodable sequences become U+FFFD: text is never lost to one bad byte."""
    codec = codec_for(label)
    if codec is None:
        return decode_8bit(data)
    try:
        return data.decode(codec, _C1_FOR_HOLES if codec == "cp1252" else "replace")
    except (LookupError, UnicodeError, ValueError):  # a codec that cannot decode at all
        return decode_8bit(data)


# C0 controls except tab and newline, DEL, and C1 controls: invisible in a browser, able to end
# a string early (NUL) or to style a terminal (ESC sequences), never meant as text. A whole ANSI
# escape sequence goes with its ESC, so no "[31m" is left behind.
_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a plain class: a fast search


def without_controls(text: str) -> str:
    """`text` without control characters other than tab and newline (CR is removed too: bodies
    have their line endings normalised before this, header values are one line)."""
    return _CONTROLS.sub("", text) if _ANY_CONTROL.search(text) else text
