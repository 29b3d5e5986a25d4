"""Is it a known issue? end to end: `visit-gateway run` as a process with
`process.product_repository` set, a real Dovecot and the GitHub emulator, SIGKILLed at random
moments while GitHub's search fails now and then (errors, dropped connections) and the writes
fail before and after they are applied.

At the end every inquiry has been looked up and shown exactly once: in discussions mode one
notice each, the Silo inquiries' listing the Silo issue (unless their lookup gave up after its
attempts, which the log says), the others' with no matches section; in issues mode one comment
per Silo inquiry mentioning its assignee and none for the others."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator, FaultKind
from tests.unit.inbound.gfm_oracle import live_mentions
from tests.unit.mail import raw

from ..daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    Daemon,
    setup_discussions,
    setup_github,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration

PRODUCT = "visit-dav/visit"
SILO = 3  # inquiries about the Silo crash, and about something nobody filed
OTHER = 1


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str, int]]:
    emu = Emulator(seed=16)
    token = setup_github(emu)
    setup_discussions(emu)
    emu.add_user("alice")
    emu.add_repo(PRODUCT, private=False)
    silo = emu.create_issue(PRODUCT, "Silo reader crashes on 4.11 files", "segfault",
                            user="alice")
    emu.close_issue(PRODUCT, silo.number, user="alice")
    emu.create_issue(PRODUCT, "Pseudocolor plot of zonal variables", "blocky", user="alice")
    emu.set_limits(search=1000)  # restarts forget the search budget; not what is tested here
    with emu.serve() as url:
        yield emu, url, token, silo.number


@pytest.mark.parametrize("target", ["issues", "discussions"])
def test_kill9_and_search_faults_show_each_inquiry_once(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str, int],
        target: str) -> None:
    emu, url, token, silo = emulator
    rng = random.Random(16)
    emu.inject_fault(FaultKind.ERROR_BEFORE_WRITE, method="GET", path="/search/issues")
    for kind, probability in ((FaultKind.ERROR_BEFORE_WRITE, 0.1),
                              (FaultKind.DROP_BEFORE_WRITE, 0.05)):
        emu.inject_fault(kind, method="GET", path="/search/issues", times=None,
                         probability=probability)
    writes = "/graphql" if target == "discussions" else "/repos/{owner}/{repo}/issues*"
    for kind, probability in ((FaultKind.ERROR_AFTER_WRITE, 0.1),
                              (FaultKind.DROP_AFTER_WRITE, 0.05)):
        emu.inject_fault(kind, method="POST", path=writes, times=None, probability=probability)
    config = write_config(tmp_path, dovecot, url, poll_interval=1.0,
                          github_extra=DISCUSSIONS if target == "discussions" else "",
                          extra=f'\n[process]\nproduct_repository = "{PRODUCT}"\n')
    text = config.read_text()  # GitHub's whole search rate: the test is not about pacing
    config.write_text(text.replace("writes_per_hour = 100000",
                                   "writes_per_hour = 100000\nsearches_per_minute = 30"))
    daemon = Daemon(config, token=token, password=dovecot.password, log=tmp_path / "daemon.log")
    subjects = [f"Crash opening a Silo file, case {n}" for n in range(SILO)]
    subjects += [f"Contour levels ignored, case {n}" for n in range(OTHER)]
    rng.shuffle(subjects)

    def made() -> list[int]:
        if target == "discussions":
            return [d.number for d in emu.discussions(REPO)]
        return [i.number for i in emu.issues(REPO)]

    def shown() -> dict[int, list[str]]:
        if target == "discussions":
            return {n: [c.body for c in emu.discussion_comments(REPO, n) if c.user == BOT]
                    for n in made()}
        return {n: [c.body for c in emu.comments(REPO, n) if c.user == BOT] for n in made()}

    def settled() -> bool:
        try:
            with sqlite3.connect(tmp_path / "state.db") as conn:
                looked_up = conn.execute(
                    "SELECT count(*) FROM outbox WHERE kind = 'lookup_known_issues' AND "
                    "status = 'done'").fetchone()[0]
                waiting = conn.execute(
                    "SELECT count(*) FROM outbox WHERE kind != 'send_mail' AND "
                    "status IN ('pending', 'sending')").fetchone()[0]
        except sqlite3.OperationalError:  # not migrated yet
            return False
        return len(made()) == len(subjects) and looked_up == len(subjects) and waiting == 0

    def feed() -> None:  # while the daemon is being killed
        for n, subject in enumerate(subjects):
            dovecot.append("INBOX", raw({"Message-ID": f"<known-{n}@univ.edu>",
                                         "Subject": f"[visit-users] {subject}",
                                         "From": f"User {n} <user{n}@univ.edu>"},
                                        "Please help.\n"))
            time.sleep(1.0)

    feeder = threading.Thread(target=feed, name="known-issues-feeder")
    try:
        daemon.start()
        feeder.start()
        for _ in range(6):
            time.sleep(rng.uniform(0.8, 2.0))
            daemon.kill()
            daemon.start()
        feeder.join(timeout=30)
        wait_for(settled, 120, f"{len(subjects)} inquiries looked up and shown", daemon)
        time.sleep(2.0)  # a duplicate, if any, would appear now
        assert daemon.stop() == 0
    finally:
        daemon.close()

    titles = {d.number: d.title
              for d in (emu.discussions(REPO) if target == "discussions" else emu.issues(REPO))}
    assert sorted(titles.values()) == sorted(subjects)  # one each, none twice
    failed = _failed_lookups(tmp_path / "state.db")  # inquiry numbers whose lookup gave up
    gave_up = len(failed)
    found = 0
    for number, bodies in shown().items():
        silo_inquiry = "Silo" in titles[number]
        if target == "discussions":
            [notice] = bodies  # exactly one notice, whatever happened
            assert notice.startswith("**Primary:**") and len(live_mentions(notice)) == 1
            listed = "Possibly related" in notice
        else:
            assert len(bodies) <= 1, (titles[number], bodies)
            listed = bool(bodies)
            if bodies:
                [login] = emu.issue(REPO, number).assignees
                assert live_mentions(bodies[0]) == [f"@{login}"]
        assert not listed or silo_inquiry, titles[number]
        assert listed or not silo_inquiry or number in failed, titles[number]
        if listed:
            text = bodies[0]
            assert f"{PRODUCT}#{silo}" in text and "(closed)" in text
            assert text.count("Possibly related") == 1
            found += 1
    assert found >= 1, (found, gave_up)
    searches = [r for r in emu.request_log() if r.path == "/search/issues"]
    assert any(f.path == "/search/issues" for f in emu.faults_fired)
    print(f"known issues e2e ({target}): {daemon.starts - 1} SIGKILLs, {len(searches)} searches, "
          f"{len(emu.faults_fired)} faults, {found} shown, {gave_up} lookups gave up")
    assert "Traceback" not in daemon.output()


def _failed_lookups(database: Path) -> set[int]:
    """The inquiries (issue or discussion numbers) whose lookup completed without searching."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT t.issue_number, o.result FROM outbox o JOIN threads t "
            "ON t.thread_id = o.thread_id WHERE o.kind = 'lookup_known_issues'").fetchall()
    return {number for number, result in rows if "error" in json.loads(result)}
