"""The outbox rows a decided message queues: one per action that writes to GitHub.

Holds `outbox_row`, the one place an action (`CreateIssue`, `AddComment`) becomes a row's key,
kind and JSON payload; the GitHub writer (`gateway.outbound.writer`) reads that payload back, so
the two change together. Pure: it must not decide which actions to take (`decide`), store
anything or call GitHub.
"""

from __future__ import annotations

from gateway.models import AddComment, CreateIssue
from gateway.store.values import OutboxRow


def outbox_row(action: CreateIssue | AddComment) -> OutboxRow:
    """The outbox row that carries out `action`, keyed so it is queued once per message."""
    if isinstance(action, CreateIssue):
        return OutboxRow(
            key=f"issue:{action.message_key}",
            kind="create_issue",
            thread_id=action.thread_id,
            message_key=action.message_key,
            payload={
                "title": action.title,
                "body": action.body,
                "assignee": action.assignee,
                "labels": list(action.labels),
            },
        )
    return OutboxRow(
        key=f"comment:{action.message_key}",
        kind="add_comment",
        thread_id=action.thread_id,
        message_key=action.message_key,
        payload={"body": action.body},
    )
