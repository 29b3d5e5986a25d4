"""Outbound mail: Message-IDs, composed headers (table-driven), header injection, encodings,
the templates, and the round trip that keeps us loop-free: every message we send comes back as
`own-mail`, and a customer's reply to it threads into the original thread.
"""

from __future__ import annotations

import datetime as dt
import email
import email.utils
import json
import re
import sys
import unicodedata
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.config.loader import Config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.load import business_calendar
from gateway.duty.schedule import Person
from gateway.errors import ConfigError, PermanentError
from gateway.inbound.classify import ClassifyRules, classify, is_own_mail
from gateway.inbound.parse import message_ids_in, normalize_message_id, parse_email
from gateway.inbound.pipeline import Pipeline
from gateway.models import Kind
from gateway.outbound import mail as mail_module
from gateway.outbound.mail import (
    MailIdentity,
    OutboundMail,
    clean_body,
    clean_header_text,
    compose,
    message_id_for,
)
from gateway.outbound.render import (
    TEMPLATE_VARIABLES,
    IssueRef,
    OpenIssue,
    Renderer,
    TextBlock,
    business_hours,
    duration,
    hours,
    mention,
    opening_hours,
    reply_subject,
)
from gateway.store.values import Recorded
from gateway.wiring import pipeline_settings

from ..mail import LIST, raw

DATE = dt.datetime(2026, 11, 30, 17, 12, tzinfo=dt.UTC)  # Monday 09:12 PST
IDENTITY = MailIdentity(
    from_address="visit-gateway@llnl.gov",
    from_name="VisIt Customer Response",
    reply_to=LIST,
    loop_header="X-Visit-Gateway",
    loop_id="visit-dav/live-customer-response",
    message_id_domain="visit-gateway.llnl.gov",
)
MID = message_id_for("mail:ack:th-0123456789ab", IDENTITY.message_id_domain)
OUTLOOK_ID = ("<BY5PR11MB3958E6D1B1A0C6A5F3C7E2D9B12345678@BY5PR11MB3958.namprd11.prod"
              ".outlook.com>")
ALICE = Person("Alice Primary", "alice@llnl.gov", "alice-p")
BOB = Person("Bob Backup", "bob@llnl.gov", "bob-b")
CAROL = Person("Carol Outgoing", "carol@llnl.gov", "carol-o")
ISSUE = IssueRef(12, "Crash when opening a Silo file",
                 "https://github.com/visit-dav/live-customer-response/issues/12")
H = dt.timedelta(hours=1)


def ack(**changes: Any) -> OutboundMail:
    base: dict[str, Any] = {
        "kind": "ack",
        "to": (("Jane Roe", "jane.roe@univ.edu"),),
        "cc": (("Bob Colleague", "bob@lab.gov"),),
        "subject": "Re: [visit-users] Crash when opening a Silo file",
        "body": "Hello Jane,\n\nWe have your message.\n",
        "in_reply_to": "<q1@univ.edu>",
        "references": ("<q1@univ.edu>",),
        "auto_submitted": "auto-replied",
        "thread_id": "th-0123456789ab",
    }
    return OutboundMail(**(base | changes))


