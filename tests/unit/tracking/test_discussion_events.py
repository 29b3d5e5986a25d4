"""`discussion` and `discussion_comment` webhooks to tracking events: every GitHub example body
(shared/reference/github/webhooks, or `webhooks/` under GITHUB_REFERENCE_DIR) parses to the event
written out here or is ignored; the actions GitHub has no example of are made from one; a wrong
type in each field read is a PayloadError naming the field and never quoting the value.

The examples' discussion author, sender and commenter are all `Codertocat`: `load` gives them
three different logins so that a mix-up shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from functools import cache
from typing import Any

import pytest

from gateway.testing.reference import reference_dir
from gateway.tracking.events import CommentEvent, IssueEvent, parse_webhook
from gateway.tracking.payload import PayloadError, validate_webhook

REFERENCE = reference_dir() / "webhooks"
AUTHOR, ACTOR, COMMENTER = "dana-user", "alice-dev", "BobBuilder"
HELLO, OCTO = "Codertocat/Hello-World", "octo-org/octo-repo"
MISSING = object()  # an edit that deletes the key


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


OPENED = utc("2021-03-30T20:09:52Z")  # discussion 4's created_at
UPDATED = utc("2021-03-30T20:26:24Z")  # its updated_at in most examples


@cache
def _read(name: str) -> str:
    path = REFERENCE / name
    assert path.is_file(), (f"{path} is missing: point GITHUB_REFERENCE_DIR at GitHub's "
                            "reference data (shared/reference/github)")
    return path.read_text()


def load(name: str, edits: dict[str, Any] | None = None) -> dict[str, Any]:
    """A reference body with distinct logins, then `edits` (dotted path -> value; MISSING
    deletes the key)."""
    body: dict[str, Any] = json.loads(_read(name))
    body["discussion"]["user"]["login"] = AUTHOR
    body["sender"]["login"] = ACTOR
    if "comment" in body:
        body["comment"]["user"]["login"] = COMMENTER
    for path, value in (edits or {}).items():
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is MISSING:
            del node[last]
        else:
            node[last] = value
    return body


def kind(name: str) -> str:
    return name.split(".")[0]


def discussion(action: str, at: dt.datetime, *, number: int = 4, category: str = "General",
               labels: tuple[str, ...] = (), state: str = "open", repository: str = HELLO,
               created: dt.datetime = OPENED, new_number: int | None = None,
               new_repository: str | None = None, label: str | None = None,
               complete: bool = False) -> IssueEvent:
    """`complete`: the body listed the discussion's labels; `label`: the one (un)labeled."""
    return IssueEvent(action, number, ACTOR, at, AUTHOR, created, state,  # type: ignore[arg-type]
                      (), labels, repository, new_number, new_repository,
                      target="discussions", category=category, label=label,
                      labels_complete=complete)


def comment(action: str, comment_id: int, at: dt.datetime, body: str, *, number: int = 4,
            repository: str = HELLO, parent_id: int | None = None) -> CommentEvent:
    return CommentEvent(action, number, comment_id, COMMENTER, at,  # type: ignore[arg-type]
                        body, AUTHOR, repository, target="discussions", category="General",
                        parent_id=parent_id)


# ---------------------------------------------------------------------------------------------
# Every reference example

