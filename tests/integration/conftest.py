"""Integration fixtures. `github_emulator`: an empty in-memory GitHub served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from gateway.testing.github_emulator import Emulator


@pytest.fixture
def github_emulator() -> Iterator[Emulator]:
    """A fresh `Emulator` listening on 127.0.0.1:<ephemeral>; its URL is `.base_url`."""
    emulator = Emulator()
    with emulator.serve():
        yield emulator


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """For a test that calls `gateway.cli.main` in this process: main() configures logging for
    the whole process (a WARNING filter for most commands), so give the tests that run after it
    the configuration they had."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
