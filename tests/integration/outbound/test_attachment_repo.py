"""AttachmentRepository against the GitHub emulator's Git Data and contents APIs: one commit per
message, content-addressed blobs, an empty repository's README, a branch started at the default
branch, reading files back, private access, and every call faulted in turn ending with each file
stored once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from gateway.errors import GatewayError
from gateway.outbound.attachment_repo import (
    README_TEXT,
    AttachmentRepository,
    Branch,
    StoredFile,
    blob_sha,
)
from gateway.outbound.github import RepositoryNotFound
from gateway.testing.github_emulator import Emulator
from tests.integration.testing.test_github_emulator import response_schema, validate

STORE = "acme/visit-attachments"
PUBLIC = "acme/public-attachments"
BOT, MALLORY = "visit-bot", "mallory"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LOG = b"2024-05-01 12:00:00 ERROR silo reader crashed\n" * 20


@dataclass
class World:
    emulator: Emulator
    url: str
    tokens: dict[str, str]

    def store(self, login: str = BOT, repository: str = STORE,
              branch: str = "main") -> AttachmentRepository:
        return AttachmentRepository(api_url=self.url, token=self.tokens[login],
                                    repository=repository, timeout=5, branch=branch)

    def get(self, path: str, login: str = BOT, repository: str = STORE) -> requests.Response:
        return requests.get(f"{self.url}/repos/{repository}/{path}", timeout=5,
                            headers={"Authorization": f"token {self.tokens[login]}"})

    def content(self, path: str) -> bytes:
        response = self.get(f"contents/{path}")
        assert response.status_code == 200, response.text
        data = response.json()
        validate(response_schema("GET", "/repos/{owner}/{repo}/contents/{path}", 200), data)
        return base64.b64decode(data["content"])

    def commits(self, branch: str = "main") -> list[dict[str, object]]:
        """The branch's commits, newest first (first parents)."""
        ref = self.get(f"git/ref/heads/{branch}").json()
        out, sha = [], ref["object"]["sha"]
        while sha:
            commit = self.get(f"git/commits/{sha}").json()
            validate(response_schema("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}",
                                     200), commit)
            out.append(commit)
            sha = commit["parents"][0]["sha"] if commit["parents"] else None
        return out

    def puts(self) -> int:
        """PUT requests the emulator received (answered or not) since its log was cleared."""
        return sum(r.method == "PUT" for r in self.emulator.request_log())


@pytest.fixture
def world() -> Iterator[World]:
    emu = Emulator(seed=5)
    emu.add_repo(STORE)
    emu.add_repo(PUBLIC, private=False)
    emu.add_collaborator(STORE, BOT, "write")
    tokens = {login: emu.add_token(login) for login in (BOT, MALLORY)}
    with emu.serve() as url:
        yield World(emu, url, tokens)


def files(key: str) -> list[StoredFile]:
    return [StoredFile(f"{key}/screenshot.png", PNG), StoredFile(f"{key}/visit.log", LOG)]


def test_one_commit_per_message_read_back_byte_for_byte(world: World) -> None:
    store = world.store()
    first = store.store(files("m1"), "Attachments of m1 <!-- visit:m1 -->")
    assert world.content("m1/screenshot.png") == PNG
    assert world.content("m1/visit.log") == LOG
    second = store.store([StoredFile("m2/visit.log", LOG)], "Attachments of m2")
    commits = world.commits()
    assert [c["sha"] for c in commits][:2] == [second, first]  # the second on top of the first
    readme = commits[2]  # the empty repository's first commit, with the first row's message
    assert readme["parents"] == [] and readme["message"] == "Attachments of m1 <!-- visit:m1 -->"
    assert world.content("README.md") == README_TEXT
    assert world.content("m1/screenshot.png") == PNG  # still there after the second commit
    found = store.existing(["m1/visit.log", "m2/visit.log", "m3/visit.log"])
    assert found == {"m1/visit.log": blob_sha(LOG), "m2/visit.log": blob_sha(LOG)}  # one blob
    assert store.file_url("m1/a b.png") == (
        "https://github.com/acme/visit-attachments/blob/main/m1/a%20b.png")


