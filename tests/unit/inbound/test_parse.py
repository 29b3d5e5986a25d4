"""Keys, Message-ID normalisation, addresses, DMARC un-munging, size limits."""

from __future__ import annotations

import pytest

from gateway.errors import MessageRejected
from gateway.inbound.parse import message_ids_in, message_key, normalize_message_id, parse_email

from ..mail import LIST, email, raw


def test_normalize_message_id() -> None:
    assert normalize_message_id(" <Abc@Mail.Example.ORG> ") == "<Abc@mail.example.org>"
    assert normalize_message_id("abc@example.org") == "<abc@example.org>"
    assert normalize_message_id("") is None
    assert normalize_message_id("no id here") is None


def test_message_ids_in_keeps_order_and_drops_repeats() -> None:
    assert message_ids_in("<a@x> <b@x>\r\n <a@x> junk <c@X>") == ("<a@x>", "<b@x>", "<c@x>")


def test_key_uses_message_id_when_present() -> None:
    expected = ("mid:<q1@univ.edu>", "<q1@univ.edu>")
    assert message_key(raw({"Message-ID": "<q1@Univ.edu>"})) == expected


def test_key_without_message_id_ignores_trace_headers() -> None:
    first = raw({"Message-ID": "", "Received": "from a by b; Tue, 3 Mar 2026 09:14:01 -0800"})
    second = raw({"Message-ID": "", "Received": "from c by d; Tue, 3 Mar 2026 09:15:09 -0800"})
    other = raw({"Message-ID": ""}, body="Different body\n")
    key_a, _ = message_key(first)
    assert key_a.startswith("sha256:")
    assert message_key(second)[0] == key_a
    assert message_key(other)[0] != key_a


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ({}, "jane.roe@univ.edu"),
        ({"From": "Jane Roe via visit-users <visit-users@elist.ornl.gov>",
          "Reply-To": "Jane Roe <jane.roe@univ.edu>"}, "jane.roe@univ.edu"),
        ({"From": "Jane Roe via visit-users <visit-users@elist.ornl.gov>",
          "X-Original-From": "Jane Roe <JANE.ROE@univ.edu>"}, "jane.roe@univ.edu"),
        ({"From": "Jane Roe via visit-users <visit-users@elist.ornl.gov>",
          "Cc": "visit-users@elist.ornl.gov, Jane Roe <jane.roe@univ.edu>"}, "jane.roe@univ.edu"),
        ({"From": "", "Reply-To": "jane.roe@univ.edu"}, "jane.roe@univ.edu"),
    ],
)
def test_real_sender(headers: dict[str, str], sender: str) -> None:
    found = email(headers).sender
    assert found is not None and found.addr == sender


def test_munged_sender_keeps_the_persons_name() -> None:
    found = email({"From": "Jane Roe via visit-users <visit-users@elist.ornl.gov>",
                   "Reply-To": "jane.roe@univ.edu"}).sender
    assert found is not None and found.name == "Jane Roe"


def test_rfc2047_subject_is_decoded() -> None:
    message = email({"Subject": "=?koi8-r?B?8NLJ18XU?= [visit-users]"})
    assert message.subject.startswith("Привет")


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02 garbage", b"just some words\n\nand more"])
def test_non_email_is_rejected(data: bytes) -> None:
    with pytest.raises(MessageRejected) as info:
        parse_email(data, list_address=LIST)
    assert info.value.reason == "unparseable"


def test_leading_blank_lines_are_skipped_by_key_and_parse_alike() -> None:
    message = raw({"Message-ID": "<lead@univ.edu>"})
    for prefix in (b"\r\n", b"\n\n", b"\r\n\r\n\n"):
        assert message_key(prefix + message) == ("mid:<lead@univ.edu>", "<lead@univ.edu>")
        parsed = parse_email(prefix + message, list_address=LIST)
        assert parsed.message_id == "<lead@univ.edu>" and parsed.subject.endswith("A question")
        assert parsed.size == len(prefix + message)


def test_blank_lines_then_no_header_is_still_unparseable() -> None:
    with pytest.raises(MessageRejected) as caught:
        parse_email(b"\r\n\r\nJust some text, no header at all.\r\n", list_address=LIST)
    assert caught.value.reason == "unparseable"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"Date", b"Tue, 3 Mar 2026 09:14:00 -0800 (\xe9t\xe9)"),
        (b"Date", b"\xff\xfe"),
        (b"Subject", b"=?utf-8?B?QQ?= =?utf-8?B?#?= =?utf-8?B?Q?="),
        (b"Subject", b"=?utf-8?Q?=FF=FE?= =?x-no-such?Q?a?="),
    ],
)
def test_a_bad_header_costs_that_header_not_the_message(header: bytes, value: bytes) -> None:
    message = raw({}).replace(header + b": ", header + b": " + value + b"\r\nX-Was: ", 1)
    parsed = parse_email(message, list_address=LIST)
    assert parsed.sender is not None and parsed.sender.addr == "jane.roe@univ.edu"
    assert "\ufffd" not in parsed.subject or header == b"Subject"
