"""`parse_email` reads the MIME tree in 8 KB pieces, not through `email.message_from_bytes`
(which holds the message twice more, once at 4 bytes a character). The pieces are the ones the
stdlib's own `Parser.parse` reads, so the tree must be exactly the stdlib's: same headers,
payloads, preambles, epilogues and defects, for every fixture and for input cut where a piece
ends (a CRLF split across two pieces, a boundary line across two)."""

from __future__ import annotations

import email
from email.message import Message

import pytest

from gateway.inbound import base64_runs, parse
from gateway.inbound.base64_runs import Runs
from gateway.inbound.parse import without_leading_blank_lines

from ...conftest import FIXTURES

CASES = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]


def _shape(message: Message) -> list[object]:
    return [
        (
            part.get_unixfrom(),
            list(part.raw_items()),
            None if part.is_multipart() else part.get_payload(),
            part.preamble,
            part.epilogue,
            [type(defect).__name__ for defect in part.defects],
        )
        for part in message.walk()
    ]


def _stdlib(raw: bytes) -> list[object]:
    return _shape(email.message_from_bytes(without_leading_blank_lines(raw)))


def _ours(raw: bytes) -> list[object]:
    return _shape(parse._tree(Runs.find(raw).pieces(parse.leading_blank_bytes(raw))))


@pytest.mark.parametrize("raw", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_fixture_reads_to_the_stdlib_tree(raw: bytes) -> None:
    assert _ours(raw) == _stdlib(raw)


def _cut_at(offset: int, tail: bytes) -> bytes:
    """A multipart message whose `tail` starts `offset` bytes before the end of the first
    8 KB piece."""
    blank = b"\r\n\n"  # blank lines before the headers: both readings skip them
    head = blank + (
        b"From: a@univ.edu\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n"
    )
    filler = b"x" * 70 + b"\r\n"
    body = head + filler * ((base64_runs._FEED - len(head)) // len(filler))
    body += b"y" * (len(blank) + base64_runs._FEED - offset - len(body))
    return body + tail


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("tail", [
    b"\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n--b--\r\n",
    b"\r\r\n--b--\r\nepilogue\r\n",
    b"\n--b\n\n--b--",
])
def test_a_piece_may_end_anywhere(offset: int, tail: bytes) -> None:
    raw = _cut_at(offset, tail)
    assert raw[3 + base64_runs._FEED - offset :].startswith(tail)
    assert _ours(raw) == _stdlib(raw)
