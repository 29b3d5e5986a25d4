"""`GitHubTracker`'s issue-16 calls against the GitHub emulator over real HTTP, PyGithub as the
client: reactions, closing and reopening, promotion to another repository and the known-issue
search each work and are idempotent where GitHub is; refusals and limits become the gateway's
errors; a fault injected into every request they make yields OutcomeUnknown for a write and
TransientError for a read, never a library exception, and the call then succeeds when sent again.
After an unclear promotion the marker finds the issue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from gateway.clock import ManualClock
from gateway.errors import GatewayError, RateLimited, TransientError
from gateway.inbound.thread import marker
from gateway.outbound.github import (
    CreatedIssue,
    FoundIssue,
    GitHubAuthError,
    GitHubTracker,
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
)
from gateway.testing.github_emulator import Emulator, FaultKind

pytestmark = pytest.mark.integration

REPO = "visit-dav/live-customer-response"
PRODUCT = "visit-dav/visit"
HIDDEN = "visit-dav/private-plans"
BOT, ALICE, BOB = "visit-users-bot", "alice", "bob"

ISSUES = "/repos/{owner}/{repo}/issues"
ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"
LABELS = ISSUE + "/labels"
LABEL = ISSUE + "/labels/{name}"
COMMENT_REACTIONS = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"


@dataclass
class World:
    emulator: Emulator
    url: str
    tokens: dict[str, str]
    trackers: list[GitHubTracker] = field(default_factory=list)

    def tracker(self, login: str = BOT) -> GitHubTracker:
        tracker = GitHubTracker(api_url=self.url, token=self.tokens[login], repository=REPO,
                                bot_login=BOT, timeout=5, secondary_wait=60)
        self.trackers.append(tracker)
        return tracker

    def requests(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.emulator.request_log()]


T0 = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC)  # the emulator's clock: a Monday


@pytest.fixture
def world() -> Iterator[World]:
    emu = Emulator(seed=3, clock=ManualClock(T0))
    for name in (REPO, PRODUCT, HIDDEN):
        emu.add_repo(name)
    for name in (REPO, PRODUCT):
        emu.add_collaborator(name, BOT, "write")
        emu.add_collaborator(name, ALICE, "write")
    emu.add_collaborator(REPO, BOB, "read")
    tokens = {login: emu.add_token(login) for login in (BOT, ALICE, BOB)}
    with emu.serve() as url:
        w = World(emu, url, tokens)
        yield w
        for tracker in w.trackers:
            tracker.close()


def since() -> dt.datetime:
    return T0 - dt.timedelta(minutes=10)


# -- reactions ------------------------------------------------------------------------------


def test_reactions_are_one_request_each_and_idempotent(world: World) -> None:
    emu = world.emulator
    issue = emu.create_issue(REPO, "Visit crashes", "body", user=ALICE)
    comment = emu.comment(REPO, issue.number, "Fixed in 3.4.2", user=ALICE)
    tracker = world.tracker()
    emu.log.clear()

    tracker.add_reaction(comment.id)
    assert world.requests() == [f"POST /repos/{REPO}/issues/comments/{comment.id}/reactions"]
    tracker.add_reaction(comment.id)  # GitHub answers 200: the same reaction
    tracker.add_reaction(comment.id, "heart")
    assert [(r.content, r.user) for r in emu.reactions(REPO, comment.id)] == [
        ("+1", BOT), ("heart", BOT)]
    assert [r.status for r in emu.request_log()] == [201, 200, 201]

    with pytest.raises(WriteRejected) as missing:
        tracker.add_reaction(comment.id + 999)
    assert missing.value.status == 404
    before = len(emu.request_log())
    with pytest.raises(ValueError, match="reaction"):
        tracker.add_reaction(comment.id, "THUMBS_UP")  # GraphQL's spelling, not REST's
    assert len(emu.request_log()) == before  # refused before any request


def test_reactions_count_against_the_secondary_content_limit(world: World) -> None:
    emu = world.emulator
    issue = emu.create_issue(REPO, "Visit crashes", "body", user=ALICE)
    comment = emu.comment(REPO, issue.number, "Fixed", user=ALICE)
    tracker = world.tracker()
    emu.set_limits(secondary=True, content_per_minute=1)
    tracker.add_reaction(comment.id)
    with pytest.raises(RateLimited) as limited:
        tracker.add_reaction(comment.id, "heart")
    assert 1 <= limited.value.retry_after <= 60
    assert [r.content for r in emu.reactions(REPO, comment.id)] == ["+1"]


# -- closing and reopening ----------------------------------------------------------------------


def test_close_adds_labels_then_closes_and_reopen_undoes_it(world: World) -> None:
    emu = world.emulator
    emu.add_label(REPO, "resolved")
    issue = emu.create_issue(REPO, "Visit crashes", "body", user=BOT, labels=["customer"])
    tracker = world.tracker()

    tracker.close_issue(issue.number, "not_planned", ["resolved", "area/gui", "resolved"])
    closed = emu.issue(REPO, issue.number)
    assert (closed.state, closed.state_reason) == ("closed", "not_planned")
    assert closed.labels == ["customer", "resolved", "area/gui"]
    assert "area/gui" in {label.name for label in emu.labels(REPO)}  # made on the fly

    tracker.close_issue(issue.number, "completed", ["resolved"])  # a repeat changes nothing
    again = emu.issue(REPO, issue.number)
    assert (again.state, again.state_reason, again.closed_at) == (
        "closed", "not_planned", closed.closed_at)
    assert again.labels == closed.labels

    tracker.reopen_issue(issue.number, ["area/gui", "resolved", "never-there"])
    reopened = emu.issue(REPO, issue.number)
    assert (reopened.state, reopened.state_reason) == ("open", "reopened")
    assert reopened.labels == ["customer"]
    tracker.reopen_issue(issue.number, ["area/gui"])  # a repeat changes nothing
    assert emu.issue(REPO, issue.number).labels == ["customer"]

    tracker.close_issue(issue.number, "completed")  # no labels: one PATCH
    assert emu.issue(REPO, issue.number).state_reason == "completed"


def test_closing_refusals(world: World) -> None:
    tracker = world.tracker()
    for call in (lambda: tracker.close_issue(999, "completed", ["x"]),
                 lambda: tracker.close_issue(999, "completed"),
                 lambda: tracker.reopen_issue(999, ["x"])):
        with pytest.raises(WriteRejected) as missing:
            call()
        assert missing.value.status == 404
    with pytest.raises(ValueError, match="state_reason"):
        tracker.close_issue(1, "duplicate")  # type: ignore[arg-type]

    issue = world.emulator.create_issue(REPO, "t", "b", user=ALICE)
    with pytest.raises(GitHubAuthError):  # read access may not label (nor close others' issues)
        world.tracker(BOB).close_issue(issue.number, "completed", ["resolved"])
    assert world.emulator.issue(REPO, issue.number).state == "open"


# -- another repository -----------------------------------------------------------------------


def test_promotion_creates_and_finds_the_issue_in_the_product_repository(world: World) -> None:
    emu = world.emulator
    tracker = world.tracker()
    mark = marker("promote:42")
    tracker.create_issue(f"in the support repo {mark}", f"body {mark}", [], None)

    created = tracker.create_issue_in(PRODUCT, "Silo reader crashes", f"details\n\n{mark}",
                                      ["bug", "from-support"])
    [stored] = emu.issues(PRODUCT)
    assert (stored.number, stored.user, stored.labels) == (
        created.number, BOT, ["bug", "from-support"])
    assert created == CreatedIssue(stored.number, f"{world.url}/{PRODUCT}/issues/1", ())
    emu.create_issue(PRODUCT, "quoting it", f"> {mark}", user=ALICE)  # not the bot's

    assert tracker.find_issue_in(PRODUCT, mark, since()) == created
    assert tracker.find_issue_in(PRODUCT, marker("promote:43"), since()) is None
    assert tracker.find_issue(mark, since()) is not None  # the support repo's is its own
    assert tracker.find_issue_in(PRODUCT, mark, T0 + dt.timedelta(minutes=5)) is None


@pytest.mark.parametrize("repository", [HIDDEN, "visit-dav/nope"])
def test_a_repository_the_token_cannot_see_is_named(world: World, repository: str) -> None:
    tracker = world.tracker()
    with pytest.raises(RepositoryNotFound, match=repository):
        tracker.create_issue_in(repository, "t", "b", [])
    with pytest.raises(RepositoryNotFound, match=repository):
        tracker.find_issue_in(repository, marker("x"), since())
    with pytest.raises(RepositoryNotFound, match=repository):
        tracker.search_issues(repository, ["crash"])
    assert world.emulator.issues(HIDDEN) == []


def test_search_finds_known_issues_in_that_repository_only(world: World) -> None:
    emu = world.emulator
    crash = emu.create_issue(PRODUCT, "Crash when opening a Silo file", "segfault", user=ALICE)
    emu.create_issue(PRODUCT, "Slow rendering", "it is slow", user=ALICE)
    emu.create_issue(REPO, "Crash when opening a Silo file", "customer copy", user=BOT)
    tracker = world.tracker()

    found = tracker.search_issues(PRODUCT, ["crash", "silo file"])
    assert found == [FoundIssue(crash.number, crash.title, "open",
                                f"{world.url}/{PRODUCT}/issues/{crash.number}")]
    # Qualifiers a customer typed are words, not scope: no other repository, no pull requests.
    assert tracker.search_issues(PRODUCT, [f"repo:{REPO} crash"]) == []  # no "repo" in the text
    assert tracker.search_issues(PRODUCT, ["is:pr", "Crash"]) == []
    assert [f.number for f in tracker.search_issues(PRODUCT, ['"crash"', "-silo"])] == [
        crash.number]  # quotes dropped; "-silo" is the word silo, not "without silo"
    [query] = [r.query for r in emu.request_log() if r.path == "/search/issues"][-1:]
    assert "advanced_search" not in query

    for n in range(7):
        emu.create_issue(PRODUCT, f"Crash number {n}", "crash", user=ALICE)
    assert len(tracker.search_issues(PRODUCT, ["crash"])) == 5
    assert len(tracker.search_issues(PRODUCT, ["crash"], limit=8)) == 8
    emu.log.clear()
    assert tracker.search_issues(PRODUCT, ["", " : ", '""']) == []  # nothing to search for
    assert emu.request_log() == []
    with pytest.raises(ValueError, match="limit"):
        tracker.search_issues(PRODUCT, ["crash"], limit=0)


def test_search_has_its_own_rate_limit(world: World) -> None:
    emu = world.emulator
    emu.create_issue(PRODUCT, "Crash", "b", user=ALICE)
    emu.set_limits(search=2)
    tracker = world.tracker()
    assert len(tracker.search_issues(PRODUCT, ["crash"])) == 1
    assert len(tracker.search_issues(PRODUCT, ["crash"])) == 1
    with pytest.raises(RateLimited) as limited:
        tracker.search_issues(PRODUCT, ["crash"])
    assert 1 <= limited.value.retry_after <= 61  # until the minute's window resets
    tracker.create_issue("core is a separate bucket", "b", [], None)


def test_an_overlong_search_is_cut_to_what_github_takes(world: World) -> None:
    emu = world.emulator
    emu.create_issue(PRODUCT, "Crash in the Silo reader", "b", user=ALICE)
    tracker = world.tracker()
    long = " ".join(f"word{n}" for n in range(100))
    assert len(tracker.search_issues(PRODUCT, ["silo reader", long])) == 1  # the long one left out
    assert tracker.search_issues(PRODUCT, [long]) == []  # cut, still asked: GitHub takes it
    searches = [r for r in emu.request_log() if r.path == "/search/issues"]
    assert [r.status for r in searches] == [200, 200]


# -- a fault in every request ------------------------------------------------------------------


@dataclass
class Scene:
    tracker: GitHubTracker
    issue: int
    comment: int
    mark: str


@pytest.fixture
def scene(world: World) -> Scene:
    emu = world.emulator
    issue = emu.create_issue(REPO, "Visit crashes", "body", user=BOT, labels=["resolved"])
    comment = emu.comment(REPO, issue.number, "Fixed", user=ALICE)
    mark = marker("promote:1")
    emu.create_issue(PRODUCT, "Silo reader crashes", f"x {mark}", user=BOT)
    emu.log.clear()
    return Scene(world.tracker(), issue.number, comment.id, mark)


Call = Callable[[Scene], object]
# (id, method, route, skip: requests of that route let through first, write, call)
CALLS: list[tuple[str, str, str, int, bool, Call]] = [
    ("comment reaction", "POST", COMMENT_REACTIONS, 0, True,
     lambda s: s.tracker.add_reaction(s.comment)),
    ("close: labels", "POST", LABELS, 0, True,
     lambda s: s.tracker.close_issue(s.issue, "completed", ["duplicate-of-visit"])),
    ("close: state", "PATCH", ISSUE, 0, True,
     lambda s: s.tracker.close_issue(s.issue, "completed", ["duplicate-of-visit"])),
    ("reopen: second label", "DELETE", LABEL, 1, True,
     lambda s: s.tracker.reopen_issue(s.issue, ["never-there", "resolved"])),
    ("reopen: state", "PATCH", ISSUE, 0, True,
     lambda s: s.tracker.reopen_issue(s.issue, ["resolved"])),
    ("promote", "POST", ISSUES, 0, True,
     lambda s: s.tracker.create_issue_in(PRODUCT, "t", "b", ["bug"])),
    ("find promoted: the bot", "GET", "/users/{username}", 0, False,
     lambda s: s.tracker.find_issue_in(PRODUCT, s.mark, since())),
    ("find promoted: list", "GET", ISSUES, 0, False,
     lambda s: s.tracker.find_issue_in(PRODUCT, s.mark, since())),
    ("search", "GET", "/search/issues", 0, False,
     lambda s: s.tracker.search_issues(PRODUCT, ["silo"])),
]
WRITE_FAULTS = [FaultKind.ERROR_BEFORE_WRITE, FaultKind.ERROR_AFTER_WRITE,
                FaultKind.DROP_BEFORE_WRITE, FaultKind.DROP_AFTER_WRITE]
READ_FAULTS = [FaultKind.ERROR_BEFORE_WRITE, FaultKind.DROP_BEFORE_WRITE]


CASES = [pytest.param(fault, *call[1:], id=f"{call[0]}-{fault.value}")
         for call in CALLS for fault in (WRITE_FAULTS if call[4] else READ_FAULTS)]


@pytest.mark.parametrize(("fault", "method", "route", "skip", "write", "call"), CASES)
def test_a_fault_in_every_request(world: World, scene: Scene, fault: FaultKind, method: str,
                                  route: str, skip: int, write: bool, call: Call) -> None:
    emu = world.emulator
    emu.inject_fault(fault, method=method, path=route, skip=skip)
    with pytest.raises(GatewayError) as raised:
        call(scene)
    assert type(raised.value) is (OutcomeUnknown if write else TransientError), raised.value
    assert [f.kind for f in emu.faults_fired] == [fault]
    call(scene)  # the fault is spent: sent again, the call works


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=[f.value for f in WRITE_FAULTS])
def test_unclear_writes_are_sent_again_or_found(world: World, scene: Scene,
                                                fault: FaultKind) -> None:
    emu, s = world.emulator, scene
    for method, route, call in [
        ("POST", COMMENT_REACTIONS, lambda: s.tracker.add_reaction(s.comment)),
        ("PATCH", ISSUE, lambda: s.tracker.close_issue(s.issue, "not_planned", ["wontfix"])),
        ("DELETE", LABEL, lambda: s.tracker.reopen_issue(s.issue, ["wontfix"])),
    ]:
        emu.inject_fault(fault, method=method, path=route)
        with pytest.raises(OutcomeUnknown):
            call()
        call()  # idempotent on GitHub: sending it again is the recovery
    assert [r.content for r in emu.reactions(REPO, s.comment)] == ["+1"]
    final = emu.issue(REPO, s.issue)
    assert (final.state, final.labels) == ("open", ["resolved"])

    mark = marker("promote:2")
    emu.inject_fault(fault, method="POST", path=ISSUES)
    with pytest.raises(OutcomeUnknown):
        s.tracker.create_issue_in(PRODUCT, "t", f"b {mark}", [])
    found = s.tracker.find_issue_in(PRODUCT, mark, since())
    promoted = [i for i in emu.issues(PRODUCT) if mark in (i.body or "")]
    if fault.after_write:
        assert found is not None and [i.number for i in promoted] == [found.number]
    else:
        assert found is None and promoted == []
