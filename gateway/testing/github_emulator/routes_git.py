"""REST routes of GitHub's Git Data API (blobs, trees, commits, refs), shaped like
api.github.com (https://docs.github.com/rest/git).

Objects live in a `GitRepo` per repository, named by real SHA-1 ids. A repository without any
commit answers every Git Data call with 409 "Git Repository is empty.", as api.github.com does:
its first commit comes from the contents API (`routes_contents`), after which blobs, trees,
commits and refs work. `PATCH git/refs` without `force` only fast-forwards (422 otherwise).
Writes need push access; a caller who cannot see a private repository gets 404 as on GitHub.
Same conventions as `routes_issues`: parse, act under the store lock, render.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from . import render_git
from .context import Context, caller, json_response, read_object
from .errors import ApiError, not_found, validation_failed
from .git_objects import FILE_MODES, Entry, GitRepo, place
from .model import Repo

REPO = "/repos/{owner}/{repo}"
GIT = REPO + "/git"
EMPTY = "Git Repository is empty."


def git_of(ctx: Context, repos: dict[int, GitRepo], request: web.Request, *, write: bool,
           empty_ok: bool = False) -> tuple[Repo, GitRepo]:
    """The repository in the path and its objects, as the caller may use them: 404 when it
    cannot see the repository or (for a write) push to it, 409 when the repository has no
    commit yet unless `empty_ok`. Call with `store.lock` held."""
    repo, actor = ctx.repo_and_actor(request)
    if write and not actor.can_push:
        raise not_found()  # GitHub hides what a caller may not change behind 404
    git = repos.setdefault(repo.id, GitRepo())
    if not empty_ok and not git.refs:
        raise ApiError(409, EMPTY)
    return repo, git


def person(ctx: Context) -> tuple[str, str, int]:
    """The caller as author and committer of a commit made now."""
    who = caller()
    user = ctx.store.user(who.login)
    name = (user.name if user is not None else None) or who.login
    return name, f"{who.login}@users.noreply.github.com", int(ctx.now().timestamp())


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
            url = render_git.object_url(self.ctx.render, repo, "blobs", sha)
            return json_response({"sha": sha, "url": url}, 201)

    async def blob(self, request: web.Request) -> web.Response:
        sha = request.match_info["file_sha"]
        with self.ctx.store.lock:
            repo, git = self._git(request)
            data = git.blobs.get(sha)
            if data is None:
                raise not_found()
            return json_response(render_git.blob(self.ctx.render, repo, sha, data))

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
            data = render_git.tree(self.ctx.render, repo, git, sha, recursive=False)
            return json_response(data, 201)

    async def tree(self, request: web.Request) -> web.Response:
        recursive = request.query.get("recursive") not in (None, "", "0", "false")
        with self.ctx.store.lock:
            repo, git = self._git(request)
            sha = git.resolve_tree(request.match_info["tree_sha"])
            if sha is None:
                raise not_found()
            data = render_git.tree(self.ctx.render, repo, git, sha, recursive=recursive)
            return json_response(data)

    async def create_commit(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        message, tree, parents = body.get("message"), body.get("tree"), body.get("parents", [])
        if not isinstance(message, str):
            raise validation_failed("Commit", "message", "missing_field")
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise validation_failed("Commit", "parents", "invalid")
        with self.ctx.store.lock:
            repo, git = self._git(request, write=True)
            if not isinstance(tree, str) or tree not in git.trees:
                raise validation_failed("Commit", "tree", "invalid")
            if any(p not in git.commits for p in parents):
                raise validation_failed("Commit", "parents", "invalid")
            who = person(self.ctx)
            commit = git.add_commit(tree, tuple(parents), message, who, who)
            return json_response(render_git.commit(self.ctx.render, repo, commit), 201)

    async def commit(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, git = self._git(request)
            commit = git.commits.get(request.match_info["commit_sha"])
            if commit is None:
                raise not_found()
            return json_response(render_git.commit(self.ctx.render, repo, commit))

    # -- refs ----------------------------------------------------------------------------------

    async def ref(self, request: web.Request) -> web.Response:
        name = "refs/" + request.match_info["ref"]
        with self.ctx.store.lock:
            repo, git = self._git(request)
            if name not in git.refs:
                raise not_found()
            return json_response(render_git.ref(self.ctx.render, repo, name, git.refs[name]))

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
            return json_response(render_git.ref(self.ctx.render, repo, name, sha), 201)

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
            return json_response(render_git.ref(self.ctx.render, repo, name, sha))

    def _git(self, request: web.Request, *, write: bool = False) -> tuple[Repo, GitRepo]:
        return git_of(self.ctx, self.repos, request, write=write)


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
    place(files, path, mode, sha)
