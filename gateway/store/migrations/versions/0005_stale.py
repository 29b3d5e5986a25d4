"""The stale rule (issue 16): when the team and the customer last wrote, and how the gateway
closed a thread. Existing threads start without them: the rule applies from their next reply.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("last_team_at", "last_team_comment", "last_customer_at", "closed_as")


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("last_team_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("last_team_comment", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("last_customer_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("closed_as", sa.String(12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
