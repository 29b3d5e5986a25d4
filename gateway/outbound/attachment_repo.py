"""The attachment store in a private GitHub repository, written through the Git Data API
(https://docs.github.com/rest/git): one commit per message, holding that message's files.

`store` is safe to call again after any failure: it first reads the branch's tree and, when
every file is already there with the same content (git names a blob by its content, so the
sha is known before sending it), writes nothing. A write whose outcome is unclear (5xx, a
dropped connection) surfaces as `OutcomeUnknown`, as in `github.py`, whose error translation
this adapter shares: the next `store` (or `existing`) finds what the first one wrote. The branch
only moves by fast-forward (`force: false`); when another writer moved it meanwhile, the commit
is rebuilt on the new head a few times before giving up with a TransientError.

GitHub answers 409 "Git Repository is empty." to the Git Data API of a repository without any
commit, so the first `store` there commits a README through the contents API
(https://docs.github.com/rest/repos/contents), which creates the branch; a repository that has
commits but not the branch gets it from its default branch's head. Both steps are only taken
while the state that calls for them is seen, so a repeat after an unclear outcome skips them.

Blocking (PyGithub, `retry=None`): call it from the writer's thread, never from the event loop.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
_B64_PIECE = 3 * 256 * 1024  # bytes base64-encoded at a time (a multiple of 3: no padding)
FILE_MODE = "100644"
README = "README.md"  # the first commit of an empty repository
README_TEXT = b"Attachments stored by visit-gateway; private to the team.\n"


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file to store: its bytes, or how to make them (called each time they are needed, so
    a message's files need not all be held at once)."""

    path: str  # inside the repository, "/"-separated, e.g. "<key hash>/0-screenshot.png"
    data: bytes | Callable[[], bytes]

    def content(self) -> bytes:
        return self.data() if callable(self.data) else self.data


def file_url(web_url: str, repository: str, branch: str, path: str) -> str:
    """The web page of file `path` on `branch` of `repository` (owner/name) under `web_url`."""
    quoted = urllib.parse.quote(path.strip("/"))
    return f"{web_url.rstrip('/')}/{repository}/blob/{urllib.parse.quote(branch)}/{quoted}"


