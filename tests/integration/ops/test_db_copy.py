"""`visit-gateway db copy --to URL`: a SQLite deployment moved to a real PostgreSQL, every row
kept (large raw messages, aware timestamps, bytes, booleans, negative ids), verified, the ids
continuing after the copied ones; a target with rows is refused unless --replace; a copy that
differs is caught by the digest."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store.copy import copy_database, table_digest, tables
from gateway.store.db import Store
from gateway.store.engine import create_engine
from gateway.store.migrate import upgrade
from gateway.store.schema import delegations, messages, outbox

from ...conftest import example_config_file
from ..cli import run_cli

T0 = dt.datetime(2026, 3, 5, 18, 0, 0, 123456, tzinfo=dt.UTC)
ROWS = 1100  # messages: more than two batches


def cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(config))


def _value(column: sa.Column[object], n: int) -> object:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.BigInteger):
        return -n if column.name == "comment_id" and n % 3 == 0 else 10**12 + n
    if isinstance(kind, sa.Integer):
        return n
    if isinstance(kind, sa.LargeBinary):
        return bytes(range(256)) * (8192 if n == 1 else 1) + n.to_bytes(4, "big")
    if isinstance(kind, sa.Date):
        return dt.date(2026, 3, 1) + dt.timedelta(days=n % 28)
    if isinstance(kind, sa.DateTime | sa.types.TypeDecorator):
        return None if column.nullable and n % 5 == 0 else T0 + dt.timedelta(minutes=n)
    if column.name == "target":
        return "issues" if n % 2 else "discussions"
    if column.nullable and n % 7 == 0:
        return None
    return f"{column.name}-{n} ünïcödé ✓"[: getattr(kind, "length", None) or 100]


def fill(url: str) -> dict[str, int]:
    """Rows in every table (ids left to the database); how many per table."""
    store = Store.open(url)
    counts = {}
    with store.tx() as tx:
        for table in tables():
            n_rows = ROWS if table is messages else 40
            automatic = table.autoincrement_column
            tx.conn.execute(table.insert(), [
                {c.name: _value(c, n) for c in table.columns if c is not automatic}
                for n in range(1, n_rows + 1)])
            counts[table.name] = n_rows
    store.close()
    return counts


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    database = tmp_path / "state.db"
    counts = fill(f"sqlite:///{database}")
    return example_config_file(tmp_path, database), counts


def test_a_sqlite_deployment_is_copied_row_for_row(
        deployment: tuple[Path, dict[str, int]], postgres_database: Callable[..., str],
        tmp_path: Path) -> None:
    config, counts = deployment
    url = postgres_database()
    done = cli("db", "copy", "--to", url, config=config)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"copying sqlite:///{tmp_path / 'state.db'} to {url}"
    assert lines[-1] == (f"copied {sum(counts.values())} rows in {len(counts)} tables; every "
                         "table verified (counts and digests of every row)")
    for table, rows in counts.items():
        assert any(line.split()[:2] == [table, str(rows)] and line.endswith("same")
                   for line in lines), (table, done.stdout)

    source, target = Store.open(f"sqlite:///{tmp_path / 'state.db'}"), Store.open(url)
    with source.read() as old, target.read() as new:
        for table in tables():
            order = list(table.primary_key.columns)
            assert (old.conn.execute(sa.select(table).order_by(*order)).all()
                    == new.conn.execute(sa.select(table).order_by(*order)).all()), table.name
    first = source.get_message(_value(messages.c.key, 1))  # type: ignore[arg-type]
    big = target.get_message(_value(messages.c.key, 1))  # type: ignore[arg-type]
    assert big == first
    assert big is not None and len(big.raw) == 256 * 8192 + 4
    # New rows continue after the copied ids.
    with target.tx() as tx:
        tx.insert_raw(key="new", message_id=None, raw=b"x", received_at=T0)
        made = tx.conn.execute(delegations.insert().values(
            from_login="a", to_login="b", start_at=T0, until_at=T0, created_at=T0,
            created_by="root", source="cli")).inserted_primary_key
    assert (target.get_message("new") or pytest.fail("no row")).seq == ROWS + 1
    assert made is not None and made[0] == counts["delegations"] + 1
    source.close()
    target.close()


def test_a_target_with_rows_is_refused_unless_replaced(
        deployment: tuple[Path, dict[str, int]], postgres_database: Callable[..., str]) -> None:
    config, counts = deployment
    url = postgres_database()
    assert cli("db", "copy", "--to", url, config=config).returncode == 0
    again = cli("db", "copy", "--to", url, config=config)
    assert again.returncode == 2
    assert "already holds rows (in delegations, deliveries," in again.stderr
    assert "--replace" in again.stderr and again.stdout.count("\n") <= 1
    replaced = cli("db", "copy", "--to", url, "--replace", config=config)
    assert replaced.returncode == 0, replaced.stderr
    target = Store.open(url)
    assert len(target.outbox_rows()) == counts["outbox"]
    target.close()


def test_bad_targets_are_one_line(deployment: tuple[Path, dict[str, int]],
                                  tmp_path: Path) -> None:
    config, _counts = deployment
    missing = cli("db", "copy", config=config)
    assert missing.returncode == 2 and "--to URL" in missing.stderr
    itself = cli("db", "copy", "--to", f"sqlite:///{tmp_path / 'state.db'}", config=config)
    assert itself.returncode == 2 and "the configured database itself" in itself.stderr
    nonsense = cli("db", "copy", "--to", "nonsense", config=config)
    assert nonsense.returncode == 2 and "--to: not a database URL" in nonsense.stderr
    assert "Traceback" not in missing.stderr + itself.stderr + nonsense.stderr


def test_the_digest_sees_a_changed_row_and_ignores_row_order(
        tmp_path: Path, postgres_database: Callable[..., str]) -> None:
    source_url = f"sqlite:///{tmp_path / 'state.db'}"
    fill(source_url)
    source, target = create_engine(source_url), create_engine(postgres_database())
    upgrade(target)
    copies = copy_database(source, target, batch=7)
    assert all(c.same for c in copies)
    with target.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == 3).values(payload="changed"))
    assert table_digest(target, outbox) != table_digest(source, outbox)
    assert table_digest(target, messages, batch=3) == table_digest(source, messages, batch=50)
    source.dispose()
    target.dispose()
