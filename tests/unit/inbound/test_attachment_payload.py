"""An attachment's bytes from mail-parser's item, and their count without decoding: for any
text, `base64_size` is `len(decode_base64)`, which is `binascii.a2b_base64` wherever that
succeeds and the longest decodable prefix where the text ends inside a group."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.inbound import attachment_payload
from gateway.inbound.attachment_payload import (
    base64_size,
    decode_base64,
    payload_bytes,
    payload_size,
)
from gateway.inbound.base64_runs import Runs

NO_RUNS = Runs.find(b"")
# Alphabet characters, pads, line breaks, junk, a non-ASCII character and an escaped 8-bit byte.
TEXT = st.text(alphabet="AB+/=\r\n !\u00e9\udce9", max_size=24)


@given(TEXT)
def test_the_size_is_the_length_of_the_bytes(text: str) -> None:
    assert base64_size(text) == len(decode_base64(text))


@given(TEXT)
def test_decoding_is_binascii_wherever_binascii_succeeds(text: str) -> None:
    try:
        expected = binascii.a2b_base64(text.encode("ascii", "ignore"))
    except binascii.Error:
        return
    assert decode_base64(text) == expected


@given(TEXT)
def test_the_size_is_the_same_whatever_the_slices(text: str) -> None:
    whole = base64_size(text)
    original = attachment_payload._SLICE
    try:
        for size in (1, 2, 3, 5):
            attachment_payload._SLICE = size
            assert base64_size(text) == whole
    finally:
        attachment_payload._SLICE = original


@given(st.binary(max_size=300))
def test_wire_base64_decodes_to_what_was_encoded(data: bytes) -> None:
    text = base64.encodebytes(data).decode().replace("\n", "\r\n")
    assert decode_base64(text) == data
    assert base64_size(text) == len(data)


@pytest.mark.parametrize(("text", "expected"), [
    ("AAECAw==", b"\x00\x01\x02\x03"),
    ("AAECAw", b"\x00\x01\x02\x03"),  # pads dropped
    ("AAECA", b"\x00\x01\x02"),  # a lone last character makes no byte
    ("AAECAwQ", b"\x00\x01\x02\x03\x04"),
    ("AAE=AAAA", b"\x00\x01"),  # decoding stops at the first complete padding
    ("A=AECAw==", b"\x00\x01\x02\x03"),  # a pad after a group's first character is skipped
    ("AA\u00e9EC\udce9Aw==", b"\x00\x01\x02\x03"),
    ("", b""),
    ("====", b""),
])
def test_broken_base64(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected
    assert base64_size(text) == len(expected)


@pytest.mark.parametrize(("item", "expected"), [
    ({"payload": "aGk=", "binary": True}, b"hi"),
    ({"payload": "", "binary": True}, b""),
    ({"payload": None, "binary": True}, b""),
    ({"payload": "From: a\n\nbody \udce9", "binary": False}, b"From: a\n\nbody \xe9"),
    ({"payload": "lone \ud800", "binary": False}, b"lone ?"),
    ({"payload": b"raw", "binary": True}, b"raw"),
])
def test_an_item_gives_its_bytes_and_their_count(item: dict[str, object], expected: bytes) -> None:
    assert payload_bytes(item, NO_RUNS) == expected
    assert payload_size(item, NO_RUNS) == len(expected)
