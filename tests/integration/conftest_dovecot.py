"""Pytest plugin: real Dovecot IMAP servers for integration tests.

Register it once from the top-level conftest (``pytest_plugins = ["tests.integration.
conftest_dovecot"]``), or import the fixtures into a test module by name.

Fixtures (all function-scoped: a private Dovecot starts in ~0.1 s, so every test gets its
own server, mailbox and ports, and nothing leaks between tests):

``dovecot``
    A started ``DovecotServer`` without TLS; user ``dovecot.username`` /
    ``dovecot.password`` on ``dovecot.host:dovecot.port``.
``dovecot_tls``
    Same with ``tls=True``: implicit TLS on ``tls_port``, STARTTLS on ``port``; trust
    ``ca_path`` (or use ``ssl_context()``).
``dovecot_factory``
    ``make(**options) -> DovecotServer`` for other options (``disable_capabilities=("IDLE",)``,
    ``idle_notify_interval=1``, more users, ...); every server made is closed at teardown.

When Dovecot is not installed the fixtures raise ``DovecotNotInstalledError``, whose message
says to run ``scripts/install-test-servers``: the tests error out, they are never skipped.
When this module is registered as a plugin, a failing test's report also gets the tail of
each of its servers' logs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from gateway.testing.dovecot import DovecotServer


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    with DovecotServer() as server:
        yield server


@pytest.fixture
def dovecot_tls() -> Iterator[DovecotServer]:
    with DovecotServer(tls=True) as server:
        yield server


@pytest.fixture
def dovecot_factory() -> Iterator[Callable[..., DovecotServer]]:
    servers: list[DovecotServer] = []

    def make(**options: Any) -> DovecotServer:
        server = DovecotServer(**options)
        servers.append(server)
        return server.start()

    yield make
    errors: list[BaseException] = []
    for server in servers:
        try:
            server.close()
        except Exception as exc:  # close the others anyway
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach the Dovecot log tail to the report of a failed test (plugin mode only)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    for name, value in funcargs.items():
        if isinstance(value, DovecotServer):
            report.sections.append((f"dovecot log ({name})", value.log_tail(60)))
