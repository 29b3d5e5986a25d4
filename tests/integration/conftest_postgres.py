"""Pytest plugin: a real PostgreSQL server for the store's tests on both engines.

Registered from the top-level conftest. Fixtures:

``postgres``
    Session-scoped: one private ``PostgresServer`` per test process (each xdist worker has
    its own; starting one takes about a second), stopped at the end of the session.
``postgres_store_url``
    The URL of a database at the head revision with no rows: migrated once per session, and
    emptied before each test (sessions ended, rows deleted, sequences restarted: ~20 ms, where
    cloning a database copies its whole catalog in ~300 ms).
``postgres_database``
    ``make(template="template0") -> url``: a new database for this test (no tables: for
    migration tests and copies), or a clone of another one; every database made is dropped at
    teardown.

When PostgreSQL is not installed the fixtures raise ``PostgresNotInstalledError``, whose
message says to run ``scripts/install-test-servers``: the tests error out, never skip. A failing
test's report gets the tail of the server's log.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from gateway.store.db import Store
from gateway.testing.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_head(postgres: PostgresServer) -> str:
    name = postgres.create_database("gateway_head")
    Store.open(postgres.url(name)).close()
    return name


@pytest.fixture
def postgres_store_url(postgres: PostgresServer, postgres_head: str) -> str:
    postgres.empty(postgres_head)
    return postgres.url(postgres_head)


@pytest.fixture
def postgres_database(postgres: PostgresServer) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(template: str = "template0") -> str:
        name = postgres.create_database(template=template)
        made.append(name)
        return postgres.url(name)

    yield make
    for name in made:
        postgres.drop_database(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach the PostgreSQL log tail to the report of a failed test that used it."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    server = getattr(item, "funcargs", {}).get("postgres")
    if server is None and "postgres" in getattr(item, "fixturenames", ()):
        server = item._request.getfixturevalue("postgres")  # type: ignore[attr-defined]
    if isinstance(server, PostgresServer):
        report.sections.append(("postgres log", server.log_tail(60)))
