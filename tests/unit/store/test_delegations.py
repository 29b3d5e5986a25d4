"""The delegations table: added once, listed by window, cancelled; migration 0004 keeps data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.delegations import (
    DelegationRow,
    add_delegation,
    cancel_delegation,
    delegations_between,
    get_delegation,
)
from gateway.store.migrate import current_revision, head_revision
from gateway.store.schema import delegations

H = dt.timedelta(hours=1)
T13 = dt.datetime(2026, 12, 8, 21, tzinfo=dt.UTC)  # Tuesday 13:00 PST
T17 = T13 + 4 * H
NOW = T13 - H


def add(store: Store, start: dt.datetime = T13, until: dt.datetime = T17, *,
        to: str = "JustinPrivitera", now: dt.datetime = NOW) -> tuple[DelegationRow, bool]:
    with store.tx() as tx:
        return add_delegation(tx, from_login="biagas", to_login=to, start=start, until=until,
                              created_by="root", source="cli", now=now)


def between(store: Store, lo: dt.datetime, hi: dt.datetime, *,
            with_cancelled: bool = False) -> list[int]:
    with store.read() as tx:
        return [r.id for r in delegations_between(tx, lo, hi, with_cancelled=with_cancelled)]


def test_the_same_delegation_is_added_once(store: Store) -> None:
    first, added = add(store)
    assert added and first == DelegationRow(1, "biagas", "JustinPrivitera", T13, T17, NOW,
                                            "root", "cli")
    again, added = add(store, now=NOW + H)
    assert (again, added) == (first, False)
    other, added = add(store, until=T17 + H)
    assert added and other.id == 2
    with store.read() as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(delegations)
                               ).scalar() == 2


def test_listing_by_window(store: Store) -> None:
    add(store)  # 1: 13:00-17:00
    add(store, T17 + 16 * H, T17 + 20 * H)  # 2: Wednesday 09:00-13:00
    assert between(store, T13 - 24 * H, T13) == []  # half-open: ends as #1 starts
    assert between(store, T13, T13 + H) == [1]
    assert between(store, T17 - H, T17 + 24 * H) == [1, 2]
    assert between(store, T17, T17 + H) == []


def test_cancel_ends_one_in_force_and_voids_one_to_come(store: Store) -> None:
    add(store)
    add(store, T17 + 16 * H, T17 + 20 * H)
    with store.tx() as tx:
        ended = cancel_delegation(tx, 1, now=T13 + H, by="biagas")
        voided = cancel_delegation(tx, 2, now=T13 + H, by="root")
        missing = cancel_delegation(tx, 9, now=T13 + H, by="root")
    assert ended is not None and (ended.ends, ended.void, ended.cancelled_by) == (
        T13 + H, False, "biagas")
    assert voided is not None and (voided.ends, voided.void) == (voided.start, True)
    assert missing is None
    assert between(store, T13, T17) == [1]
    assert between(store, T13 + H, T17 + 24 * H) == []  # #1 ended at 14:00, #2 never began
    assert between(store, T13, T17 + 24 * H, with_cancelled=True) == [1, 2]
    with store.tx() as tx:  # cancelling again, or one that is over, changes nothing
        assert cancel_delegation(tx, 1, now=T13 + 2 * H, by="x") == ended
        assert get_delegation(tx, 1) == ended


def test_an_expired_one_is_left_alone(store: Store) -> None:
    add(store)
    with store.tx() as tx:
        row = cancel_delegation(tx, 1, now=T17 + H, by="root")
    assert row is not None and row.cancelled_at is None and row.ends == T17


def test_giving_a_cancelled_one_again_revives_it(store: Store) -> None:
    add(store)
    with store.tx() as tx:
        cancel_delegation(tx, 1, now=NOW, by="root")
    assert between(store, T13, T17) == []
    revived, added = add(store)
    assert added and revived.id == 1 and revived.cancelled_at is None
    assert between(store, T13, T17) == [1]


def test_upgrade_from_0003_keeps_data_and_adds_delegations(empty_database_url: str) -> None:
    from gateway.store.engine import create_engine
    from gateway.store.migrate import upgrade

    url = empty_database_url
    engine = create_engine(url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO threads (thread_id, issue_number, title, target, "
                             "created_at) VALUES ('th-1', 7, 'T', 'discussions', :now)"),
                     {"now": NOW.replace(tzinfo=None)})
        conn.execute(sa.text("INSERT INTO jobs (key, done_at) VALUES ('handoff:x', :now)"),
                     {"now": NOW.replace(tzinfo=None)})
    engine.dispose()
    store = Store.open(url)
    assert current_revision(store.engine) == head_revision()
    row = store.thread("th-1")
    assert row is not None and (row["issue_number"], row["target"]) == (7, "discussions")
    assert add(store)[1]
    store.close()


def test_downgrade_to_0003_drops_only_delegations(empty_database_url: str) -> None:
    from alembic import command

    from gateway.store.migrate import _alembic_config

    store = Store.open(empty_database_url)
    add(store)
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert current_revision(store.engine) == "0003"
    assert "delegations" not in sa.inspect(store.engine).get_table_names()
    assert "threads" in sa.inspect(store.engine).get_table_names()
    store.close()
