"""The GitHub emulator's Git Data API (`routes_git`) and contents API (`routes_contents`) over
real HTTP: every route's success and error answers validated against the OpenAPI subset in the
shared reference data, the empty repository's 409, and PUT contents creating and updating."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from gateway.testing.github_emulator import Emulator
from gateway.testing.github_emulator.routes_contents import ContentsRoutes
from gateway.testing.github_emulator.routes_git import GitRoutes

from .test_github_emulator import BOB, BOT, MALLORY, SpecChecker, World, populate

pytestmark = pytest.mark.integration

REPO_PATH = "/repos/{owner}/{repo}"
GIT = REPO_PATH + "/git"
CONTENTS = REPO_PATH + "/contents/{path}"
MISSING = "0" * 40


def routes() -> set[tuple[str, str]]:
    """(method, template) of every route the two route classes register."""
    app = Emulator().app()
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and isinstance(getattr(route.handler, "__self__", None), GitRoutes | ContentsRoutes)
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def world(github_emulator: Emulator) -> Iterator[World]:
    assert github_emulator.base_url is not None
    yield World(github_emulator, github_emulator.base_url, populate(github_emulator))


def test_every_route_answers_as_the_openapi_description_says(world: World) -> None:
    check = SpecChecker(world)
    blob = {"content": b64(b"one\n"), "encoding": "base64"}

    # A repository without any commit: 409 from every Git Data route, 404 from GET contents.
    empty = [
        check("POST", GIT + "/blobs", 409, body=blob),
        check("GET", GIT + "/blobs/{file_sha}", 409, file_sha=MISSING),
        check("POST", GIT + "/trees", 409, body={"tree": [{"path": "a", "sha": MISSING}]}),
        check("GET", GIT + "/trees/{tree_sha}", 409, tree_sha="main"),
        check("POST", GIT + "/commits", 409, body={"message": "m", "tree": MISSING}),
        check("GET", GIT + "/commits/{commit_sha}", 409, commit_sha=MISSING),
        check("GET", GIT + "/ref/{ref}", 409, ref="heads/main"),
        check("POST", GIT + "/refs", 409, body={"ref": "refs/heads/main", "sha": MISSING}),
        check("PATCH", GIT + "/refs/{ref}", 409, ref="heads/main", body={"sha": MISSING}),
    ]
    assert {e["message"] for e in empty} == {"Git Repository is empty."}
    assert {e["status"] for e in empty} == {"409"}
    gone = check("GET", CONTENTS, 404, path="README.md")
    assert gone["message"] == "This repository is empty."
    check("POST", GIT + "/blobs", 404, who=MALLORY, body=blob)  # unseen beats empty
    check("POST", GIT + "/refs", 404, who=BOB, body={"ref": "refs/heads/x", "sha": MISSING})

    # The first commit comes from PUT contents; then the file is updated with its sha.
    put = {"message": "Add a", "content": b64(b"alpha\n")}
    created = check("PUT", CONTENTS, 201, path="docs/a.txt", body=put)
    first = created["commit"]
    assert (created["content"]["path"], created["content"]["name"]) == ("docs/a.txt", "a.txt")
    assert first["parents"] == [] and first["message"] == "Add a"
    sha = created["content"]["sha"]
    missing_sha = check("PUT", CONTENTS, 422, path="docs/a.txt", body=put)
    assert missing_sha["message"] == 'Invalid request.\n\n"sha" wasn\'t supplied.'
    conflict = check("PUT", CONTENTS, 409, path="docs/a.txt", body={**put, "sha": MISSING})
    assert conflict["message"] == f"docs/a.txt does not match {MISSING}"
    updated = check("PUT", CONTENTS, 200, path="docs/a.txt",
                    body={"message": "Edit a", "content": b64(b"beta\n"), "sha": sha})
    assert [p["sha"] for p in updated["commit"]["parents"]] == [first["sha"]]
    check("PUT", CONTENTS, 404, path="b.txt", body={**put, "branch": "nope"})
    check("PUT", CONTENTS, 404, path="b.txt", who=MALLORY, body=put)
    check("PUT", CONTENTS, 404, path="b.txt", who=BOB, body=put)  # read access only
    check("PUT", CONTENTS, 422, path="b.txt", body={"message": "no content"})
    check("PUT", CONTENTS, 422, path="docs", body=put)  # a directory is there
    read = check("GET", CONTENTS, 200, path="docs/a.txt")
    assert base64.b64decode(read["content"]) == b"beta\n"
    assert read["sha"] == updated["content"]["sha"]
    check("GET", CONTENTS, 404, path="docs/nothing.txt")
    check("GET", CONTENTS, 404, path="docs/a.txt", who=MALLORY)

    # Now the Git Data API works.
    made = check("POST", GIT + "/blobs", 201, body=blob)
    assert base64.b64decode(
        check("GET", GIT + "/blobs/{file_sha}", 200, file_sha=made["sha"])["content"]
    ) == b"one\n"
    check("GET", GIT + "/blobs/{file_sha}", 404, file_sha=MISSING)
    check("POST", GIT + "/blobs", 422, body={"encoding": "base64"})
    check("POST", GIT + "/blobs", 404, who=BOB, body=blob)
    base = updated["commit"]["tree"]["sha"]
    tree = check("POST", GIT + "/trees", 201,
                 body={"base_tree": base, "tree": [{"path": "b/one.txt", "sha": made["sha"]}]})
    check("POST", GIT + "/trees", 422, body={"tree": [{"path": "x", "sha": MISSING}]})
    listed = check("GET", GIT + "/trees/{tree_sha}", 200, tree_sha=tree["sha"],
                   params={"recursive": "1"})
    assert {e["path"] for e in listed["tree"] if e["type"] == "blob"} == {
        "docs/a.txt", "b/one.txt"}
    check("GET", GIT + "/trees/{tree_sha}", 404, tree_sha=MISSING)
    commit = check("POST", GIT + "/commits", 201, body={
        "message": "Add b", "tree": tree["sha"], "parents": [updated["commit"]["sha"]]})
    check("POST", GIT + "/commits", 422, body={"message": "m", "tree": MISSING})
    check("GET", GIT + "/commits/{commit_sha}", 200, commit_sha=commit["sha"])
    check("GET", GIT + "/commits/{commit_sha}", 404, commit_sha=MISSING)
    check("POST", GIT + "/refs", 201, body={"ref": "refs/heads/side", "sha": first["sha"]})
    exists = check("POST", GIT + "/refs", 422,
                   body={"ref": "refs/heads/side", "sha": first["sha"]})
    assert exists["message"] == "Reference already exists"
    check("PATCH", GIT + "/refs/{ref}", 200, ref="heads/main", body={"sha": commit["sha"]})
    behind = check("PATCH", GIT + "/refs/{ref}", 422, ref="heads/main",
                   body={"sha": first["sha"]})
    assert behind["message"] == "Update is not a fast forward"
    check("PATCH", GIT + "/refs/{ref}", 404, who=BOB, ref="heads/main",
          body={"sha": first["sha"]})
    assert check("GET", GIT + "/ref/{ref}", 200, ref="heads/main")["object"]["sha"] == (
        commit["sha"])
    check("GET", GIT + "/ref/{ref}", 404, ref="heads/nope")
    on_side = check("GET", CONTENTS, 200, path="docs/a.txt", params={"ref": "side"})
    assert base64.b64decode(on_side["content"]) == b"alpha\n"

    served = routes()
    assert check.seen == served, served ^ check.seen
    for method, template in served:  # each route answered with success and with an error
        codes = {s for m, t, s in check.statuses if (m, t) == (method, template)}
        assert min(codes) < 300 and max(codes) >= 400, (method, template, codes)


def test_put_contents_on_an_empty_repository_creates_the_named_branch(world: World) -> None:
    check = SpecChecker(world)
    made = check("PUT", CONTENTS, 201, path="README.md",
                 body={"message": "m", "content": b64(b"hi\n"), "branch": "attachments"})
    assert made["content"]["html_url"].endswith("/acme/visit-users/blob/attachments/README.md")
    check("GET", GIT + "/ref/{ref}", 200, ref="heads/attachments")
    check("GET", GIT + "/ref/{ref}", 404, ref="heads/main")
    # a new file ignores a sha, as GitHub does; its parent is the branch head
    again = check("PUT", CONTENTS, 201, path="b.txt", body={
        "message": "m2", "content": b64(b"b\n"), "sha": MISSING, "branch": "attachments"})
    assert [p["sha"] for p in again["commit"]["parents"]] == [made["commit"]["sha"]]
    assert check("GET", CONTENTS, 200, path="b.txt", params={"ref": "attachments"})[
        "content"] == b64(b"b\n") + "\n"
    assert BOT in {c["commit"]["author"]["name"] for c in (made, again)}
