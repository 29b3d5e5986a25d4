"""Integration fixtures. `github_emulator`: an empty in-memory GitHub served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.testing.github_emulator import Emulator


@pytest.fixture
def github_emulator() -> Iterator[Emulator]:
    """A fresh `Emulator` listening on 127.0.0.1:<ephemeral>; its URL is `.base_url`."""
    emulator = Emulator()
    with emulator.serve():
        yield emulator



@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """The [database] lines (for `daemon.write_config`) of an end-to-end test that runs on each
    engine (issue 18): the default SQLite file, or a new database on the private PostgreSQL."""
    if request.param == "sqlite":
        return ""
    make = request.getfixturevalue("postgres_database")
    return f'url = "{make()}"'
