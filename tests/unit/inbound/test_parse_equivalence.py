"""`parse_email` uses a mail-parser subclass that skips the two summary dicts mail-parser builds
and we never read (a tenth of its time). It must give exactly what stock mail-parser gives: the
same Email for every fixture, the same refusal for what is not an email. If a new mail-parser
changes the internals the subclass relies on, this fails (pyproject.toml keeps mail-parser < 5).
"""

from __future__ import annotations

import random
from pathlib import Path

import mailparser
import pytest

from gateway.errors import MessageRejected
from gateway.inbound import parse
from gateway.inbound.parse import parse_email

from ...conftest import FIXTURES

LIST = "visit-users@elist.ornl.gov"
CASES = sorted(FIXTURES.glob("*.eml"))
BROKEN = [
    b"",
    b"\x00\x01\x02 not mail",
    b"Subject: =?\x00?Q?x?=\r\nFrom: a@b.org\r\n\r\nbody\r\n",  # a NUL in an encoded word
    b"From: a@b.org\r\nSubject: =?utf-8?B?////?=\r\nContent-Type: multipart/mixed\r\n\r\nx",
]


def both(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    def run() -> object:
        random.seed(0)  # mail-parser names unnamed attachments at random
        try:
            return parse_email(raw, list_address=LIST, key="k")
        except MessageRejected as exc:
            return ("rejected", exc.reason)

    ours = run()
    with monkeypatch.context() as m:
        m.setattr(parse, "_parse_message", mailparser.MailParser)
        stock = run()
    return ours, stock


def test_the_subclass_is_in_use() -> None:
    assert parse._COMPUTED_PARTS is not None and parse._RESERVED_MAIL_KEYS is not None


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_fixture_parses_as_stock_mail_parser_would(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, stock = both(path.read_bytes(), monkeypatch)
    assert ours == stock


@pytest.mark.parametrize("raw", BROKEN)
def test_broken_input_is_refused_alike(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, stock = both(raw, monkeypatch)
    assert ours == stock
