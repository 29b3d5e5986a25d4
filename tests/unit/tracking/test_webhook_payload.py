"""The edge's check of webhook bodies: GitHub's real examples pass; wrong types, numbers that are
not positive 64-bit integers and instants outside 2008..2100 are a PayloadError that names the
field and never quotes the value."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gateway.testing.reference import reference_dir
from gateway.tracking.payload import (
    EARLIEST,
    LATEST,
    MAX_ID,
    DiscussionBody,
    DiscussionCommentBody,
    IssueCommentBody,
    IssuesBody,
    PayloadError,
    validate_webhook,
)

REFERENCE = reference_dir() / "webhooks"
IGNORED_ACTIONS = {"locked", "unlocked", "pinned", "unpinned", "milestoned", "demilestoned"}
CHECKED = {"issues": IssuesBody, "issue_comment": IssueCommentBody,
           "discussion": DiscussionBody, "discussion_comment": DiscussionCommentBody}


def example(name: str) -> dict[str, Any]:
    path = REFERENCE / name
    assert path.is_file(), f"{path} is missing (set GITHUB_REFERENCE_DIR)"
    body: dict[str, Any] = json.loads(path.read_text())
    return body


def edited(name: str, path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(example(name))
    *parents, last = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return body


def test_every_github_example_passes() -> None:
    names = sorted(p.name for p in REFERENCE.glob("*.json"))
    assert len(names) >= 40
    for name in names:
        kind, action = name.split(".")[:2]
        checked = validate_webhook(kind, example(name))
        if kind in CHECKED and action not in IGNORED_ACTIONS:
            assert isinstance(checked, CHECKED[kind]), name
        else:
            assert checked is None, name


WRONG = [
    # example, dotted path, value, the field named
    ("issue_comment.created.0.json", "comment", "x", "comment"),
    ("issue_comment.created.0.json", "comment.id", 2**64, "comment.id"),
    ("issue_comment.created.0.json", "comment.id", 0, "comment.id"),
    ("issue_comment.created.0.json", "comment.user.login", 7, "comment.user.login"),
    ("issue_comment.created.0.json", "comment.body", ["jane.roe@univ.edu"], "comment.body"),
    ("issue_comment.created.0.json", "comment.created_at", "9999-12-31T23:59:59-14:00",
     "comment.created_at"),
    ("issue_comment.created.0.json", "issue.number", -5, "issue.number"),
    ("issue_comment.created.0.json", "issue", [], "issue"),
    ("issues.opened.15.json", "issue.number", 2**70, "issue.number"),
    ("issues.opened.15.json", "issue.number", -5, "issue.number"),
    ("issues.opened.15.json", "issue.number", 0, "issue.number"),
    ("issues.opened.15.json", "issue.number", MAX_ID + 1, "issue.number"),
    ("issues.opened.15.json", "issue.number", 42.0, "issue.number"),
    ("issues.opened.15.json", "issue.number", True, "issue.number"),
    ("issues.opened.15.json", "issue.number", "42", "issue.number"),
    ("issues.opened.15.json", "issue.created_at", "9999-12-31T23:59:59-14:00",
     "issue.created_at"),
    ("issues.opened.15.json", "issue.created_at", "0001-01-01T00:00:00+14:00",
     "issue.created_at"),
    ("issues.opened.15.json", "issue.created_at", "1970-01-01T00:00:00Z", "issue.created_at"),
    ("issues.opened.15.json", "issue.created_at", "2019-05-15T15:20:18", "issue.created_at"),
    ("issues.opened.15.json", "issue.created_at", 1557933618, "issue.created_at"),
    ("issues.opened.15.json", "issue.updated_at", "2100-01-01T00:00:00Z", "issue.updated_at"),
    ("issues.opened.15.json", "issue.state", "merged", "issue.state"),
    ("issues.opened.15.json", "issue.user", "jane.roe@univ.edu", "issue.user"),
    ("issues.opened.15.json", "issue.user.login", "", "issue.user.login"),
    ("issues.opened.15.json", "issue.user.login", "x" * 257, "issue.user.login"),
    ("issues.opened.15.json", "issue.labels", {}, "issue.labels"),
    ("issues.opened.15.json", "issue.assignees.0", "alice", "issue.assignees.0"),
    ("issues.opened.15.json", "repository.full_name", None, "repository.full_name"),
    ("issues.opened.15.json", "sender", 3, "sender"),
    ("issues.assigned.1.json", "assignee.login", {"a": 1}, "assignee.login"),
    ("issues.labeled.9.json", "label", "bug", "label"),
    ("issues.transferred.21.json", "changes.new_issue.number", -1, "changes.new_issue.number"),
    ("issues.opened.15.json", "action", 1, "action"),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), WRONG,
                         ids=[f"{path}={str(value)[:20]}" for _, path, value, _ in WRONG])
def test_a_wrong_field_is_a_payload_error_naming_it(name: str, path: str, value: Any,
                                                   field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        validate_webhook(name.split(".")[0], edited(name, path, value))
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    if isinstance(value, str | int) and value not in ("", 0, 1):
        assert str(value) not in str(caught.value), "the value must not be quoted"


@pytest.mark.parametrize("number", [1, MAX_ID])
def test_the_extreme_valid_numbers_pass(number: int) -> None:
    checked = validate_webhook("issues", edited("issues.opened.15.json", "issue.number", number))
    assert isinstance(checked, IssuesBody) and checked.issue.number == number


@pytest.mark.parametrize("instant", [EARLIEST, LATEST])
def test_the_range_of_instants_is_half_open(instant: Any) -> None:
    text = instant.isoformat()
    body = edited("issues.opened.15.json", "issue.created_at", text)
    if instant == EARLIEST:
        checked = validate_webhook("issues", body)
        assert isinstance(checked, IssuesBody) and checked.issue.created_at == EARLIEST
    else:
        with pytest.raises(PayloadError):
            validate_webhook("issues", body)


def test_an_instant_with_an_offset_is_read_as_utc() -> None:
    body = edited("issues.opened.15.json", "issue.created_at", "2019-05-15T08:20:18-07:00")
    checked = validate_webhook("issues", body)
    assert isinstance(checked, IssuesBody)
    assert checked.issue.created_at.isoformat() == "2019-05-15T15:20:18+00:00"


def test_pull_requests_and_other_events_are_not_checked_further() -> None:
    pr = edited("issues.opened.15.json", "issue.pull_request", {"url": "x"})
    pr["issue"]["number"] = -5
    assert validate_webhook("issues", pr) is None
    assert validate_webhook("push", {"anything": [1, 2]}) is None
    assert validate_webhook("issues", edited("issues.locked.11.json", "issue.number", -5)) is None
