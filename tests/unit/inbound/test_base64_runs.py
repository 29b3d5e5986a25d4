"""A long run of base64 lines reaches the parser as one marker line (`base64_runs`). Nothing
`parse_email` or `attachment_data` gives may change for it: with every run marked, however
short (every fixture, text lines of letters included), the Email and the attachment bytes are
those of the unmarked reading, and only a base64 leaf keeps its marker in the tree."""

from __future__ import annotations

import base64
import email
import random
from collections.abc import Iterator
from email.message import Message

import pytest

from gateway.errors import MessageRejected
from gateway.inbound import base64_runs
from gateway.inbound.attachment_data import attachment_data
from gateway.inbound.base64_runs import Runs
from gateway.inbound.parse import _read, parse_email, without_leading_blank_lines

from ...conftest import FIXTURES
from .test_attachment_data import HOSTILE, _b64, _file, _mail

LIST = "visit-users@elist.ornl.gov"


def _reading(raw: bytes, min_run: int, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(base64_runs, "MIN_RUN", min_run)
        random.seed(0)  # mail-parser names unnamed attachments at random
        try:
            return parse_email(raw, list_address=LIST, key="k"), list(attachment_data(raw))
        except Exception as exc:  # compared, not raised: both readings must fail alike
            return type(exc).__name__, str(exc)


BIG = bytes(range(256)) * 400  # 100 KB: above MIN_RUN once in base64
TEXT_RUN = b"".join(b"Line%dOfLettersOnly\r\n" % i for i in range(6000))
MESSAGES = {
    "big binary attachment": _mail(_file("a.bin", "application/octet-stream", "base64",
                                         _b64(BIG))),
    "big base64 text body": _mail(_file("t.txt", "text/plain; charset=utf-8", "base64",
                                        _b64("Grüße\r\n".encode() * 20000))),
    "letters-only lines in a 7bit text body": _mail(
        b"Content-Type: text/plain\r\n\r\n" + TEXT_RUN),
    "big base64 in the preamble and epilogue": _mail(boundary=b"b").replace(
        b"\r\n\r\n--b", b"\r\n\r\n" + _b64(BIG) + b"--b", 1) + _b64(BIG),
    "boundary never appears": (b"From: a@univ.edu\r\nSubject: s\r\n"
                               b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n" + _b64(BIG)),
    "no blank line after the headers": b"From: a@univ.edu\r\nSubject: s\r\n" + _b64(BIG),
    "application/html without a name": _mail(
        b"Content-Type: application/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64(b"<p>hi</p>" * 10000)),
    "inline image, last part without a closing boundary": _mail(
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-ID: <i@u>\r\n\r\n" + _b64(BIG)).rsplit(b"--==b==--", 1)[0],
    "blank line inside the base64 body": _mail(_file(
        "g.bin", "application/octet-stream", "base64", _b64(BIG) + b"\r\n" + _b64(b"more"))),
    "junk line inside the base64 body": _mail(_file(
        "j.bin", "application/octet-stream", "base64", _b64(BIG) + b"!!\r\n" + _b64(BIG))),
    "base64 message/rfc822 holding a big attachment": _mail(
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=\"f.eml\"\r\n\r\n"
        + _b64(_mail(_file("in.bin", "application/octet-stream", "base64", _b64(BIG))))),
    "attached multipart holding a big attachment": _mail(
        b"Content-Type: multipart/mixed; boundary=\"in\"\r\n"
        b"Content-Disposition: attachment; filename=\"bundle\"\r\n\r\n--in\r\n"
        + _file("in.bin", "application/octet-stream", "base64", _b64(BIG)) + b"\r\n--in--\r\n"),
    "LF line ends": _mail(_file("lf.bin", "application/octet-stream", "base64",
                                base64.encodebytes(BIG))).replace(b"\r\n", b"\n"),
    "8-bit bytes next to a run": _mail(_file(
        "e.bin", "application/octet-stream", "base64", b"\xe9\xe9\r\n" + _b64(BIG))),
}


def _all() -> Iterator[tuple[str, bytes]]:
    yield from MESSAGES.items()
    for case in HOSTILE:
        yield case[0], case[1]
    for path in sorted(FIXTURES.glob("*.eml")):
        yield path.stem, path.read_bytes()


CASES = list(_all())


@pytest.mark.parametrize("raw", [raw for _, raw in CASES], ids=[name for name, _ in CASES])
def test_marking_every_run_changes_nothing(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    marked = _reading(raw, 1, monkeypatch)
    assert marked == _reading(raw, 10**12, monkeypatch)


@pytest.mark.parametrize("name", list(MESSAGES))
def test_the_big_runs_are_marked(name: str) -> None:
    assert Runs.find(MESSAGES[name]).spans


def test_only_a_base64_leaf_keeps_its_marker() -> None:
    raw = MESSAGES["big binary attachment"]
    message, runs = _read(raw)
    held = [part.get_content_type() for part in message.walk()
            if isinstance(part.get_payload(), str) and runs.prefix in part.get_payload()]
    assert held == ["application/octet-stream"]
    assert len(raw) > 130_000 and len(message.as_bytes()) < 2_000


def test_a_marker_never_is_text_the_message_holds() -> None:
    raw = _mail(b"Content-Type: text/plain\r\n\r\nbase64-run-0-0. base64-run-1-0.\r\n"
                + TEXT_RUN)
    runs = Runs.find(raw)
    assert runs.prefix == "base64-run-2-"
    assert _reading(raw, 1, pytest.MonkeyPatch()) == _reading(raw, 10**12, pytest.MonkeyPatch())


@pytest.mark.parametrize("raw", [raw for _, raw in CASES], ids=[name for name, _ in CASES])
def test_the_tree_is_the_stdlib_tree_once_the_kept_markers_are_read_back(
        raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base64_runs, "MIN_RUN", 1)
    try:
        message, runs = _read(raw)
    except MessageRejected:
        return
    stdlib = email.message_from_bytes(without_leading_blank_lines(raw))
    assert [_shape(part, runs) for part in message.walk()] == [
        _shape(part, Runs.find(b"")) for part in stdlib.walk()]


def _shape(part: Message, runs: Runs) -> tuple[object, ...]:
    payload = part._payload  # type: ignore[attr-defined]
    return (
        list(part.raw_items()),
        runs.restore(payload) if isinstance(payload, str) else None,
        part.preamble,
        part.epilogue,
        [type(defect).__name__ for defect in part.defects],
    )
