"""Response tracking: issue state on threads, GitHub comments seen, effort, key-value cursors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("issue_author", sa.String(100), nullable=True))
        batch.add_column(sa.Column("state", sa.String(10), nullable=False,
                                   server_default="open"))
        batch.add_column(sa.Column("reopened_count", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("labels", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "gh_comments",
        sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("issue_number", sa.Integer, nullable=False, index=True),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "effort",
        sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("thread_id", sa.String(64), nullable=False, index=True),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kv")
    op.drop_table("effort")
    op.drop_table("gh_comments")
    with op.batch_alter_table("threads") as batch:
        for column in ("labels", "reopened_count", "state", "issue_author"):
            batch.drop_column(column)