def parsed(mail: OutboundMail, identity: MailIdentity = IDENTITY) -> EmailMessage:
    message = email.message_from_bytes(compose(mail, identity, MID, DATE), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


# -- Message-IDs --------------------------------------------------------------------------------


def test_message_id_is_deterministic_per_row_and_already_normal() -> None:
    again = message_id_for("mail:ack:th-0123456789ab", "visit-gateway.llnl.gov")
    other = message_id_for("mail:ack:th-ba9876543210", "visit-gateway.llnl.gov")
    assert MID == again != other
    assert re.fullmatch(r"<vg\.[a-z2-7]{32}@visit-gateway\.llnl\.gov>", MID)
    assert normalize_message_id(MID) == MID  # what message_ids stores is what we send
    assert message_id_for("k", "Visit-Gateway.LLNL.gov").endswith("@visit-gateway.llnl.gov>")
    with pytest.raises(ValueError):
        message_id_for("k", "not a domain")


# -- headers ------------------------------------------------------------------------------------

HEADERS: list[tuple[str, str | None]] = [
    ("From", "VisIt Customer Response <visit-gateway@llnl.gov>"),
    ("To", "Jane Roe <jane.roe@univ.edu>"),
    ("Cc", "Bob Colleague <bob@lab.gov>"),
    ("Reply-To", LIST),
    ("Subject", "Re: [visit-users] Crash when opening a Silo file"),
    ("Date", "Mon, 30 Nov 2026 17:12:00 +0000"),
    ("Message-ID", MID),
    ("In-Reply-To", "<q1@univ.edu>"),
    ("References", "<q1@univ.edu>"),
    ("Auto-Submitted", "auto-replied"),
    ("X-Auto-Response-Suppress", "OOF, AutoReply"),
    ("X-Visit-Gateway", "visit-dav/live-customer-response"),
    ("MIME-Version", "1.0"),
    ("Content-Type", 'text/plain; charset="utf-8"'),
    ("Content-Transfer-Encoding", "7bit"),
    ("Precedence", None),  # Mailman may hold or drop it; Auto-Submitted says it all
    ("Bcc", None),
    ("Sender", None),
]


@pytest.mark.parametrize(("name", "expected"), HEADERS, ids=[h for h, _ in HEADERS])
def test_composed_header(name: str, expected: str | None) -> None:
    message = parsed(ack())
    assert message.get_all(name) == (None if expected is None else [expected])


def test_raw_message_is_crlf_with_short_lines() -> None:
    raw_bytes = compose(ack(subject="Ré: " + "un sujet très long " * 20), IDENTITY, MID, DATE)
    assert b"\n" not in raw_bytes.replace(b"\r\n", b"")
    head = raw_bytes.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert raw_bytes.endswith(b"\r\n")


THREADING: list[tuple[str, dict[str, Any], str | None, tuple[str, ...]]] = [
    ("ack of a question", {}, "<q1@univ.edu>", ("<q1@univ.edu>",)),
    ("a notice with no parent", {"in_reply_to": None, "references": ()}, None, ()),
    ("parent appended when missing",
     {"in_reply_to": "<ack1@visit-gateway.llnl.gov>", "references": ("<q1@univ.edu>",)},
     "<ack1@visit-gateway.llnl.gov>", ("<q1@univ.edu>", "<ack1@visit-gateway.llnl.gov>")),
    ("duplicates and garbage dropped",
     {"references": ("<q1@univ.edu>", "not-an-id", "<a b@c.d>", "<q1@univ.edu>",
                     "<x@y.z>\r\nBcc: evil@x", "<r2@lab.gov>")},
     "<q1@univ.edu>", ("<q1@univ.edu>", "<r2@lab.gov>")),
    ("a garbled parent is left out", {"in_reply_to": "<q1@univ.edu>\nBcc: evil@x"},
     None, ("<q1@univ.edu>",)),
    ("long ids stay verbatim (never RFC 2047 encoded)",
     {"in_reply_to": OUTLOOK_ID, "references": (OUTLOOK_ID, "<r2@lab.gov>")},
     OUTLOOK_ID, (OUTLOOK_ID, "<r2@lab.gov>")),
    ("long chains keep the root and the newest",
     {"in_reply_to": "<m29@x.org>", "references": tuple(f"<m{i}@x.org>" for i in range(30))},
     "<m29@x.org>", ("<m0@x.org>", *(f"<m{i}@x.org>" for i in range(11, 30)))),
]


@pytest.mark.parametrize(("case", "changes", "in_reply_to", "references"), THREADING,
                         ids=[c[0] for c in THREADING])
def test_threading_headers(case: str, changes: dict[str, Any], in_reply_to: str | None,
                           references: tuple[str, ...]) -> None:
    raw_bytes = compose(ack(**changes), IDENTITY, MID, DATE)
    assert b"=?" not in raw_bytes.split(b"\r\n\r\n", 1)[0].split(b"Message-ID")[1]
    message = email.message_from_bytes(raw_bytes, policy=policy.compat32)
    assert message_ids_in(message["In-Reply-To"]) == (
        (normalize_message_id(in_reply_to),) if in_reply_to else ())
    assert all(ident.encode() in raw_bytes for ident in references)  # verbatim, never re-cased
    assert tuple(message_ids_in(message["References"])) == tuple(
        normalize_message_id(ref) for ref in references)
    assert message.get_all("Bcc") is None


def test_cc_repeating_a_to_address_is_dropped() -> None:
    message = parsed(ack(cc=(("Jane again", "Jane.Roe@univ.edu"), ("Bob", "bob@lab.gov"))))
    assert message["Cc"] == "Bob <bob@lab.gov>"
    assert ack(cc=(("Jane", "JANE.ROE@univ.edu"),)).recipients == ("jane.roe@univ.edu",)


# -- header injection ----------------------------------------------------------------------------

INJECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("subject CRLF", {"subject": "Help\r\nBcc: evil@x"}),
    ("subject LF", {"subject": "Help\nBcc: evil@x"}),
    ("subject CR", {"subject": "Help\rBcc: evil@x"}),
    ("subject LF then body", {"subject": "Help\n\nInjected body"}),
    ("subject unicode line separator", {"subject": "Help\u2028Bcc: evil@x"}),
    ("subject NEL", {"subject": "Help\x85Bcc: evil@x"}),
    ("display name CRLF", {"to": (("Jane\r\nBcc: evil@x", "jane.roe@univ.edu"),)}),
    ("cc display name LF", {"cc": (("Bob\nBcc: evil@x", "bob@lab.gov"),)}),
    ("parent id CRLF", {"in_reply_to": "<q1@univ.edu>\r\nBcc: evil@x"}),
]


@pytest.mark.parametrize("changes", [c for _, c in INJECTIONS], ids=[n for n, _ in INJECTIONS])
def test_header_injection_cannot_add_a_header(changes: dict[str, Any]) -> None:
    clean = parsed(ack())
    message = parsed(ack(**changes))
    assert message.get_all("Bcc") is None
    assert set(message.keys()) <= set(clean.keys())  # nothing added (a garbled id is dropped)
    assert message.get_content() == clean.get_content()
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    raw_bytes = compose(ack(**changes), IDENTITY, MID, DATE)
    assert re.search(rb"\r\nBcc:", raw_bytes, re.IGNORECASE) is None


def test_injected_subject_stays_one_subject() -> None:
    assert parsed(ack(subject="Help\r\nBcc: evil@x"))["Subject"] == "Help Bcc: evil@x"


