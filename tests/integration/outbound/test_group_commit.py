"""Group commit in the GitHub writer and the mail sender (issue 18), on both engines, against
the emulator over HTTP: commits per row counted (not timed), and the guarantees kept — a crash
after a batch's writes and before the commit that records them loses and duplicates nothing,
a thread's rows stay in order, pacing still sends one row at a time, the guard is asked before
every write."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.inbound.pipeline import Pipeline
from gateway.outbound.github import GitHubTracker
from gateway.outbound.outbox import MARKED_KINDS, Outbox
from gateway.outbound.pacing import WriteBudget
from gateway.outbound.writer import BATCH, GitHubWriter
from gateway.store.db import Store, Tx
from gateway.store.values import OutboxRow
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

pytestmark = pytest.mark.integration

REPO = "visit-dav/live-customer-response"
BOT = "visit-users-bot"
# The instant the test starts at, shared by the writer and the emulator (a Tuesday morning in
# Los Angeles); it moves only when `World.drain` waits what the writer asks for.
T0 = dt.datetime(2026, 12, 8, 18, 0, tzinfo=dt.UTC)


class Crash(BaseException):
    """The process dying: nothing after it runs (not an Exception: nobody catches it)."""


@dataclass
class World:
    emulator: Emulator
    url: str
    token: str
    pipeline: Pipeline
    store: Store
    outbox: Outbox
    commits: list[int]
    clock: ManualClock

    def writer(self, *, interval: float = 0.0) -> GitHubWriter:
        def tracker() -> GitHubTracker:
            return GitHubTracker(api_url=self.url, token=self.token, repository=REPO,
                                 bot_login=BOT, timeout=5, secondary_wait=60)

        def acknowledge(tx: Tx, thread: str, number: int) -> OutboxRow:
            return OutboxRow(key=f"ack:{thread}", kind="send_mail", thread_id=thread,
                             message_key=None, payload={"issue": number})

        budget = WriteBudget(min_interval=dt.timedelta(seconds=interval), per_minute=10000,
                             per_hour=100000)
        return GitHubWriter(self.outbox, tracker, budget, self.clock, seed=1,
                            backoff_base=0.01, on_issue_created=acknowledge)

    def drain(self, writer: GitHubWriter, *, max_steps: int = 400) -> None:
        for _ in range(max_steps):
            if not [i for i in self.outbox.open_items() if i.kind != "send_mail"]:
                return
            delay = writer.step()
            if delay:  # the wait the writer asks for, on the shared clock
                self.clock.advance(dt.timedelta(seconds=delay))
        raise AssertionError("outbox did not drain")

    def mail(self, *messages: bytes) -> None:
        now = self.clock.now()
        for message in messages:
            self.pipeline.process(self.pipeline.ingest(message, received_at=now).key, now=now)


@pytest.fixture
def world(store: Store, pipeline: Pipeline) -> Iterator[World]:
    clock = ManualClock(T0)
    emulator = Emulator(seed=5, clock=clock)
    token = emulator.add_token(BOT)
    emulator.add_repo(REPO)
    for login in (BOT, "primary-login"):
        emulator.add_collaborator(REPO, login, "write")
    commits = [0]

    def count(_conn: Any) -> None:
        commits[0] += 1

    sa.event.listen(store.engine, "commit", count)
    with emulator.serve() as url:
        yield World(emulator, url, token, pipeline, store, Outbox(store), commits, clock)
    sa.event.remove(store.engine, "commit", count)


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<gq{n}@univ.edu>", "Subject": f"[visit-users] Question {n}"},
               f"How do I do thing {n}?\n")


def reply(n: int, k: int) -> bytes:
    parent = f"<gq{n}@univ.edu>" if k == 1 else f"<gr{n}.{k - 1}@lab.gov>"
    return raw({"Message-ID": f"<gr{n}.{k}@lab.gov>", "From": f"Colleague {k} <c{k}@lab.gov>",
                "In-Reply-To": parent, "Subject": f"Re: [visit-users] Question {n}"},
               f"Reply {k} to question {n}.\n")


def titles(world: World) -> list[str]:
    return sorted(i.title for i in world.emulator.issues(REPO))


def acks(world: World) -> list[str]:
    return [r["key"] for r in world.store.outbox_rows() if r["key"].startswith("ack:")]


def test_a_backlog_costs_a_fraction_of_a_commit_per_row(world: World) -> None:
    count = 3 * BATCH
    world.mail(*(question(n) for n in range(count)))
    before = world.commits[0]
    world.drain(world.writer())
    rows = len(world.outbox.items(status="done"))
    commits = world.commits[0] - before
    assert rows == count and titles(world) == sorted(f"Question {n}" for n in range(count))
    # One row at a time took two commits per row (sending, then done); a batch takes about
    # one for all its rows.
    assert commits <= count / 8, f"{commits} commits for {rows} rows"
    assert len(acks(world)) == count


def test_pacing_still_spaces_the_writes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.mail(*(question(n) for n in range(6)))
    writer = world.writer(interval=2.0)
    assert writer.step() is None
    assert len(world.emulator.issues(REPO)) == 1  # one write, then the budget waits
    assert (writer.step() or 0) > 1.0
    posted: list[dt.datetime] = []
    create = GitHubTracker.create_issue

    def timed(self: GitHubTracker, *args: Any) -> Any:
        posted.append(world.clock.now())
        return create(self, *args)

    monkeypatch.setattr(GitHubTracker, "create_issue", timed)
    writer.budget.min_interval = dt.timedelta(seconds=0.1)
    writer.budget.paused_until = None
    writer.budget.seed([])
    world.drain(writer)
    assert len(posted) == 5
    gaps = [b - a for a, b in itertools.pairwise(posted)]
    # Spaced by the budget, on the writer's clock (slots are taken when a row is marked).
    assert min(gaps) >= dt.timedelta(seconds=0.1), gaps


def test_a_threads_rows_stay_in_order_across_batches(world: World) -> None:
    messages = []
    for k in range(4):  # interleaved: question n's k-th reply arrives after every question
        messages += [question(n) if k == 0 else reply(n, k) for n in range(10)]
    world.mail(*messages)
    world.drain(world.writer())
    for issue in world.emulator.issues(REPO):
        n = int(issue.title.split()[-1])
        bodies = [c.body for c in world.emulator.comments(REPO, issue.number)]
        assert [re.search(r"Reply \d+ to question \d+\.", b).group(0)  # type: ignore[union-attr]
                for b in bodies] == [
            f"Reply {k} to question {n}." for k in range(1, 4)], bodies


def test_a_crash_before_a_batch_is_recorded_loses_and_duplicates_nothing(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    count = BATCH + 5
    world.mail(*(question(n) for n in range(count)), reply(0, 1))
    writer = world.writer()
    commit = Outbox.commit

    def dies_before_recording(self: Outbox, outcomes: Any, marks: Any, now: Any) -> None:
        if outcomes:
            raise Crash  # the POSTs were made; the process dies before their commit
        commit(self, outcomes, marks, now)

    monkeypatch.setattr(Outbox, "commit", dies_before_recording)
    with pytest.raises(Crash):
        writer.step()
    monkeypatch.setattr(Outbox, "commit", commit)
    written = len(world.emulator.issues(REPO))
    assert written == BATCH  # a whole batch on GitHub ...
    sending = world.outbox.items(status="sending")
    assert len(sending) == BATCH  # ... and in the database only `sending`
    assert not world.outbox.items(status="done") and not acks(world)
    # The restart: rows left `sending` are looked for (after the settling time: none here).
    restarted = world.writer()
    restarted.outbox.settle_sending(world.clock.now(), MARKED_KINDS)
    world.drain(restarted)
    assert titles(world) == sorted(f"Question {n}" for n in range(count))  # none twice
    assert restarted.status.outcomes.get("found_existing") == BATCH
    assert len(acks(world)) == count  # each acknowledged once
    [first] = [i for i in world.emulator.issues(REPO) if i.title == "Question 0"]
    assert len(world.emulator.comments(REPO, first.number)) == 1


def test_a_crash_between_marking_and_writing_writes_each_row_once(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.mail(*(question(n) for n in range(6)))
    writer = world.writer()
    calls = [0]

    def guard() -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise Crash  # two written, the rest marked `sending` and never written

    writer.guard = guard
    with pytest.raises(Crash):
        writer.step()
    assert len(world.emulator.issues(REPO)) == 2
    restarted = world.writer()
    restarted.outbox.settle_sending(world.clock.now(), MARKED_KINDS)
    world.drain(restarted)
    assert titles(world) == sorted(f"Question {n}" for n in range(6))
    assert restarted.status.outcomes == {"found_existing": 2, "created": 4}


def test_the_guard_is_asked_before_every_write_of_a_batch(world: World) -> None:
    world.mail(*(question(n) for n in range(10)))
    writer = world.writer()
    asked: list[int] = []
    writer.guard = lambda: asked.append(len(world.emulator.issues(REPO)))
    world.drain(writer)
    assert asked == list(range(10))
