"""The store: migrations, insert-or-ignore, and one transaction per processed message."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from gateway.store.db import Store
from gateway.store.migrate import current_revision, head_revision
from gateway.store.schema import messages, outbox, threads
from gateway.store.values import NewThread, OutboxRow, Recorded
from gateway.testing.postgres import PostgresServer

NOW = dt.datetime(2026, 3, 3, 17, 0, tzinfo=dt.UTC)


def test_open_applies_migrations_and_is_idempotent(empty_database_url: str) -> None:
    first = Store.open(empty_database_url)
    assert current_revision(first.engine) == head_revision()
    first.close()
    again = Store.open(empty_database_url)
    assert current_revision(again.engine) == head_revision()
    with again.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        else:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    again.close()


def test_insert_raw_is_insert_or_ignore(store: Store) -> None:
    with store.tx() as tx:
        inserted, row = tx.insert_raw(key="mid:<a@b>", message_id="<a@b>", raw=b"x",
                                      received_at=NOW, uid=7)
    assert inserted and row.seq == 1 and row.status == "stored"
    with store.tx() as tx:
        inserted, row = tx.insert_raw(key="mid:<a@b>", message_id="<a@b>", raw=b"other",
                                      received_at=NOW, uid=9)
    assert not inserted and row.raw == b"x" and row.uid == 7
    assert store.unprocessed_keys() == ["mid:<a@b>"]


def test_record_is_atomic(store: Store) -> None:
    with store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"x", received_at=NOW)
    thread = NewThread("th-1", None, "k1", "T", NOW, "someone")
    row = OutboxRow("issue:k1", "create_issue", "th-1", "k1", {"title": "T"})
    bad = Recorded(key="k1", verdict="new", reason="new-thread", detail="", thread_id="th-1",
                   new_thread=thread, ids=(("<a@b>", "th-1", "inbound"),),
                   outbox=(row, OutboxRow("issue:k1b", "create_issue", "th-1", "k1",
                                          {"unserialisable": object()})))
    with pytest.raises(TypeError), store.tx() as tx:
        tx.record(bad, now=NOW)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(threads)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0
        assert conn.execute(sa.select(messages.c.status)).scalar() == "stored"
    good = Recorded(key="k1", verdict="new", reason="new-thread", detail="", thread_id="th-1",
                    new_thread=thread, ids=(("<a@b>", "th-1", "inbound"),), outbox=(row,))
    with store.tx() as tx:
        tx.record(good, now=NOW)
    with store.tx() as tx:
        tx.record(good, now=NOW)  # replaying the same decision changes nothing
    assert [r["key"] for r in store.outbox_rows()] == ["issue:k1"]
    assert store.threads_for_ids(["<a@b>", "<x@y>"]) == {"<a@b>": "th-1"}
    with store.read() as tx:
        assert tx.customers("th-1") == []
    assert store.unprocessed_keys() == []


def test_mailbox_cursor(store: Store) -> None:
    assert store.mailbox_cursor("INBOX") is None
    store.set_mailbox_cursor("INBOX", 5, 10, now=NOW)
    store.set_mailbox_cursor("INBOX", 5, 12, now=NOW)
    assert store.mailbox_cursor("INBOX") == (5, 12)


def test_savepoint_undoes_only_its_own_writes(store: Store) -> None:
    with store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"1", received_at=NOW)
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.insert_raw(key="k2", message_id=None, raw=b"2", received_at=NOW)
            raise RuntimeError("boom")
        tx.insert_raw(key="k3", message_id=None, raw=b"3", received_at=NOW)
    assert store.unprocessed_keys() == ["k1", "k3"]


def test_what_a_transaction_defers_happens_once_it_commits_and_only_for_what_is_kept(
        store: Store) -> None:
    said: list[str] = []

    def visible(key: str) -> None:  # the effect sees the committed row from a new connection
        said.append(f"{key}:{'kept' if store.get_message(key) else 'absent'}")

    with store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"1", received_at=NOW)
        tx.after_commit(visible, "k1")
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.insert_raw(key="k2", message_id=None, raw=b"2", received_at=NOW)
            tx.after_commit(visible, "k2")  # undone with its savepoint
            raise RuntimeError("boom")
        with tx.savepoint():
            tx.insert_raw(key="k3", message_id=None, raw=b"3", received_at=NOW)
            tx.after_commit(visible, key="k3")
        assert said == []  # nothing before the commit
    assert said == ["k1:kept", "k3:kept"]

    with pytest.raises(RuntimeError), store.tx() as tx:  # rolled back: never said
        tx.insert_raw(key="k4", message_id=None, raw=b"4", received_at=NOW)
        tx.after_commit(visible, "k4")
        raise RuntimeError("boom")
    assert said == ["k1:kept", "k3:kept"] and store.get_message("k4") is None

    with store.read() as tx:  # a read has no commit: when its block ends
        tx.after_commit(said.append, "read")
        assert said[-1] != "read"
    assert said[-1] == "read"


def test_an_effect_that_fails_after_the_commit_is_logged_and_the_rest_still_run(
        store: Store) -> None:
    said: list[str] = []

    def broken() -> None:
        raise KeyError("a secret that must not reach the log")

    with capture_logs() as logs, store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"1", received_at=NOW)
        tx.after_commit(broken)
        tx.after_commit(said.append, "after")
    assert said == ["after"] and store.get_message("k1") is not None
    assert [(line["event"], line["effect"], line["error"]) for line in logs] == [
        ("store.after_commit_failed", "broken", "KeyError")]
    assert "secret" not in repr(logs)


def test_reads_do_not_take_the_write_lock(store: Store) -> None:
    with store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"1", received_at=NOW)
        # A concurrent reader (another connection) is not blocked by the open writer.
        assert store.get_message("k1") is None
    assert store.get_message("k1") is not None


def test_a_read_sees_one_snapshot_and_on_postgresql_refuses_to_write(store: Store) -> None:
    with store.tx() as tx:
        tx.put_value("seen", "before", now=NOW)
    with store.read() as tx:
        assert tx.get_value("seen") == "before"
        with store.tx() as other:  # committed while the read is open
            other.put_value("seen", "after", now=NOW)
        assert tx.get_value("seen") == "before"  # the read's snapshot, not the new value
    with store.read() as tx:
        assert tx.get_value("seen") == "after"
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"), \
                store.read() as tx:
            tx.put_value("seen", "from a read", now=NOW)
    with store.read() as tx:
        assert tx.get_value("seen") == "after"


def test_write_transactions_run_one_at_a_time(store: Store) -> None:
    """A read-modify-write in a `tx()` block needs no row lock on either engine: two threads
    incrementing one value lose no increment (BEGIN IMMEDIATE; PostgreSQL's advisory lock)."""
    import threading
    import time

    with store.tx() as tx:
        tx.put_value("counter", "0", now=NOW)

    def bump() -> None:
        for _ in range(10):
            with store.tx() as tx:
                seen = int(tx.get_value("counter") or "0")
                time.sleep(0.002)  # the other thread gets every chance to read the same value
                tx.put_value("counter", str(seen + 1), now=NOW)

    workers = [threading.Thread(target=bump) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with store.read() as tx:
        assert tx.get_value("counter") == "20"


def test_migrations_match_the_table_definitions(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from gateway.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_from_the_first_revision_keeps_data(empty_database_url: str) -> None:
    from gateway.store.engine import create_engine
    from gateway.store.migrate import upgrade

    url = empty_database_url
    engine = create_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO threads (thread_id, title, created_at) VALUES ('th-1', 'T', :now)"),
            {"now": NOW.replace(tzinfo=None)})
    engine.dispose()
    store = Store.open(url)
    assert current_revision(store.engine) == head_revision()
    row = store.thread("th-1")
    assert row is not None and row["state"] == "open" and row["labels"] == "[]"
    store.close()


def test_upgrade_to_discussions_keeps_threads_comments_and_effort(empty_database_url: str
                                                                  ) -> None:
    """0003 keys comments and effort by target: rows from before it become the issues'."""
    from gateway.store.engine import create_engine
    from gateway.store.migrate import upgrade
    from gateway.store.schema import effort, gh_comments, threads

    url = empty_database_url
    engine = create_engine(url)
    upgrade(engine, "0002")
    now = NOW.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO threads (thread_id, issue_number, title, created_at) "
                             "VALUES ('th-1', 7, 'T', :now)"), {"now": now})
        conn.execute(sa.text(
            "INSERT INTO gh_comments (comment_id, issue_number, author, created_at, updated_at)"
            " VALUES (55, 7, 'alice', :now, :now)"), {"now": now})
        conn.execute(sa.text("INSERT INTO effort (comment_id, seq, thread_id, login, day, "
                             "minutes) VALUES (55, 0, 'th-1', 'alice', '2026-12-01', 30)"))
    engine.dispose()
    store = Store.open(url)
    with store.tx() as tx:
        assert tx.conn.execute(sa.select(threads.c.target, threads.c.issue_number)).all() == [
            ("issues", 7)]
        assert tx.conn.execute(sa.select(gh_comments.c.target, gh_comments.c.comment_id)
                               ).all() == [("issues", 55)]
        assert tx.conn.execute(sa.select(effort.c.target, effort.c.minutes)).all() == [
            ("issues", 30)]
        # The same number as a discussion, and the same comment id on a discussion, are new rows.
        tx.conn.execute(threads.insert().values(thread_id="ghd-7", issue_number=7,
                                                target="discussions", created_at=NOW))
        tx.conn.execute(gh_comments.insert().values(
            target="discussions", comment_id=55, issue_number=7, author="bob",
            created_at=NOW, updated_at=NOW))
    with pytest.raises(sa.exc.IntegrityError), store.tx() as tx:
        tx.conn.execute(threads.insert().values(thread_id="th-2", issue_number=7,
                                                target="issues", created_at=NOW))
    store.close()


