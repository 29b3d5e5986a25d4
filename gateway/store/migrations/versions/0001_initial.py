"""Initial schema: messages, threads, thread_customers, message_ids, outbox, deliveries, jobs,
mailbox_state.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(600), nullable=False, unique=True),
        sa.Column("message_id", sa.String(600), nullable=True, index=True),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("folder", sa.String(255), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=True),
        sa.Column("uid", sa.BigInteger, nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("thread_id", sa.String(64), nullable=True, index=True),
        sa.Column("processed_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "threads",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("issue_number", sa.Integer, nullable=True, unique=True),
        sa.Column("root_key", sa.String(600), nullable=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("arrived_at", UTCDateTime, nullable=True),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("first_response_at", UTCDateTime, nullable=True),
        sa.Column("first_response_by", sa.String(100), nullable=True),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "thread_customers",
        sa.Column("thread_id", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
    )
    op.create_table(
        "message_ids",
        sa.Column("message_id", sa.String(600), primary_key=True),
        sa.Column("thread_id", sa.String(64), nullable=False, index=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(700), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("thread_id", sa.String(64), nullable=True, index=True),
        sa.Column("message_key", sa.String(600), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("guid", sa.String(100), primary_key=True),
        sa.Column("event", sa.String(50), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("result", sa.String(50), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("done_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "mailbox_state",
        sa.Column("folder", sa.String(255), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("last_uid", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "mailbox_state",
        "jobs",
        "deliveries",
        "outbox",
        "message_ids",
        "thread_customers",
        "threads",
        "messages",
    ):
        op.drop_table(table)
