"""GitHub Discussions as a target (issue 15): where each thread lives, and comment ids per target.

threads gains `target` ("issues" for every existing thread) and `node_id`; its number is unique
per target instead of overall. gh_comments and effort are keyed by (target, comment id): an
issue comment and a discussion comment may carry the same number.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from gateway.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite keeps 0001's `unique=True` unnamed; batch mode reflects it under this name.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    bind = op.get_bind()
    return "uq_threads_issue_number" if bind.dialect.name == "sqlite" else \
        "threads_issue_number_key"


def _target() -> sa.Column[str]:
    return sa.Column("target", sa.String(12), nullable=False, server_default="issues")


def _gh_comments(*, with_target: bool) -> list[sa.Column[Any]]:
    key = [sa.Column("target", sa.String(12), primary_key=True, server_default="issues")]
    return [*(key if with_target else []),
            sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("issue_number", sa.Integer, nullable=False, index=True),
            sa.Column("author", sa.String(100), nullable=False),
            sa.Column("created_at", UTCDateTime, nullable=False),
            sa.Column("updated_at", UTCDateTime, nullable=False),
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())]


def _effort(*, with_target: bool) -> list[sa.Column[Any]]:
    key = [sa.Column("target", sa.String(12), primary_key=True, server_default="issues")]
    return [*(key if with_target else []),
            sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("thread_id", sa.String(64), nullable=False, index=True),
            sa.Column("login", sa.String(100), nullable=False),
            sa.Column("day", sa.Date, nullable=False),
            sa.Column("minutes", sa.Integer, nullable=False)]


def _rebuild(table: str, columns: list[sa.Column[Any]]) -> None:
    """Give `table` a new primary key: a new table, the rows copied (`target` takes its
    default), the old one dropped. Works the same on SQLite and PostgreSQL."""
    new = f"{table}_0003"
    op.create_table(new, *columns)
    shared = ", ".join(c.name for c in columns if c.name != "target")
    op.execute(f"INSERT INTO {new} ({shared}) SELECT {shared} FROM {table}")
    indexed = [c.name for c in columns if c.index]
    for name in indexed:
        op.drop_index(f"ix_{new}_{name}", table_name=new)
        op.drop_index(f"ix_{table}_{name}", table_name=table)
    op.drop_table(table)
    op.rename_table(new, table)
    for name in indexed:
        op.create_index(f"ix_{table}_{name}", table, [name])


def upgrade() -> None:
    with op.batch_alter_table("threads", naming_convention=_NAMES) as batch:
        batch.drop_constraint(_old_unique(), type_="unique")
        batch.add_column(_target())
        batch.add_column(sa.Column("node_id", sa.String(100), nullable=True))
        batch.create_unique_constraint("uq_threads_target_number", ["target", "issue_number"])
    _rebuild("gh_comments", _gh_comments(with_target=True))
    _rebuild("effort", _effort(with_target=True))


def downgrade() -> None:
    _rebuild("effort", _effort(with_target=False))
    _rebuild("gh_comments", _gh_comments(with_target=False))
    with op.batch_alter_table("threads", naming_convention=_NAMES) as batch:
        batch.drop_constraint("uq_threads_target_number", type_="unique")
        batch.drop_column("node_id")
        batch.drop_column("target")
        batch.create_unique_constraint(_old_unique(), ["issue_number"])
