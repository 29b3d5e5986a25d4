"""Shared fixtures: the example configuration and a pipeline over a real SQLite store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config.loader import Config, load_config
from gateway.inbound.pipeline import Pipeline
from gateway.store.db import Store
from gateway.wiring import pipeline_settings

pytest_plugins = ["tests.integration.conftest_dovecot"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
EXAMPLE_CONFIG = ROOT / "config" / "gateway.example.toml"
NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG, env={})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'state.db'}", synchronous="normal")
    yield opened
    opened.close()


@pytest.fixture
def pipeline(store: Store, example_config: Config) -> Pipeline:
    return Pipeline(store, pipeline_settings(example_config), lambda _arrival: "primary-login")