def test_read_gives_the_bytes_on_the_branch(world: World) -> None:
    store = world.store()
    assert store.read("m1/screenshot.png") is None  # an empty repository: nothing, no write
    assert world.emulator.request_log() and all(
        r.method == "GET" for r in world.emulator.request_log())
    store.store(files("m1"), "m1")
    assert store.read("m1/screenshot.png") == PNG
    assert store.read("/m1/visit.log") == LOG
    assert store.read("README.md") == README_TEXT
    assert store.read("m1/nothing.png") is None
    assert store.read("m1") is None  # a folder is no file
    assert store.raw_url("m1/a b.png") == (
        "https://github.com/acme/visit-attachments/blob/main/m1/a%20b.png?raw=true")
    assert store.raw_url("m1/x.png") == store.file_url("m1/x.png") + "?raw=true"


def test_a_repeat_writes_nothing(world: World) -> None:
    store = world.store()
    sha = store.store(files("m1"), "m1")
    world.emulator.log.clear()
    assert store.store(files("m1"), "m1") == sha
    assert all(r.method == "GET" for r in world.emulator.request_log())
    assert [c["message"] for c in world.commits()] == ["m1", "m1"]  # the files, the README


def test_a_branch_that_is_not_there_starts_at_the_default_branch(world: World) -> None:
    main = world.store()
    main.store([StoredFile("m0/a.txt", b"a")], "m0")
    side = world.store(branch="attachments")
    assert side.read("m0/a.txt") is None and side.existing(["m0/a.txt"]) == {}
    sha = side.store(files("m1"), "m1")
    assert [c["message"] for c in world.commits("attachments")] == ["m1", "m0", "m0"]
    assert world.commits("attachments")[0]["sha"] == sha
    assert [c["message"] for c in world.commits()] == ["m0", "m0"]  # main did not move
    assert side.read("m0/a.txt") == b"a" and side.read("m1/visit.log") == LOG
    assert main.read("m1/visit.log") is None


def test_a_repository_without_the_branch_or_its_default_gets_an_orphan_branch(
    world: World,
) -> None:
    other = world.store(branch="other")  # the empty repository's first commit is on "other"
    other.store([StoredFile("o/a.txt", b"a")], "o")
    main = world.store()
    main.store(files("m1"), "m1")
    commits = world.commits()
    assert [c["message"] for c in commits] == ["m1"] and commits[0]["parents"] == []
    assert main.read("o/a.txt") is None and other.read("m1/visit.log") is None


EMPTY = "empty"  # a repository without any commit: README by PUT contents, then Git Data
NEW_BRANCH = "new branch"  # "attachments" does not exist: started at main's head by POST refs
ORPHAN = "orphan"  # neither the branch nor the default branch: a parentless commit, POST refs
API = "/repos/{owner}/{repo}"
REF, TREE, REPO = ("GET", API + "/git/ref/{ref}"), ("GET", API + "/git/trees/{tree_sha}"), (
    "GET", API)
BLOBS, TREES, COMMITS = (("POST", API + f"/git/{kind}") for kind in ("blobs", "trees", "commits"))
CREATE_REF, MOVE_REF = ("POST", API + "/git/refs"), ("PATCH", API + "/git/refs/{ref}")
CALLS = {  # what `store` sends in each scenario
    EMPTY: [REF, ("PUT", API + "/contents/{path}"), TREE, BLOBS, TREES, COMMITS, MOVE_REF],
    NEW_BRANCH: [REF, REPO, CREATE_REF, TREE, BLOBS, TREES, COMMITS, MOVE_REF],
    ORPHAN: [REF, REPO, BLOBS, TREES, COMMITS, CREATE_REF],
}
KINDS = ["error_before_write", "error_after_write", "drop_before_write", "drop_after_write"]
CASES = [(scenario, *call) for scenario, calls in CALLS.items() for call in calls]