def test_identity_display_name_cannot_inject() -> None:
    identity = MailIdentity(IDENTITY.from_address, "VisIt\r\nBcc: evil@x", LIST,
                            IDENTITY.loop_header, IDENTITY.loop_id, IDENTITY.message_id_domain)
    message = parsed(ack(), identity)
    assert message.get_all("Bcc") is None
    assert message["From"] == '"VisIt Bcc: evil@x" <visit-gateway@llnl.gov>'  # one quoted name


def test_spoofing_display_names_lose_their_brackets() -> None:
    message = parsed(ack(to=(('"support@lab.gov" <boss@lab.gov>', "jane.roe@univ.edu"),)))
    assert message["To"].addresses[0].addr_spec == "jane.roe@univ.edu"
    assert "<boss@lab.gov>" not in str(message["To"])


@pytest.mark.parametrize("address", ["jane@univ.edu\r\nBcc: evil@x", "jane", "a b@c.d",
                                     "jane@univ.edu, evil@x.org", "<jane@univ.edu>"])
def test_unsafe_recipient_address_is_refused(address: str) -> None:
    with pytest.raises(PermanentError, match="cannot send to"):
        compose(ack(to=(("Jane", address),)), IDENTITY, MID, DATE)


CLEANING: list[tuple[str, str]] = [
    ("a\tb\x00c\x1bd", "a b c d"),
    ("  many   spaces \n\n here ", "many spaces here"),
    ("trojan \u202egnp.exe\u202c source", "trojan gnp.exe source"),
    ("\ufeffbom", "bom"),
    ("lone \udc80 surrogate", "lone \ufffd surrogate"),
    ("x" * 201, "x" * 199 + "…"),
    ("日本語の件名", "日本語の件名"),
]


@pytest.mark.parametrize(("text", "expected"), CLEANING)
def test_clean_header_text(text: str, expected: str) -> None:
    assert clean_header_text(text) == expected


EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))


def test_cleaning_tables_are_unicodes_categories() -> None:
    """The cleaning is one str.translate; what it removes and replaces must still be exactly
    Unicode's control characters (Cc), line and paragraph separators (Zl, Zp) and surrogates
    (Cs) in the Python that runs it, checked here character by character against unicodedata
    (as the code did before it used tables)."""
    invisible = set(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                               "\u2069\ufeff"))
    header: list[str] = []
    body: list[str] = []
    for char in EVERY_CHARACTER:
        if ord(char) in invisible:
            continue
        category = unicodedata.category(char)
        header.append(" " if category in ("Cc", "Zl", "Zp") else
                      "\ufffd" if category == "Cs" else char)
        if category == "Cc" and char not in "\n\t":
            continue
        body.append("\ufffd" if category == "Cs" else char)
    assert EVERY_CHARACTER.translate(mail_module._HEADER_TABLE) == "".join(header)
    # clean_body first turns CR, U+2028 and U+2029 into line ends, then applies its table
    assert EVERY_CHARACTER.translate(mail_module._BODY_TABLE) == "".join(body)
    assert clean_body("a\rb\u2028c\u2029d\x00\x85e\udc80\t") == "a\nb\nc\n\nde\ufffd\t\n"


def stdlib_compose(mail: OutboundMail, identity: MailIdentity = IDENTITY) -> bytes:
    """What compose wrote before it cached folded headers and header classes: every header
    set on the message and parsed and folded by the stdlib's own policy. The oracle for
    `test_compose_writes_what_the_stdlib_writes`."""
    message = EmailMessage(policy=policy.SMTP)
    from_name = identity.from_name
    if mail.on_behalf_of:
        from_name = f"{mail.on_behalf_of} via {identity.from_name}"
    message["From"] = mail_module._address(from_name, identity.from_address)
    message["To"] = [mail_module._address(name, addr) for name, addr in mail.to]
    to_addrs = {addr.lower() for _name, addr in mail.to}
    cc = [mail_module._address(name, addr) for name, addr in mail.cc
          if addr.lower() not in to_addrs]
    if cc:
        message["Cc"] = cc
    message["Reply-To"] = mail_module._address("", identity.reply_to)
    message["Subject"] = clean_header_text(mail.subject)
    message["Date"] = email.utils.format_datetime(DATE)
    message["Message-ID"] = MID
    parent = mail_module._valid_id(mail.in_reply_to)
    references = mail_module._references(mail.references, parent)
    if parent:
        message.set_raw("In-Reply-To", parent)
    if references:
        message.set_raw("References", "\n ".join(references))
    message["Auto-Submitted"] = mail.auto_submitted
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message.set_raw(identity.loop_header, identity.loop_id)
    body = clean_body(mail.body)
    message.set_content(body, charset="utf-8", cte=mail_module._transfer_encoding(body))
    return message.as_bytes(policy=policy.SMTP.clone(refold_source="none"))


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=90)
PEOPLE = st.lists(st.tuples(NAMES, st.sampled_from(["jane@univ.edu", "bob@lab.gov",
                                                     "x.y+z@a-b.example.org"])),
                  min_size=1, max_size=6).map(tuple)


@settings(max_examples=300, deadline=None)
@given(to=PEOPLE, cc=st.lists(st.tuples(NAMES, st.just("cc@lab.gov")), max_size=3).map(tuple),
       subject=NAMES, on_behalf_of=st.none() | NAMES,
       auto=st.sampled_from(["auto-generated", "auto-replied"]))
