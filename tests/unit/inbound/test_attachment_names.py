"""Attachment names from hostile MIME headers, and the storage paths built from them (issue 17)."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.inbound.attachment_names import (
    MAX_BYTES,
    MAX_CHARS,
    content_hash,
    safe_name,
    storage_path,
)

E_ACUTE = "\u00e9"  # é as one code point (NFC)
E_COMBINING = "e\u0301"  # e + COMBINING ACUTE ACCENT (NFD)


@pytest.mark.parametrize(("hostile", "safe"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),  # the last component only (RFC 2183 section 2.3)
    ("/etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
    ("a/b\\c/d.txt", "d.txt"),
    ("dir/", "attachment"),
    ("bad\x00name.txt", "badname.txt"),
    ("tab\there\r\nnew\x7f\x85line.txt", "tabherenewline.txt"),  # controls dropped
    ("", "attachment"),
    (".", "attachment"),
    ("..", "attachment"),
    ("....", "attachment"),
    (". . .", "attachment"),
    (".htaccess", "htaccess"),
    ("-rf", "rf"),
    ("--help.txt", "help.txt"),
    ("  spaced   out  .txt  ", "spaced out .txt"),
    ("trailing.dot.", "trailing.dot"),
    ("invoice\u202etxt.exe", "invoicetxt.exe"),  # RIGHT-TO-LEFT OVERRIDE dropped
    ("\u2066isolate\u2069\u200b.txt", "isolate.txt"),  # bidi isolate, zero-width space
    ("a:b<c>d|e?f*g\"h.txt", "a_b_c_d_e_f_g_h.txt"),
    ("100% #1.txt", "100% #1.txt"),
    (f"caf{E_COMBINING}.txt", f"caf{E_ACUTE}.txt"),
    ("\u0301accent-first.txt", "\u0301accent-first.txt"),  # a lone mark is harmless
    ("日本語の資料.pdf", "日本語の資料.pdf"),
    ("line\u2028sep.txt", "linesep.txt"),
])
def test_hostile_names(hostile: str, safe: str) -> None:
    assert safe_name(hostile) == safe


def test_names_that_differ_only_in_normalisation_are_one_name() -> None:
    decomposed = safe_name(f"r{E_COMBINING}sum{E_COMBINING}.pdf")
    assert safe_name(f"r{E_ACUTE}sum{E_ACUTE}.pdf") == decomposed
    assert unicodedata.is_normalized("NFC", decomposed)


def test_a_ten_thousand_character_name_is_cut_keeping_its_extension() -> None:
    name = safe_name("x" * 10_000 + ".tar.gz")
    assert len(name) == MAX_CHARS and name.endswith("x.gz")


def test_a_long_name_of_four_byte_characters_fits_the_byte_bound() -> None:
    name = safe_name("\U0001f600" * 200 + ".png")
    assert name.endswith(".png") and len(name.encode()) <= MAX_BYTES


def test_a_long_extension_is_not_kept_as_one() -> None:
    name = safe_name("a." + "b" * 10_000)
    assert len(name) == MAX_CHARS and name == "a." + "b" * (MAX_CHARS - 2)


def test_a_long_name_of_dots_and_an_extension() -> None:
    assert safe_name("." * 10_000 + "txt") == "txt"
    assert safe_name("a" + " " * 10_000 + ".txt") == "a .txt"


@given(st.text(max_size=400))
def test_any_name_is_safe_bounded_and_stable(filename: str) -> None:
    name = safe_name(filename)
    assert name
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..") and name[0] not in ".- " and name[-1] not in ". "
    assert len(name) <= MAX_CHARS and len(name.encode()) <= MAX_BYTES
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs") for ch in name)
    assert unicodedata.is_normalized("NFC", name)
    assert safe_name(name) == name


KEY = "<CAF=x7@mail.gmail.com>"


def test_storage_path_hashes_the_key_and_keeps_index_and_name() -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert storage_path(KEY, 0, "../../etc/passwd") == f"{digest}/0-passwd"
    assert storage_path(KEY, 3, "") == f"{digest}/3-attachment"


def test_storage_path_is_deterministic_and_distinct() -> None:
    assert storage_path(KEY, 1, "a.txt") == storage_path(KEY, 1, "a.txt")
    assert storage_path(KEY, 1, "a.txt") != storage_path(KEY, 2, "a.txt")
    assert storage_path(KEY, 1, "a.txt") != storage_path("<other@x>", 1, "a.txt")
    assert storage_path(KEY, 1, f"caf{E_ACUTE}") == storage_path(KEY, 1, f"caf{E_COMBINING}")


@given(st.text(min_size=1, max_size=2000), st.integers(0, 10_000), st.text(max_size=300))
def test_storage_paths_stay_two_plain_components(key: str, index: int, filename: str) -> None:
    path = storage_path(key, index, filename)
    directory, name = path.split("/")
    assert len(directory) == 16 and all(c in "0123456789abcdef" for c in directory)
    assert name.startswith(f"{index}-") and len(name.encode()) < 255


@pytest.mark.parametrize(("key", "index"), [("", 0), (KEY, -1)])
def test_storage_path_refuses_an_empty_key_or_a_negative_index(key: str, index: int) -> None:
    with pytest.raises(ValueError):
        storage_path(key, index, "a.txt")


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash(b"") == hashlib.sha256(b"").hexdigest()
    assert content_hash(b"abc") == content_hash(bytearray(b"abc"))
    assert content_hash(b"abc") != content_hash(b"abd")
