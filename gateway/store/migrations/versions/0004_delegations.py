"""The Primary's temporary delegations (issue 16): a table of its own, nothing else changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("from_login", sa.String(100), nullable=False),
        sa.Column("to_login", sa.String(100), nullable=False),
        sa.Column("start_at", UTCDateTime, nullable=False),
        sa.Column("until_at", UTCDateTime, nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("cancelled_at", UTCDateTime, nullable=True),
        sa.Column("cancelled_by", sa.String(100), nullable=True),
        sa.UniqueConstraint("from_login", "to_login", "start_at", "until_at",
                            name="uq_delegations_window"),
    )


def downgrade() -> None:
    op.drop_table("delegations")
