"""The leader lease (issue 18): which instance leads when several share a PostgreSQL database,
and the epoch that fences the one before it. One row, epoch 0, nobody holding it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "leader_lease",
        sa.Column("name", sa.String(20).with_variant(sa.Text(), "postgresql"),
                  primary_key=True),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.Text, nullable=True),
        sa.Column("backend_pid", sa.Integer, nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(table, [{"name": "leader", "epoch": 0}])


def downgrade() -> None:
    op.drop_table("leader_lease")
