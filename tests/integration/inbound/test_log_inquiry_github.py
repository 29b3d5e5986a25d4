"""A logged call all the way to GitHub (issue 16): `visit-gateway log-inquiry` queues, then the
real writer (what `visit-gateway run` runs) creates it in the GitHub emulator, twenty minutes
after the call. The issue shows who logged the call and the masked customer and is assigned to
the Primary of the call's time; the first-response clock started at the call (the reminder at
75% of the goal comes three business hours after the call, not after the issue was made); no
acknowledgement without --ack, one with it. In discussions mode it is a labelled discussion
with the Primary's notice."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.components import make_notifier
from gateway.config.loader import load_config
from gateway.duty.load import load_duties
from gateway.outbound.outbox import Outbox
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.testing.github_emulator import Emulator
from gateway.weekly.notify import Notifier
from tests.unit.inbound.gfm_oracle import live_mentions

from ...conftest import example_config_file
from ..daemon import BOT, DISCUSSIONS, REPO, setup_discussions, setup_github
from ..harness import drain, github_writer

pytestmark = pytest.mark.integration
LA = ZoneInfo("America/Los_Angeles")
CALLED = dt.datetime(2026, 3, 5, 10, 0, tzinfo=LA)  # Thursday of cyrush's week


@dataclass
class World:
    config: Path
    clock: ManualClock
    emulator: Emulator
    store: Store
    writer: GitHubWriter
    notifier: Notifier

    def log(self, *extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "log-inquiry", "--config", str(self.config),
             "--customer", "Jane Roe <jane.roe@univ.edu>", "--at", CALLED.isoformat(),
             "--subject", "Silo reader crashes", "--by", "biagas", *extra],
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        # The command queued its rows at the machine's time; the writer runs on the manual
        # clock of the day of the call (twenty minutes after it): make them due there.
        box = Outbox(self.store)
        for row in self.store.outbox_rows(status="pending"):
            assert box.retry(str(row["key"]), self.clock.now())
        return done.stdout

    def drain(self) -> None:
        drain(self.writer, max_steps=50)

    def thread(self) -> sa.Row[tuple[object, ...]]:
        with self.store.read() as tx:
            return tx.conn.execute(sa.select(threads)).one()

    def mail_rows(self) -> list[dict[str, object]]:
        return [row for row in self.store.outbox_rows() if row["kind"] == "send_mail"]


def world(tmp_path: Path, discussions: bool) -> Iterator[World]:
    path = example_config_file(tmp_path, tmp_path / "state.db")
    if discussions:
        text = path.read_text()
        path.write_text(text.replace('target = "issues"\n', "")
                        .replace('discussion_category = ""\n', "")
                        .replace('discussion_labels = ["SRE"]\n', "")
                        .replace("[github]\n", f"[github]\n{DISCUSSIONS}\n", 1))
    config = load_config(path, env={})
    assert config.github.target == ("discussions" if discussions else "issues")
    clock = ManualClock(CALLED + dt.timedelta(minutes=20))
    emulator = Emulator(seed=16, clock=clock)
    token = setup_github(emulator)
    if discussions:
        setup_discussions(emulator)
    store = Store.open(config.database_url(), synchronous="normal")
    notifier = make_notifier(config, store, load_duties(config))
    with emulator.serve() as url:
        writer = github_writer(store, clock, url, token, discussions=discussions,
                               on_issue_created=notifier.ack_row)
        try:
            yield World(path, clock, emulator, store, writer, notifier)
        finally:
            store.close()


@pytest.fixture
def issues_world(tmp_path: Path) -> Iterator[World]:
    yield from world(tmp_path, discussions=False)


@pytest.fixture
def discussions_world(tmp_path: Path) -> Iterator[World]:
    yield from world(tmp_path, discussions=True)


def test_a_phone_call_becomes_an_issue_whose_clock_started_at_the_call(
        issues_world: World) -> None:
    w = issues_world
    (w.config.parent / "notes.txt").write_text("She cannot open a Silo 4.11 file.\n")
    assert "for @cyrush" in w.log("--via", "phone", "--body-file",
                                  str(w.config.parent / "notes.txt"))
    w.drain()
    [issue] = w.emulator.issues(REPO)
    assert issue.title == "Silo reader crashes" and issue.assignees == ["cyrush"]
    assert issue.labels == ["customer-response"] and issue.user == BOT
    assert issue.body.startswith(
        "Logged by Kathleen Biagas (`biagas`) from a phone call with **Jane Roe** "
        "(`j…@univ.edu`) on Thu 2026-03-05 10:00 PST.\n\nShe cannot open a Silo 4.11 file.\n\n"
        "<!-- visit-gateway:msg=")
    assert live_mentions(issue.body) == []
    thread = w.thread()
    assert thread.issue_number == issue.number
    assert thread.arrived_at == CALLED.astimezone(dt.UTC)
    assert issue.created_at == (CALLED + dt.timedelta(minutes=20)).astimezone(dt.UTC)
    assert w.mail_rows() == []  # no --ack: the caller gets no mail

    # The clock started at the call: 3 business hours (75% of 4) after Thursday 10:00 is 14:00.
    reminder = f"reminder:{thread.thread_id}"
    assert reminder not in w.notifier.tick(dt.datetime(2026, 3, 5, 13, 59, tzinfo=LA))
    assert reminder in w.notifier.tick(dt.datetime(2026, 3, 5, 14, 0, tzinfo=LA))

    # Logged again once it exists: it says which issue it is.
    again = w.log("--via", "phone")
    assert again.startswith("already logged") and f"issue #{issue.number}" in again
    w.drain()
    assert len(w.emulator.issues(REPO)) == 1


def test_a_walk_in_with_ack_is_acknowledged(issues_world: World) -> None:
    w = issues_world
    w.log("--via", "walk-in", "--ack")
    w.drain()
    [issue] = w.emulator.issues(REPO)
    assert "from a visit in person by **Jane Roe**" in issue.body
    assert "*(no notes)*" in issue.body
    [ack] = w.mail_rows()
    payload = ack["payload"]
    assert isinstance(payload, str) and '"kind": "ack"' in payload
    assert "jane.roe@univ.edu" in payload and f"/issues/{issue.number}" in payload


def test_in_discussions_mode_it_is_a_discussion(discussions_world: World) -> None:
    w = discussions_world
    assert 'new discussion "Silo reader crashes" for @cyrush' in w.log("--via", "phone")
    w.drain()
    assert w.emulator.issues(REPO) == []
    [discussion] = w.emulator.discussions(REPO)
    assert discussion.title == "Silo reader crashes" and discussion.labels == ["SRE"]
    assert discussion.body.startswith(
        "Logged by Kathleen Biagas (`biagas`) from a phone call with **Jane Roe** ")
    notice = [c.body for c in w.emulator.discussion_comments(REPO, discussion.number)
              if c.user == BOT]
    assert len(notice) == 1 and live_mentions(notice[0]) == ["@cyrush"]
    thread = w.thread()
    assert (thread.target, thread.issue_number, thread.arrived_at, thread.assignee) == (
        "discussions", discussion.number, CALLED.astimezone(dt.UTC), "cyrush")
    assert w.mail_rows() == []
