"""From a verdict and a thread, decide the side effects: create an issue, add a comment, or none.

Pure: takes values (the email, its verdict, the thread it joins, the assignee on duty) and
returns `Action` values. The shell turns them into outbox rows in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.inbound.body import BodySettings, compose_body
from gateway.inbound.clean import CleanBody, clean_body, issue_title
from gateway.inbound.hotline import Logged
from gateway.models import Action, AddComment, CreateIssue, Email, Ignore, Kind, Quarantine, Verdict


@dataclass(frozen=True, slots=True)
class DecideSettings:
    labels: tuple[str, ...]
    list_prefix: str
    footer_markers: tuple[str, ...]
    body: BodySettings
    target: str = "issues"  # github.target: where a new thread is made


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
) -> tuple[Action, ...]:
    """The actions for one message. `cleaned` is `clean_body(email, settings.footer_markers)`
    when the caller has it already (it is pure: passing it changes nothing but the time).
    `notice` is the comment naming the Primary that a new discussion gets; `logged` the label
    of a hotline record (its body names who logged the call)."""
    if verdict.kind is Kind.IGNORE:
        return (Ignore(verdict.reason),)
    if verdict.kind is Kind.QUARANTINE or email is None or thread_id is None:
        return (Quarantine(verdict.reason, verdict.detail),)
    if cleaned is None:
        cleaned = clean_body(email, settings.footer_markers)
    body = compose_body(email, cleaned, settings.body, logged)
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
            ),
        )
    return (AddComment(thread_id=thread_id, message_key=email.key, body=body),)
