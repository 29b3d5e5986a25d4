"""REST routes of GitHub's Git Data API (blobs, trees, commits, refs) and the contents read,
shaped like api.github.com (https://docs.github.com/rest/git).

Objects live in a `GitRepo` per repository, named by real SHA-1 ids. An empty repository (no
ref yet) takes blobs, trees and a parentless commit, and its branch is created with
`POST git/refs` (api.github.com answers 409 "Git Repository is empty." to the Git Data API of a
repository without any commit; the emulator is kinder here so the adapter's path for a first
commit can be tested). `PATCH git/refs` without `force` only fast-forwards (422 otherwise).
Writes need push access; a caller who cannot see a private repository gets 404 as on GitHub.
Same conventions as `routes_issues`: parse, act under the store lock, render.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import urllib.parse
from typing import Any

from aiohttp import web

from .context import Context, caller, json_response, read_object
from .errors import ApiError, not_found, validation_failed
from .git_objects import FILE_MODES, Commit, Entry, GitRepo
from .model import Repo, node_id
from .render import stamp

REPO = "/repos/{owner}/{repo}"
GIT = REPO + "/git"
JSON = dict[str, Any]


class GitRoutes:
    def __init__(self, ctx: Context, repos: dict[int, GitRepo]) -> None:
        self.ctx = ctx
        self.repos = repos  # repo id -> its objects; shared with the Emulator

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post(GIT + "/blobs", self.create_blob)
        router.add_get(GIT + "/blobs/{file_sha}", self.blob, allow_head=False)
        router.add_post(GIT + "/trees", self.create_tree)
        router.add_get(GIT + "/trees/{tree_sha}", self.tree, allow_head=False)
        router.add_post(GIT + "/commits", self.create_commit)
        router.add_get(GIT + "/commits/{commit_sha}", self.commit, allow_head=False)
        router.add_get(GIT + "/ref/{ref:.+}", self.ref, allow_head=False)
        router.add_post(GIT + "/refs", self.create_ref)
        router.add_patch(GIT + "/refs/{ref:.+}", self.update_ref)
        router.add_get(REPO + "/contents/{path:.+}", self.contents, allow_head=False)

    # -- objects -------------------------------------------------------------------------------

    async def create_blob(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        content, encoding = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise validation_failed("Blob", "content", "missing_field")
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError):
                raise validation_failed("Blob", "content", "invalid") from None
        elif encoding == "utf-8":
            data = content.encode()
        else:
            raise validation_failed("Blob", "encoding", "invalid")
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            sha = git.add_blob(data)
            return json_response({"sha": sha, "url": self._url(repo, "blobs", sha)}, 201)

    async def blob(self, request: web.Request) -> web.Response:
        sha = request.match_info["file_sha"]
        with self.ctx.store.lock:
            repo, git = self._git(request)
            data = git.blobs.get(sha)
            if data is None:
                raise not_found()
            return json_response({
                "sha": sha,
                "node_id": node_id("Blob", int(sha[:12], 16)),
                "size": len(data),
                "url": self._url(repo, "blobs", sha),
                "content": _b64(data),
                "encoding": "base64",
            })

    async def create_tree(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        entries = body.get("tree")
        if not isinstance(entries, list) or not entries:
            raise validation_failed("Tree", "tree", "missing_field")
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            files: dict[str, Entry] = {}
            base = body.get("base_tree")
            if base is not None:
                if not isinstance(base, str) or base not in git.trees:
                    raise validation_failed("Tree", "base_tree", "invalid")
                files = git.flatten(base)
            for item in entries:
                _apply(git, files, item)
            sha = git.build(files)
            return json_response(self._tree(repo, git, sha, recursive=False), 201)

    async def tree(self, request: web.Request) -> web.Response:
        recursive = request.query.get("recursive") not in (None, "", "0", "false")
        with self.ctx.store.lock:
            repo, git = self._git(request)
            sha = git.resolve_tree(request.match_info["tree_sha"])
            if sha is None:
                raise not_found()
            return json_response(self._tree(repo, git, sha, recursive=recursive))

    async def create_commit(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if not isinstance(message, str):
            raise validation_failed("Commit", "message", "missing_field")
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise validation_failed("Commit", "parents", "invalid")
        who = caller()
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            if not isinstance(tree, str) or tree not in git.trees:
                raise validation_failed("Commit", "tree", "invalid")
            if any(p not in git.commits for p in parents):
                raise validation_failed("Commit", "parents", "invalid")
            user = self.ctx.store.user(who.login)
            name = (user.name if user is not None else None) or who.login
            person = (name, f"{who.login}@users.noreply.github.com",
                      int(self.ctx.now().timestamp()))
            commit = git.add_commit(tree, tuple(parents), message, person, person)
            return json_response(self._commit(repo, commit), 201)

    async def commit(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, git = self._git(request)
            commit = git.commits.get(request.match_info["commit_sha"])
            if commit is None:
                raise not_found()
            return json_response(self._commit(repo, commit))

    # -- refs ----------------------------------------------------------------------------------

    async def ref(self, request: web.Request) -> web.Response:
        name = "refs/" + request.match_info["ref"]
        with self.ctx.store.lock:
            repo, git = self._git(request)
            if name not in git.refs:
                raise not_found()
            return json_response(self._ref(repo, name, git.refs[name]))

    async def create_ref(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        name, sha = body.get("ref"), body.get("sha")
        if not isinstance(name, str) or not name.startswith("refs/") or name.count("/") < 2:
            raise ApiError(422, "Reference name is invalid" if name else "Invalid request.")
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            if not isinstance(sha, str) or sha not in git.commits:
                raise ApiError(422, "Object does not exist")
            if name in git.refs:
                raise ApiError(422, "Reference already exists")
            git.refs[name] = sha
            return json_response(self._ref(repo, name, sha), 201)

    async def update_ref(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        name, sha, force = "refs/" + request.match_info["ref"], body.get("sha"), body.get("force")
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            if name not in git.refs:
                raise ApiError(422, "Reference does not exist")
            if not isinstance(sha, str) or sha not in git.commits:
                raise ApiError(422, "Object does not exist")
            if force is not True and not git.descends_from(sha, git.refs[name]):
                raise ApiError(422, "Update is not a fast forward")
            git.refs[name] = sha
            return json_response(self._ref(repo, name, sha))

    # -- contents ------------------------------------------------------------------------------

    async def contents(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        branch = request.query.get("ref", "main")
        with self.ctx.store.lock:
            repo, git = self._git(request)
            tree = git.resolve_tree(branch)
            entry = git.flatten(tree).get(path) if tree is not None else None
            if entry is None:
                raise not_found()
            data = git.blobs[entry.sha]
            api = f"{self.ctx.render.base_url}/repos/{repo.full_name}"
            quoted = urllib.parse.quote(path)
            url = f"{api}/contents/{quoted}?ref={urllib.parse.quote(branch)}"
            html = f"{self.ctx.render.base_url}/{repo.full_name}/blob/{branch}/{quoted}"
            git_url = self._url(repo, "blobs", entry.sha)
            return json_response({
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": _b64(data),
                "sha": entry.sha,
                "url": url,
                "git_url": git_url,
                "html_url": html,
                "download_url": None,
                "_links": {"self": url, "git": git_url, "html": html},
            })

    # -- helpers -------------------------------------------------------------------------------

    def _git(self, request: web.Request, *, write: bool = False) -> tuple[Repo, GitRepo]:
        repo, actor = self.ctx.repo_and_actor(request)
        if write and not actor.can_push:
            raise not_found()  # GitHub hides what a caller may not change behind 404
        return repo, self.repos.setdefault(repo.id, GitRepo())

    def _url(self, repo: Repo, kind: str, sha: str) -> str:
        return f"{self.ctx.render.base_url}/repos/{repo.full_name}/git/{kind}/{sha}"

    def _tree(self, repo: Repo, git: GitRepo, sha: str, *, recursive: bool) -> JSON:
        found = git.walk(sha) if recursive else [(e.name, e) for e in git.trees[sha]]
        items = []
        for path, e in found:
            item: JSON = {"path": path, "mode": e.mode, "type": e.kind, "sha": e.sha,
                          "url": self._url(repo, e.kind + "s", e.sha)}
            if e.kind == "blob":
                item["size"] = len(git.blobs[e.sha])
            items.append(item)
        return {"sha": sha, "url": self._url(repo, "trees", sha), "tree": items,
                "truncated": False}

    def _commit(self, repo: Repo, c: Commit) -> JSON:
        web_base = f"{self.ctx.render.base_url}/{repo.full_name}/commit"
        return {
            "sha": c.sha,
            "node_id": node_id("Commit", int(c.sha[:12], 16)),
            "url": self._url(repo, "commits", c.sha),
            "html_url": f"{web_base}/{c.sha}",
            "author": _person(c.author),
            "committer": _person(c.committer),
            "tree": {"sha": c.tree, "url": self._url(repo, "trees", c.tree)},
            "message": c.message,
            "parents": [
                {"sha": p, "url": self._url(repo, "commits", p), "html_url": f"{web_base}/{p}"}
                for p in c.parents
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None,
                             "payload": None, "verified_at": None},
        }

    def _ref(self, repo: Repo, name: str, sha: str) -> JSON:
        api = f"{self.ctx.render.base_url}/repos/{repo.full_name}/git"
        return {
            "ref": name,
            "node_id": node_id("Ref", repo.id * 1000 + len(name)),
            "url": f"{api}/{name}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"},
        }


def _apply(git: GitRepo, files: dict[str, Entry], item: Any) -> None:
    """One `tree` entry of POST git/trees: a blob by sha or content, or a deletion (sha null)."""
    if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
        raise validation_failed("Tree", "tree", "invalid")
    path, mode = item["path"].strip("/"), item.get("mode", "100644")
    if item.get("type", "blob") != "blob" or mode not in FILE_MODES:
        raise validation_failed("Tree", "tree", "invalid", message="only blob entries")
    if "sha" in item and item["sha"] is None:
        files.pop(path, None)
        return
    if isinstance(item.get("content"), str):
        sha = git.add_blob(item["content"].encode())
    elif isinstance(item.get("sha"), str) and item["sha"] in git.blobs:
        sha = item["sha"]
    else:
        raise validation_failed("Tree", "tree.sha", "invalid")
    for other in list(files):  # a file where a directory was, or the other way round
        if other.startswith(path + "/") or path.startswith(other + "/"):
            files.pop(other)
    files[path] = Entry(path.rsplit("/", 1)[-1], mode, "blob", sha)


def _b64(data: bytes) -> str:
    # GitHub wraps base64 content at 60 columns with "\n"
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def _person(who: tuple[str, str, int]) -> JSON:
    when = dt.datetime.fromtimestamp(who[2], dt.UTC)
    return {"name": who[0], "email": who[1], "date": stamp(when)}
