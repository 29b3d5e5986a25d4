"""`attachment_data` gives attachment i of `parse_email(raw).attachments`, for every i and no
more: same count, same order, `size` bytes each, the transfer encoding undone and nothing else.
Over every fixture, and over MIME built to break it."""

from __future__ import annotations

import base64
import email
import email.policy
from pathlib import Path

import pytest

from gateway.errors import MessageRejected
from gateway.inbound.attachment_data import attachment_at, attachment_data, attachment_makers
from gateway.inbound.parse import parse_email

from ...conftest import FIXTURES

LIST = "visit-users@elist.ornl.gov"
CASES = sorted(FIXTURES.glob("*.eml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_fixture_gives_one_piece_of_bytes_per_listed_attachment(path: Path) -> None:
    raw = path.read_bytes()
    try:
        parsed = parse_email(raw, list_address=LIST, key="k")
    except MessageRejected:
        with pytest.raises(MessageRejected):
            list(attachment_data(raw))
        return
    data = list(attachment_data(raw))
    assert [len(item) for item in data] == [item.size for item in parsed.attachments]
    assert [attachment_at(raw, i) for i in range(len(data))] == data
    makers = attachment_makers(raw)
    assert [make() for make in makers] == data
    assert [make() for make in reversed(makers)] == data[::-1]  # again, in any order


WITH_ATTACHMENTS = {
    "apple-mail-inline-image-cid.eml": b"\x89PNG\r\n\x1a\n",
    "gmail-attachment-png-screenshot.eml": b"\x89PNG\r\n\x1a\n",
    "outlook-attachment-session-xml.eml": b'<?xml version="1.0"?>\n<Object',
    "thunderbird-attachment-python-script.eml": b"# slicemovie.py",
    "forwarded-message-rfc822-base64.eml": b"From: Sigrun Halvorsen",
}


@pytest.mark.parametrize(("name", "start"), WITH_ATTACHMENTS.items())
def test_a_fixture_attachment_is_the_file_that_was_attached(name: str, start: bytes) -> None:
    (data,) = attachment_data((FIXTURES / name).read_bytes())
    assert data.startswith(start)


@pytest.mark.parametrize("name", [n for n in WITH_ATTACHMENTS if not n.startswith("forwarded")])
def test_a_leaf_attachment_is_what_the_stdlib_decodes(name: str) -> None:
    """An independent reading: the stdlib's own transfer decoding of the part by that name."""
    raw = (FIXTURES / name).read_bytes()
    parsed = parse_email(raw, list_address=LIST, key="k")
    parts = {
        part.get_filename(): part.get_payload(decode=True)
        for part in email.message_from_bytes(raw, policy=email.policy.default).walk()
        if part.get_filename()
    }
    assert list(attachment_data(raw)) == [parts[item.filename] for item in parsed.attachments]


BODY = b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe question.\r\n"


def _mail(*parts: bytes, boundary: bytes = b"==b==") -> bytes:
    head = (
        b"From: Ana Lima <ana@univ.edu>\r\nTo: " + LIST.encode() + b"\r\n"
        b"Subject: attachments\r\nMessage-ID: <m1@univ.edu>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n"
    )
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in (BODY, *parts))
    return head + body + b"--" + boundary + b"--\r\n"


def _file(name: str, content_type: str, encoding: str, body: bytes,
          extra: str = "") -> bytes:
    return (
        f"Content-Type: {content_type}; name=\"{name}\"\r\n"
        f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n{extra}\r\n"
    ).encode() + body


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


BINARY = bytes(range(256)) * 3
NESTED = (
    b"Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n"
    b"\r\nFrom: Bo <bo@lab.org>\r\nSubject: inner\r\n\r\nInner text.\r\n"
)
INNER_MULTIPART = (
    b"Content-Type: multipart/mixed; boundary=\"in\"\r\n"
    b"Content-Disposition: attachment; filename=\"bundle\"\r\n\r\n"
    b"--in\r\nContent-Type: text/plain\r\n\r\none\r\n--in--\r\n"
)
# (case, message, the bytes of each attachment)
HOSTILE: list[tuple[str, bytes, list[bytes]]] = [
    ("binary base64", _mail(_file("a.bin", "application/octet-stream", "base64",
                                  _b64(BINARY))), [BINARY]),
    ("base64 with junk between the lines", _mail(_file(
        "j.bin", "application/octet-stream", "base64",
        b"AAEC\r\n!!**\r\nAwQF\r\n\xff\xfe\r\n")), [b"\x00\x01\x02\x03\x04\x05"]),
    ("base64 missing its padding", _mail(_file(
        "p.bin", "application/octet-stream", "base64", b"AAECAw")), [b"\x00\x01\x02\x03"]),
    ("base64 one character past a group", _mail(_file(
        "o.bin", "application/octet-stream", "base64", b"AAECA")), [b"\x00\x01\x02"]),
    ("base64 that stops at its padding", _mail(_file(
        "s.bin", "application/octet-stream", "base64", b"AAE=\r\nAAAA\r\n")), [b"\x00\x01"]),
    ("no payload at all", _mail(_file("empty.txt", "text/plain", "base64", b"")), [b""]),
    ("quoted-printable text in KOI8-R", _mail(_file(
        "ru.txt", "text/plain; charset=koi8-r", "quoted-printable",
        b"=F0=D2=C9=D7=C5=D4, =D7=C9=DA=D5=C1=CC=C9=DA=C1=C3=C9=D1\r\n")),
     ["Привет, визуализация\r\n".encode("koi8-r")]),
    ("8-bit Latin-1 text", _mail(_file(
        "de.txt", "text/plain; charset=iso-8859-1", "8bit",
        "Grüße aus München\r\n".encode("latin-1"))), ["Grüße aus München\r\n".encode("latin-1")]),
    ("UTF-16 text in base64", _mail(_file(
        "u16.txt", "text/plain; charset=utf-16", "base64",
        _b64("Größe\r\n".encode("utf-16")))), ["Größe\r\n".encode("utf-16")]),
    ("a label Python has no codec for", _mail(_file(
        "x.txt", "text/plain; charset=x-unknown", "base64", _b64(b"\xe4\xf6\xfc"))),
     [b"\xe4\xf6\xfc"]),
    ("an inline image named by its Content-ID only", _mail(
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-ID: <img1@univ.edu>\r\nContent-Disposition: inline\r\n\r\n"
        + _b64(b"\x89PNG\r\n\x1a\nrest")), [b"\x89PNG\r\n\x1a\nrest"]),
    ("an attached message", _mail(NESTED),
     [b"From: Bo <bo@lab.org>\nSubject: inner\n\nInner text.\n"]),
    ("an attached multipart", _mail(INNER_MULTIPART),
     [b"Content-Type: text/plain\n\none"]),
    ("three attachments, in order", _mail(
        _file("1.bin", "application/octet-stream", "base64", _b64(b"first")),
        _file("2.txt", "text/plain", "quoted-printable", b"second=\r\n line"),
        _file("3.bin", "application/octet-stream", "7bit", b"third")),
     [b"first", b"second line", b"third"]),
]


@pytest.mark.parametrize(("message", "expected"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_mime_gives_the_decoded_bytes_in_order(
        message: bytes, expected: list[bytes]) -> None:
    parsed = parse_email(message, list_address=LIST, key="k")
    data = list(attachment_data(message))
    assert data == expected
    assert [item.size for item in parsed.attachments] == [len(item) for item in data]


def test_an_inline_image_is_listed_inline_and_its_bytes_are_given() -> None:
    message = next(case[1] for case in HOSTILE if case[0].startswith("an inline image"))
    (item,) = parse_email(message, list_address=LIST, key="k").attachments
    assert item.inline and item.content_type == "image/png"


def test_one_attachment_by_index() -> None:
    message = HOSTILE[-1][1]
    assert attachment_at(message, 1) == b"second line"
    with pytest.raises(IndexError):
        attachment_at(message, 3)
    with pytest.raises(IndexError):
        attachment_at(message, -1)


def test_a_message_without_attachments_gives_none() -> None:
    assert list(attachment_data(_mail())) == []


def test_what_is_not_an_email_is_refused_as_parse_email_refuses_it() -> None:
    with pytest.raises(MessageRejected):
        list(attachment_data(b"\x00\x01\x02 not mail"))


def test_no_attachment_is_decoded_before_it_is_asked_for() -> None:
    data = attachment_data(HOSTILE[-1][1])
    assert next(data) == b"first"
    assert list(data) == [b"second line", b"third"]