EXAMPLES: dict[str, IssueEvent | CommentEvent | None] = {
    # answer_chosen_at is "2021-03-30T19:17:18.000-04:00"
    "discussion.answered.1.json": discussion(
        "answered", utc("2021-03-30T23:17:18Z"), category="Q&A"),
    # state "locked"; the new category, not changes.category.from ("General")
    "discussion.category_changed.2.json": discussion(
        "category_changed", utc("2021-03-30T20:35:35Z"), category="Show and tell"),
    "discussion.created.0.json": discussion(
        "opened", utc("2021-03-29T14:16:08Z"), number=90, repository=OCTO,
        created=utc("2021-03-29T14:16:08Z")),
    # state "converting"; opened at created_at, not updated_at
    "discussion.created.3.json": discussion("opened", OPENED),
    "discussion.edited.4.json": discussion("edited", UPDATED),
    "discussion.edited.5.json": discussion("edited", UPDATED),
    # no discussion.labels in the examples: the label named is the only one known
    "discussion.labeled.6.json": discussion("labeled", UPDATED, labels=("bug",), label="bug"),
    "discussion.labeled.7.json": discussion("labeled", UPDATED, labels=("bug",), label="bug"),
    "discussion.locked.8.json": None,
    "discussion.locked.9.json": None,
    "discussion.pinned.10.json": None,
    "discussion.transferred.11.json": discussion(
        "transferred", utc("2021-03-30T23:31:48Z"), category="Q&A", new_number=1,
        new_repository="Codertocat/hello-world-npm"),
    "discussion.unanswered.12.json": discussion(
        "unanswered", utc("2021-03-30T23:31:48Z"), category="Q&A"),
    "discussion.unlabeled.13.json": discussion("unlabeled", UPDATED, label="bug"),
    "discussion.unlocked.14.json": None,
    "discussion_comment.created.0.json": comment(
        "created", 544078, utc("2021-03-29T14:16:31Z"), "I have so many questions to ask you!",
        number=90, repository=OCTO),
    "discussion_comment.created.1.json": comment(
        "created", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER"),
    "discussion_comment.deleted.2.json": comment(
        "deleted", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER"),
    "discussion_comment.edited.3.json": comment(
        "edited", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER"),
}


def test_the_table_names_every_discussion_example() -> None:
    names = {p.name for p in REFERENCE.glob("discussion*.json")}
    assert len(names) == 19, f"expected GitHub's 19 discussion examples in {REFERENCE}"
    assert names == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_reference_example_parses_to_its_event(name: str) -> None:
    event = parse_webhook(kind(name), load(name))
    assert event == EXAMPLES[name]
    if event is not None:
        assert event.target == "discussions" and event.at.tzinfo == dt.UTC


# ---------------------------------------------------------------------------------------------
# Cases GitHub has no example of, made from one

CLOSE = {"action": "closed", "discussion.state": "closed"}
LATER = utc("2021-04-01T08:00:00Z")
PARSED = [
    # why, file, edits, expected event
    ("answered at answer_chosen_at, not updated_at", "discussion.answered.1.json",
     {"discussion.updated_at": "2021-04-01T08:00:00Z"},
     discussion("answered", utc("2021-03-30T23:17:18Z"), category="Q&A")),
    ("answered without answer_chosen_at: updated_at", "discussion.answered.1.json",
     {"discussion.answer_chosen_at": None, "discussion.updated_at": "2021-04-01T08:00:00Z"},
     discussion("answered", LATER, category="Q&A")),
    ("closed at updated_at", "discussion.edited.4.json", CLOSE,
     discussion("closed", UPDATED, state="closed")),
    ("a close says closed even if state says locked", "discussion.edited.4.json",
     {**CLOSE, "discussion.state": "locked"}, discussion("closed", UPDATED, state="closed")),
    ("reopened", "discussion.edited.4.json", {"action": "reopened"},
     discussion("reopened", UPDATED)),
    ("a reopen says open even if state still says closed", "discussion.edited.4.json",
     {"action": "reopened", "discussion.state": "closed"}, discussion("reopened", UPDATED)),
    ("deleted", "discussion.edited.4.json", {"action": "deleted"},
     discussion("deleted", UPDATED)),
    ("another event on a closed discussion", "discussion.edited.4.json",
     {"discussion.state": "closed"}, discussion("edited", UPDATED, state="closed")),
    ("labels listed in the body", "discussion.created.3.json",
     {"discussion.labels": [{"name": "SRE"}, {"name": "bug"}]},
     discussion("opened", OPENED, labels=("SRE", "bug"), complete=True)),
    ("labeled: the label listed already is not repeated", "discussion.labeled.6.json",
     {"discussion.labels": [{"name": "SRE"}, {"name": "bug"}]},
     discussion("labeled", UPDATED, labels=("SRE", "bug"), label="bug", complete=True)),
    ("labeled: a label not listed yet is added", "discussion.labeled.6.json",
     {"discussion.labels": [{"name": "SRE"}]},
     discussion("labeled", UPDATED, labels=("SRE", "bug"), label="bug", complete=True)),
    ("unlabeled: the label named is removed", "discussion.unlabeled.13.json",
     {"discussion.labels": [{"name": "SRE"}, {"name": "bug"}]},
     discussion("unlabeled", UPDATED, labels=("SRE",), label="bug", complete=True)),
    ("a reply names the comment it answers", "discussion_comment.created.1.json",
     {"comment.parent_id": 550061},
     comment("created", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER", parent_id=550061)),
    ("an edited comment keeps the time it was first posted", "discussion_comment.edited.3.json",
     {"comment.updated_at": "2021-04-01T08:00:00Z"},
     comment("edited", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER")),
    ("a comment without a body", "discussion_comment.created.1.json", {"comment.body": None},
     comment("created", 550062, utc("2021-03-30T20:21:30Z"), "")),
    ("a comment time with an offset is read as UTC", "discussion_comment.created.1.json",
     {"comment.created_at": "2021-03-30T16:21:30.000-04:00"},
     comment("created", 550062, utc("2021-03-30T20:21:30Z"), "ANSWER")),
]


@pytest.mark.parametrize(("why", "name", "edits", "expected"), PARSED,
                         ids=[why for why, *_ in PARSED])
def test_parse_discussion_webhook(why: str, name: str, edits: dict[str, Any],
                                  expected: IssueEvent | CommentEvent) -> None:
    assert parse_webhook(kind(name), load(name, edits)) == expected


def test_a_reply_and_a_top_level_comment_differ_only_in_the_parent() -> None:
    name = "discussion_comment.created.0.json"
    reply = parse_webhook(kind(name), load(name, {"comment.parent_id": 544077}))
    top = parse_webhook(kind(name), load(name))
    assert isinstance(reply, CommentEvent) and isinstance(top, CommentEvent)
    assert reply.parent_id == 544077 and top.parent_id is None
    assert dataclasses.replace(reply, parent_id=None) == top


IGNORED = [
    # why, file, edits, whether the body is checked all the same (as for issues)
    ("unpinned", "discussion.pinned.10.json", {"action": "unpinned"}, False),
    ("locked, not checked", "discussion.locked.8.json",
     {"discussion.number": "four", "discussion.category": MISSING}, False),
    ("pinned, not checked", "discussion.pinned.10.json", {"discussion": MISSING}, False),
    ("an action GitHub may add", "discussion.edited.4.json", {"action": "typed"}, True),
    ("a comment action we do not track", "discussion_comment.created.1.json",
     {"action": "pinned"}, True),
]


@pytest.mark.parametrize(("why", "name", "edits", "checked"), IGNORED,
                         ids=[why for why, *_ in IGNORED])
def test_discussion_deliveries_we_do_not_track_are_ignored(why: str, name: str,
                                                           edits: dict[str, Any],
                                                           checked: bool) -> None:
    body = load(name, edits)
    assert (validate_webhook(kind(name), body) is not None) == checked
    assert parse_webhook(kind(name), body) is None


# ---------------------------------------------------------------------------------------------
# Wrong bodies

CREATED, ANSWERED = "discussion.created.0.json", "discussion.answered.1.json"
LABELED, TRANSFERRED = "discussion.labeled.6.json", "discussion.transferred.11.json"
COMMENTED = "discussion_comment.created.0.json"
BROKEN = [
    # file, dotted path, value (MISSING deletes it), the field named
    (CREATED, "action", 5, "action"),
    (CREATED, "discussion", MISSING, "discussion"),
    (CREATED, "discussion", "a discussion", "discussion"),
    (CREATED, "discussion.number", "4711", "discussion.number"),
    (CREATED, "discussion.number", 0, "discussion.number"),
    (CREATED, "discussion.number", -4711, "discussion.number"),
    (CREATED, "discussion.number", 2**64, "discussion.number"),
    (CREATED, "discussion.number", 4711.0, "discussion.number"),
    (CREATED, "discussion.number", True, "discussion.number"),
    (CREATED, "discussion.state", MISSING, "discussion.state"),
    (CREATED, "discussion.state", 4711, "discussion.state"),
    (CREATED, "discussion.state", "", "discussion.state"),
    (CREATED, "discussion.created_at", "2021-03-29T14:16:08", "discussion.created_at"),
    (CREATED, "discussion.created_at", "1999-03-29T14:16:08Z", "discussion.created_at"),
    (CREATED, "discussion.created_at", 1617027368, "discussion.created_at"),
    (CREATED, "discussion.updated_at", "tomorrow-ish", "discussion.updated_at"),
    (CREATED, "discussion.updated_at", MISSING, "discussion.updated_at"),
    (ANSWERED, "discussion.answer_chosen_at", "2021-03-30T19:17:18.000",
     "discussion.answer_chosen_at"),
    (CREATED, "discussion.user", MISSING, "discussion.user"),
    (CREATED, "discussion.user.login", 4711, "discussion.user.login"),
    (CREATED, "discussion.user.login", "x" * 257, "discussion.user.login"),
    (CREATED, "discussion.category", MISSING, "discussion.category"),
    (CREATED, "discussion.category", "General-ish", "discussion.category"),
    (CREATED, "discussion.category.name", None, "discussion.category.name"),
    (CREATED, "discussion.category.name", "", "discussion.category.name"),
    (CREATED, "discussion.labels", "needs-info", "discussion.labels"),
    (CREATED, "discussion.labels", [{"name": 4711}], "discussion.labels.0.name"),
    (CREATED, "repository", MISSING, "repository"),
    (CREATED, "repository.full_name", 4711, "repository.full_name"),
    (CREATED, "sender", MISSING, "sender"),
    (CREATED, "sender.login", None, "sender.login"),
    (LABELED, "label", "needs-info", "label"),
    (LABELED, "label.name", 4711, "label.name"),
    (TRANSFERRED, "changes", MISSING, "changes"),
    (TRANSFERRED, "changes.new_discussion", MISSING, "changes.new_discussion"),
    (TRANSFERRED, "changes.new_discussion.number", "4711", "changes.new_discussion.number"),
    (TRANSFERRED, "changes.new_repository", MISSING, "changes.new_repository"),
    (TRANSFERRED, "changes.new_repository.full_name", 4711, "changes.new_repository.full_name"),
    (COMMENTED, "action", None, "action"),
    (COMMENTED, "comment", MISSING, "comment"),
    (COMMENTED, "comment.id", "544078", "comment.id"),
    (COMMENTED, "comment.id", 0, "comment.id"),
    (COMMENTED, "comment.user", MISSING, "comment.user"),
    (COMMENTED, "comment.user.login", None, "comment.user.login"),
    (COMMENTED, "comment.created_at", "2021-03-29T14:16:31", "comment.created_at"),
    (COMMENTED, "comment.created_at", "2100-01-01T00:00:00Z", "comment.created_at"),
    (COMMENTED, "comment.body", 4711, "comment.body"),
    (COMMENTED, "discussion", MISSING, "discussion"),
    (COMMENTED, "discussion.number", "4711", "discussion.number"),
    (COMMENTED, "discussion.user.login", MISSING, "discussion.user.login"),
    (COMMENTED, "discussion.category", MISSING, "discussion.category"),
    (COMMENTED, "discussion.category.name", 4711, "discussion.category.name"),
    (COMMENTED, "repository.full_name", MISSING, "repository.full_name"),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), BROKEN,
                         ids=[f"{kind(name)}:{path}={str(value)[:20]}"
                              for name, path, value, _ in BROKEN])
def test_a_wrong_field_is_a_payload_error_naming_it(name: str, path: str, value: Any,
                                                   field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_webhook(kind(name), load(name, {path: value}))
    assert (caught.value.event_name, caught.value.field) == (kind(name), field)
    assert field in str(caught.value)
    if value is not MISSING and isinstance(value, str | int) and value not in ("", 0, 1):
        assert str(value) not in str(caught.value), "the value must not be quoted"