def _a_value(column: sa.Column[object], n: int) -> object:
    """A value of `column`'s type for row `n` (unique where a key needs it)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return n
    if isinstance(kind, sa.LargeBinary):
        return b"\x00raw\xff"
    if isinstance(kind, sa.Date):
        return dt.date(2026, 12, 1)
    if isinstance(kind, sa.DateTime | sa.types.TypeDecorator):
        return NOW
    return "issues" if column.name == "target" else f"{column.name}-{n}"


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005"])
def test_upgrade_from_each_revision_keeps_every_row(empty_database_url: str,
                                                    revision: str) -> None:
    """A row in every table at `revision` (written as the tables were then) is still there
    at head, on each engine."""
    from gateway.store.engine import create_engine
    from gateway.store.migrate import upgrade

    engine = create_engine(empty_database_url)
    upgrade(engine, revision)
    old = sa.MetaData()
    old.reflect(engine)
    with engine.begin() as conn:
        for table in old.sorted_tables:
            if table.name != "alembic_version":
                conn.execute(table.insert(), [{c.name: _a_value(c, n) for c in table.columns}
                                              for n in (1, 2)])
    engine.dispose()
    store = Store.open(empty_database_url)
    with store.read() as tx:
        for table in old.sorted_tables:
            if table.name != "alembic_version":
                count = tx.conn.execute(sa.select(sa.func.count()).select_from(
                    sa.table(table.name))).scalar()
                assert count == 2, table.name
    store.close()


def _customers_in_order(store: Store) -> list[str]:
    rec = Recorded(key="k1", verdict="new", reason="new-thread", detail="", thread_id="th-1",
                   new_thread=None, ids=(), outbox=(), customers=("b@x.org", "B@x.org", "a@x.org"))
    with store.tx() as tx:
        tx.insert_raw(key="k1", message_id=None, raw=b"x", received_at=NOW)
        tx.record(rec, now=NOW)
    with store.read() as tx:
        return tx.customers("th-1")


def test_text_sorts_by_its_bytes(store: Store) -> None:
    assert _customers_in_order(store) == ["B@x.org", "a@x.org", "b@x.org"]


def test_text_sorts_by_its_bytes_under_a_locale_collation(postgres: PostgresServer) -> None:
    """A PostgreSQL database made with a locale (here ICU's en-US: a < B < b) still sorts
    the store's text as SQLite does."""
    name = f"icu_{os.getpid()}"
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                     "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    try:
        store = Store.open(postgres.url(name))
        assert _customers_in_order(store) == ["B@x.org", "a@x.org", "b@x.org"]
        store.close()
    finally:
        postgres.drop_database(name)


def test_text_longer_than_its_declared_length_is_kept(store: Store) -> None:
    """SQLite keeps any length in a VARCHAR(n); so does PostgreSQL, where those columns are
    TEXT (migration 0006): hostile mail with a 1,000-character From address is stored, not
    an error on one engine only."""
    address, key = "x" * 1000 + "@example.org", "k" * 1000
    rec = Recorded(key=key, verdict="new", reason="r" * 200, detail="", thread_id="th-1",
                   new_thread=NewThread("th-1", None, key, "T", NOW, "a" * 200),
                   ids=(), outbox=(), customers=(address,))
    with store.tx() as tx:
        tx.insert_raw(key=key, message_id=None, raw=b"x", received_at=NOW, folder="f" * 300)
        tx.record(rec, now=NOW)
    with store.read() as tx:
        assert tx.customers("th-1") == [address]
    stored = store.get_message(key)
    assert stored is not None and stored.reason == "r" * 200


def test_a_schema_newer_than_this_version_is_refused_naming_the_fix(
        empty_database_url: str) -> None:
    from gateway.store.errors import DatabaseUnavailable

    Store.open(empty_database_url).close()
    engine = sa.create_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(DatabaseUnavailable, match="revision 9999, which a newer version") as exc:
        Store.open(empty_database_url)
    assert exc.value.key == "database.url" and "upgrade" in exc.value.fix
