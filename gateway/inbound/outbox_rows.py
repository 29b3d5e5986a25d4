"""The outbox rows a decided message queues: the writes to GitHub that carry out its actions.

Holds `outbox_rows`, the one place an action (`CreateIssue`, `AddComment`) becomes rows' keys,
kinds and JSON payloads; the GitHub writer (`gateway.outbound.writer`) reads those payloads
back, so the two change together. A new thread in discussions mode is three rows, in this
order: `create_discussion`, `label_discussion` (GraphQL's createDiscussion takes no labels),
and the notice naming the Primary (an `add_comment` of our own, keyed by thread). A comment is
`add_comment` whatever the target: the writer sends it where its thread lives. Pure: it must
not decide which actions to take (`decide`), store anything or call GitHub.

A new inquiry with a `lookup` also gets `lookup_known_issues` after the rows that make its
thread: the writer searches the product repository and, in the same transaction that records
the matches, queues the row that shows them (the outbox's `then`), with the matches filled in
for `MATCHES`. In discussions mode that row is the notice (so it comes after the lookup); in
issues mode, or without a notice, it is a comment of its own for the Primary, queued only when
something was found (`unless_empty`).
"""

from __future__ import annotations

import re
from typing import Any

from gateway.inbound.attachments import STORE_KIND
from gateway.models import AddComment, CreateIssue
from gateway.store.values import OutboxRow

# The outbox's follow-up protocol (`gateway.outbound.outbox`: THEN, FILL_START + name +
# FILL_END), which this package may not import; tests/unit/inbound/test_known_issue_rows.py
# checks that they agree.
THEN = "then"
MATCHES = "{{gateway:matches}}"  # the lookup's result `matches`: Markdown, "" for none
LOOKUP_KIND = "lookup_known_issues"
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_KNOWN_FOOTER = "<sub>Posted by visit-gateway for the Primary; not mailed to the customer.</sub>"


def outbox_rows(action: CreateIssue | AddComment) -> tuple[OutboxRow, ...]:
    """The rows that carry out `action`, keyed so they are queued once per message: the
    attachments first (the body links them), then the body."""
    store = _store_row(action)
    return (store, *_rows(action)) if store is not None else _rows(action)


def _store_row(action: CreateIssue | AddComment) -> OutboxRow | None:
    """The row that stores the message's attachments; in the thread's order, so it is done
    before the issue or comment that links them is written."""
    if not action.store:
        return None
    return OutboxRow(key=f"attachments:{action.message_key}", kind=STORE_KIND,
                     thread_id=action.thread_id, message_key=action.message_key,
                     payload=dict(action.store))


def _rows(action: CreateIssue | AddComment) -> tuple[OutboxRow, ...]:
    if isinstance(action, AddComment):
        return (OutboxRow(key=f"comment:{action.message_key}", kind="add_comment",
                          thread_id=action.thread_id, message_key=action.message_key,
                          payload={"body": action.body}),)
    payload = {"title": action.title, "body": action.body, "assignee": action.assignee,
               "labels": list(action.labels)}
    if action.target != "discussions":
        issue = OutboxRow(key=f"issue:{action.message_key}", kind="create_issue",
                          thread_id=action.thread_id, message_key=action.message_key,
                          payload=payload)
        if action.lookup is None:
            return (issue,)
        return issue, _lookup(action, _known_comment(action, action.assignee))
    rows = [OutboxRow(key=f"discussion:{action.message_key}", kind="create_discussion",
                      thread_id=action.thread_id, message_key=action.message_key,
                      payload=payload)]
    if action.labels:
        rows.append(OutboxRow(key=f"labels:{action.message_key}", kind="label_discussion",
                              thread_id=action.thread_id, message_key=None,
                              payload={"labels": list(action.labels)}))
    if action.lookup is not None:
        then = (_notice(action, _with_matches(action.notice)) if action.notice
                else _known_comment(action, None))  # no notice: nobody to mention
        rows.append(_lookup(action, then))
    elif action.notice:
        notice = _notice(action, action.notice.replace(MATCHES, ""))
        rows.append(OutboxRow(key=notice["key"], kind=notice["kind"],
                              thread_id=action.thread_id, message_key=None,
                              payload=notice["payload"]))
    return tuple(rows)


def _notice(action: CreateIssue, body: str) -> dict[str, Any]:
    """The comment naming the Primary on a new discussion, keyed by thread."""
    return {"key": f"notice:{action.thread_id}", "kind": "add_comment",
            "payload": {"body": body, "role": "notice"}}


def _with_matches(notice: str) -> str:
    """The notice with a place for the matches: where its template put it, else at the end."""
    if MATCHES in notice:
        return notice
    return f"{notice.rstrip()}\n\n{MATCHES}\n"


def _known_comment(action: CreateIssue, mention: str | None) -> dict[str, Any]:
    """A comment of its own with the matches, @mentioning `mention` (the assignee: the Primary,
    whom the assignment notifies already); only when something was found."""
    lead = f"@{mention} " if mention and _LOGIN.fullmatch(mention) else ""
    return {"key": f"known:{action.thread_id}", "kind": "add_comment", "unless_empty": "matches",
            "payload": {"body": f"{lead}{MATCHES}\n\n{_KNOWN_FOOTER}\n",
                        "role": "known_issues"}}


def _lookup(action: CreateIssue, then: dict[str, Any]) -> OutboxRow:
    lookup = action.lookup
    assert lookup is not None
    return OutboxRow(key=f"lookup:{action.thread_id}", kind=LOOKUP_KIND,
                     thread_id=action.thread_id, message_key=None,
                     payload={"repository": lookup.repository, "terms": list(lookup.terms),
                              "limit": lookup.limit, THEN: [then]})
