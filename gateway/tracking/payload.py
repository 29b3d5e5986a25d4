"""The shape of the GitHub webhook bodies the gateway reads, checked where they come in.

`validate_webhook` checks an `issues`, `issue_comment`, `discussion` or `discussion_comment` body
against pydantic models of the fields `gateway.tracking.events` reads, with the types GitHub's own
example deliveries have (https://docs.github.com/en/webhooks/webhook-events-and-payloads): ids
and numbers are JSON integers, positive and within SQLite's signed 64 bits; instants are ISO 8601
text with a zone, from 2008 (GitHub opened that year) to before 2100, which keeps every later
computation (UTC conversion, business hours, deadlines) far from `datetime`'s limits; logins,
names and labels are non-empty text of at most 256 characters. A discussion's `state` is such
text too (the examples send `open`, `locked`, `converting`), and its `labels` may be absent (the
examples predate them). Other fields are not looked at, so a field GitHub adds changes nothing.
A wrong body raises `PayloadError` naming the dotted field and what was expected, never the
value (the answer goes back to GitHub and into the log).

`tracking.parse_webhook` calls it and builds its events from the result; the web layer calls
that before the handler (400, `invalid_payload`) and hands the handler the event. Pure: no
I/O, no clock, no logging; it must not decide what an event means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from gateway.errors import PermanentError

EARLIEST = dt.datetime(2008, 1, 1, tzinfo=dt.UTC)  # GitHub opened in 2008; nothing is older
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # excluded
MAX_ID = 2**63 - 1  # SQLite's INTEGER; GitHub's ids and numbers are far below
NAME_MAX = 256  # GitHub: logins <= 39, owner/repository <= 140, labels <= 50 characters
COMMENT_MAX = 1024 * 1024  # characters; GitHub caps comment bodies at 65,536
LIST_MAX = 1000  # assignees (GitHub allows 10) and labels (100) of one issue
TRACKED_EVENTS = ("issues", "issue_comment", "discussion", "discussion_comment")
# Issue actions that are never applied (tracking ignores them): their bodies are not checked.
IGNORED_ISSUE_ACTIONS = frozenset({"locked", "unlocked", "pinned", "unpinned", "milestoned",
                                   "demilestoned"})
# The same for discussions.
IGNORED_DISCUSSION_ACTIONS = frozenset({"locked", "unlocked", "pinned", "unpinned"})


class PayloadError(PermanentError, ValueError):
    """A webhook body lacks a field we need, or has the wrong type there (answer 400).

    `field` is the dotted path in the body (``issue.user.login``); the message never quotes
    the value.
    """

    def __init__(self, event_name: str, field: str, problem: str) -> None:
        self.event_name = event_name
        self.field = field
        self.problem = problem
        super().__init__(f"{event_name} payload: {field}: {problem}")


def _instant(text: object) -> dt.datetime:
    if not isinstance(text, str):  # not a number of seconds either: GitHub sends text here
        raise PydanticCustomError("instant", "expected ISO 8601 text with a zone")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("instant", "expected ISO 8601 with a zone") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("instant", "expected ISO 8601 with a zone")
    if not EARLIEST <= value < LATEST:  # compared before converting: year 9999-14:00 overflows
        raise PydanticCustomError("instant", "expected an instant from 2008 to 2099")
    return value.astimezone(dt.UTC)


Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)]
Instant = Annotated[dt.datetime, PlainValidator(_instant)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class User(_Body):
    login: Name


class Label(_Body):
    name: Name


class Repository(_Body):
    full_name: Name


class Issue(_Body):
    number: Id
    state: Literal["open", "closed"]
    created_at: Instant
    updated_at: Instant
    closed_at: Instant | None = None
    user: User
    assignees: Annotated[list[User], Field(max_length=LIST_MAX)]
    labels: Annotated[list[Label], Field(max_length=LIST_MAX)]


class NewIssue(_Body):
    number: Id


class Changes(_Body):
    new_issue: NewIssue | None = None
    new_repository: Repository | None = None


class IssuesBody(_Body):
    """An `issues` delivery: what happened to the issue (the action), as it is now."""

    action: Name
    issue: Issue
    repository: Repository
    sender: User
    assignee: User | None = None
    label: Label | None = None
    changes: Changes | None = None


class CommentedIssue(_Body):
    number: Id
    user: User


class Comment(_Body):
    id: Id
    user: User
    created_at: Instant
    body: Annotated[StrictStr, Field(max_length=COMMENT_MAX)] | None = None


class IssueCommentBody(_Body):
    """An `issue_comment` delivery: a comment created, edited or deleted on an issue."""

    action: Name
    issue: CommentedIssue
    comment: Comment
    repository: Repository


class Category(_Body):
    name: Name


class Discussion(_Body):
    number: Id
    state: Name  # free text: open, closed, locked, converting, transferring (GitHub's docs)
    created_at: Instant
    updated_at: Instant
    answer_chosen_at: Instant | None = None
    user: User
    category: Category
    labels: Annotated[list[Label], Field(max_length=LIST_MAX)] | None = None  # not in examples


class NewDiscussion(_Body):
    number: Id


class DiscussionChanges(_Body):
    new_discussion: NewDiscussion | None = None
    new_repository: Repository | None = None


class DiscussionBody(_Body):
    """A `discussion` delivery: what happened to the discussion (the action), as it is now."""

    action: Name
    discussion: Discussion
    repository: Repository
    sender: User
    label: Label | None = None
    changes: DiscussionChanges | None = None


class CommentedDiscussion(_Body):
    number: Id
    user: User
    category: Category


class DiscussionComment(Comment):
    parent_id: Id | None = None


class DiscussionCommentBody(_Body):
    """A `discussion_comment` delivery: a top-level comment or a reply created, edited or
    deleted on a discussion (a reply has `comment.parent_id`: its top-level comment)."""

    action: Name
    discussion: CommentedDiscussion
    comment: DiscussionComment
    repository: Repository


WebhookBody = IssuesBody | IssueCommentBody | DiscussionBody | DiscussionCommentBody
_MODELS: dict[str, type[WebhookBody]] = {
    "issues": IssuesBody, "issue_comment": IssueCommentBody,
    "discussion": DiscussionBody, "discussion_comment": DiscussionCommentBody}


def validate_webhook(event_name: str, payload: Any) -> WebhookBody | None:
    """The checked body of a delivery `parse_webhook` reads, or None for one it ignores.

    None for events other than those in TRACKED_EVENTS, for pull requests (GitHub reports
    them through the issue events, with `issue.pull_request`) and for issue and discussion
    actions tracking never applies. Raises PayloadError for a body of the wrong shape.
    """
    if event_name not in TRACKED_EVENTS:
        return None
    if not isinstance(payload, Mapping):
        raise PayloadError(event_name, "(body)", "expected a JSON object")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise PayloadError(event_name, "action", "expected non-empty text")
    if event_name in ("issues", "issue_comment"):
        issue = payload.get("issue")
        if not isinstance(issue, Mapping):
            raise PayloadError(event_name, "issue", "expected an object")
        if issue.get("pull_request") is not None:
            return None
        if event_name == "issues" and action in IGNORED_ISSUE_ACTIONS:
            return None
    elif event_name == "discussion" and action in IGNORED_DISCUSSION_ACTIONS:
        return None
    model = _MODELS[event_name]
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(body)"
        raise PayloadError(event_name, field, _problem(first["type"], first["msg"])) from None


def _problem(kind: str, message: str) -> str:
    """pydantic's message (it never quotes the input), or ours for a missing field."""
    return "missing" if kind == "missing" else message[:200]
