"""On PostgreSQL, the VARCHAR(n) columns become TEXT: SQLite never enforced those lengths, so
the same data must fit on both engines (`schema.varchar`). Nothing changes on SQLite. Changing
VARCHAR to TEXT rewrites no table on PostgreSQL; going back refuses a longer value.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The declared lengths at 0005 (frozen: the schema no longer says them to PostgreSQL).
_LENGTHS: dict[str, dict[str, int]] = {
    "delegations": {"from_login": 100, "to_login": 100, "created_by": 100, "source": 10,
                    "cancelled_by": 100},
    "deliveries": {"guid": 100, "event": 50, "result": 50},
    "effort": {"target": 12, "thread_id": 64, "login": 100},
    "gh_comments": {"target": 12, "author": 100},
    "jobs": {"key": 300},
    "kv": {"key": 100},
    "mailbox_state": {"folder": 255},
    "message_ids": {"message_id": 600, "thread_id": 64, "source": 20},
    "messages": {"key": 600, "message_id": 600, "folder": 255, "status": 20, "verdict": 20,
                 "reason": 100, "thread_id": 64},
    "outbox": {"key": 700, "kind": 30, "thread_id": 64, "message_key": 600, "status": 20},
    "thread_customers": {"thread_id": 64, "address": 320},
    "threads": {"thread_id": 64, "root_key": 600, "assignee": 100, "first_response_by": 100,
                "issue_author": 100, "state": 10, "target": 12, "node_id": 100,
                "closed_as": 12},
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in _LENGTHS.items():
        for column, length in columns.items():
            op.alter_column(table, column, type_=sa.Text(),
                            existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in _LENGTHS.items():
        for column, length in columns.items():
            op.alter_column(table, column, type_=sa.String(length),
                            existing_type=sa.Text())
