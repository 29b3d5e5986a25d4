"""Tracking events: what GitHub says happened to an issue or a discussion, read from its webhooks.

Holds the event values (`IssueEvent`, `CommentEvent`, `Event`, with GitHub's action and state
names) and `parse_webhook`, which builds them from the `issues`, `issue_comment`, `discussion` and
`discussion_comment` bodies `gateway.tracking.payload` checked (and raises its `PayloadError`);
a discussion's events have the same shape as an issue's, with `target` "discussions" and the
discussion's category. Reconcile builds the same values from REST objects. This module
changes when GitHub's payloads do, or when a new kind of event is tracked; what an event means for
a thread (first response, resolution, reopen) is `gateway.tracking.rules`'s. Pure: no I/O, no
clock, no logging. It must not decide what counts as a response or a resolution, read or write
the store or GitHub, deduplicate deliveries (the store does, by delivery GUID and comment id) or
decide which repository is tracked (the web layer drops the others). All timestamps are aware
datetimes; the parser returns them in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.tracking.payload import (
    DiscussionBody,
    DiscussionCommentBody,
    IssueCommentBody,
    IssuesBody,
    PayloadError,
    validate_webhook,
)

IssueAction = Literal["opened", "closed", "reopened", "assigned", "unassigned", "labeled",
                      "unlabeled", "edited", "transferred", "deleted", "answered", "unanswered",
                      "category_changed"]
# Where a thread lives on GitHub: an issue, or a discussion (issue 15).
Target = Literal["issues", "discussions"]
CommentAction = Literal["created", "edited", "deleted"]
IssueState = Literal["open", "closed"]
ISSUE_ACTIONS: tuple[IssueAction, ...] = (
    "opened", "closed", "reopened", "assigned", "unassigned", "labeled", "unlabeled", "edited",
    "transferred", "deleted", "answered", "unanswered", "category_changed")
COMMENT_ACTIONS: tuple[CommentAction, ...] = ("created", "edited", "deleted")
ISSUE_STATES: tuple[IssueState, ...] = ("open", "closed")
# A `discussion` delivery's action -> the event's; any other action (locked, pinned...) is ignored.
DISCUSSION_ACTIONS: dict[str, IssueAction] = {
    "created": "opened", "closed": "closed", "reopened": "reopened", "labeled": "labeled",
    "unlabeled": "unlabeled", "edited": "edited", "transferred": "transferred",
    "deleted": "deleted", "answered": "answered", "unanswered": "unanswered",
    "category_changed": "category_changed"}


def _aware(what: str, t: dt.datetime | None) -> None:
    if t is not None and (t.tzinfo is None or t.utcoffset() is None):
        raise ValueError(f"{what} must be an aware datetime, got naive {t.isoformat()}")


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """Something happened to the issue itself. `at` is when: `created_at` for opened,
    `closed_at` for closed, else the issue's `updated_at` (webhooks carry no event time).
    `assignees` and `labels` are the issue's after the event. A transfer names where the issue
    went (`new_repository`, `new_number`).

    On a discussion (`target` "discussions", a `discussion` delivery's "created" is opened)
    `at` is `answer_chosen_at` for answered and `updated_at` for closed (its webhook has no
    `closed_at`); `category` is the discussion's after the event, `assignees` are always empty,
    and `labels` hold only the (un)labeled one when the body lists none (GitHub's examples):
    then `labels_complete` is False and `label` names the one added or removed."""

    action: IssueAction
    number: int
    actor: str
    at: dt.datetime
    issue_author: str
    issue_created_at: dt.datetime
    state: IssueState
    assignees: tuple[str, ...]
    labels: tuple[str, ...]
    repository: str
    new_number: int | None = None
    new_repository: str | None = None
    target: Target = "issues"
    category: str | None = None
    label: str | None = None  # the label a labeled/unlabeled event added or removed
    labels_complete: bool = True  # False: `labels` is not the whole list (apply `label`)

    def __post_init__(self) -> None:
        _aware("IssueEvent.at", self.at)
        _aware("IssueEvent.issue_created_at", self.issue_created_at)


@dataclass(frozen=True, slots=True)
class CommentEvent:
    """A comment was created, edited or deleted. `at` is always when it was first posted.

    On a discussion (`target` "discussions") it is a top-level comment or a reply (`comment_id`
    is its `databaseId`, the webhook's `comment.id`); `category` is the discussion's."""

    action: CommentAction
    number: int
    comment_id: int
    author: str
    at: dt.datetime
    body: str
    issue_author: str
    repository: str
    target: Target = "issues"
    category: str | None = None
    parent_id: int | None = None  # a discussion reply: the top-level comment it answers

    def __post_init__(self) -> None:
        _aware("CommentEvent.at", self.at)


Event = IssueEvent | CommentEvent


# ---------------------------------------------------------------------------------------------
# Parsing webhook bodies (https://docs.github.com/en/webhooks/webhook-events-and-payloads)

def parse_webhook(event_name: str, payload: Mapping[str, Any]) -> Event | None:
    """The event in a webhook body, or None when it is nothing we track.

    `event_name` is the ``X-GitHub-Event`` header: ``issues``, ``issue_comment``,
    ``discussion`` or ``discussion_comment``. None for other events (``ping``,
    ``installation``, ...), for actions we ignore (locked, pinned, milestoned, ...) and for
    pull requests, which GitHub reports through the issue events (``issue.pull_request``).
    Raises PayloadError when a field we need is missing or malformed (the field types and
    bounds are `gateway.tracking.payload`'s, the check the web edge makes with this function).
    """
    body = validate_webhook(event_name, payload)
    if isinstance(body, IssuesBody):
        issue_action = next((a for a in ISSUE_ACTIONS if a == body.action), None)
        return None if issue_action is None else _issue_event(body, issue_action)
    if isinstance(body, IssueCommentBody):
        comment_action = next((a for a in COMMENT_ACTIONS if a == body.action), None)
        return None if comment_action is None else _comment_event(body, comment_action)
    if isinstance(body, DiscussionBody):
        discussion_action = DISCUSSION_ACTIONS.get(body.action)
        return None if discussion_action is None else _discussion_event(body, discussion_action)
    if isinstance(body, DiscussionCommentBody):
        comment_action = next((a for a in COMMENT_ACTIONS if a == body.action), None)
        return (None if comment_action is None
                else _discussion_comment_event(body, comment_action))
    return None


def _issue_event(p: IssuesBody, action: IssueAction) -> IssueEvent:
    issue = p.issue
    if action == "opened":
        at = issue.created_at
    elif action == "closed":
        if issue.closed_at is None:
            raise PayloadError("issues", "issue.closed_at", "missing")
        at = issue.closed_at
    else:
        at = issue.updated_at
    assignees = tuple(user.login for user in issue.assignees)
    labels = tuple(label.name for label in issue.labels)
    # The event names the assignee or label it added or removed. Real payloads already show
    # the issue after the change; GitHub's documented examples do not, so apply it here too.
    if action in ("assigned", "unassigned") and p.assignee is not None:
        assignees = _change(assignees, p.assignee.login, action == "assigned")
    if action in ("labeled", "unlabeled") and p.label is not None:
        labels = _change(labels, p.label.name, action == "labeled")
    new_number = new_repository = None
    if action == "transferred":
        new_number, new_repository = _destination("issues", p.changes, "new_issue")
    return IssueEvent(
        action=action, number=issue.number, actor=p.sender.login, at=at,
        issue_author=issue.user.login, issue_created_at=issue.created_at, state=issue.state,
        assignees=assignees, labels=labels, repository=p.repository.full_name,
        new_number=new_number, new_repository=new_repository)


def _comment_event(p: IssueCommentBody, action: CommentAction) -> CommentEvent:
    comment = p.comment
    return CommentEvent(
        action=action, number=p.issue.number, comment_id=comment.id,
        author=comment.user.login, at=comment.created_at, body=comment.body or "",
        issue_author=p.issue.user.login, repository=p.repository.full_name)


def _discussion_event(p: DiscussionBody, action: IssueAction) -> IssueEvent:
    discussion = p.discussion
    if action == "opened":
        at = discussion.created_at
    elif action == "answered":
        at = discussion.answer_chosen_at or discussion.updated_at
    else:
        at = discussion.updated_at
    # `state` is free text (open, locked, converting...): only "closed" is closed, and the
    # close and reopen events say so themselves.
    closed = action == "closed" or (action != "reopened" and discussion.state == "closed")
    labels = tuple(label.name for label in discussion.labels or ())
    if action in ("labeled", "unlabeled") and p.label is not None:
        labels = _change(labels, p.label.name, action == "labeled")
    new_number = new_repository = None
    if action == "transferred":
        new_number, new_repository = _destination("discussion", p.changes, "new_discussion")
    return IssueEvent(
        action=action, number=discussion.number, actor=p.sender.login, at=at,
        issue_author=discussion.user.login, issue_created_at=discussion.created_at,
        state="closed" if closed else "open", assignees=(), labels=labels,
        repository=p.repository.full_name, new_number=new_number,
        new_repository=new_repository, target="discussions",
        category=discussion.category.name, label=p.label.name if p.label else None,
        labels_complete=discussion.labels is not None)


def _discussion_comment_event(p: DiscussionCommentBody, action: CommentAction) -> CommentEvent:
    comment = p.comment  # a reply (`parent_id` set) counts as a top-level comment does
    return CommentEvent(
        action=action, number=p.discussion.number, comment_id=comment.id,
        author=comment.user.login, at=comment.created_at, body=comment.body or "",
        issue_author=p.discussion.user.login, repository=p.repository.full_name,
        target="discussions", category=p.discussion.category.name,
        parent_id=comment.parent_id)


def _destination(event_name: str, changes: Any, moved: str) -> tuple[int, str]:
    """(number, repository) a transfer moved the issue or discussion to: `changes.<moved>`
    and `changes.new_repository`; PayloadError naming the first that is missing."""
    if changes is None:
        raise PayloadError(event_name, "changes", "missing")
    thing = getattr(changes, moved)
    if thing is None:
        raise PayloadError(event_name, f"changes.{moved}", "missing")
    if changes.new_repository is None:
        raise PayloadError(event_name, "changes.new_repository", "missing")
    return int(thing.number), str(changes.new_repository.full_name)


def _change(names: tuple[str, ...], name: str, add: bool) -> tuple[str, ...]:
    if add:
        return names if name in names else (*names, name)
    return tuple(n for n in names if n != name)
