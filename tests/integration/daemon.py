"""Run `visit-gateway run` as a real subprocess against a real Dovecot and the GitHub emulator.

Used by the end-to-end and chaos tests: write a config pointing at the test servers, start the
daemon, wait for conditions with a deadline, stop it with SIGTERM or kill it with SIGKILL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.testing.dovecot import DovecotServer
from gateway.testing.dovecot import free_port as dovecot_free_port
from gateway.testing.github_emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
REPO = "visit-dav/live-customer-response"
BOT = "visit-users-bot"


def setup_github(emulator: Emulator) -> str:
    """The repository, the bot's token, and an assignable team (the example roster)."""
    token = emulator.add_token(BOT)
    emulator.add_repo(REPO)
    emulator.add_collaborator(REPO, BOT, "write")
    for login in ("markcmiller86", "cyrush", "biagas", "brugger1", "JustinPrivitera"):
        emulator.add_collaborator(REPO, login, "write")
    return token


@contextmanager
def served_github(seed: int, world: Callable[[Emulator], None] = lambda _emu: None,
                  ) -> Iterator[tuple[Emulator, str, str]]:
    """An emulator (`seed`) with `setup_github`'s world and then `world`'s, served over HTTP:
    (the emulator, its URL, the bot's token). The daemon tests' `emulator` fixtures."""
    emu = Emulator(seed=seed)
    token = setup_github(emu)
    world(emu)
    with emu.serve() as url:
        yield emu, url, token


WEBHOOK_SECRET = "chaos-and-order"


def commit_messages(url: str, token: str, repository: str, branch: str = "main") -> list[str]:
    """The messages of the commits on `branch` of `repository`, newest first, read over HTTP
    as any client would (GET git/ref, then git/commits up the first parents)."""
    def get(path: str) -> dict[str, Any]:
        request = urllib.request.Request(f"{url}/repos/{repository}/{path}",
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(json.loads(answer.read()))
    sha: str | None = get(f"git/ref/heads/{branch}")["object"]["sha"]
    messages = []
    while sha:
        commit = get(f"git/commits/{sha}")
        messages.append(str(commit["message"]))
        sha = commit["parents"][0]["sha"] if commit["parents"] else None
    return messages


DISCUSSIONS = """target = "discussions"
discussion_category = "Q&A"
discussion_labels = ["SRE"]"""


def setup_discussions(emulator: Emulator) -> None:
    """Discussions on in REPO, with the category and label DISCUSSIONS names (and one more
    category, for discussions that are no inquiries)."""
    emulator.enable_discussions(REPO)
    emulator.add_discussion_category(REPO, "Q&A")
    emulator.add_discussion_category(REPO, "Ideas", answerable=False)
    emulator.add_label(REPO, "SRE")


def free_port() -> int:
    """A free loopback port below the ephemeral range (why: `gateway.testing.dovecot.free_port`):
    the daemon's web port is restarted with clients (the emulator's webhooks) still calling it."""
    return dovecot_free_port()


def write_config(directory: Path, dovecot: DovecotServer, github_url: str, *,
                 extra: str = "", poll_interval: float = 2.0, web_port: int | None = None,
                 reconcile_interval: float = 5.0, mail_stale_after: float = 1800.0,
                 github_extra: str = "", database: str = "",
                 request_timeout: float = 5.0) -> Path:
    """`database`: lines added to [database] (a PostgreSQL `url`, the lease settings)."""
    schedule = ROOT / "config" / "schedule.example.toml"
    text = f"""
[database]
{"" if "path =" in database else f'path = "{directory / "state.db"}"'}
sqlite_synchronous = "full"
{database}

[imap]
host = "{dovecot.host}"
port = {dovecot.port}
security = "plain"
username = "{dovecot.username}"
poll_interval = {poll_interval}
fetch_batch = 25
timeout = 10

[github]
repository = "{REPO}"
api_url = "{github_url}"
bot_login = "{BOT}"
{github_extra}

[github.limits]
min_write_interval = 0.0
writes_per_minute = 100000
writes_per_hour = 100000
request_timeout = {request_timeout}
retry_base = 0.2
retry_max = 3.0

[schedule]
file = "{schedule}"

[web]
listen = "127.0.0.1"
port = {web_port or free_port()}

[tracking]
reconcile_interval = {reconcile_interval}
first_lookback_hours = 100000  # tests pin the emulator's clock in the past
mail_stale_after = {mail_stale_after}

[log]
level = "info"
format = "json"
{extra}
"""
    path = directory / "gateway.toml"
    path.write_text(text)
    return path


class Daemon:
    """One `visit-gateway run` process; its output goes to a log file in the test directory."""

    def __init__(self, config: Path, *, token: str, password: str, log: Path) -> None:
        self.config = config
        self.env = {**os.environ, "VISIT_GATEWAY_GITHUB_TOKEN": token,
                    "VISIT_GATEWAY_IMAP_PASSWORD": password,
                    "VISIT_GATEWAY_WEBHOOK_SECRET": WEBHOOK_SECRET}
        self.env.pop("VISIT_GATEWAY_CONFIG", None)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *, clock_at: dt.datetime | None = None) -> None:
        """Start it; with `clock_at`, the gateway's clock starts there and ticks
        (tests/integration/shifted_clock.py), so a test can watch a job fall due."""
        handle = self.log.open("ab")
        command = [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)]
        if clock_at is not None:
            command[1:3] = ["-m", "tests.integration.shifted_clock", clock_at.isoformat()]
        self.process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT,
        )
        handle.close()
        self.starts += 1

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             daemon: Daemon | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if daemon is not None and daemon.process is not None and not daemon.alive():
            raise AssertionError(f"daemon exited while waiting for {what}:\n"
                                 + daemon.output()[-4000:])
        time.sleep(0.1)
    tail = daemon.output()[-4000:] if daemon else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")
