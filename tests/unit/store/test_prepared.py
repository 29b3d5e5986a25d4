"""`Prepared` writes and reads what `Connection.execute` writes and reads, on both engines:
aware UTC datetimes (given in another zone too), booleans, NULLs, big ids; rowcounts of an
INSERT ... ON CONFLICT DO NOTHING and of an UPDATE; a dialect's own statement."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.engine import insert_or_ignore_for
from gateway.store.prepared import Prepared
from gateway.store.schema import deliveries, gh_comments, threads

AT = dt.datetime(2026, 3, 8, 1, 59, 59, 123456, tzinfo=ZoneInfo("America/Los_Angeles"))
BIG = 2**53 + 7  # a GitHub id past any 32-bit column

COMMENTS = Prepared(sa.select(gh_comments).where(gh_comments.c.target == sa.bindparam("t"))
                    .order_by(gh_comments.c.comment_id))
INSERT = Prepared(gh_comments.insert(), keys=(
    "target", "comment_id", "issue_number", "author", "created_at", "updated_at", "deleted"))
CLAIM = Prepared(lambda dialect: insert_or_ignore_for(dialect, deliveries, ["guid"]),
                 keys=("guid", "event", "received_at", "result"))
RESULT = Prepared(deliveries.update().where(deliveries.c.guid == sa.bindparam("key"))
                  .values(result=sa.bindparam("outcome")))


def comment(n: int, *, deleted: bool) -> dict[str, object]:
    return {"target": "issues", "comment_id": BIG + n, "issue_number": 12, "author": "cyrush",
            "created_at": AT + dt.timedelta(minutes=n), "updated_at": AT, "deleted": deleted}


def test_what_it_writes_sqlalchemy_reads_and_the_other_way(store: Store) -> None:
    with store.tx() as tx:
        assert INSERT.run(tx.conn, comment(1, deleted=True)).rowcount == 1
        tx.conn.execute(gh_comments.insert(), comment(2, deleted=False))
    with store.read() as tx:
        by_sqlalchemy = [tuple(row) for row in tx.conn.execute(
            sa.select(gh_comments).order_by(gh_comments.c.comment_id))]
        by_prepared = [tuple(row) for row in COMMENTS.run(tx.conn, {"t": "issues"}).rows]
    assert by_prepared == by_sqlalchemy
    first = by_prepared[0]
    assert first[1] == BIG + 1 and first[6] is True and by_prepared[1][6] is False
    assert first[4] == AT.astimezone(dt.UTC) + dt.timedelta(minutes=1)
    assert first[4].tzinfo == dt.UTC
    with store.read() as tx:
        assert COMMENTS.run(tx.conn, {"t": "discussions"}).first() is None


def test_rows_have_the_column_names(store: Store) -> None:
    with store.tx() as tx:
        INSERT.run(tx.conn, comment(3, deleted=False))
        row = COMMENTS.run(tx.conn, {"t": "issues"}).first()
    assert (row.comment_id, row.author, row.deleted) == (BIG + 3, "cyrush", False)


def test_nulls_read_back_as_none(store: Store) -> None:
    lookup = Prepared(sa.select(threads.c.thread_id, threads.c.first_response_at,
                                threads.c.resolved_at).where(
        threads.c.thread_id == sa.bindparam("id")))
    with store.tx() as tx:
        tx.conn.execute(threads.insert().values(
            thread_id="th-1", issue_number=None, title="", created_at=AT, target="issues"))
        assert tuple(lookup.run(tx.conn, {"id": "th-1"}).first()) == ("th-1", None, None)


def test_rowcounts_say_what_was_claimed_and_changed(store: Store) -> None:
    delivery = {"guid": "g-1", "event": "issue_comment", "received_at": AT, "result": "pending"}
    with store.tx() as tx:
        assert CLAIM.run(tx.conn, delivery).rowcount == 1
        assert CLAIM.run(tx.conn, delivery).rowcount == 0  # the same GUID again
        assert RESULT.run(tx.conn, {"key": "g-1", "outcome": "applied"}).rowcount == 1
        assert RESULT.run(tx.conn, {"key": "g-2", "outcome": "applied"}).rowcount == 0
    with store.read() as tx:
        assert list(tx.conn.execute(sa.select(deliveries.c.result, deliveries.c.received_at))) \
            == [("applied", AT.astimezone(dt.UTC))]


def test_a_statement_with_expanding_parameters_is_refused(store: Store) -> None:
    many = Prepared(sa.select(deliveries).where(
        deliveries.c.guid.in_(sa.bindparam("guids", expanding=True))))
    with store.read() as tx, pytest.raises(ValueError, match="expanding"):
        many.run(tx.conn, {"guids": ["a"]})


def test_values_the_statement_holds_are_written_unless_given(store: Store) -> None:
    settle = Prepared(deliveries.update().where(deliveries.c.guid == sa.bindparam("key"))
                      .values(result="applied", event=sa.bindparam("e")))
    with store.tx() as tx:
        for guid in ("g-1", "g-2"):
            CLAIM.run(tx.conn, {"guid": guid, "event": "ping", "received_at": AT,
                                "result": "pending"})
        settle.run(tx.conn, {"key": "g-1", "e": "issues"})
        settle.run(tx.conn, {"key": "g-2", "e": "issues", "result": "ignored"})
    with store.read() as tx:
        assert list(tx.conn.execute(sa.select(deliveries.c.guid, deliveries.c.event,
                                              deliveries.c.result).order_by(deliveries.c.guid))
                    ) == [("g-1", "issues", "applied"), ("g-2", "issues", "ignored")]


def test_a_missing_parameter_is_a_key_error_not_a_null(store: Store) -> None:
    with store.tx() as tx, pytest.raises(KeyError, match="outcome"):
        RESULT.run(tx.conn, {"key": "g-1"})
