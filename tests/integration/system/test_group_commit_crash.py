"""Group commit under SIGKILL (issue 18), on both engines: `visit-gateway run` drains a
backlog in batches and is killed again and again while it writes, so some of its batches are
on GitHub and only `sending` in the database. Each restart finds them by their markers: at the
end every message is one issue, none twice, and every row is done."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.db import Store
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import REPO, Daemon, served_github, wait_for, write_config

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

MESSAGES = 200
KILL_AT = (40, 90, 140)  # issues on GitHub when the daemon is killed


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    with served_github(11) as served:
        yield served


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<crash-{n}@univ.edu>",
                "Subject": f"[visit-users] Crash question {n}"}, f"Question {n}.\n")


def test_sigkill_after_a_batch_of_posts_loses_and_duplicates_nothing(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        database_url: str) -> None:
    emu, url, token = emulator
    for n in range(MESSAGES):
        dovecot.append("INBOX", question(n))
    # request_timeout 1 s: rows left `sending` wait 2 s (twice it) before their lookup.
    config = write_config(tmp_path, dovecot, url, request_timeout=1.0,
                          database=f'url = "{database_url}"')
    daemon = Daemon(config, token=token, password=dovecot.password, log=tmp_path / "d.log")
    left_sending: list[int] = []
    try:
        for target in KILL_AT:
            daemon.start()
            deadline = time.monotonic() + 120
            while len(emu.issues(REPO)) < target and time.monotonic() < deadline:
                if not daemon.alive():
                    raise AssertionError(daemon.output()[-3000:])
                time.sleep(0.002)
            daemon.kill()
            store = Store.open(database_url, migrate=False)
            left_sending.append(len(store.outbox_rows(status="sending")))
            store.close()
        daemon.start()
        wait_for(lambda: len(emu.issues(REPO)) >= MESSAGES, 180, f"{MESSAGES} issues", daemon)
        store = Store.open(database_url, migrate=False)
        wait_for(lambda: not [r for r in store.outbox_rows()
                              if r["status"] in ("pending", "sending")
                              and r["kind"] != "send_mail"], 60, "the outbox to drain", daemon)
        rows = store.outbox_rows()
        store.close()
        time.sleep(1.0)  # a duplicate, if any, would appear now
        assert daemon.stop() == 0
    finally:
        daemon.close()
    titles = [issue.title for issue in emu.issues(REPO)]
    assert sorted(titles) == sorted(f"Crash question {n}" for n in range(MESSAGES))
    issues = [r for r in rows if r["kind"] == "create_issue"]
    assert len(issues) == MESSAGES and {r["status"] for r in issues} == {"done"}
    found = daemon.output().count('"github.found_existing"')
    print(f"group commit crash: {len(KILL_AT)} kills, rows left sending {left_sending}, "
          f"{found} found by marker after a restart")
