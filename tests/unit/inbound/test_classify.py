"""The ignore rules, one row per header style, in the documented order."""

from __future__ import annotations

import pytest

from gateway.inbound.classify import ClassifyRules, classify

from ..mail import email

RULES = ClassifyRules(
    own_addresses=frozenset({"visit-gateway@llnl.gov"}),
    own_message_id_domain="visit-gateway.llnl.gov",
    loop_header="X-Visit-Gateway",
    loop_id="visit-dav/live-customer-response",
    ignore_precedence=frozenset({"bulk", "junk", "auto_reply"}),
    ignore_senders=frozenset({"robot@lab.gov"}),
    github_reply_by_email_is_posted=True,
)

CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("plain human mail", {}, None),
    ("list headers never drop", {"List-Unsubscribe": "<mailto:x@y.z>", "Precedence": "list"}, None),
    ("X-Auto-Response-Suppress alone is human", {"X-Auto-Response-Suppress": "All"}, None),
    ("Auto-Submitted: no is human", {"Auto-Submitted": "no"}, None),
    ("loop header", {"X-Visit-Gateway": "visit-dav/live-customer-response"}, "own-mail"),
    ("another gateway's loop id is not ours", {"X-Visit-Gateway": "other/repo"}, None),
    ("our message-id domain", {"Message-ID": "<t.1@visit-gateway.llnl.gov>"}, "own-mail"),
    ("our sender", {"From": "VisIt CR <visit-gateway@llnl.gov>"}, "own-mail"),
    (
        "our mail munged by mailman",
        {"From": "VisIt CR via visit-users <visit-users@elist.ornl.gov>",
         "X-Original-From": "visit-gateway@llnl.gov"},
        "own-mail",
    ),
    ("github sender", {"From": "Cyrus <notifications@github.com>"}, "github-notification"),
    ("github reason header", {"X-GitHub-Reason": "mention"}, "github-notification"),
    (
        "github message id",
        {"Message-ID": "<visit-dav/live-customer-response/issues/3@github.com>"},
        "github-notification",
    ),
    (
        "reply-all including github's reply address",
        {"Cc": "visit-dav/x <reply+AB12@reply.github.com>"},
        "github-reply-by-email",
    ),
    ("x-failed-recipients", {"X-Failed-Recipients": "a@b.c"}, "delivery-status"),
    (
        "multipart/report",
        {"Content-Type": 'multipart/report; report-type=delivery-status; boundary="b"'},
        "delivery-status",
    ),
    ("mailer-daemon", {"From": "Mail Delivery System <MAILER-DAEMON@x.org>"}, "mailer-daemon"),
    ("postmaster", {"From": "postmaster@x.org"}, "mailer-daemon"),
    ("mailer-daemon with no address", {"From": "MAILER-DAEMON (Mail Delivery System)"},
     "mailer-daemon"),
    ("daemon display name, no address", {"From": "postmaster"}, "mailer-daemon"),
    ("Return-Path of a mail system", {"Return-Path": "<MAILER-DAEMON>"}, "mailer-daemon"),
    ("null Return-Path", {"Return-Path": "<>"}, "null-return-path"),
    ("Return-Path of a person", {"Return-Path": "<jane.roe@univ.edu>"}, None),
    ("auto-submitted auto-replied", {"Auto-Submitted": "auto-replied"}, "auto-submitted"),
    ("auto-submitted with params", {"Auto-Submitted": "auto-generated; x=y"}, "auto-submitted"),
    ("x-autoreply", {"X-Autoreply": "yes"}, "autoreply-header"),
    ("x-autorespond", {"X-Autorespond": "Out of office"}, "autoreply-header"),
    ("precedence bulk", {"Precedence": "bulk"}, "precedence"),
    ("precedence junk", {"Precedence": "junk"}, "precedence"),
    ("precedence auto_reply", {"Precedence": "auto_reply"}, "precedence"),
    ("exchange subject", {"Subject": "Automatic reply: [visit-users] x"}, "out-of-office-subject"),
    ("out of office", {"Subject": "Out of Office: back Monday"}, "out-of-office-subject"),
    ("german", {"Subject": "Abwesenheitsnotiz: Frage"}, "out-of-office-subject"),
    ("german 2", {"Subject": "Automatische Antwort: Frage"}, "out-of-office-subject"),
    ("french", {"Subject": "Réponse automatique : question"}, "out-of-office-subject"),
    ("japanese", {"Subject": "=?utf-8?b?6Ieq5YuV5b+c562U?=: x"}, "out-of-office-subject"),
    ("a human subject mentioning the office", {"Subject": "Office hours for VisIt"}, None),
    ("configured ignored sender", {"From": "robot@lab.gov"}, "ignored-sender"),
    (
        "order: own mail beats auto-submitted",
        {"X-Visit-Gateway": "visit-dav/live-customer-response", "Auto-Submitted": "auto-replied"},
        "own-mail",
    ),
    (
        "order: dsn beats auto-submitted",
        {"X-Failed-Recipients": "a@b.c", "Auto-Submitted": "auto-replied"},
        "delivery-status",
    ),
]


@pytest.mark.parametrize(("name", "headers", "reason"), CASES, ids=[c[0] for c in CASES])
def test_classify(name: str, headers: dict[str, str], reason: str | None) -> None:
    verdict = classify(email(headers), RULES)
    assert (verdict.reason if verdict else None) == reason


def test_reply_by_email_can_be_posted_when_configured() -> None:
    rules = ClassifyRules(**{**{f: getattr(RULES, f) for f in RULES.__slots__},
                             "github_reply_by_email_is_posted": False})
    assert classify(email({"Cc": "reply+AB12@reply.github.com"}), rules) is None
