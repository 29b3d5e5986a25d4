"""Response tracking end to end: the daemon creates the issue, a roster member comments on
GitHub, the emulator's signed webhook reaches the daemon, and the first response is recorded
with the right business-hour duration. With deliveries failing (the receiver "down"), the
reconcile loop records it instead; a redelivery afterwards changes nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.clock import ManualClock
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import REPO, WEBHOOK_SECRET, Daemon, free_port, setup_github, wait_for, write_config

pytestmark = pytest.mark.integration

LA = ZoneInfo("America/Los_Angeles")
# Monday 2026-03-02: mail at 09:00, answered at 14:30 -> 3 h morning + 1.5 h afternoon = 4.5 h.
ARRIVAL = dt.datetime(2026, 3, 2, 9, 0, tzinfo=LA)
ANSWER = dt.datetime(2026, 3, 2, 14, 30, tzinfo=LA)


@pytest.fixture
def world(tmp_path: Path, dovecot: DovecotServer) -> Iterator[tuple[Emulator, Daemon, Path]]:
    clock = ManualClock(ARRIVAL + dt.timedelta(minutes=1))
    emu = Emulator(seed=7, clock=clock)
    token = setup_github(emu)
    port = free_port()
    with emu.serve() as url:
        emu.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
        config = write_config(tmp_path, dovecot, url, web_port=port, reconcile_interval=1.0)
        daemon = Daemon(config, token=token, password=dovecot.password,
                        log=tmp_path / "daemon.log")
        daemon.start()
        try:
            wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server", daemon)
            yield emu, daemon, tmp_path / "state.db"
            assert daemon.stop() == 0
        finally:
            daemon.close()
    assert "Traceback" not in daemon.output()


def response(db: Path, number: int) -> tuple[str | None, str | None, str | None]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT first_response_by, first_response_at, arrived_at FROM threads "
                           "WHERE issue_number = ?", (number,)).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<track-{n}@univ.edu>", "Subject": f"[visit-users] Tracked {n}"},
               f"Question {n}\n")


def test_webhook_records_first_response_in_business_hours(
        world: tuple[Emulator, Daemon, Path], dovecot: DovecotServer) -> None:
    emu, daemon, db = world
    dovecot.append("INBOX", question(1), msg_time=ARRIVAL)
    wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", daemon)
    [issue] = emu.issues(REPO)
    emu.clock.set(ANSWER)  # type: ignore[attr-defined]
    emu.comment(REPO, issue.number, "Customer follow-up? no: the bot relays mail", user=
                "visit-users-bot")
    emu.comment(REPO, issue.number, "Use the Elevate operator.\n\n/spend 45m", user="cyrush")
    wait_for(lambda: response(db, issue.number)[0] == "cyrush", 20, "the first response",
             daemon)
    _by, at, arrived = response(db, issue.number)
    assert at is not None and arrived is not None
    answered = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
    came = dt.datetime.fromisoformat(arrived).replace(tzinfo=dt.UTC)
    assert answered == ANSWER.astimezone(dt.UTC) and came == ARRIVAL.astimezone(dt.UTC)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT login, minutes FROM effort").fetchall() == [("cyrush", 45)]
    port = daemon.config.read_text().split("[web]")[1].split("port = ")[1].split()[0]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    text = metrics.decode()
    # 4.5 business hours: counted in the 6-hour bucket, not in the 4-hour one.
    assert 'first_response_business_hours_bucket{le="4.0"} 0.0' in text
    assert 'first_response_business_hours_bucket{le="6.0"} 1.0' in text
    assert "visit_gateway_first_response_business_hours_sum 4.5" in text
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status == 200


def test_reconcile_records_what_a_missed_webhook_would_have(
        world: tuple[Emulator, Daemon, Path], dovecot: DovecotServer) -> None:
    emu, daemon, db = world
    dovecot.append("INBOX", question(2), msg_time=ARRIVAL)
    wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", daemon)
    [issue] = emu.issues(REPO)
    emu.webhooks.pause()  # the receiver is "down": GitHub will not redeliver by itself
    emu.clock.set(ANSWER)  # type: ignore[attr-defined]
    emu.comment(REPO, issue.number, "Answered while the gateway was down.", user="biagas")
    wait_for(lambda: response(db, issue.number)[0] == "biagas", 30,
             "reconcile to record the first response", daemon)
    wait_for(lambda: '"reconcile.applied"' in daemon.output(), 10, "the reconcile log", daemon)
    emu.webhooks.resume()
    emu.webhooks.redeliver_failed()  # an admin clicks "Redeliver": nothing changes
    emu.webhooks.wait_idle(10)
    assert response(db, issue.number)[0] == "biagas"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM gh_comments").fetchone()[0] == 1