@example(to=(("Zoë \"Quote\" Müller, PhD", "zoe@univ.edu"),), cc=(),
         subject="Grüße: " + "a long subject that must fold " * 5, on_behalf_of="Ünïcode Dev",
         auto="auto-replied")
@example(to=(("", "jane@univ.edu"),), cc=(), subject="", on_behalf_of="\U00010000",
         auto="auto-generated")  # folded right after "From:" (found by this test)
def test_compose_writes_what_the_stdlib_writes(
        to: tuple[tuple[str, str], ...], cc: tuple[tuple[str, str], ...], subject: str,
        on_behalf_of: str | None, auto: str) -> None:
    """compose parses and folds each header once and keeps it (_folded), and makes each header
    class once (_HeaderClasses): the bytes must be the ones the stdlib's policy writes when it
    parses and folds everything itself, for any names, subjects and recipients, encoded,
    quoted and folded alike. Asked twice, so the second answer comes from the cache."""
    mail = ack(to=to, cc=cc, subject=subject, on_behalf_of=on_behalf_of or None,
               auto_submitted=auto)
    expected = stdlib_compose(mail)
    assert compose(mail, IDENTITY, MID, DATE) == expected
    assert compose(mail, IDENTITY, MID, DATE) == expected


def test_the_cache_keeps_header_classes_and_headers() -> None:
    classes = mail_module._POLICY.header_factory
    assert classes["Subject"] is classes["subject"]
    assert classes["To"] is not classes["Subject"]
    compose(ack(), IDENTITY, MID, DATE)
    hits = mail_module._kept.cache_info().hits
    compose(ack(), IDENTITY, MID, DATE)
    assert mail_module._kept.cache_info().hits > hits


# -- bodies ------------------------------------------------------------------------------------

BODIES: list[tuple[str, str, str]] = [
    ("short ascii", "Hello\nthere\n", "7bit"),
    ("non-ascii", "Grüße aus Livermore\n", "quoted-printable"),
    ("long line", "x" * 100 + "\n", "quoted-printable"),
    ("CRLF and controls", "a\r\nb\rc\x00\x07d\n", "7bit"),
]


@pytest.mark.parametrize(("case", "body", "cte"), BODIES, ids=[b[0] for b in BODIES])
def test_body_encoding(case: str, body: str, cte: str) -> None:
    message = parsed(ack(body=body))
    assert message["Content-Transfer-Encoding"] == cte
    expected = body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    assert message.get_content().replace("\r\n", "\n") == expected.replace("\x07", "")


def test_caller_bugs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        compose(ack(), IDENTITY, MID, dt.datetime(2026, 11, 30, 9))
    with pytest.raises(ValueError, match="Message-ID"):
        compose(ack(), IDENTITY, "<no domain>", DATE)
    with pytest.raises(ValueError, match="To"):
        compose(ack(to=()), IDENTITY, MID, DATE)
    with pytest.raises(ValueError, match="loop_id"):
        MailIdentity(IDENTITY.from_address, "x", LIST, "X-Visit-Gateway", "",
                     IDENTITY.message_id_domain)


def test_payload_round_trip() -> None:
    mail = ack()
    assert OutboundMail.from_payload(json.loads(json.dumps(mail.as_payload()))) == mail
    with pytest.raises(ValueError):
        OutboundMail.from_payload({"kind": "ack"})
    with pytest.raises(ValueError):
        OutboundMail.from_payload(mail.as_payload() | {"auto_submitted": "no"})


# -- the round trip: never a loop, always threaded ---------------------------------------------


def rules(config: Config) -> ClassifyRules:
    return pipeline_settings(config).classify


def identity_of(config: Config) -> MailIdentity:
    """What the composition root builds: note `Config.loop_id`, not `mail.loop_id`."""
    return MailIdentity(config.mail.from_address, config.mail.from_name, config.list.address,
                        config.mail.loop_header, config.loop_id, config.mail.message_id_domain)


def rendered_mails(renderer: Renderer) -> list[OutboundMail]:
    """One mail per mail template, as the jobs would build them."""
    mails = []
    for name, context in realistic_contexts().items():
        if name.endswith(".txt"):
            subject, body = renderer.render(name, **context)
            mails.append(ack(kind=name.removesuffix(".txt"), subject=subject, body=body,
                             auto_submitted="auto-replied" if name == "ack.txt"
                             else "auto-generated"))
    return mails


def through_mailman(raw_bytes: bytes, *, new_message_id: bool = False) -> bytes:
    """What the list hands back: DMARC-munged From, list headers, subject prefix."""
    message = email.message_from_bytes(raw_bytes, policy=policy.compat32)
    message.replace_header("From", "VisIt Customer Response via visit-users <" + LIST + ">")
    message.replace_header("Subject", "[visit-users] " + str(message["Subject"]))
    message["List-Id"] = "VisIt Users <visit-users.elist.ornl.gov>"
    message["Precedence"] = "list"
    if new_message_id:  # some relays replace the Message-ID: the loop header still tells
        message.replace_header("Message-ID", "<20261130171200.ABC@mail.llnl.gov>")
    return message.as_bytes()


