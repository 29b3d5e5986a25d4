"""The attachment store in a private GitHub repository, written through the Git Data API
(https://docs.github.com/rest/git): one commit per message, holding that message's files.

`store` is safe to call again after any failure: it first reads the branch's tree and, when
every file is already there with the same content (git names a blob by its content, so the
sha is known before sending it), writes nothing. A write whose outcome is unclear (5xx, a
dropped connection) surfaces as `OutcomeUnknown`, as in `github.py`, whose error translation
this adapter shares: the next `store` (or `existing`) finds what the first one wrote. The branch
only moves by fast-forward (`force: false`); when another writer moved it meanwhile, the commit
is rebuilt on the new head a few times before giving up with a TransientError.

Blocking (PyGithub, `retry=None`): call it from the writer's thread, never from the event loop.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from github import Auth, Github, GithubException

from gateway.errors import TransientError
from gateway.outbound.github import (
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
    translate_error,
)

MOVED_RETRIES = 3  # rebuilds on a branch head that moved under us, before giving up
FILE_MODE = "100644"


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str  # inside the repository, "/"-separated, e.g. "2024/05/<key>/screenshot.png"
    data: bytes


def file_url(web_url: str, repository: str, branch: str, path: str) -> str:
    """The web page of file `path` on `branch` of `repository` (owner/name) under `web_url`."""
    quoted = urllib.parse.quote(path.strip("/"))
    return f"{web_url.rstrip('/')}/{repository}/blob/{urllib.parse.quote(branch)}/{quoted}"


def blob_sha(data: bytes) -> str:
    """Git's id of a blob: the sha GitHub will give `data` (git-scm.com, Git Objects)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class AttachmentRepository:
    """Attachments in `repository` (owner/name) on `branch`, one commit per `store`."""

    def __init__(self, *, api_url: str, repository: str, timeout: float,
                 token: str | None = None, auth: Auth.Auth | None = None,
                 branch: str = "main", web_url: str = "https://github.com",
                 secondary_wait: float = 60.0) -> None:
        if auth is None:
            if not token:
                raise ValueError("AttachmentRepository needs a token or an auth")
            auth = Auth.Token(token)
        self._gh = Github(
            base_url=api_url, auth=auth, retry=None, timeout=int(timeout),
            seconds_between_requests=None, seconds_between_writes=None, lazy=True,
        )
        self._repository = repository
        self._branch = branch
        self._web_url = web_url.rstrip("/")
        self._secondary_wait = secondary_wait
        self._api = f"/repos/{repository}"

    def close(self) -> None:
        self._gh.close()

    # -- public ---------------------------------------------------------------------------------

    def store(self, files: Sequence[StoredFile], message: str) -> str:
        """Commit `files` on the branch with `message` (which carries the caller's marker);
        returns the sha of the commit that holds them. When they are all already there with
        this content, nothing is written and the branch head is returned."""
        if not files:
            raise ValueError("store needs at least one file")
        wanted = {f.path.strip("/"): f for f in files}
        for _ in range(MOVED_RETRIES + 1):
            head, tree, present = self._head()
            if head is not None and all(
                present.get(p) == blob_sha(f.data) for p, f in wanted.items()
            ):
                return head
            entries = [
                {"path": p, "mode": FILE_MODE, "type": "blob", "sha": self._blob(f.data)}
                for p, f in wanted.items()
            ]
            body: dict[str, Any] = {"tree": entries}
            if tree is not None:
                body["base_tree"] = tree
            new_tree = str(self._request("POST", "/git/trees", body, write=True)["sha"])
            commit = str(self._request("POST", "/git/commits", {
                "message": message, "tree": new_tree, "parents": [head] if head else [],
            }, write=True)["sha"])
            if self._advance(head, commit):
                return commit
        raise TransientError(
            f"branch {self._branch} of {self._repository} kept moving; try again later")

    def existing(self, paths: Sequence[str]) -> dict[str, str]:
        """Which of `paths` are on the branch now: path -> blob sha (one recursive tree read)."""
        _, _, present = self._head()
        return {p.strip("/"): present[p.strip("/")] for p in paths if p.strip("/") in present}

    def check(self) -> tuple[bool, str]:
        """(ok, why) for `check-config --online`: the repository exists, is private, and the
        token may push to it. Errors other than 404 (a bad token, no answer) are raised."""
        try:
            data = self._request("GET", "", None, write=False)
        except RepositoryNotFound as exc:
            return False, str(exc)
        name = self._repository
        if not data.get("private"):
            return False, f"repository {name} is public: attachments would be readable by anyone"
        permissions = data.get("permissions")
        if not isinstance(permissions, Mapping) or not permissions.get("push"):
            return False, f"the token may not write to repository {name}"
        return True, f"repository {name} is private and the token may write to it"

    def file_url(self, path: str) -> str:
        """The web page of a stored file, for people with access to the repository."""
        return file_url(self._web_url, self._repository, self._branch, path)

    # -- steps ----------------------------------------------------------------------------------

    def _head(self) -> tuple[str | None, str | None, dict[str, str]]:
        """(head commit, its tree, path -> blob sha); (None, None, {}) on an empty repository."""
        try:
            ref = self._request("GET", f"/git/ref/heads/{self._branch}", None, write=False)
        except RepositoryNotFound:
            self._request("GET", "", None, write=False)  # the repository itself: is it there?
            return None, None, {}  # it is: the branch does not exist yet
        try:
            head = str(ref["object"]["sha"])
        except (KeyError, TypeError) as exc:
            raise TransientError("GitHub's answer about the branch could not be read") from exc
        data = self._request("GET", f"/git/trees/{head}", None, write=False,
                             params={"recursive": "1"})
        if data.get("truncated"):
            raise TransientError(f"the tree of {self._repository} is too large to list")
        try:
            present = {str(e["path"]): str(e["sha"]) for e in data["tree"]
                       if e["type"] == "blob"}
            return head, str(data["sha"]), present
        except (KeyError, TypeError) as exc:  # an answer we cannot read: ask again later
            raise TransientError("GitHub's answer about the tree could not be read") from exc

    def _blob(self, data: bytes) -> str:
        body = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        return str(self._request("POST", "/git/blobs", body, write=True)["sha"])

    def _advance(self, head: str | None, commit: str) -> bool:
        """Move the branch to `commit` by fast-forward; False when it moved meanwhile."""
        try:
            if head is None:
                self._request("POST", "/git/refs",
                              {"ref": f"refs/heads/{self._branch}", "sha": commit}, write=True)
            else:
                self._request("PATCH", f"/git/refs/heads/{self._branch}",
                              {"sha": commit, "force": False}, write=True)
        except WriteRejected as exc:
            if exc.status == 422:  # "Update is not a fast forward" / "Reference already exists"
                return False
            raise
        return True

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None, *, write: bool,
                 params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            with self._translated(write=write):
                _, data = self._gh.requester.requestJsonAndCheck(
                    method, self._api + path, parameters=params, input=body)
        except WriteRejected as exc:
            if exc.status != 404:
                raise
            raise RepositoryNotFound(
                f"repository {self._repository} does not exist or the token cannot "
                f"{'write to' if write else 'see'} it") from exc
        if not isinstance(data, dict):
            reason = "GitHub's answer could not be read (not an object)"
            raise OutcomeUnknown(reason) if write else TransientError(reason)
        return data

    @contextlib.contextmanager
    def _translated(self, *, write: bool) -> Iterator[None]:
        """As `GitHubTracker._translated`: GitHub's failures become the gateway's errors."""
        try:
            yield
        except (GithubException, requests.exceptions.RequestException, ConnectionError,
                TimeoutError) as exc:
            raise translate_error(exc, write=write,
                                  secondary_wait=self._secondary_wait) from exc
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            reason = f"GitHub's answer could not be read ({type(exc).__name__})"
            raise (OutcomeUnknown(reason) if write else TransientError(reason)) from exc
