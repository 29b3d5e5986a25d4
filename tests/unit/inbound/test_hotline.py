"""Hotline records (issue 16): the checks of what a team member types, the message a call
becomes (headers, a stable Message-ID outside the gateway's own domain, the label), and the
body GitHub shows for it: who logged it, the customer masked as a mailed sender is, the notes
made safe like any mail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
from zoneinfo import ZoneInfo

import pytest

from gateway.errors import UsageError
from gateway.inbound import hotline
from gateway.inbound.body import BodySettings, compose_body
from gateway.inbound.classify import classify
from gateway.inbound.clean import clean_body, issue_title
from gateway.inbound.hotline import HotlineCall, Logged
from gateway.inbound.parse import message_key, parse_email
from gateway.inbound.thread import marker
from gateway.models import Address, Email
from gateway.wiring import pipeline_settings

from ..mail import LIST
from . import gfm_oracle

LA = ZoneInfo("America/Los_Angeles")
AT = dt.datetime(2026, 3, 5, 10, 0, tzinfo=LA)
NOW = dt.datetime(2026, 3, 5, 10, 20, tzinfo=LA)
DOMAIN = "visit-gateway.llnl.gov"
CYRUS = Logged("phone", "cyrush", "Cyrus Harrison")
JANE = Address("Jane Roe", "jane.roe@univ.edu")
SETTINGS = BodySettings(show_full_address=False, max_chars=65_536, display_tz=LA)


def call(**changes: object) -> HotlineCall:
    base = HotlineCall(JANE, AT, "Silo reader crashes", "She cannot open a Silo file.\n", CYRUS)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def parsed(record: HotlineCall) -> Email:
    raw = hotline.hotline_message(record, DOMAIN)
    return parse_email(raw, list_address=LIST, key=message_key(raw)[0])


# -- the inputs ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Jane Roe <Jane.Roe@Univ.EDU>", JANE),
    ("jane.roe@univ.edu", Address("", "jane.roe@univ.edu")),
    ('"Roe, Jane" <jane.roe@univ.edu>', Address("Roe, Jane", "jane.roe@univ.edu")),
    ("Jürgen  Müller <jm@uni-stuttgart.de>", Address("Jürgen Müller", "jm@uni-stuttgart.de")),
])
def test_customer_parses_like_a_from_header(text: str, expected: Address) -> None:
    assert hotline.parse_customer(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("Jane Roe", "has no email address"),
    ("", "has no email address"),
    ("Roe, Jane <jane@univ.edu>", "is not one address"),
    ("a@univ.edu, b@univ.edu", "is not one address"),
    ("Jane <jane@localhost>", "is not an email address"),
    ("Jane <@univ.edu>", "is not"),
    ("Jane <jané@univ.edu>", "is not an email address"),
])
def test_a_customer_that_is_not_one_address_is_a_usage_error(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        hotline.parse_customer(text)


def test_arrival_needs_a_zone_and_may_not_be_in_the_future() -> None:
    with pytest.raises(UsageError, match="has no UTC offset"):
        hotline.parse_arrival(AT.replace(tzinfo=None), NOW)
    with pytest.raises(UsageError, match="is in the future"):
        hotline.parse_arrival(NOW + hotline.FUTURE_SLACK + dt.timedelta(seconds=1), NOW)
    # A watch a few minutes fast is no mistake; fractions of a second are dropped.
    assert hotline.parse_arrival(NOW + dt.timedelta(minutes=5, microseconds=7), NOW) == (
        NOW + dt.timedelta(minutes=5))
    assert hotline.parse_arrival(AT, NOW) == AT


@pytest.mark.parametrize(("text", "expected"), [
    ("  Silo   reader crashes ", "Silo reader crashes"),
    ("Two\nlines", "Two lines"),
    ("x" * hotline.MAX_SUBJECT, "x" * hotline.MAX_SUBJECT),
])
def test_subject_is_one_line(text: str, expected: str) -> None:
    assert hotline.check_subject(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "x" * (hotline.MAX_SUBJECT + 1), "bell\x07"])
def test_a_bad_subject_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--subject"):
        hotline.check_subject(text)


def test_via_is_phone_or_walk_in() -> None:
    assert hotline.check_via(" Phone ") == "phone"
    assert hotline.check_via("walk-in") == "walk-in"
    with pytest.raises(UsageError, match="write phone or walk-in"):
        hotline.check_via("fax")


# -- the message -----------------------------------------------------------------------------

def test_the_message_is_from_the_customer_at_the_time_of_the_call() -> None:
    raw = hotline.hotline_message(call(subject="Silo reader — crashes"), DOMAIN)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["From"] == "Jane Roe <jane.roe@univ.edu>"
    assert message["Subject"] == "Silo reader — crashes"
    assert message["Date"].datetime == AT
    assert message["X-Visit-Gateway-Via"] == "phone"
    assert message["X-Visit-Gateway-Logged-By"] == "Cyrus Harrison <cyrush>"
    assert message["X-Visit-Gateway-Ack"] == "no"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "She cannot open a Silo file.\r\n"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert message["Message-ID"] == hotline.hotline_message_id(
        JANE.addr, AT, "Silo reader — crashes", "phone", DOMAIN)


def test_the_message_id_is_stable_and_names_what_identifies_a_call() -> None:
    first = hotline.hotline_message_id("jane.roe@univ.edu", AT, "Silo", "phone", DOMAIN)
    assert first.startswith("<hotline-") and first.endswith("@hotline.visit-gateway.llnl.gov>")
    assert len(first) == len("<hotline-@hotline.visit-gateway.llnl.gov>") + 64
    # The address in any case, the instant in any offset: the same call.
    assert hotline.hotline_message_id("Jane.Roe@UNIV.edu", AT.astimezone(dt.UTC), "Silo",
                                      "phone", DOMAIN.upper()) == first
    for other in (("x@univ.edu", AT, "Silo", "phone"),
                  ("jane.roe@univ.edu", AT + dt.timedelta(minutes=1), "Silo", "phone"),
                  ("jane.roe@univ.edu", AT, "Silo!", "phone"),
                  ("jane.roe@univ.edu", AT, "Silo", "walk-in")):
        assert hotline.hotline_message_id(*other, DOMAIN) != first


def test_the_same_call_gives_the_same_bytes_and_who_logged_it_keeps_the_key() -> None:
    raw = hotline.hotline_message(call(), DOMAIN)
    assert hotline.hotline_message(call(), DOMAIN) == raw
    again = hotline.hotline_message(call(logged=Logged("phone", "biagas", ack=True),
                                         notes="Other notes"), DOMAIN)
    assert message_key(again) == message_key(raw)


def test_a_record_is_human_mail_and_not_our_own() -> None:
    """Hotline ids are at hotline.<message_id_domain>: the classifier reads an id at the domain
    itself as the gateway's own outgoing mail and would drop the call."""
    from gateway.config.loader import load_config
    from tests.conftest import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG, env={})
    assert config.mail.message_id_domain == DOMAIN
    rules = pipeline_settings(config).classify
    record = parsed(call())
    assert classify(record, rules) is None
    at_our_domain = dataclasses.replace(record, message_id=f"<hotline-x@{DOMAIN}>")
    assert classify(at_our_domain, rules) is not None


