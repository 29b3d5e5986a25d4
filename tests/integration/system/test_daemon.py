"""`visit-gateway run` end to end: a real Dovecot, the GitHub emulator over HTTP, the daemon as a
subprocess. Mail in, issues and comments out; ignored mail creates nothing; IDLE beats polling;
UIDVALIDITY changes and bad configuration are handled as documented."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.config.loader import load_config
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from gateway.wiring import assignee_function
from tests.unit.mail import raw

from ..daemon import REPO, Daemon, free_port, served_github, wait_for, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    with served_github(5) as served:
        yield served


def make_daemon(tmp_path: Path, dovecot: DovecotServer, url: str, token: str,
                **options: object) -> Daemon:
    config = write_config(tmp_path, dovecot, url, **options)  # type: ignore[arg-type]
    return Daemon(config, token=token, password=dovecot.password, log=tmp_path / "daemon.log")


def titles(emu: Emulator) -> list[str]:
    return [issue.title for issue in sorted(emu.issues(REPO), key=lambda i: i.number)]


def comment_bodies(emu: Emulator, number: int) -> list[str]:
    return [c.body for c in emu.comments(REPO, number)]


# A Tuesday in business hours; the example rotation names a Primary for it.
ARRIVAL = dt.datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
QUESTION = raw({"Message-ID": "<q1@univ.edu>", "Subject": "[visit-users] Pseudocolor of a zonal "
                "variable", "Cc": "Ana Lima <ana@univ.edu>"}, "How do I plot a zonal variable?\n")
CUSTOMER = raw({"Message-ID": "<q1.r1@univ.edu>", "In-Reply-To": "<q1@univ.edu>",
                "References": "<q1@univ.edu>", "Subject": "Re: [visit-users] Pseudocolor"},
               "More detail: it is a Silo file.\n")
COLLEAGUE = raw({"Message-ID": "<q1.r2@univ.edu>", "From": "Ana Lima <ana@univ.edu>",
                 "In-Reply-To": "<q1.r1@univ.edu>", "Subject": "Re: [visit-users] Pseudocolor"},
                "Same problem here with VisIt 3.4.\n")
REPLY_ALL = raw({"Message-ID": "<q1.r3@lab.gov>", "From": "Bob <bob@lab.gov>",
                 "References": "<q1@univ.edu> <q1.r2@univ.edu>",
                 "Subject": "Re: [visit-users] Pseudocolor"}, "Try the zonal setting.\n")
AUTO = raw({"Message-ID": "<ooo@univ.edu>", "Auto-Submitted": "auto-replied",
            "Subject": "Automatic reply: [visit-users] Pseudocolor"}, "I am away.\n")
NOTIFICATION = raw({"Message-ID": f"<{REPO}/issues/1/77@github.com>",
                    "From": "Cyrus <notifications@github.com>", "X-GitHub-Reason": "subscribed",
                    "Subject": f"Re: [{REPO}] Pseudocolor (Issue #1)"}, "A comment.\n")
BOUNCE = raw({"Message-ID": "<b1@mx.example.org>", "From": "MAILER-DAEMON@mx.example.org",
              "X-Failed-Recipients": "gone@example.org", "Subject": "Undeliverable"}, "Bounce\n")


def test_mail_becomes_an_assigned_issue_and_replies_comments_in_order(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        database: str) -> None:
    emu, url, token = emulator
    daemon = make_daemon(tmp_path, dovecot, url, token, database=database)
    daemon.start()
    try:
        # The arrival is the mailbox's INTERNALDATE: pinned, so the Primary expected below does
        # not depend on when the suite runs (a handoff between delivery and the check, say).
        for message in (QUESTION, CUSTOMER, COLLEAGUE, REPLY_ALL, AUTO, NOTIFICATION, BOUNCE):
            dovecot.append("INBOX", message, msg_time=ARRIVAL)
        wait_for(lambda: len(emu.issues(REPO)) == 1 and len(emu.comments(REPO)) >= 3, 30,
                 "the issue and three comments", daemon)
        time.sleep(1.0)  # anything else would show up now
        [issue] = emu.issues(REPO)
        assert issue.title == "Pseudocolor of a zonal variable"
        assert issue.labels == ["customer-response"]
        config = load_config(daemon.config, env={})
        expected = assignee_function(config)(ARRIVAL)
        assert expected is not None and issue.assignees == [expected]
        bodies = comment_bodies(emu, issue.number)
        assert len(bodies) == 3  # auto-reply, notification and bounce made nothing
        assert "it is a Silo file" in bodies[0]
        assert "Same problem here" in bodies[1]
        assert "Try the zonal setting" in bodies[2]
        flags = {uid: dovecot.flags("INBOX", uid) for uid in dovecot.uids("INBOX")}
        assert all("$Gatewayed" in f and "\\Seen" not in f for f in flags.values())
        assert daemon.stop() == 0
    finally:
        daemon.close()
    assert "Traceback" not in daemon.output()


def test_idle_delivers_without_waiting_for_the_poll_interval(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    daemon = make_daemon(tmp_path, dovecot, url, token, poll_interval=300.0)
    daemon.start()
    try:
        wait_for(lambda: '"imap.connected"' in daemon.output(), 20, "IMAP login", daemon)
        time.sleep(0.5)
        started = time.monotonic()
        dovecot.append("INBOX", QUESTION)
        # The poll would come 300 s after the first round: an issue within the suite's usual
        # 20 s wait can only have come through IDLE (the latency is measured in bench/).
        wait_for(lambda: len(emu.issues(REPO)) == 1, 20, "the issue", daemon)
        print(f"APPEND to issue over IDLE: {time.monotonic() - started:.2f}s")
        assert daemon.stop() == 0
    finally:
        daemon.close()


def test_uidvalidity_change_rereads_without_duplicates(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        database: str) -> None:
    emu, url, token = emulator
    daemon = make_daemon(tmp_path, dovecot, url, token, database=database)
    daemon.start()
    try:
        dovecot.append("INBOX", QUESTION)
        dovecot.append("INBOX", CUSTOMER)
        wait_for(lambda: len(emu.comments(REPO)) == 1, 30, "issue and comment", daemon)
        dovecot.reset_uidvalidity("INBOX", renumber=True)
        dovecot.append("INBOX", COLLEAGUE)
        wait_for(lambda: len(emu.comments(REPO)) == 2, 30, "the next comment", daemon)
        wait_for(lambda: '"imap.uidvalidity_changed"' in daemon.output(), 10,
                 "the UIDVALIDITY log line", daemon)
        time.sleep(1.0)
        assert len(emu.issues(REPO)) == 1 and len(emu.comments(REPO)) == 2
        assert daemon.stop() == 0
    finally:
        daemon.close()


def test_wrong_imap_password_exits_with_one_clear_line(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    _emu, url, token = emulator
    config = write_config(tmp_path, dovecot, url)
    daemon = Daemon(config, token=token, password="wrong", log=tmp_path / "daemon.log")
    daemon.start()
    assert daemon.process is not None
    assert daemon.process.wait(timeout=60) == 78
    out = daemon.output()
    assert "Traceback" not in out
    assert "imap" in out.lower() and "fix:" in out


@pytest.mark.parametrize("problem", ["revoked-token", "missing-repository"])
def test_bad_github_access_exits_with_one_clear_line(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        problem: str) -> None:
    emu, url, token = emulator
    extra = ""
    if problem == "revoked-token":
        emu.revoke_token(token)
    config = write_config(tmp_path, dovecot, url, extra=extra)
    if problem == "missing-repository":
        config.write_text(config.read_text().replace(REPO, "visit-dav/no-such-repo"))
    daemon = Daemon(config, token=token, password=dovecot.password, log=tmp_path / "daemon.log")
    daemon.start()
    assert daemon.process is not None
    assert daemon.process.wait(timeout=60) == 78
    out = daemon.output()
    assert "Traceback" not in out and "fix:" in out
    assert ("token" in out) if problem == "revoked-token" else ("no-such-repo" in out)


def test_unreachable_imap_server_is_retried_and_mail_flows_when_it_returns(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    dovecot.stop()
    daemon = make_daemon(tmp_path, dovecot, url, token)
    daemon.start()
    try:
        wait_for(lambda: daemon.output().count('"imap.reconnecting"') >= 2, 30,
                 "reconnect attempts", daemon)
        dovecot.start()
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 60, "the issue after IMAP returned",
                 daemon)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    assert "Traceback" not in daemon.output()


def test_healthz_reports_mail_piling_up_behind_a_dead_smtp_relay(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    """Issue 12: /healthz said 200 while every acknowledgement waited for an SMTP relay that
    was down. Mail older than tracking.mail_stale_after (1 s here) now makes it 503."""
    emu, url, token = emulator
    web_port, dead_smtp = free_port(), free_port()  # nothing listens on dead_smtp
    daemon = make_daemon(tmp_path, dovecot, url, token, web_port=web_port, mail_stale_after=1.0,
                         extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {dead_smtp}\n'
                               'security = "plain"\ntimeout = 2\n')
    daemon.start()
    try:
        dovecot.append("INBOX", QUESTION, msg_time=ARRIVAL)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", daemon)

        def health() -> tuple[int, dict[str, Any]]:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5)
                return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        wait_for(lambda: health()[0] == 503, 20, "/healthz to report the mail", daemon)
        status, body = health()
        mail = body["checks"]["mail"]
        assert status == 503 and mail["ok"] is False and mail["pending"] >= 1  # the ack, at least
        assert mail["oldest_pending_seconds"] > 1.0 and mail["last_error"]
        assert all(body["checks"][part]["ok"] for part in ("imap", "github", "database"))
        assert daemon.stop() == 0
    finally:
        daemon.close()
    assert "Traceback" not in daemon.output()