@pytest.mark.parametrize("echo", ["direct", "via mailman", "via mailman, new id"])
def test_everything_we_send_comes_back_as_own_mail(example_config: Config, echo: str) -> None:
    renderer = Renderer(business_calendar(example_config))
    identity = identity_of(example_config)
    for mail in rendered_mails(renderer):
        ours = message_id_for(f"mail:{mail.kind}:th-1", identity.message_id_domain)
        raw_bytes = compose(mail, identity, ours, DATE)
        if echo != "direct":
            raw_bytes = through_mailman(raw_bytes, new_message_id=echo.endswith("new id"))
        parsed_mail = parse_email(raw_bytes, list_address=example_config.list.address)
        assert is_own_mail(parsed_mail, rules(example_config)), mail.kind
        verdict = classify(parsed_mail, rules(example_config))
        assert verdict is not None and verdict.reason == "own-mail", mail.kind


NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


def ask_and_acknowledge(pipeline: Pipeline, config: Config, *, record: bool) -> tuple[str, str]:
    """Jane asks; the gateway acknowledges. Returns (thread id, our Message-ID)."""
    question = pipeline.ingest(raw({}), received_at=NOW)
    first = pipeline.process(question.key, now=NOW)
    assert first.verdict.kind is Kind.NEW and first.thread_id
    thread = first.thread_id
    row_key = f"mail:ack:{thread}"
    ours = message_id_for(row_key, config.mail.message_id_domain)
    if record:  # the outbox writer does this in the transaction that queues the mail
        with pipeline.store.tx() as tx:
            tx.record_many([Recorded(key=f"outbox:{row_key}", verdict="outbound", reason="",
                                     detail="", thread_id=thread, new_thread=None,
                                     ids=((ours, thread, "outbound"),), outbox=())], now=NOW)
    echo = compose(ack(thread_id=thread), identity_of(config), ours, NOW)
    echoed = pipeline.process(pipeline.ingest(echo, received_at=NOW).key, now=NOW)
    assert (echoed.verdict.kind, echoed.verdict.reason) == (Kind.IGNORE, "own-mail")
    return thread, ours


@pytest.mark.parametrize("references", ["ours and theirs", "ours only", "none (Outlook)"])
def test_customer_reply_to_our_mail_threads_into_the_issue(
    pipeline: Pipeline, example_config: Config, references: str
) -> None:
    thread, ours = ask_and_acknowledge(pipeline, example_config, record=True)
    refs = {"ours and theirs": f"<q1@univ.edu> {ours}", "ours only": ours,
            "none (Outlook)": ""}[references]
    reply = raw({"Message-ID": "<r1@univ.edu>", "In-Reply-To": ours, "References": refs,
                 "Subject": "Re: [visit-users] A question"}, "One more detail: it is VisIt 3.4.\n")
    outcome = pipeline.process(pipeline.ingest(reply, received_at=NOW).key, now=NOW)
    assert (outcome.verdict.kind, outcome.verdict.reason) == (Kind.REPLY, "in-reply-to")
    assert outcome.thread_id == thread


def test_without_recording_our_id_a_bare_reply_starts_a_new_thread(
    pipeline: Pipeline, example_config: Config
) -> None:
    thread, ours = ask_and_acknowledge(pipeline, example_config, record=False)
    reply = raw({"Message-ID": "<r1@univ.edu>", "In-Reply-To": ours,
                 "Subject": "Re: [visit-users] A question"})
    outcome = pipeline.process(pipeline.ingest(reply, received_at=NOW).key, now=NOW)
    assert outcome.verdict.kind is Kind.NEW and outcome.thread_id != thread


# -- templates ---------------------------------------------------------------------------------


