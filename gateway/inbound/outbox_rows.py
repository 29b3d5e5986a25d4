"""The outbox rows a decided message queues: the writes to GitHub that carry out its actions.

Holds `outbox_rows`, the one place an action (`CreateIssue`, `AddComment`) becomes rows' keys,
kinds and JSON payloads; the GitHub writer (`gateway.outbound.writer`) reads those payloads
back, so the two change together. A new thread in discussions mode is three rows, in this
order: `create_discussion`, `label_discussion` (GraphQL's createDiscussion takes no labels),
and the notice naming the Primary (an `add_comment` of our own, keyed by thread). A comment is
`add_comment` whatever the target: the writer sends it where its thread lives. Pure: it must
not decide which actions to take (`decide`), store anything or call GitHub.
"""

from __future__ import annotations

from gateway.models import AddComment, CreateIssue
from gateway.store.values import OutboxRow


def outbox_rows(action: CreateIssue | AddComment) -> tuple[OutboxRow, ...]:
    """The rows that carry out `action`, keyed so they are queued once per message."""
    if isinstance(action, AddComment):
        return (OutboxRow(key=f"comment:{action.message_key}", kind="add_comment",
                          thread_id=action.thread_id, message_key=action.message_key,
                          payload={"body": action.body}),)
    payload = {"title": action.title, "body": action.body, "assignee": action.assignee,
               "labels": list(action.labels)}
    if action.target != "discussions":
        return (OutboxRow(key=f"issue:{action.message_key}", kind="create_issue",
                          thread_id=action.thread_id, message_key=action.message_key,
                          payload=payload),)
    rows = [OutboxRow(key=f"discussion:{action.message_key}", kind="create_discussion",
                      thread_id=action.thread_id, message_key=action.message_key,
                      payload=payload)]
    if action.labels:
        rows.append(OutboxRow(key=f"labels:{action.message_key}", kind="label_discussion",
                              thread_id=action.thread_id, message_key=None,
                              payload={"labels": list(action.labels)}))
    if action.notice:
        rows.append(OutboxRow(key=f"notice:{action.thread_id}", kind="add_comment",
                              thread_id=action.thread_id, message_key=None,
                              payload={"body": action.notice, "role": "notice"}))
    return tuple(rows)
