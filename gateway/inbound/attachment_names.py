"""Attachment names made safe to store and to show, and where each attachment is stored.

An attachment's filename comes from a stranger's MIME header, so `safe_name` treats it as
hostile: it keeps only the last path component (both `/` and `\\` separate; `../../etc/passwd`
becomes `passwd`, as RFC 2183 section 2.3 asks of a receiving agent: "only the final component"),
drops control and formatting characters (NUL, C0/C1 controls, bidi overrides such as U+202E that
make `evil\u202etxt.exe` read as `evilexe.txt`), strips leading dots, dashes and spaces (no
hidden files, nothing a shell takes for an option), normalises to Unicode NFC (so `é` typed as one
code point or as `e` + U+0301 is one name), and bounds the length while keeping the extension. It
never answers an empty name: `attachment` stands in. `storage_path` derives a relative path from
the message key, the attachment's index and its safe name only, so a retry computes the same
path; `content_hash` is the SHA-256 used to recognise the same bytes twice.
This module is pure: it must not touch the file system, the clock or the network.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

FALLBACK = "attachment"
MAX_CHARS = 120
# A file name is at most 255 bytes on ext4/XFS/APFS; the stored name is `<index>-<safe name>`,
# so the safe name stays well below that even when every character is 4 bytes of UTF-8.
MAX_BYTES = 200
MAX_EXTENSION = 16  # characters of `.ext` kept when a long name is cut; longer is not an extension
KEY_HASH_CHARS = 16  # hex digits of sha256(message key) naming a message's directory

# Unicode categories dropped from names: controls (Cc: NUL, C0, C1, DEL), formats (Cf: bidi
# overrides and isolates, zero-width joiners, BOM), surrogates, private use, unassigned, and the
# line and paragraph separators (Zl, Zp).
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Reserved on Windows and FAT (a teammate may download into one); replaced, not dropped, so
# `a:b` does not become `ab`. (Links quote the path, so `#` and `%` may stay.)
_REPLACED = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")
_LEADING = " .-_"
_TRAILING = " ."  # Windows drops trailing dots and spaces, so `a.txt.` would open as `a.txt`


def safe_name(filename: str) -> str:
    """A name fit to store on disk and show in a link: see the module docstring for the rules.

    Idempotent: `safe_name(safe_name(x)) == safe_name(x)`."""
    name = unicodedata.normalize("NFC", filename)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED)
    name = _SPACES.sub(" ", _REPLACED.sub("_", name))
    name = _bounded(name.lstrip(_LEADING).rstrip(_TRAILING))
    # Cutting or NFC may expose a dot/space at either end, or a combining mark NFC now merges.
    name = unicodedata.normalize("NFC", name).lstrip(_LEADING).rstrip(_TRAILING)
    return name or FALLBACK


def storage_path(message_key: str, index: int, filename: str) -> str:
    """The relative, `/`-separated path of attachment `index` (0-based) of a message:
    `<sha256(message_key)[:16]>/<index>-<safe name>`. Message keys hold `<`, `>`, `@` and may be
    long, so only their hash appears. Deterministic: the same inputs give the same path."""
    if index < 0:
        raise ValueError("an attachment index is 0 or more")
    if not message_key:
        raise ValueError("the message key must not be empty")
    digest = hashlib.sha256(message_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest[:KEY_HASH_CHARS]}/{index}-{safe_name(filename)}"


def content_hash(data: bytes) -> str:
    """The SHA-256 of an attachment's bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def _bounded(name: str) -> str:
    """`name` cut to MAX_CHARS characters and MAX_BYTES bytes of UTF-8, keeping its extension."""
    if len(name) <= MAX_CHARS and len(name.encode("utf-8")) <= MAX_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) + 1 > MAX_EXTENSION:
        stem, extension = name, ""
    else:
        extension = "." + extension
    room_chars = MAX_CHARS - len(extension)
    room_bytes = MAX_BYTES - len(extension.encode("utf-8"))
    stem = stem[:room_chars]
    while len(stem.encode("utf-8")) > room_bytes:
        stem = stem[:-1]
    stem = stem.rstrip(_TRAILING)
    return stem + extension if stem else extension.lstrip(".")