def realistic_contexts() -> dict[str, dict[str, Any]]:
    arrived = DATE  # Monday Nov 30, 09:12 PST
    deadline = DATE + 4 * H
    unanswered = IssueRef(15, "Slow volume rendering on Sierra",
                          "https://github.com/visit-dav/live-customer-response/issues/15")
    open_issues: list[Any] = [
        OpenIssue(ISSUE, arrived, dt.timedelta(days=7, hours=1), 38 * H, arrived + H, "alice-p"),
        OpenIssue(unanswered, arrived + 50 * H, dt.timedelta(days=4, hours=23), 26.5 * H,
                  None, None),
        {"issue": {"number": 16, "title": "Plugin build fails", "url": ISSUE.url[:-2] + "16"},
         "arrived": arrived + 60 * H, "age": dt.timedelta(days=3), "business_age": 20 * H,
         "first_response_at": arrived + 61 * H, "first_response_by": "dave-x",
         "disposition": "kept-assignee", "assignee": "dave-x"},  # as weekly.handoff builds it
    ]
    return {
        "ack.txt": {"customer_name": "Jane Roe",
                    "subject": "[visit-users] Crash when opening a Silo file", "issue": ISSUE,
                    "primary": ALICE, "deadline": deadline, "goal": 4 * H},
        "handoff.md": {"issue": ISSUE, "incoming": ALICE, "backup": BOB, "outgoing": CAROL,
                       "handoff_at": dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC),
                       "arrived": arrived, "deadline": deadline, "first_response_at": None,
                       "first_response_by": None, "business_age": 38 * H},
        "handoff_customer.txt": {"customer_name": "Jane Roe",
                                 "subject": "[visit-users] Crash when opening a Silo file",
                                 "issue": ISSUE, "outgoing": CAROL, "incoming": ALICE,
                                 "handoff_at": dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC)},
        "handoff_team.txt": {"incoming": ALICE, "backup": BOB, "outgoing": CAROL,
                             "handoff_at": dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC),
                             "issues": open_issues},
        "reminder.md": {"primary": ALICE, "backup": BOB, "arrived": arrived,
                        "deadline": deadline, "goal": 4 * H, "percent": 75},
        "escalation.md": {"primary": ALICE, "backup": BOB, "arrived": arrived,
                          "deadline": deadline, "goal": 4 * H},
        "notice.md": {"primary": ALICE, "backup": BOB, "arrived": arrived,
                      "deadline": deadline, "goal": 4 * H},
        "stale_warning.md": {"issue": ISSUE, "last_reply": arrived + H,
                             "close_on": arrived + 21 * 24 * H, "days": 21,
                             "keep_label": "stale:keep"},
        "stale_warning.txt": {"customer_name": "Jane Roe",
                              "subject": "[visit-users] Crash when opening a Silo file",
                              "issue": ISSUE, "last_reply": arrived + H,
                              "close_on": arrived + 21 * 24 * H},
        "escalation_mail.txt": {"primary": ALICE, "backup": BOB, "issue": ISSUE,
                                "arrived": arrived, "deadline": deadline, "goal": 4 * H},
        "postmortem.md": {"primary": ALICE, "issue": ISSUE, "arrived": arrived,
                          "first_response_at": arrived + 5 * H, "first_response_by": "alice-p",
                          "resolved_at": arrived + 30 * H, "response_time": 5 * H},
        # Alice hands Bob the Primary role for Tuesday afternoon and becomes his Backup.
        "delegation_mail.txt": {"primary": ALICE, "delegate": BOB, "backup": ALICE,
                                "start": dt.datetime(2026, 12, 8, 21, tzinfo=dt.UTC),
                                "until": dt.datetime(2026, 12, 9, 1, tzinfo=dt.UTC),
                                "number": 3},
        # A control character in a comment is dropped; its lines and indentation stay.
        "relay.txt": {"subject": "[visit-users] Crash when opening a Silo file", "issue": ISSUE,
                      "author": ALICE,
                      "comment": TextBlock("Which version is this?\n\nPlease run:\n\n"
                                           "    visit -version\x1b[31m\n")},
    }


EXPECTED_TEXT: dict[str, list[str]] = {
    "ack.txt": ["Re: [visit-users] Crash when opening a Silo file", "issue #12",
                ISSUE.url, "Alice Primary", "by\nMonday Nov 30, 13:12 PST",
                "within 4 business hours",
                "Monday to Friday, 08:00-12:00 and 13:00-17:00 Los Angeles time",
                "reply to this message"],
    "handoff_customer.txt": ['"Crash when opening a Silo file"', ISSUE.url, "Carol Outgoing",
                             "to Alice Primary", "nothing you need to do"],
    "handoff.md": ["@alice-p Customer response handoff, Monday Dec 7, 08:00 PST",
                   "passes from Carol Outgoing to Alice Primary, with Bob Backup as Backup",
                   "(38 business hours so far)",
                   "**No first response yet**; it was due Monday Nov 30, 13:12 PST."],
    "handoff_team.txt": ["3 open inquiries, week of Monday Dec 7", "Primary:          Alice",
                         "Backup:           Bob Backup", "Previous Primary: Carol Outgoing",
                         "#12  Crash when opening a Silo file", ISSUE.url,
                         "7 days 1 h ago, 38 business hours",
                         "First response Monday Nov 30, 10:12 PST by alice-p",
                         "#15  Slow volume rendering on Sierra",
                         "4 days 23 h ago, 26.5 business hours", "NO FIRST RESPONSE YET",
                         "Handed to Alice Primary", "#16  Plugin build fails",
                         "Stays with dave-x, who holds it"],
    "reminder.md": ["@alice-p 75% of the 4-business-hour response goal",
                    "**Monday Nov 30, 13:12 PST**", "Backup is Bob Backup"],
    "stale_warning.md": ["since the team's last answer on Monday Nov 30.",
                         "closed as won't fix on Monday Dec 21.", "the label `stale:keep`",
                         "(the 21-day rule)"],
    "stale_warning.txt": ["Re: [visit-users] Crash when opening a Silo file",
                          "last answered it on Monday Nov 30", "closed on Monday Dec 21",
                          ISSUE.url, "keeps it open"],
    # The Primary is mentioned; the Backup is named, never pinged.
    "notice.md": ["**Primary:** @alice-p · **Backup:** Bob Backup\n\nThis inquiry arrived",
                  "Monday Nov 30, 09:12 PST", "**Monday Nov 30, 13:12 PST**"],
    "escalation.md": ["@bob-b @alice-p The 4-business-hour response goal", "was missed",
                      "Response was due: **Monday Nov 30, 13:12 PST**"],
    "escalation_mail.txt": ["Response goal missed: #12 Crash when opening a Silo file",
                            "Alice Primary, Bob Backup,", ISSUE.url,
                            "Response was due: Monday Nov 30, 13:12 PST"],
    "relay.txt": ["Re: [visit-users] Crash when opening a Silo file",
                  "Which version is this?\n\nPlease run:\n\n    visit -version[31m\n\n-- \n"
                  "Alice Primary wrote this on issue #12:\n" + ISSUE.url,
                  "Reply to this message to answer"],
    "delegation_mail.txt": ["You are Primary for Alice Primary until Tuesday Dec 8, 17:00 PST",
                            "Bob Backup,", "Alice Primary has delegated customer response duty",
                            "from\nTuesday Dec 8, 13:00 PST until Tuesday Dec 8, 17:00 PST",
                            "new inquiries are assigned to you",
                            "Alice Primary is the Backup meanwhile.",
                            "visit-gateway delegate --cancel 3"],
    "postmortem.md": ["@alice-p", "post-mortem", "### What happened", "### Impact",
                      "- Arrived: Monday Nov 30, 09:12 PST",
                      "- First response: Monday Nov 30, 14:12 PST by `alice-p` "
                      "(5 business hours after arrival)",
                      "- Resolved: Tuesday Dec 1, 15:12 PST", "### Follow-up issues"],
}


