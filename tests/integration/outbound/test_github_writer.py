"""The serial GitHub writer against the emulator over real HTTP, with PyGithub as the client:
issues and comments land once and in order through every injected fault."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.clock import SystemClock
from gateway.config.loader import Config
from gateway.inbound.pipeline import Pipeline
from gateway.inbound.thread import marker
from gateway.outbound.github import GitHubTracker
from gateway.outbound.outbox import Outbox
from gateway.outbound.pacing import WriteBudget
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.testing.github_emulator import Emulator, FaultKind
from gateway.wiring import pipeline_settings
from tests.unit.mail import raw

pytestmark = pytest.mark.integration

REPO = "visit-dav/live-customer-response"
BOT = "visit-users-bot"
ISSUES = "/repos/{owner}/{repo}/issues"
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"


@dataclass
class World:
    emulator: Emulator
    url: str
    token: str
    pipeline: Pipeline
    outbox: Outbox

    def writer(self, token: str | None = None) -> GitHubWriter:
        def tracker() -> GitHubTracker:
            return GitHubTracker(api_url=self.url, token=token or self.token, repository=REPO,
                                 bot_login=BOT, timeout=5, secondary_wait=60)

        budget = WriteBudget(min_interval=dt.timedelta(0), per_minute=1000, per_hour=10000)
        return GitHubWriter(self.outbox, tracker, budget, SystemClock(), seed=1,
                            backoff_base=0.01)

    def drain(self, writer: GitHubWriter, *, max_steps: int = 200) -> None:
        """Run the writer until the outbox is empty (or it only waits a long time)."""
        for _ in range(max_steps):
            if not self.outbox.open_items():
                return
            delay = writer.step()
            if delay is not None and delay > 5:
                return
            if delay:
                import time

                time.sleep(min(delay, 0.2))
        raise AssertionError("outbox did not drain")

    def mail(self, *messages: bytes) -> None:
        now = dt.datetime.now(dt.UTC)
        for message in messages:
            self.pipeline.process(self.pipeline.ingest(message, received_at=now).key, now=now)


@pytest.fixture
def world(tmp_path: Path, example_config: Config) -> Iterator[World]:
    emulator = Emulator(seed=3)
    token = emulator.add_token(BOT)
    emulator.add_repo(REPO)
    emulator.add_collaborator(REPO, BOT, "write")
    emulator.add_collaborator(REPO, "biagas", "write")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", synchronous="normal")
    pipeline = Pipeline(store, pipeline_settings(example_config), lambda _t: "biagas")
    with emulator.serve() as url:
        yield World(emulator, url, token, pipeline, Outbox(store))
    store.close()


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<q{n}@univ.edu>", "Subject": f"[visit-users] Question {n}"},
               f"How do I do thing {n}?\n")


def reply(n: int, k: int, parent: str) -> bytes:
    return raw({"Message-ID": f"<r{n}.{k}@lab.gov>", "From": f"Colleague {k} <c{k}@lab.gov>",
                "In-Reply-To": parent, "Subject": f"Re: [visit-users] Question {n}"},
               f"Reply {k} to question {n}.\n")


def bodies(emulator: Emulator, number: int) -> list[str]:
    return [c.body for c in emulator.comments(REPO, number)]


def test_issue_then_comments_in_order(world: World) -> None:
    world.mail(question(1), reply(1, 1, "<q1@univ.edu>"), reply(1, 2, "<r1.1@lab.gov>"))
    world.drain(world.writer())
    [issue] = world.emulator.issues(REPO)
    assert issue.title == "Question 1" and issue.user == BOT
    assert issue.assignees == ["biagas"] and issue.labels == ["customer-response"]
    assert marker("mid:<q1@univ.edu>") in (issue.body or "")
    comments = bodies(world.emulator, issue.number)
    assert len(comments) == 2
    assert "Reply 1 to question 1." in comments[0] and "Reply 2 to question 1." in comments[1]
    done = world.outbox.items(status="done")
    assert {json.loads(json.dumps(d.key)) for d in done} == {
        "issue:mid:<q1@univ.edu>", "comment:mid:<r1.1@lab.gov>", "comment:mid:<r1.2@lab.gov>"}


@pytest.mark.parametrize("kind", [FaultKind.ERROR_AFTER_WRITE, FaultKind.DROP_AFTER_WRITE,
                                  FaultKind.ERROR_BEFORE_WRITE, FaultKind.DROP_BEFORE_WRITE])
def test_faults_never_duplicate_or_lose(world: World, kind: FaultKind) -> None:
    world.emulator.inject_fault(kind, method="POST", path=ISSUES, times=2)
    world.emulator.inject_fault(kind, method="POST", path=COMMENTS, times=2)
    world.mail(question(1), reply(1, 1, "<q1@univ.edu>"), question(2),
               reply(2, 1, "<q2@univ.edu>"), reply(1, 2, "<r1.1@lab.gov>"))
    world.drain(world.writer())
    # Order is kept within a thread, not across threads: while Question 1's row backs off
    # after a fault, Question 2's may go first. One issue each, and each thread in order.
    issues = sorted(world.emulator.issues(REPO), key=lambda i: i.title)
    assert [i.title for i in issues] == ["Question 1", "Question 2"]
    first = bodies(world.emulator, issues[0].number)
    assert len(first) == 2 and "Reply 1 to question 1." in first[0]
    assert "Reply 2 to question 1." in first[1]
    assert len(bodies(world.emulator, issues[1].number)) == 1
    assert len(world.emulator.faults_fired) == 4


def test_crash_between_post_and_commit_is_found_not_reposted(world: World) -> None:
    world.mail(question(1))
    [item] = world.outbox.open_items()
    # The POST reached GitHub, then the daemon died before recording it.
    world.emulator.create_issue(REPO, "Question 1", item.payload["body"], user=BOT)
    world.outbox.mark_sending(item, dt.datetime.now(dt.UTC))
    world.drain(world.writer())
    assert len(world.emulator.issues(REPO)) == 1
    [done] = world.outbox.items(status="done")
    assert json.loads(json.dumps(done.key)) == "issue:mid:<q1@univ.edu>"
    posts = [r for r in world.emulator.request_log() if r.method == "POST"]
    assert posts == []


def test_secondary_rate_limit_pauses_and_resumes(world: World) -> None:
    world.emulator.set_limits(secondary=True, content_per_minute=2, retry_after=30)
    world.mail(*(question(n) for n in range(4)))
    writer = world.writer()
    for _ in range(10):
        delay = writer.step()
        if writer.status.outcomes.get("rate_limited"):
            break
    assert writer.status.outcomes.get("rate_limited") == 1
    assert world.emulator.limit_errors_served == 1
    assert len(world.emulator.issues(REPO)) == 2
    assert (writer.step() or 0) > 25  # waits for retry-after instead of retrying at once
    # GitHub lifts the limit and the admin says "retry now" (visit-gateway outbox retry KEY).
    world.emulator.set_limits(secondary=False)
    writer.budget.paused_until = None
    assert world.outbox.retry("issue:mid:<q2@univ.edu>", dt.datetime.now(dt.UTC))
    world.drain(writer)
    assert sorted(i.title for i in world.emulator.issues(REPO)) == [
        f"Question {n}" for n in range(4)]
    assert delay is None


def test_unassignable_primary_still_gets_an_issue(world: World, tmp_path: Path,
                                                  example_config: Config) -> None:
    pipeline = Pipeline(world.pipeline.store, pipeline_settings(example_config),
                        lambda _t: "not-a-collaborator")
    now = dt.datetime.now(dt.UTC)
    pipeline.process(pipeline.ingest(question(7), received_at=now).key, now=now)
    world.drain(world.writer())
    [issue] = world.emulator.issues(REPO)
    assert issue.assignees == []


def test_revoked_token_pauses_without_losing_mail(world: World) -> None:
    world.mail(question(1))
    world.emulator.revoke_token(world.token)
    writer = world.writer()
    delay = writer.step()
    assert delay is None  # the attempt was made and answered
    assert writer.status.healthy is False and "token" in writer.status.last_error
    [item] = world.outbox.open_items()
    assert item.status == "pending" and world.emulator.issues(REPO) == []
    assert (writer.step() or 0) > 60  # paused, not hammering GitHub


def test_missing_repository_is_reported(world: World) -> None:
    world.mail(question(1))
    tracker = GitHubTracker(api_url=world.url, token=world.token, repository="visit-dav/nope",
                            bot_login=BOT, timeout=5, secondary_wait=60)
    from gateway.outbound.github import RepositoryNotFound

    with pytest.raises(RepositoryNotFound, match="visit-dav/nope"):
        tracker.check_repository()
    tracker.close()


# ---- a fault in every call the writer makes ----------------------------------------------------

def _fresh_world(tmp_path: Path, config: Config, name: str) -> tuple[Emulator, str, World, Store]:
    emulator = Emulator(seed=3)
    token = emulator.add_token(BOT)
    emulator.add_repo(REPO)
    emulator.add_collaborator(REPO, BOT, "write")
    emulator.add_collaborator(REPO, "biagas", "write")
    store = Store.open(f"sqlite:///{tmp_path / f'{name}.db'}", synchronous="normal")
    pipeline = Pipeline(store, pipeline_settings(config), lambda _t: "biagas")
    return emulator, token, World(emulator, "", token, pipeline, Outbox(store)), store


def _unclear_then(tmp_path: Path, config: Config, name: str,
                  fault: tuple[FaultKind, str, str, int] | None) -> tuple[World, list[str]]:
    """An issue and a comment whose POSTs both reach GitHub and answer 502, so the writer must
    look for their markers; plus, optionally, one more fault on the `skip`-th call (0-based)
    of (method, path). Returns the world after draining and the calls the emulator saw."""
    emulator, _token, world, store = _fresh_world(tmp_path, config, name)
    emulator.inject_fault(FaultKind.ERROR_AFTER_WRITE, method="POST", path=ISSUES)
    emulator.inject_fault(FaultKind.ERROR_AFTER_WRITE, method="POST", path=COMMENTS)
    if fault is not None:
        kind, method, path, skip = fault
        emulator.inject_fault(kind, method=method, path=path, skip=skip)
    try:
        with emulator.serve() as url:
            world.url = url
            world.mail(question(1), reply(1, 1, "<q1@univ.edu>"))
            world.drain(world.writer())  # must not raise, whatever failed
    finally:
        store.close()
    return world, [f"{r.method} {r.path}" for r in emulator.request_log()]


def test_a_fault_in_any_call_of_the_marker_lookup_is_retried_not_fatal(
        tmp_path: Path, example_config: Config) -> None:
    """Issue 12: a 502 on an issue POST, then a 502 or a dropped connection on a call the marker
    lookup makes (GET /users/{bot} among them) escaped the error translation and killed the
    writer. Every call of the recovery path is failed in turn, each way it can fail."""
    _world, calls = _unclear_then(tmp_path, example_config, "clean", None)
    assert any(c.startswith("GET /users/") or "creator=" in c or "/issues?" in c or
               c.startswith("GET /repos/") for c in calls)
    seen: dict[str, int] = {}
    plans: list[tuple[str, int]] = []
    for call in calls:
        plans.append((call, seen.get(call, 0)))
        seen[call] = seen.get(call, 0) + 1
    assert len(plans) >= 5, calls
    failures = []
    for n, (call, skip) in enumerate(plans):
        method, path = call.split(" ", 1)
        if method == "POST":
            skip += 1  # the first POST of each kind already fails (the unclear write)
        kinds = [FaultKind.ERROR_BEFORE_WRITE, FaultKind.DROP_BEFORE_WRITE]
        if method != "GET":
            kinds += [FaultKind.ERROR_AFTER_WRITE, FaultKind.DROP_AFTER_WRITE]
        for kind in kinds:
            try:
                world, _ = _unclear_then(tmp_path, example_config, f"w{n}-{kind.value}",
                                         (kind, method, path, skip))
            except Exception as exc:
                failures.append(f"{kind.value} on {call} #{skip}: {type(exc).__name__}: {exc}")
                continue
            issues = world.emulator.issues(REPO)
            comments = world.emulator.comments(REPO)
            if len(issues) != 1 or len(comments) != 1 or world.outbox.open_items():
                failures.append(f"{kind.value} on {call} #{skip}: {len(issues)} issues, "
                                f"{len(comments)} comments, "
                                f"{len(world.outbox.open_items())} rows open")
    assert not failures, "\n".join(failures)


def test_a_bug_in_one_row_backs_it_off_without_stopping_the_writer(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.mail(question(1))
    writer = world.writer()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug, with a customer's text in its message")

    monkeypatch.setattr(writer.tracker, "create_issue", broken)
    assert writer.step() is None  # did not raise
    [item] = world.outbox.open_items()
    assert item.status == "sending" and item.last_error == "internal error (RuntimeError)"
    assert writer.status.outcomes.get("error") == 1
    monkeypatch.undo()
    world.outbox.retry(item.key, writer.clock.now())  # due by the writer's own clock
    world.drain(writer)
    assert [i.title for i in world.emulator.issues(REPO)] == ["Question 1"]


@pytest.mark.parametrize("header", ["1e400", "inf", "nan", "-5", "99999999"])
def test_retry_after_is_bounded_whatever_github_sends(header: str) -> None:
    from github import GithubException

    from gateway.outbound.github import MAX_RETRY_AFTER, _retry_after

    wait = _retry_after(GithubException(429, {"message": "slow down"},
                                        {"Retry-After": header}), 60.0)
    assert 1.0 <= wait <= MAX_RETRY_AFTER
