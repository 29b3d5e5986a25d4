"""Restoring the state database from a backup, as docs/operations.md tells an admin to, with
every part real: `visit-gateway run` as a process, Dovecot, the GitHub emulator, aiosmtpd.

Mail processed after the backup is in the mailbox but not in the restored database, so the
daemon reads it again. After `visit-gateway outbox recheck` its writes look for their hidden
markers first: the issue and the comment GitHub already has are found, not posted again, and
the customer is not acknowledged a second time. Mail that arrives after the restore is
handled as usual."""

from __future__ import annotations

import email
import email.policy
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import REPO, ROOT, Daemon, free_port, setup_github, wait_for
from ..daemon import write_config as write_daemon_config

pytestmark = pytest.mark.integration


@dataclass
class Inbox:
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content))
        return "250 OK"

    def acks(self) -> list[str]:
        """The issue numbers acknowledged, in the order the mail went out."""
        found = []
        for data in list(self.messages):
            message = email.message_from_bytes(data, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
            if "tracked as issue #" in text:
                found.append(text.split("tracked as issue #", 1)[1].split(":", 1)[0])
        return found


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<restore-q{n}@univ.edu>",
                "Subject": f"[visit-users] Question {n}"}, f"How do I do thing {n}?\n")


def reply_to_first() -> bytes:
    return raw({"Message-ID": "<restore-r1@univ.edu>", "In-Reply-To": "<restore-q1@univ.edu>",
                "Subject": "Re: [visit-users] Question 1"}, "More detail on thing 1.\n")


def sqlite_backup(source: Path, target: Path) -> None:
    """What `sqlite3 state.db ".backup ..."` does, through Python's sqlite3 module."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_restore_then_recheck_finds_what_github_has_and_acks_nothing_twice(
        tmp_path: Path, dovecot: DovecotServer, smtp: tuple[Inbox, int]) -> None:
    inbox, smtp_port = smtp
    emu = Emulator(seed=31)
    token = setup_github(emu)
    db = tmp_path / "state.db"
    with emu.serve() as url:
        config = write_daemon_config(
            tmp_path, dovecot, url,
            extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "plain"\n')

        def run(log: str) -> Daemon:
            daemon = Daemon(config, token=token, password=dovecot.password,
                            log=tmp_path / log)
            daemon.start()
            return daemon

        # Day 1: a question, then the nightly backup.
        daemon = run("day1.log")
        try:
            dovecot.append("INBOX", question(1))
            wait_for(lambda: inbox.acks() == ["1"], 30, "issue #1 acknowledged", daemon)
            assert daemon.stop() == 0
        finally:
            daemon.close()
        sqlite_backup(db, tmp_path / "backup.db")

        # Day 2: a second question and a reply to the first; then the database is lost.
        daemon = run("day2.log")
        try:
            dovecot.append("INBOX", question(2))
            dovecot.append("INBOX", reply_to_first())
            wait_for(lambda: inbox.acks() == ["1", "2"]
                     and len(emu.comments(REPO, 1)) == 1, 30, "#2 and the comment", daemon)
            assert daemon.stop() == 0
        finally:
            daemon.close()

        # The restore, as docs/operations.md gives it.
        shutil.copyfile(tmp_path / "backup.db", db)
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"state.db{suffix}").unlink(missing_ok=True)
        recheck = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "outbox", "recheck", "--config", str(config)],
            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
        assert recheck.returncode == 0, recheck.stderr

        daemon = run("day3.log")
        try:
            # The mailbox hands day 2's mail over again; GitHub already has both writes.
            wait_for(lambda: daemon.output().count('"github.found_existing"') == 2, 30,
                     "both writes found on GitHub", daemon)
            # Mail after the restore works as usual. Its ack is queued after any (wrong) second
            # ack of #2 would have been, so once it is out, such an ack would be too.
            dovecot.append("INBOX", question(3))
            wait_for(lambda: "3" in inbox.acks(), 30, "issue #3 acknowledged", daemon)
            assert daemon.stop() == 0
        finally:
            daemon.close()
        assert "Traceback" not in daemon.output()

    assert sorted(issue.number for issue in emu.issues(REPO)) == [1, 2, 3]  # no duplicate
    assert len(emu.comments(REPO, 1)) == 1  # the reply, once
    assert inbox.acks() == ["1", "2", "3"]  # nobody acknowledged twice
    with sqlite3.connect(db) as conn:
        numbers = dict(conn.execute("SELECT root_key, issue_number FROM threads"))
    assert numbers == {"mid:<restore-q1@univ.edu>": 1, "mid:<restore-q2@univ.edu>": 2,
                       "mid:<restore-q3@univ.edu>": 3}