@pytest.fixture
def renderer(example_config: Config) -> Renderer:
    return Renderer(business_calendar(example_config))


@pytest.mark.parametrize("name", ["ack.txt", "relay.txt", "handoff_customer.txt"])
def test_mail_about_a_discussion_calls_it_one(renderer: Renderer, name: str) -> None:
    discussion = IssueRef(12, ISSUE.title, "https://github.com/visit-dav/visit/discussions/12",
                          "discussion")
    _, body = renderer.render(name, **realistic_contexts()[name] | {"issue": discussion})
    assert "/discussions/12" in body and " issue" not in body
    assert "discussion" in body


@pytest.mark.parametrize("name", list(TEMPLATE_VARIABLES))
def test_every_template_renders_realistically(renderer: Renderer, name: str) -> None:
    subject, body = renderer.render(name, **realistic_contexts()[name])
    text = f"{subject}\n{body}"
    for expected in EXPECTED_TEXT[name]:
        assert expected in text, expected
    assert "None" not in text and "{" not in text and "+00:00" not in text
    assert (subject == "") == name.endswith(".md")
    assert body.endswith("\n") and not body.endswith("\n\n") and not body.startswith("\n")
    if name.endswith(".md"):  # comments mention on purpose, and only these people
        mentioned = set(re.findall(r"(?<![\w`])@[\w-]+", body))
        assert mentioned <= ({"@alice-p"} if name == "notice.md" else {"@alice-p", "@bob-b"})
        assert not body.startswith((" ", "@ "))
    else:
        assert "@alice" not in body


@pytest.mark.parametrize("name", list(TEMPLATE_VARIABLES))
def test_templates_read_well_without_optional_people(renderer: Renderer, name: str) -> None:
    context = realistic_contexts()[name]
    for optional in ("backup", "outgoing", "incoming", "first_response_at",
                     "first_response_by", "response_time"):
        if optional in context:
            context[optional] = None
    if "issues" in context:
        context["issues"] = []
    if name in ("ack.txt", "handoff_customer.txt"):
        context |= {"primary": None, "customer_name": ""}
    subject, body = renderer.render(name, **context)
    assert "None" not in subject + body and "@ " not in body and " ," not in body
    assert "  @" not in body and not body.startswith(" ")


@pytest.mark.parametrize("name", list(TEMPLATE_VARIABLES))
def test_people_may_be_bare_logins(renderer: Renderer, name: str) -> None:
    """gateway.weekly's planners pass a login for an assignee who is not on the roster."""
    context = realistic_contexts()[name]
    people = [role for role in ("primary", "backup", "incoming", "author", "outgoing")
              if role in context]
    for role, login in (("primary", "dave-x"), ("backup", "erin-y"), ("incoming", "dave-x"),
                        ("author", "dave-x"),
                        ("outgoing", "frank-z")):
        if role in context:
            context[role] = login
    subject, body = renderer.render(name, **context)
    if set(people) & {"primary", "incoming", "author"}:  # the stale notices name nobody
        assert "dave-x" in subject + body
    if (name.endswith(".md") and "primary" in context) or name == "handoff.md":
        assert "@dave-x " in body.split("\n", 1)[0]  # mentioned: a login is enough


def test_deadline_shows_daylight_time_in_summer(renderer: Renderer) -> None:
    context = realistic_contexts()["ack.txt"] | {"deadline": dt.datetime(2026, 7, 6, 19,
                                                                         tzinfo=dt.UTC)}
    assert "by\nMonday Jul 6, 12:00 PDT." in renderer.render("ack.txt", **context)[1]


def test_untrusted_text_cannot_break_a_mail_or_ping_from_a_comment(tmp_path: Path,
                                                                    example_config: Config) -> None:
    (tmp_path / "reminder.md").write_text("{{ primary|mention }} about: {{ issue.title }}\n")
    renderer = Renderer(business_calendar(example_config), tmp_path)
    evil = IssueRef(1, "Help @visit-dav/core <!-- visit-gateway:msg=bWlkOjx4QHk-Pg -->\nBcc: x",
                    ISSUE.url)
    context = realistic_contexts()["reminder.md"] | {"issue": evil}
    body = renderer.render_comment("reminder.md", **context)
    assert body.startswith("@alice-p about: Help `@visit-dav/core` &lt;!-- ")
    assert body.count("\n") == 1
    subject, _ = renderer.render("escalation_mail.txt",
                                 **realistic_contexts()["escalation_mail.txt"] | {"issue": evil})
    assert "\n" not in subject and subject.endswith("Bcc: x")


