"""Shared fixtures: the example configuration, and a store and a pipeline over a real database.

`store` (and so `pipeline`) runs each test twice, on SQLite (ids `sqlite`) and on a private
PostgreSQL server (`postgresql`, from tests/integration/conftest_postgres.py);
`empty_database_url` gives a migration test an empty database on either engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import settings

from gateway.config.loader import Config, load_config
from gateway.inbound.pipeline import Pipeline
from gateway.store.db import Store
from gateway.wiring import pipeline_settings

pytest_plugins = ["tests.integration.conftest_dovecot", "tests.integration.conftest_postgres"]

# No wall-clock limit on a hypothesis example (its default is 200 ms): speed is measured in
# bench/, never asserted, and the faked-clock runs go at the idle scheduling class.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
EXAMPLE_CONFIG = ROOT / "config" / "gateway.example.toml"
NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG, env={})


ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database: a SQLite file (migrated when opened), or a PostgreSQL database at the
    head revision with no rows."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_store_url")
    return url


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no tables) on each engine: for migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    make: Callable[..., str] = request.getfixturevalue("postgres_database")
    return make()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url, synchronous="normal")
    yield opened
    opened.close()


@pytest.fixture
def pipeline(store: Store, example_config: Config) -> Pipeline:
    return Pipeline(store, pipeline_settings(example_config), lambda _arrival: "primary-login")


def example_config_file(directory: Path, database: Path) -> Path:
    """The example configuration as `directory/gateway.toml`, with its state database at
    `database` and its schedule file found where it is: for tests of the command line."""
    text = EXAMPLE_CONFIG.read_text()
    for old, new in (('path = "/var/lib/visit-gateway/state.db"', f'path = "{database}"'),
                     ('file = "schedule.example.toml"',
                      f'file = "{EXAMPLE_CONFIG.parent.resolve() / "schedule.example.toml"}"')):
        assert old in text, f"the example config no longer says {old}"
        text = text.replace(old, new)
    path = directory / "gateway.toml"
    path.write_text(text)
    return path


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """For a test that calls `gateway.cli.main` in this process: main() configures logging for
    the whole process (a WARNING filter for most commands, a stream that closes after the test),
    so give the tests that run after it the configuration they had."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
