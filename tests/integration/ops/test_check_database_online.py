"""`check-config --online` on a PostgreSQL database (issue 18): it connects, says where the
schema is against this version, who leads, and names the fix for a newer schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.config.loader import load_config
from gateway.ops.checks import check_database_online
from gateway.store.db import Store
from gateway.store.leader import Leadership

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "gateway.example.toml"


def config_for(tmp_path: Path, url: str):  # type: ignore[no-untyped-def]
    text = EXAMPLE.read_text().replace('url = ""', f'url = "{url}"', 1)
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_check_config_online_reads_the_schema_and_the_leader(
        tmp_path: Path, postgres_database) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    url = postgres_database()
    config = config_for(tmp_path, url)
    check = check_database_online(config)
    assert check.ok and "no tables yet" in check.detail
    store = Store.open(url)
    try:
        check = check_database_online(config)
        assert check.ok and "schema at this version's revision" in check.detail
        leader = Leadership(store.engine, instance="host-a", lease=dt.timedelta(seconds=15))
        assert leader.try_acquire()
        check = check_database_online(config)
        assert "host-a leads (epoch 1" in check.detail
        leader.release()
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        check = check_database_online(config)
        assert not check.ok and "newer visit-gateway" in check.detail
        assert "upgrade" in check.fix
    finally:
        store.close()


def test_a_server_that_does_not_answer_names_the_setting(tmp_path: Path) -> None:
    config = config_for(tmp_path, "postgresql+psycopg://gateway@127.0.0.1:1/gateway")
    check = check_database_online(config)
    assert not check.ok and "database.url" in check.fix
