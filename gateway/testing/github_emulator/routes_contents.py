"""REST routes of the contents API: read a file, create or update one with a commit
(https://docs.github.com/rest/repos/contents), over the same `GitRepo`s as `routes_git`.

`PUT contents` is how a repository without any commit gets its first one (the Git Data API
answers 409 until then), on the `branch` named or the repository's default branch. Its answers
follow what api.github.com says today: updating an existing file needs its blob `sha` (422
`"sha" wasn't supplied.` without one, 409 `<path> does not match <sha>` for another one), a
`sha` for a new file is ignored, and a branch that does not exist (in a repository that has
commits) is 404. Same conventions as `routes_issues`: parse, act under the store lock, render.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from . import render_git
from .context import Context, json_response, read_object
from .errors import ApiError, not_found
from .git_objects import GitRepo, place
from .routes_git import REPO, git_of, person

CONTENTS = REPO + "/contents/{path:.+}"
FILE_MODE = "100644"


class ContentsRoutes:
    def __init__(self, ctx: Context, repos: dict[int, GitRepo]) -> None:
        self.ctx = ctx
        self.repos = repos  # repo id -> its objects; shared with the Emulator and GitRoutes

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(CONTENTS, self.contents, allow_head=False)
        router.add_put(CONTENTS, self.put_contents)

    async def contents(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        with self.ctx.store.lock:
            repo, git = git_of(self.ctx, self.repos, request, write=False, empty_ok=True)
            if not git.refs:
                raise ApiError(404, "This repository is empty.")
            branch = request.query.get("ref") or repo.default_branch
            tree = git.resolve_tree(branch)
            entry = git.flatten(tree).get(path) if tree is not None else None
            if entry is None:
                raise not_found()
            data = git.blobs[entry.sha]
            found = render_git.file(self.ctx.render, repo, path, branch, entry.sha, len(data))
            return json_response({**found, "content": render_git.b64(data), "encoding": "base64"})

    async def put_contents(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        body = await read_object(request)
        message, content = _required(body, "message"), _required(body, "content")
        sha, branch = _optional(body, "sha"), _optional(body, "branch")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "content is not valid Base64") from None
        with self.ctx.store.lock:
            repo, git = git_of(self.ctx, self.repos, request, write=True, empty_ok=True)
            branch = branch or repo.default_branch
            ref = f"refs/heads/{branch}"
            head = git.refs.get(ref)
            if head is None and git.refs:
                raise ApiError(404, f"Branch {branch} not found")
            files = git.flatten(git.commits[head].tree) if head is not None else {}
            current = files.get(path)
            if current is not None and sha is None:
                raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if current is not None and sha != current.sha:
                raise ApiError(409, f"{path} does not match {sha}")
            if any(p.startswith(path + "/") or path.startswith(p + "/") for p in files):
                # a directory at `path`, or a file where one of its folders goes
                raise ApiError(422, f"Invalid request.\n\n{path} conflicts with a file or "
                                    "directory on the branch.")
            blob = git.add_blob(data)
            place(files, path, current.mode if current is not None else FILE_MODE, blob)
            who = person(self.ctx)
            parents = (head,) if head is not None else ()
            commit = git.add_commit(git.build(files), parents, message, who, who)
            git.refs[ref] = commit.sha
            return json_response({
                "content": render_git.file(self.ctx.render, repo, path, branch, blob, len(data)),
                "commit": render_git.commit(self.ctx.render, repo, commit),
            }, 201 if current is None else 200)


def _optional(body: dict[str, Any], name: str) -> str | None:
    """A string field of the body, None when absent; 422 in GitHub's words when not a string."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(422, f"Invalid request.\n\nFor 'properties/{name}', {value!r} is not a "
                            "string.")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    value = _optional(body, name)
    if value is None:
        raise ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
    return value
