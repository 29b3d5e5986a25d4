"""Decide whether a parsed message is human mail for the tracker, or something to ignore.

Pure: `classify(email, rules)` returns None for human mail, or the `Verdict` to ignore it with a
stable reason code. Rules are checked in a fixed order and the first match wins (the order is
part of the contract: README "Classification"). List headers (List-Id, List-Unsubscribe,
`Precedence: list`) are never a reason to drop: every post to the list carries them. Neither is
`X-Auto-Response-Suppress`, which Outlook adds to ordinary human mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr

from gateway.models import Email, Kind, Verdict

GITHUB_SENDERS = frozenset({"notifications@github.com", "noreply@github.com"})
GITHUB_REPLY_DOMAIN = "reply.github.com"
_DAEMON_LOCALS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:out\s+of\s+(?:the\s+)?office|automatic\s+reply|auto(?:matic)?[-\s]?reply"
    r"|autoreply|auto[-\s]?response|abwesenheitsnotiz|automatische\s+antwort|abwesend"
    r"|réponse\s+automatique|absence\s+du\s+bureau|absent(?:e)?\s+du\s+bureau"
    r"|respuesta\s+automática|fuera\s+de\s+la\s+oficina|risposta\s+automatica"
    r"|fuori\s+sede|automatisch\s+antwoord|afwezig|自動応答|自動返信|不在|外出中)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ClassifyRules:
    """What the classifier needs to know about this deployment."""

    own_addresses: frozenset[str]
    own_message_id_domain: str
    loop_header: str
    loop_id: str
    ignore_precedence: frozenset[str]
    ignore_senders: frozenset[str]
    github_reply_by_email_is_posted: bool
    list_prefix: str = ""


def _ignore(reason: str, detail: str = "") -> Verdict:
    return Verdict(Kind.IGNORE, reason, detail)


def is_own_mail(email: Email, rules: ClassifyRules) -> bool:
    loop = email.header(rules.loop_header)
    if loop is not None and loop.strip() == rules.loop_id:
        return True
    if email.message_id and email.message_id.endswith(f"@{rules.own_message_id_domain}>"):
        return True
    senders = {a.addr for a in (email.from_, email.sender) if a is not None}
    return bool(senders & rules.own_addresses)


def is_github_notification(email: Email) -> bool:
    if email.from_ is not None and email.from_.addr in GITHUB_SENDERS:
        return True
    if email.has_header("x-github-reason"):
        return True
    return bool(email.message_id and email.message_id.endswith("@github.com>"))


def _is_delivery_status(email: Email) -> bool:
    if email.has_header("x-failed-recipients"):
        return True
    if "message/delivery-status" in email.part_types:
        return True
    content_type = (email.header("content-type") or "").lower()
    return email.content_type == "multipart/report" and "delivery-status" in content_type


def _is_mailer_daemon(email: Email) -> bool:
    """Sent by a mail system: a daemon's mailbox in From (its address, or when From has no
    address, as `MAILER-DAEMON (Mail Delivery System)` has, the bare local part or the display
    name) or in Return-Path (`<MAILER-DAEMON>`, `<postmaster@host>`). Needs no parsed sender."""
    if email.from_ is not None:
        if email.from_.local.lower() in _DAEMON_LOCALS:
            return True
    else:
        name, addr = parseaddr(email.header("from") or "")
        if {addr.partition("@")[0].strip().lower(), name.strip().lower()} & _DAEMON_LOCALS:
            return True
    path = (email.header("return-path") or "").strip().strip("<>").strip()
    return path.partition("@")[0].lower() in _DAEMON_LOCALS


def _has_null_return_path(email: Email) -> bool:
    """`Return-Path: <>`: the null reverse path, which only automatic mail (bounces, auto
    replies) is sent with (RFC 5321 §4.5.5, RFC 3834 §3.3)."""
    path = email.header("return-path")
    return path is not None and path.strip() == "<>"


def classify(email: Email, rules: ClassifyRules) -> Verdict | None:
    """None for human mail; otherwise the ignore verdict with its reason code."""
    if is_own_mail(email, rules):
        return _ignore("own-mail")
    if is_github_notification(email):
        return _ignore("github-notification")
    if rules.github_reply_by_email_is_posted and any(
        a.domain == GITHUB_REPLY_DOMAIN for a in email.recipients
    ):
        return _ignore("github-reply-by-email", "GitHub posts replies sent to reply.github.com")
    if _is_delivery_status(email):
        return _ignore("delivery-status")
    if _is_mailer_daemon(email):
        return _ignore("mailer-daemon")
    auto = email.header("auto-submitted")
    if auto is not None and auto.split(";")[0].strip().lower() != "no":
        return _ignore("auto-submitted", auto.split(";")[0].strip().lower())
    if email.has_header("x-autoreply") or email.has_header("x-autorespond"):
        return _ignore("autoreply-header")
    precedence = (email.header("precedence") or "").strip().lower()
    if precedence in rules.ignore_precedence:
        return _ignore("precedence", precedence)
    subject = (
        email.subject.replace(rules.list_prefix, " ", 1) if rules.list_prefix else email.subject
    )
    if _OUT_OF_OFFICE.match(subject):
        return _ignore("out-of-office-subject")
    if _has_null_return_path(email):
        return _ignore("null-return-path")
    sender = email.sender.addr if email.sender else ""
    if sender in rules.ignore_senders:
        return _ignore("ignored-sender")
    return None