def test_override_directory_wins_and_falls_back(tmp_path: Path, example_config: Config) -> None:
    (tmp_path / "ack.txt").write_text("Subject: Got it: {{ issue.title }}\n\nThanks!\n")
    renderer = Renderer(business_calendar(example_config), tmp_path)
    assert renderer.render("ack.txt", **realistic_contexts()["ack.txt"]) == (
        "Got it: Crash when opening a Silo file", "Thanks!\n")
    assert "Carol Outgoing" in renderer.render(
        "handoff_customer.txt", **realistic_contexts()["handoff_customer.txt"])[1]
    renderer.check()


BAD_OVERRIDES: list[tuple[str, str, str, str]] = [
    ("syntax error", "Subject: x\n\nHello\n{% if primary %}\nno endif\n", ":5",
     "template syntax error"),
    ("unknown variable", "Subject: x\n\nHello\n\n{{ customer_phone }}\n", ":5",
     "'customer_phone' is undefined"),
    ("unknown attribute", "Subject: x\n\n{{ issue.number }}\n{{ issue.labels }}\n", ":4",
     "labels"),
    ("no subject line", "Hello {{ customer_name }}\n\nbody\n", ":1", "Subject"),
]


@pytest.mark.parametrize(("text", "line", "problem"), [b[1:] for b in BAD_OVERRIDES],
                         ids=[b[0] for b in BAD_OVERRIDES])
def test_bad_override_names_file_line_and_fix(tmp_path: Path, example_config: Config,
                                              text: str, line: str, problem: str) -> None:
    (tmp_path / "ack.txt").write_text(text)
    renderer = Renderer(business_calendar(example_config), tmp_path)
    for attempt in (renderer.check,
                    lambda: renderer.render("ack.txt", **realistic_contexts()["ack.txt"])):
        with pytest.raises(ConfigError) as caught:
            attempt()
        message = str(caught.value)
        assert f"{tmp_path / 'ack.txt'}{line}:" in message
        assert problem in message and "fix:" in message


def test_check_finds_a_bad_branch_and_a_misnamed_file(tmp_path: Path,
                                                      example_config: Config) -> None:
    calendar = business_calendar(example_config)
    (tmp_path / "escalation.md").write_text("{% if not backup %}{{ backup_name }}{% endif %}\n")
    with pytest.raises(ConfigError, match=r"escalation\.md:1:.*backup_name"):
        Renderer(calendar, tmp_path).check()  # the sample without a Backup takes that branch
    (tmp_path / "escalation.md").unlink()
    (tmp_path / "_signature.txt").write_text("-- \nVisIt\n")  # a partial: fine
    (tmp_path / "ack.text").write_text("Subject: x\n\ny\n")
    with pytest.raises(ConfigError, match=r"ack\.text.*no template of this name"):
        Renderer(calendar, tmp_path).check()
    with pytest.raises(ConfigError, match="does not exist"):
        Renderer(calendar, tmp_path / "missing")
    # Found at start but unreadable for the daemon's user: a ConfigError (exit 78), no traceback.
    (tmp_path / "ack.text").unlink()
    renderer = Renderer(calendar, tmp_path)
    (tmp_path / "_signature.txt").unlink()
    tmp_path.rmdir()  # stands in for a directory the unit's user may not list
    with pytest.raises(ConfigError, match=r"cannot read a template.*No such file"):
        renderer.check()


def test_caller_mistakes(renderer: Renderer) -> None:
    renderer.check()  # the built-in templates
    with pytest.raises(TypeError, match="deadline"):
        renderer.render("ack.txt", **{k: v for k, v in realistic_contexts()["ack.txt"].items()
                                      if k != "deadline"})
    with pytest.raises(ValueError, match="no template"):
        renderer.render("nudge.txt")
    with pytest.raises(ValueError, match="mail template"):
        renderer.render_comment("ack.txt", **realistic_contexts()["ack.txt"])


FILTERS: list[tuple[Any, Any, str]] = [
    (duration, dt.timedelta(minutes=45), "45 min"),
    (duration, dt.timedelta(hours=5, minutes=20), "5 h 20 min"),
    (duration, dt.timedelta(hours=3), "3 h"),
    (duration, dt.timedelta(days=1), "1 day"),
    (duration, dt.timedelta(days=2, hours=3, minutes=59), "2 days 3 h"),
    (duration, dt.timedelta(seconds=-5), "0 min"),
    (hours, 4 * H, "4"),
    (hours, 3.5 * H, "3.5"),
    (business_hours, H, "1 business hour"),
    (business_hours, 38 * H, "38 business hours"),
    (reply_subject, "[visit-users] Crash", "Re: [visit-users] Crash"),
    (reply_subject, "RE: [visit-users] Crash", "RE: [visit-users] Crash"),
    (reply_subject, "", "Re: your message"),
    (mention, ALICE, "@alice-p"),
    (mention, "@bob-b", "@bob-b"),
    (mention, None, ""),
    (opening_hours, BusinessCalendar(), "Monday to Friday, 08:00-12:00 and 13:00-17:00 "
                                         "Los Angeles time, except holidays"),
]


@pytest.mark.parametrize(("function", "value", "expected"), FILTERS)
def test_filter(function: Any, value: Any, expected: str) -> None:
    assert function(value) == expected


def test_mention_refuses_what_is_not_a_login() -> None:
    with pytest.raises(ValueError):
        mention("alice p")
