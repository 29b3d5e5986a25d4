"""JSON of the Git Data API and the contents API: trees, commits, refs and files as
api.github.com presents them (https://docs.github.com/rest/git, .../rest/repos/contents).

Reads a `GitRepo`; never mutates it, never raises an HTTP error.
"""

from __future__ import annotations

import base64
import datetime as dt
import urllib.parse
from typing import Any

from .git_objects import Commit, GitRepo
from .model import Repo, node_id
from .render import Renderer, stamp

JSON = dict[str, Any]


def object_url(render: Renderer, repo: Repo, kind: str, sha: str) -> str:
    """`kind`: "blobs", "trees" or "commits"."""
    return f"{render.base_url}/repos/{repo.full_name}/git/{kind}/{sha}"


def blob(render: Renderer, repo: Repo, sha: str, data: bytes) -> JSON:
    return {
        "sha": sha,
        "node_id": node_id("Blob", int(sha[:12], 16)),
        "size": len(data),
        "url": object_url(render, repo, "blobs", sha),
        "content": b64(data),
        "encoding": "base64",
    }


def tree(render: Renderer, repo: Repo, git: GitRepo, sha: str, *, recursive: bool) -> JSON:
    found = git.walk(sha) if recursive else [(e.name, e) for e in git.trees[sha]]
    items = []
    for path, e in found:
        item: JSON = {"path": path, "mode": e.mode, "type": e.kind, "sha": e.sha,
                      "url": object_url(render, repo, e.kind + "s", e.sha)}
        if e.kind == "blob":
            item["size"] = len(git.blobs[e.sha])
        items.append(item)
    return {"sha": sha, "url": object_url(render, repo, "trees", sha), "tree": items,
            "truncated": False}


def commit(render: Renderer, repo: Repo, c: Commit) -> JSON:
    web_base = f"{render.base_url}/{repo.full_name}/commit"
    return {
        "sha": c.sha,
        "node_id": node_id("Commit", int(c.sha[:12], 16)),
        "url": object_url(render, repo, "commits", c.sha),
        "html_url": f"{web_base}/{c.sha}",
        "author": _person(c.author),
        "committer": _person(c.committer),
        "tree": {"sha": c.tree, "url": object_url(render, repo, "trees", c.tree)},
        "message": c.message,
        "parents": [
            {"sha": p, "url": object_url(render, repo, "commits", p),
             "html_url": f"{web_base}/{p}"}
            for p in c.parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None,
                         "payload": None, "verified_at": None},
    }


def ref(render: Renderer, repo: Repo, name: str, sha: str) -> JSON:
    api = f"{render.base_url}/repos/{repo.full_name}/git"
    return {
        "ref": name,
        "node_id": node_id("Ref", repo.id * 1000 + len(name)),
        "url": f"{api}/{name}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"},
    }


def file(render: Renderer, repo: Repo, path: str, branch: str, sha: str, size: int) -> JSON:
    """A file as GET and PUT contents describe it, without its content."""
    quoted, where = urllib.parse.quote(path), urllib.parse.quote(branch)
    url = f"{render.base_url}/repos/{repo.full_name}/contents/{quoted}?ref={where}"
    html = f"{render.base_url}/{repo.full_name}/blob/{branch}/{quoted}"
    git_url = object_url(render, repo, "blobs", sha)
    return {
        "type": "file",
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html,
        # GitHub's raw host with a short-lived token for a private repository; the emulator
        # serves no raw files, so this only has the shape
        "download_url": f"{render.base_url}/{repo.full_name}/raw/{branch}/{quoted}",
        "_links": {"self": url, "git": git_url, "html": html},
    }


def b64(data: bytes) -> str:
    # GitHub wraps base64 content at 60 columns with "\n"
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def _person(who: tuple[str, str, int]) -> JSON:
    when = dt.datetime.fromtimestamp(who[2], dt.UTC)
    return {"name": who[0], "email": who[1], "date": stamp(when)}
