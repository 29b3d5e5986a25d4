"""Two instances (issue 18), end to end: on PostgreSQL one leads and one stands by, both answer
/healthz (role, healthy either way) and /metrics, a webhook sent to the standby is recorded,
and a clean stop of the leader hands over at once; on SQLite a second instance is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import REPO, WEBHOOK_SECRET, Daemon, free_port, served_github, wait_for, write_config

pytestmark = pytest.mark.integration

QUESTION = raw({"Message-ID": "<two-q@univ.edu>", "Subject": "[visit-users] Two hosts"},
               "Which host reads my mail?\n")
AFTER = raw({"Message-ID": "<two-q2@univ.edu>", "Subject": "[visit-users] After the handover"},
            "And now?\n")


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    with served_github(31) as served:
        yield served


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def health(port: int) -> tuple[int, dict[str, Any]]:
    status, body = get(port, "/healthz")
    return status, json.loads(body)


def metric(port: int, name: str) -> float:
    _, text = get(port, "/metrics")
    [line] = [x for x in text.splitlines() if x.startswith(name + " ")]
    return float(line.split()[1])


def post_webhook(port: int, payload: dict[str, Any], guid: str) -> int:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-GitHub-Event": "issue_comment",
                 "X-GitHub-Delivery": guid, "X-Hub-Signature-256": signature})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_leader_and_a_standby_share_the_work_and_hand_over_on_a_clean_stop(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        postgres_database) -> None:  # type: ignore[no-untyped-def]
    emu, url, token = emulator
    database = postgres_database()
    ports = {"a": free_port(), "b": free_port()}
    daemons = {}
    for name, port in ports.items():
        directory = tmp_path / name
        directory.mkdir()
        config = write_config(directory, dovecot, url, web_port=port,
                              database=f'url = "{database}"\ninstance_name = "{name}"\n'
                                       "standby_poll = 0.2")
        daemons[name] = Daemon(config, token=token, password=dovecot.password,
                               log=directory / "daemon.log")
    a, b = daemons["a"], daemons["b"]
    try:
        a.start()
        wait_for(lambda: '"leader.acquired"' in a.output(), 30, "a to lead", a)
        b.start()
        wait_for(lambda: '"leader.standby"' in b.output(), 30, "b to stand by", b)
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", a)
        [issue] = emu.issues(REPO)

        wait_for(lambda: health(ports["a"])[0] == 200, 20, "the leader healthy", a)
        status, body = health(ports["a"])
        assert body["checks"]["role"] == {"ok": True, "role": "leader", "instance": "a",
                                          "epoch": 1}
        status, body = health(ports["b"])
        assert status == 200 and set(body["checks"]) == {"role", "database"}
        role = body["checks"]["role"]
        assert (role["role"], role["leader"], role["epoch"]) == ("standby", "a", 1)
        assert role["lease_age_seconds"] < 15
        assert metric(ports["a"], "visit_gateway_leader") == 1.0
        assert metric(ports["b"], "visit_gateway_leader") == 0.0
        assert metric(ports["b"], "visit_gateway_lease_age_seconds") < 15

        # A team member's comment, delivered to the standby, is recorded: the first response.
        comment = emu.comment(REPO, issue.number, "Host a reads it.", user="cyrush")
        payload = {"action": "created",
                   "issue": {"number": issue.number, "user": {"login": "visit-users-bot"}},
                   "comment": {"id": comment.id, "user": {"login": "cyrush"},
                               "created_at": "2026-12-07T17:00:00Z", "body": comment.body},
                   "repository": {"full_name": REPO}}
        assert post_webhook(ports["b"], payload, "guid-1") == 200
        engine = sa.create_engine(database)
        try:
            with engine.connect() as conn:
                by = conn.execute(sa.text(
                    "SELECT first_response_by FROM threads WHERE issue_number = :n"),
                    {"n": issue.number}).scalar()
            assert by == "cyrush"
        finally:
            engine.dispose()

        assert a.stop() == 0  # a clean stop gives the lock back: b leads at its next poll
        wait_for(lambda: '"leader.acquired"' in b.output(), 10, "b to lead", b)
        dovecot.append("INBOX", AFTER)
        wait_for(lambda: len(emu.issues(REPO)) == 2, 30, "the next issue, from b", b)
        assert health(ports["b"])[1]["checks"]["role"]["role"] == "leader"
        assert b.stop() == 0
    finally:
        for daemon in daemons.values():
            daemon.close()
    assert "Traceback" not in a.output() + b.output()


def test_sqlite_refuses_a_second_instance_on_the_same_file(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    _emu, url, token = emulator
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    database = f'path = "{tmp_path / "shared.db"}"'
    first = Daemon(write_config(first_dir, dovecot, url, database=database), token=token,
                   password=dovecot.password, log=first_dir / "daemon.log")
    second = Daemon(write_config(second_dir, dovecot, url, database=database), token=token,
                    password=dovecot.password, log=second_dir / "daemon.log")
    try:
        first.start()
        wait_for(lambda: '"web.listening"' in first.output(), 30, "the first instance", first)
        second.start()
        assert second.process is not None
        assert second.process.wait(timeout=30) == 78
        assert f"another visit-gateway run (pid {first.process.pid})" in second.output()  # type: ignore[union-attr]
        assert "Traceback" not in second.output()
        assert first.alive() and first.stop() == 0
    finally:
        first.close()
        second.close()
