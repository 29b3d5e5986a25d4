"""`Prepared` writes and reads what `Connection.execute` writes and reads, on both engines:
aware UTC datetimes (given in another zone too), booleans, NULLs, big ids; rowcounts of an
INSERT ... ON CONFLICT DO NOTHING and of an UPDATE; a dialect's own statement. Writes queued
with `later` reach the database in the order they were made, before anything else runs on
the connection and before the commit, and never when their transaction or savepoint is
rolled back. `run_together` runs several after them, in order (one round trip on
PostgreSQL), and gives what each gave; RETURNING rows are read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.engine import insert_or_ignore_for
from gateway.store.prepared import Prepared, immediate_writes, run_together
from gateway.store.schema import deliveries, gh_comments, threads

AT = dt.datetime(2026, 3, 8, 1, 59, 59, 123456, tzinfo=ZoneInfo("America/Los_Angeles"))
BIG = 2**53 + 7  # a GitHub id past any 32-bit column

COMMENTS = Prepared(sa.select(gh_comments).where(gh_comments.c.target == sa.bindparam("t"))
                    .order_by(gh_comments.c.comment_id))
INSERT = Prepared(gh_comments.insert(), keys=(
    "target", "comment_id", "issue_number", "author", "created_at", "updated_at", "deleted"))
CLAIM = Prepared(lambda dialect: insert_or_ignore_for(dialect, deliveries, ["guid"]),
                 keys=("guid", "event", "received_at", "result"))
UPDATE_DELETED = Prepared(gh_comments.update().where(
    gh_comments.c.comment_id == sa.bindparam("c")).values(deleted=sa.bindparam("d")))
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


# -- writes queued with `later` -------------------------------------------------------------


def stored_ids(store: Store) -> list[int]:
    with store.read() as tx:
        return [row.comment_id - BIG for row in COMMENTS.run(tx.conn, {"t": "issues"}).rows]


def test_queued_writes_are_sent_in_order_before_anything_else_reads_or_writes(
        store: Store) -> None:
    with store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        INSERT.later(tx.conn, comment(2, deleted=False))
        assert stored_ids(store) == []  # nothing sent, let alone committed
        # A statement through SQLAlchemy sees them, and runs after them.
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(gh_comments)).scalar() == 2
        UPDATE_DELETED.later(tx.conn, {"c": BIG + 1, "d": True})
        tx.conn.execute(gh_comments.delete().where(gh_comments.c.comment_id == BIG + 2))
        INSERT.later(tx.conn, comment(2, deleted=True))  # again, after the delete
        # So does a Prepared read.
        assert [(r.comment_id - BIG, r.deleted) for r in COMMENTS.run(
            tx.conn, {"t": "issues"}).rows] == [(1, True), (2, True)]
        INSERT.later(tx.conn, comment(3, deleted=False))  # sent by the commit
    assert stored_ids(store) == [1, 2, 3]


def test_queued_writes_of_a_rolled_back_transaction_go_nowhere(store: Store) -> None:
    with pytest.raises(RuntimeError), store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        raise RuntimeError("boom")
    # Not sent, and not left on the pooled connection for a later transaction to send.
    for _ in range(6):  # round every pooled connection
        with store.tx() as tx:
            tx.conn.execute(sa.select(sa.literal(1)))
    assert stored_ids(store) == []


def test_a_savepoint_undoes_its_own_queued_writes_and_keeps_the_ones_before(
        store: Store) -> None:
    with store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        with pytest.raises(RuntimeError), tx.savepoint():
            INSERT.later(tx.conn, comment(2, deleted=False))
            raise RuntimeError("boom")
        with tx.savepoint():
            INSERT.later(tx.conn, comment(3, deleted=False))
    assert stored_ids(store) == [1, 3]


def test_a_queued_write_that_fails_fails_its_savepoint_not_the_others(store: Store) -> None:
    with store.tx() as tx:
        INSERT.run(tx.conn, comment(1, deleted=False))
        with pytest.raises(sa.exc.IntegrityError) as refused, tx.savepoint():
            INSERT.later(tx.conn, comment(2, deleted=False))
            INSERT.later(tx.conn, comment(1, deleted=False))  # the same key again
        INSERT.later(tx.conn, comment(3, deleted=False))
    assert stored_ids(store) == [1, 3]
    assert "cyrush" not in str(refused.value)  # SQLAlchemy's error, without the values


def test_immediate_writes_send_each_write_as_it_is_made(store: Store) -> None:
    with immediate_writes(), store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        assert tx.conn.info.get("gateway.pending_writes") in (None, [])
        assert COMMENTS.run(tx.conn, {"t": "issues"}).first().comment_id == BIG + 1


CLAIM_RETURNING = Prepared(lambda dialect: insert_or_ignore_for(dialect, deliveries, ["guid"])
                           .returning(deliveries.c.guid),
                           keys=("guid", "event", "received_at", "result"))


def test_returning_rows_are_read_from_a_statement_made_from_a_cached_one(store: Store) -> None:
    # insert_or_ignore_for hands out one cached statement; CLAIM (above) compiles it without
    # RETURNING first, which SQLAlchemy remembers in the copies made from it.
    delivery = {"guid": "g-r", "event": "issues", "received_at": AT, "result": "pending"}
    with store.tx() as tx:
        assert CLAIM.run(tx.conn, {**delivery, "guid": "g-0"}).rowcount == 1
        assert [row.guid for row in CLAIM_RETURNING.run(tx.conn, delivery).rows] == ["g-r"]
        assert CLAIM_RETURNING.run(tx.conn, delivery).rows == []  # claimed already


def test_run_together_runs_after_the_queued_writes_in_order(store: Store) -> None:
    with store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        outcomes = run_together(tx.conn, [
            (COMMENTS, {"t": "issues"}),
            (UPDATE_DELETED, {"c": BIG + 1, "d": True}),
            (CLAIM_RETURNING, {"guid": "g-1", "event": "issues", "received_at": AT,
                               "result": "pending"}),
            (COMMENTS, {"t": "issues"}),
            (CLAIM_RETURNING, {"guid": "g-1", "event": "issues", "received_at": AT,
                               "result": "pending"}),
        ])
    assert [[r.deleted for r in o.rows] for o in (outcomes[0], outcomes[3])] == [[False], [True]]
    assert outcomes[1].rowcount == 1
    assert [r.guid for r in outcomes[2].rows] == ["g-1"] and outcomes[4].rows == []
    assert stored_ids(store) == [1]


def test_run_together_fails_as_sqlalchemy_without_the_values(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError) as refused, store.tx() as tx:
        INSERT.later(tx.conn, comment(1, deleted=False))
        run_together(tx.conn, [(COMMENTS, {"t": "issues"}), (INSERT, comment(1, deleted=False)),
                               (COMMENTS, {"t": "issues"})])
    assert "cyrush" not in str(refused.value)
    assert stored_ids(store) == []  # rolled back, the queued write with it
    with store.tx() as tx:  # the pooled connection is fine afterwards
        assert run_together(tx.conn, [(COMMENTS, {"t": "issues"})] * 2)[1].rows == []


def test_a_queued_write_failing_at_the_commit_fails_the_commit_and_undoes_the_rest(
        store: Store) -> None:
    # On PostgreSQL the last queued writes and the COMMIT go out together.
    with store.tx() as tx:
        INSERT.run(tx.conn, comment(1, deleted=False))
    with pytest.raises(sa.exc.IntegrityError) as refused, store.tx() as tx:
        INSERT.run(tx.conn, comment(2, deleted=False))  # written at once, in the transaction
        INSERT.later(tx.conn, comment(3, deleted=False))
        INSERT.later(tx.conn, comment(1, deleted=False))  # the same key again: at the commit
    assert "cyrush" not in str(refused.value)
    assert stored_ids(store) == [1]
    for _ in range(6):  # every pooled connection works afterwards
        with store.tx() as tx:
            INSERT.later(tx.conn, comment(4, deleted=False))
            tx.conn.execute(gh_comments.delete().where(gh_comments.c.comment_id == BIG + 4))
    with store.tx() as tx:
        INSERT.later(tx.conn, comment(5, deleted=False))
    assert stored_ids(store) == [1, 5]
