"""The state database's schema: SQLAlchemy Core tables, the single source of their shape.

Holds `metadata`, the tables, `UTCDateTime` (aware datetimes stored as UTC) and `varchar` (a
length that documents, and that no engine enforces). The alembic
migrations in `gateway/store/migrations/` are frozen snapshots of these definitions, and a test
checks they match. No queries here: `gateway.store.db` has them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def varchar(length: int) -> sa.types.TypeEngine[str]:
    """VARCHAR(length) on SQLite, which keeps a longer value anyway, and TEXT on PostgreSQL
    (migration 0006), which would refuse one: the same data is accepted on both engines, and a
    hostile mail's 1,000-character address is stored, not an error on one of them. The length
    documents what the column usually holds."""
    return sa.String(length).with_variant(sa.Text(), "postgresql")


messages = sa.Table(
    "messages",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", varchar(600), nullable=False, unique=True),
    sa.Column("message_id", varchar(600), nullable=True, index=True),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("folder", varchar(255), nullable=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=True),
    sa.Column("uid", sa.BigInteger, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", varchar(20), nullable=False),  # stored | processed
    sa.Column("verdict", varchar(20), nullable=True),
    sa.Column("reason", varchar(100), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("thread_id", varchar(64), nullable=True, index=True),
    sa.Column("processed_at", UTCDateTime, nullable=True),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("thread_id", varchar(64), primary_key=True),
    # The thread's number in its target: an issue number, or a discussion number (migration
    # 0003). Unique per target: the two may live in different repositories.
    sa.Column("issue_number", sa.Integer, nullable=True),
    sa.Column("root_key", varchar(600), nullable=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("arrived_at", UTCDateTime, nullable=True),
    sa.Column("assignee", varchar(100), nullable=True),
    sa.Column("first_response_at", UTCDateTime, nullable=True),
    sa.Column("first_response_by", varchar(100), nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Tracking (migration 0002): what GitHub says about the issue.
    sa.Column("issue_author", varchar(100), nullable=True),
    sa.Column("state", varchar(10), nullable=False, server_default="open"),
    sa.Column("reopened_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("labels", sa.Text, nullable=False, server_default="[]"),  # JSON list
    # Where the thread lives (migration 0003): "issues" or "discussions", fixed when the thread
    # is made, so changing `github.target` moves no open thread. `node_id`: the discussion's
    # GraphQL id, only ever sent back to GitHub (never parsed).
    sa.Column("target", varchar(12), nullable=False, server_default="issues"),
    sa.Column("node_id", varchar(100), nullable=True),
    # The stale rule (migration 0005): the latest reply by the team (and its comment, when it
    # is a top-level GitHub comment: the one a discussion is answered with), the customer's
    # latest message or comment, and how the gateway closed it ("stale", "promoted").
    sa.Column("last_team_at", UTCDateTime, nullable=True),
    sa.Column("last_team_comment", sa.BigInteger, nullable=True),
    sa.Column("last_customer_at", UTCDateTime, nullable=True),
    sa.Column("closed_as", varchar(12), nullable=True),
    sa.UniqueConstraint("target", "issue_number", name="uq_threads_target_number"),
)

thread_customers = sa.Table(
    "thread_customers",
    metadata,
    sa.Column("thread_id", varchar(64), primary_key=True),
    sa.Column("address", varchar(320), primary_key=True),
    sa.Column("first_seen", UTCDateTime, nullable=False),
)

message_ids = sa.Table(
    "message_ids",
    metadata,
    sa.Column("message_id", varchar(600), primary_key=True),
    sa.Column("thread_id", varchar(64), nullable=False, index=True),
    sa.Column("source", varchar(20), nullable=False),  # inbound | github | outbound
    sa.Column("created_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", varchar(700), nullable=False, unique=True),
    sa.Column("kind", varchar(30), nullable=False),
    sa.Column("thread_id", varchar(64), nullable=True, index=True),
    sa.Column("message_key", varchar(600), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", varchar(20), nullable=False, index=True),  # pending|done|failed|dropped
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

gh_comments = sa.Table(
    "gh_comments",
    metadata,
    # Issue comments and discussion comments have ids of their own: keyed by both (0003).
    sa.Column("target", varchar(12), primary_key=True, server_default="issues"),
    sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("issue_number", sa.Integer, nullable=False, index=True),
    sa.Column("author", varchar(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)

effort = sa.Table(
    "effort",
    metadata,
    sa.Column("target", varchar(12), primary_key=True, server_default="issues"),
    sa.Column("comment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("thread_id", varchar(64), nullable=False, index=True),
    sa.Column("login", varchar(100), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
)

kv = sa.Table(
    "kv",
    metadata,
    sa.Column("key", varchar(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("guid", varchar(100), primary_key=True),
    sa.Column("event", varchar(50), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("result", varchar(50), nullable=False),
)

# Which instance leads, when several share a PostgreSQL database (`gateway.store.leader`): one
# row, name "leader". `epoch` rises at every takeover and fences the instance before it;
# `renewed_at` is the database's clock. Unused on SQLite (one instance: an exclusive lock file).
leader_lease = sa.Table(
    "leader_lease",
    metadata,
    sa.Column("name", varchar(20), primary_key=True),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("holder", sa.Text, nullable=True),
    sa.Column("backend_pid", sa.Integer, nullable=True),
    sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("key", varchar(300), primary_key=True),
    sa.Column("done_at", UTCDateTime, nullable=False),
)

mailbox_state = sa.Table(
    "mailbox_state",
    metadata,
    sa.Column("folder", varchar(255), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The Primary's temporary delegations (migration 0004): `from_login` hands the Primary role to
# `to_login` over [start_at, until_at). Cancelling keeps the row: `cancelled_at` ends it (or,
# before it began, voids it). One row per (from, to, start, until): giving the same delegation
# again adds nothing.
delegations = sa.Table(
    "delegations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("from_login", varchar(100), nullable=False),
    sa.Column("to_login", varchar(100), nullable=False),
    sa.Column("start_at", UTCDateTime, nullable=False),
    sa.Column("until_at", UTCDateTime, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", varchar(100), nullable=False),
    sa.Column("source", varchar(10), nullable=False),  # cli | command
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    sa.Column("cancelled_by", varchar(100), nullable=True),
    sa.UniqueConstraint("from_login", "to_login", "start_at", "until_at",
                        name="uq_delegations_window"),
)