def prepare(world: World, scenario: str) -> tuple[AttachmentRepository, str, list[str]]:
    """The store to fault, its branch, and the messages already on that branch."""
    if scenario == EMPTY:
        return world.store(), "main", []
    if scenario == NEW_BRANCH:
        world.store().store([StoredFile("m0/first.txt", b"first")], "m0")
        return world.store(branch="attachments"), "attachments", ["m0", "m0"]
    world.store(branch="other").store([StoredFile("m0/first.txt", b"first")], "m0")
    return world.store(), "main", []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("scenario", "method", "route"), CASES)
def test_every_call_faulted_ends_with_each_file_stored_once(
    world: World, kind: str, scenario: str, method: str, route: str
) -> None:
    store, branch, before = prepare(world, scenario)
    world.emulator.log.clear()
    world.emulator.inject_fault(kind, method=method, path=route)
    errors = 0
    for _ in range(3):
        try:
            store.store(files("m1"), "m1")
            break
        except GatewayError:
            errors += 1
    assert errors <= 1
    assert [(f.method, f.kind) for f in world.emulator.faults_fired] == [(method, kind)]
    assert set(store.existing(["m1/screenshot.png", "m1/visit.log"])) == {
        "m1/screenshot.png", "m1/visit.log"}
    commits = world.commits(branch)
    # exactly one commit holds the files; in an empty repository one README commit before it
    readme = ["m1"] if scenario == EMPTY else []
    assert [c["message"] for c in commits] == ["m1", *readme, *before]
    assert len(commits[0]["parents"]) == (0 if scenario == ORPHAN else 1)
    assert store.read("m1/screenshot.png") == PNG
    if scenario == EMPTY:
        assert store.read("README.md") == README_TEXT
        resent = method == "PUT" and kind.endswith("before_write")  # it was never applied
        assert world.puts() == (2 if resent else 1)


def test_a_token_without_access_sees_nothing(world: World) -> None:
    world.emulator.add_collaborator(STORE, MALLORY, "read")
    with pytest.raises(RepositoryNotFound, match="cannot write"):  # the README's PUT: 404
        world.store(MALLORY).store(files("m0"), "m0")
    world.emulator.remove_collaborator(STORE, MALLORY)
    world.store().store(files("m1"), "m1")
    # the bot itself, with a token limited to another repository
    elsewhere = world.emulator.add_token(BOT, repos=[PUBLIC])
    world.tokens["limited"] = elsewhere
    for login in (MALLORY, "limited"):
        outsider = world.store(login)
        with pytest.raises(RepositoryNotFound):
            outsider.store(files("m2"), "m2")
        with pytest.raises(RepositoryNotFound):
            outsider.existing(["m1/visit.log"])
        with pytest.raises(RepositoryNotFound):
            outsider.read("m1/visit.log")
        response = world.get("contents/m1/visit.log", login)
        assert response.status_code == 404
        validate(response_schema("GET", "/repos/{owner}/{repo}/contents/{path}", 404),
                 response.json())
    assert world.get("contents/m1/nothing.log").status_code == 404
    assert [c["message"] for c in world.commits()] == ["m1", "m1"]


def test_check_says_private_public_and_write_access(world: World) -> None:
    ok, why = world.store().check()
    assert ok, why
    ok, why = world.store(repository=PUBLIC).check()
    assert not ok and "public" in why
    ok, why = world.store(MALLORY).check()
    assert not ok and "does not exist" in why
    world.emulator.add_collaborator(STORE, MALLORY, "read")
    ok, why = world.store(MALLORY).check()
    assert not ok and "may not write" in why


def test_a_branch_moved_meanwhile_is_rebuilt_on_the_new_head(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = world.store(), world.store()
    store.store([StoredFile("m0/a.txt", b"a")], "m0")
    real_head = store._head
    calls = []

    def head() -> Branch:
        seen = real_head()
        if not calls:  # another writer commits after our read of the head
            other.store([StoredFile("m9/b.txt", b"b")], "m9")
        calls.append(seen)
        return seen

    monkeypatch.setattr(store, "_head", head)
    store.store(files("m1"), "m1")
    assert len(calls) == 2
    assert [c["message"] for c in world.commits()] == ["m1", "m9", "m0", "m0"]  # m0's README
    assert world.content("m9/b.txt") == b"b" and world.content("m1/visit.log") == LOG