@dataclass(frozen=True, slots=True)
class Branch:
    """The branch as one read found it."""

    head: str | None = None  # its head commit; None when the branch does not exist
    tree: str | None = None  # that commit's tree
    files: Mapping[str, str] = field(default_factory=dict)  # path -> blob sha
    empty: bool = False  # the repository has no commit at all
    start: str | None = None  # no branch: the default branch's head, to start it from


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
        this content, nothing is written and the branch head is returned. In an empty
        repository a README is committed first, with the same `message`."""
        if not files:
            raise ValueError("store needs at least one file")
        wanted = {f.path.strip("/"): f for f in files}
        shas = {p: blob_sha(f.content()) for p, f in wanted.items()}  # one file at a time
        branch = self._ready(message)
        for _ in range(MOVED_RETRIES + 1):
            if branch.head is not None and all(
                branch.files.get(p) == shas[p] for p in wanted
            ):
                return branch.head
            # A blob the branch already has (the same bytes under another path) is not sent
            # again: git stores each content once.
            known = set(branch.files.values())
            entries = [
                {"path": p, "mode": FILE_MODE, "type": "blob",
                 "sha": shas[p] if shas[p] in known else self._blob(f.content())}
                for p, f in wanted.items()
            ]
            body: dict[str, Any] = {"tree": entries}
            if branch.tree is not None:
                body["base_tree"] = branch.tree
            new_tree = str(self._request("POST", "/git/trees", body, write=True)["sha"])
            commit = str(self._request("POST", "/git/commits", {
                "message": message, "tree": new_tree,
                "parents": [branch.head] if branch.head else [],
            }, write=True)["sha"])
            if self._advance(branch.head, commit):
                return commit
            branch = self._head()
        raise TransientError(
            f"branch {self._branch} of {self._repository} kept moving; try again later")

    def existing(self, paths: Sequence[str]) -> dict[str, str]:
        """Which of `paths` are on the branch now: path -> blob sha (one recursive tree read)."""
        present = self._head().files
        return {p.strip("/"): present[p.strip("/")] for p in paths if p.strip("/") in present}

    def read(self, path: str) -> bytes | None:
        """The bytes of the file at `path` on the branch, None when there is none."""
        sha = self._head().files.get(path.strip("/"))
        if sha is None:
            return None
        data = self._request("GET", f"/git/blobs/{sha}", None, write=False)
        content = data.get("content")
        if data.get("encoding") != "base64" or not isinstance(content, str):
            raise TransientError("GitHub's answer about the file could not be read")
        try:
            found = base64.b64decode(content)  # GitHub wraps it in lines; newlines are skipped
        except ValueError as exc:
            raise TransientError("GitHub's answer about the file could not be read") from exc
        if blob_sha(found) != sha:
            raise TransientError(f"GitHub's copy of {path} does not match its sha")
        return found

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

    def raw_url(self, path: str) -> str:
        """The file itself, for people signed in with access to the repository: github.com
        redirects `?raw=true` to a short-lived raw link, so an image in an issue shows inline."""
        return self.file_url(path) + "?raw=true"

    # -- steps ----------------------------------------------------------------------------------

    def _ready(self, message: str) -> Branch:
        """The branch, created first when it does not exist: by a README commit in an empty
        repository, or from the default branch's head."""
        branch = self._head()
        if branch.empty:
            self._commit_readme(message)
            branch = self._head()
            if branch.empty:
                raise TransientError(f"repository {self._repository} is still empty")
        if branch.head is None and branch.start is not None:
            self._advance(None, branch.start)  # lost to another writer: theirs will do
            branch = self._head()
        return branch

    def _head(self) -> Branch:
        """The branch's head, tree and files; `empty` or `start` when it does not exist."""
        try:
            ref = self._request("GET", f"/git/ref/heads/{self._branch}", None, write=False)
        except WriteRejected as exc:
            if exc.status == 409:  # "Git Repository is empty."
                return Branch(empty=True)
            raise
        except RepositoryNotFound:
            return Branch(start=self._default_head())  # the branch does not exist yet
        head = _ref_sha(ref)
        data = self._request("GET", f"/git/trees/{head}", None, write=False,
                             params={"recursive": "1"})
        if data.get("truncated"):
            raise TransientError(f"the tree of {self._repository} is too large to list")
        try:
            present = {str(e["path"]): str(e["sha"]) for e in data["tree"]
                       if e["type"] == "blob"}
            return Branch(head, str(data["sha"]), present)
        except (KeyError, TypeError) as exc:  # an answer we cannot read: ask again later
            raise TransientError("GitHub's answer about the tree could not be read") from exc

    def _default_head(self) -> str | None:
        """The head of the repository's default branch when it is not ours; None when it is
        ours or missing too. Raises RepositoryNotFound when the repository cannot be seen."""
        default = self._request("GET", "", None, write=False).get("default_branch")
        if not isinstance(default, str) or not default or default == self._branch:
            return None
        try:
            ref = self._request("GET", f"/git/ref/heads/{default}", None, write=False)
        except RepositoryNotFound:
            return None
        return _ref_sha(ref)

    def _commit_readme(self, message: str) -> None:
        """The first commit of an empty repository, which creates the branch. Only called
        while the repository is seen empty, so an unclear outcome is never sent twice: the
        next read finds the branch. A 409 or 422 means another writer was first."""
        body = {"message": message, "content": base64.b64encode(README_TEXT).decode(),
                "branch": self._branch}
        try:
            self._request("PUT", f"/contents/{README}", body, write=True)
        except WriteRejected as exc:
            if exc.status not in (409, 422):
                raise

    def _blob(self, data: bytes) -> str:
        """POST a blob. Its JSON body is written, base64 piece by piece, to a temporary file
        that is sent from disk: a 25 MB file costs no more memory than its own bytes (a JSON
        string of it would cost four copies of a third more)."""
        with tempfile.TemporaryFile() as body:
            body.write(b'{"encoding": "base64", "content": "')
            view = memoryview(data)
            for start in range(0, len(view), _B64_PIECE):
                body.write(base64.b64encode(view[start:start + _B64_PIECE]))
            body.write(b'"}')
            size = body.tell()
            body.seek(0)
            headers = {"Content-Type": "application/json", "Content-Length": str(size)}
            answer = self._send(lambda: self._gh.requester.requestMemoryBlobAndCheck(
                "POST", self._api + "/git/blobs", None, headers, body), write=True)
        return str(answer["sha"])

    def _advance(self, head: str | None, commit: str) -> bool:
        """Move the branch to `commit` by fast-forward, or create it there when `head` is None;
        False when it moved (or was created) meanwhile."""
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
        return self._send(lambda: self._gh.requester.requestJsonAndCheck(
            method, self._api + path, parameters=params, input=body), write=write)

    def _send(self, call: Callable[[], tuple[Any, Any]], *, write: bool) -> dict[str, Any]:
        """`call` (a PyGithub requester call), its failures translated; its JSON object."""
        try:
            with self._translated(write=write):
                _, data = call()
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


def _ref_sha(ref: Mapping[str, Any]) -> str:
    try:
        return str(ref["object"]["sha"])
    except (KeyError, TypeError) as exc:
        raise TransientError("GitHub's answer about the branch could not be read") from exc
