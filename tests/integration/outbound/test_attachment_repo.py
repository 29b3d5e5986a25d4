"""AttachmentRepository against the GitHub emulator's Git Data API: one commit per message,
content-addressed blobs, an empty repository, private access, and every call faulted in turn
ending with each file stored once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from gateway.errors import GatewayError
from gateway.outbound.attachment_repo import AttachmentRepository, StoredFile, blob_sha
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

    def store(self, login: str = BOT, repository: str = STORE) -> AttachmentRepository:
        return AttachmentRepository(api_url=self.url, token=self.tokens[login],
                                    repository=repository, timeout=5)

    def get(self, path: str, login: str = BOT, repository: str = STORE) -> requests.Response:
        return requests.get(f"{self.url}/repos/{repository}/{path}", timeout=5,
                            headers={"Authorization": f"token {self.tokens[login]}"})

    def content(self, path: str) -> bytes:
        response = self.get(f"contents/{path}")
        assert response.status_code == 200, response.text
        data = response.json()
        validate(response_schema("GET", "/repos/{owner}/{repo}/contents/{path}", 200), data)
        return base64.b64decode(data["content"])

    def commits(self) -> list[dict[str, object]]:
        """The branch's commits, newest first."""
        ref = self.get("git/ref/heads/main").json()
        out, sha = [], ref["object"]["sha"]
        while sha:
            commit = self.get(f"git/commits/{sha}").json()
            validate(response_schema("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}",
                                     200), commit)
            out.append(commit)
            sha = commit["parents"][0]["sha"] if commit["parents"] else None
        return out


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
    assert [c["sha"] for c in commits] == [second, first]  # the second on top of the first
    assert commits[1]["parents"] == []  # the empty repository's first commit
    assert world.content("m1/screenshot.png") == PNG  # still there after the second commit
    found = store.existing(["m1/visit.log", "m2/visit.log", "m3/visit.log"])
    assert found == {"m1/visit.log": blob_sha(LOG), "m2/visit.log": blob_sha(LOG)}  # one blob
    assert store.file_url("m1/a b.png") == (
        "https://github.com/acme/visit-attachments/blob/main/m1/a%20b.png")


def test_a_repeat_writes_nothing(world: World) -> None:
    store = world.store()
    sha = store.store(files("m1"), "m1")
    world.emulator.log.clear()
    assert store.store(files("m1"), "m1") == sha
    assert all(r.method == "GET" for r in world.emulator.request_log())
    assert len(world.commits()) == 1


WRITES = [("POST", "/repos/{owner}/{repo}/git/blobs"), ("POST", "/repos/{owner}/{repo}/git/trees"),
          ("POST", "/repos/{owner}/{repo}/git/commits"),
          ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
          ("POST", "/repos/{owner}/{repo}/git/refs")]
READS = [("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
         ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")]
KINDS = ["error_before_write", "error_after_write", "drop_before_write", "drop_after_write"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("method", "route"), WRITES + READS)
def test_every_call_faulted_ends_with_each_file_stored_once(
    world: World, kind: str, method: str, route: str
) -> None:
    store = world.store()
    store.store([StoredFile("m0/first.txt", b"first")], "m0")  # so PATCH is used next...
    if route.endswith("/git/refs"):  # ...except for the empty repository's POST git/refs
        world.emulator.add_repo("acme/empty")
        world.emulator.add_collaborator("acme/empty", BOT, "write")
        store = world.store(repository="acme/empty")
    world.emulator.inject_fault(kind, method=method, path=route)
    errors = 0
    for _ in range(3):
        try:
            store.store(files("m1"), "m1")
            break
        except GatewayError:
            errors += 1
    assert errors <= 1
    assert set(store.existing(["m1/screenshot.png", "m1/visit.log"])) == {
        "m1/screenshot.png", "m1/visit.log"}
    history = world.get("git/ref/heads/main", repository=store._repository).json()
    messages = []
    sha = history["object"]["sha"]
    while sha:
        commit = world.get(f"git/commits/{sha}", repository=store._repository).json()
        messages.append(commit["message"])
        sha = commit["parents"][0]["sha"] if commit["parents"] else None
    assert messages.count("m1") == 1


def test_a_token_without_access_sees_nothing(world: World) -> None:
    world.store().store(files("m1"), "m1")
    outsider = world.store(MALLORY)
    with pytest.raises(RepositoryNotFound):
        outsider.store(files("m2"), "m2")
    with pytest.raises(RepositoryNotFound):
        outsider.existing(["m1/visit.log"])
    assert world.get("contents/m1/visit.log", MALLORY).status_code == 404
    assert world.get("contents/m1/nothing.log").status_code == 404


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

    def head() -> tuple[str | None, str | None, dict[str, str]]:
        seen = real_head()
        if not calls:  # another writer commits after our read of the head
            other.store([StoredFile("m9/b.txt", b"b")], "m9")
        calls.append(seen)
        return seen

    monkeypatch.setattr(store, "_head", head)
    store.store(files("m1"), "m1")
    assert len(calls) == 2
    assert [c["message"] for c in world.commits()] == ["m1", "m9", "m0"]
    assert world.content("m9/b.txt") == b"b" and world.content("m1/visit.log") == LOG
