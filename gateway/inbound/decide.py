"""From a verdict and a thread, decide the side effects: create an issue, add a comment, or none.

Pure: takes values (the email, its verdict, the thread it joins, the assignee on duty) and
returns `Action` values. The shell turns them into outbox rows in one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from gateway.inbound.attachments import AttachmentSettings, plan_attachments
from gateway.inbound.body import BodySettings, compose_body
from gateway.inbound.clean import CleanBody, clean_body, issue_title
from gateway.inbound.hotline import Logged
from gateway.inbound.key_terms import key_terms
from gateway.models import (
    Action,
    AddComment,
    CreateIssue,
    Email,
    Ignore,
    Kind,
    KnownIssueLookup,
    Quarantine,
    Verdict,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class DecideSettings:
    labels: tuple[str, ...]
    list_prefix: str
    footer_markers: tuple[str, ...]
    body: BodySettings
    target: str = "issues"  # github.target: where a new thread is made
    # process.product_repository and process.known_issue_matches: a new inquiry's key terms
    # are looked up there and the best matches shown to the Primary. "" or 0: no lookup.
    product_repository: str = ""
    known_issue_matches: int = 0
    # The attachment store and its links ([attachments]); the default lists names only.
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)


def decide(
    email: Email | None,
    verdict: Verdict,
    thread_id: str | None,
    *,
    assignee: str | None,
    settings: DecideSettings,
    cleaned: CleanBody | None = None,
    notice: str | None = None,
    logged: Logged | None = None,
    now: dt.datetime | None = None,
) -> tuple[Action, ...]:
    """The actions for one message. `cleaned` is `clean_body(email, settings.footer_markers)`
    when the caller has it already (it is pure: passing it changes nothing but the time).
    `notice` is the comment naming the Primary that a new discussion gets; `logged` the label
    of a hotline record (its body names who logged the call). `now`: when the body is
    composed (a signed attachment link expires counting from it; default: the mail's date)."""
    if verdict.kind is Kind.IGNORE:
        return (Ignore(verdict.reason),)
    if verdict.kind is Kind.QUARANTINE or email is None or thread_id is None:
        return (Quarantine(verdict.reason, verdict.detail),)
    if cleaned is None:
        cleaned = clean_body(email, settings.footer_markers)
    plan = plan_attachments(email.key, email.attachments, settings.attachments,
                            now or email.date or _EPOCH)
    body = compose_body(email, cleaned, settings.body, logged, plan.markdown)
    store = plan.row_payload(settings.attachments) if plan.files else None
    if verdict.kind is Kind.NEW:
        return (
            CreateIssue(
                thread_id=thread_id,
                message_key=email.key,
                title=issue_title(email.subject, settings.list_prefix),
                body=body,
                assignee=assignee,
                labels=settings.labels,
                target=settings.target,
                notice=notice if settings.target == "discussions" else None,
                lookup=known_issue_lookup(email, cleaned, settings),
                store=store,
            ),
        )
    return (AddComment(thread_id=thread_id, message_key=email.key, body=body, store=store),)


def known_issue_lookup(email: Email, cleaned: CleanBody,
                       settings: DecideSettings) -> KnownIssueLookup | None:
    """The search for known issues a new inquiry gets, or None: turned off, or nothing in its
    subject and first lines to search for. The product's own name is no key term."""
    repository = settings.product_repository
    if not repository or settings.known_issue_matches <= 0:
        return None
    names = [part for name in repository.split("/") for part in re.split(r"[-_.]", name)]
    terms = key_terms(email.subject, cleaned.visible, list_prefix=settings.list_prefix,
                      ignore=names)
    return KnownIssueLookup(repository, terms, settings.known_issue_matches) if terms else None