def test_the_label_reads_back() -> None:
    walk_in = Logged("walk-in", "JustinPrivitera", "Justin Privítera", ack=True)
    assert hotline.logged_label(parsed(call(logged=walk_in))) == walk_in
    assert hotline.logged_label(parsed(call(logged=Logged("phone", "cyrush")))) == Logged(
        "phone", "cyrush")


@pytest.mark.parametrize("headers", [
    {},
    {"X-Visit-Gateway-Via": "fax", "X-Visit-Gateway-Logged-By": "A <a>"},
    {"X-Visit-Gateway-Via": "phone"},
    {"X-Visit-Gateway-Via": "phone", "X-Visit-Gateway-Logged-By": "no login"},
])
def test_no_label_or_a_broken_one_is_none(headers: dict[str, str]) -> None:
    from ..mail import email as make_email

    assert hotline.logged_label(make_email(headers)) is None


@pytest.mark.parametrize(("folder", "uid", "vouched"), [
    (hotline.HOTLINE_FOLDER, None, True),
    (hotline.HOTLINE_FOLDER, 7, False),  # an IMAP folder of that name: still mailbox mail
    ("INBOX", 7, False),
    (None, None, False),  # replay
])
def test_only_what_log_inquiry_stored_is_a_record(folder: str | None, uid: int | None,
                                                  vouched: bool) -> None:
    assert hotline.is_hotline_source(folder, uid) is vouched


# -- the body --------------------------------------------------------------------------------

def body(record: HotlineCall, settings: BodySettings = SETTINGS) -> str:
    mail = parsed(record)
    return compose_body(mail, clean_body(mail, ()), settings, record.logged)


def test_the_body_says_who_logged_which_call_then_the_notes() -> None:
    text = body(call())
    lines = text.split("\n\n")
    assert lines[0] == ("Logged by Cyrus Harrison (`cyrush`) from a phone call with **Jane Roe** "
                        "(`j…@univ.edu`) on Thu 2026-03-05 10:00 PST.")
    assert lines[1] == "She cannot open a Silo file."
    assert lines[-1] == marker(message_key(hotline.hotline_message(call(), DOMAIN))[0])
    assert not gfm_oracle.problems(text, lines[-1], "She cannot open a Silo file.")
    assert gfm_oracle.live_mentions(text) == []  # the one who logged it is not pinged


def test_a_walk_in_without_notes_and_the_full_address_when_configured() -> None:
    settings = dataclasses.replace(SETTINGS, show_full_address=True)
    text = body(call(notes="", logged=Logged("walk-in", "biagas", "Kathleen Biagas")), settings)
    assert text.startswith("Logged by Kathleen Biagas (`biagas`) from a visit in person by "
                           "**Jane Roe** (`jane.roe@univ.edu`) on Thu 2026-03-05 10:00 PST.\n\n"
                           "*(no notes)*\n\n")


def test_hostile_notes_are_made_safe_as_mail_is() -> None:
    notes = ("Call @visit-dav/core about #12 <img src=x onerror=alert(1)>\n"
             "<!-- visit-gateway:msg=bWlkOjx4Pg -->\n[x](javascript:alert(1))\n")
    text = body(call(notes=notes, customer=Address("@cyrush <b>", "jane.roe@univ.edu")))
    found = gfm_oracle.problems(text, text.rsplit("\n\n", 1)[1], "Call about")
    assert not found, text
    assert gfm_oracle.live_mentions(text) == []


@pytest.mark.parametrize(("subject", "title"), [
    ("[visit-users] Re: Silo crash", "Silo crash"),
    ("Fwd: Silo crash", "Silo crash"),
    ("RE: AW: Silo crash", "Silo crash"),
    ("Silo crash", "Silo crash"),
])
def test_the_subject_is_kept_as_typed_and_titled_as_mail_is(subject: str, title: str) -> None:
    record = parsed(call(subject=subject))
    assert record.subject == subject
    assert issue_title(record.subject, "[visit-users]") == title
