"""Carrying out the attachment rows of the outbox: `store_attachments` and `publish_attachment`.

`store_attachments` (queued by `gateway.inbound.outbox_rows`, before the issue or comment that
links the files) reads the message's raw bytes from the store, takes out the files its payload
names, one at a time, and writes them where the payload says: one commit in the private
repository (`AttachmentRepository.store`, which first looks whether they are all there already,
so a retry after an unclear answer or a crash writes nothing twice), or files in the local
store (written atomically; the same bytes again are a no-op). `publish_attachment` (queued by
the `/publish` command) copies one stored file to the public repository and branch its payload
names, the same way, and returns the file's public link for the comment that announces it.

Errors are the writer's (`gateway.errors`, `gateway.outbound.github`): the writer decides what
to retry. A file that can no longer be taken out of its message (the message was purged) is a
`PermanentError`. Blocking: call from the writer's thread. This module must not choose paths
or compose Markdown (`gateway.inbound.attachments` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.errors import ConfigError, PermanentError
from gateway.inbound.attachment_data import attachment_makers
from gateway.outbound.attachment_repo import AttachmentRepository, StoredFile
from gateway.outbound.local_store import LocalStore

log = structlog.get_logger("gateway.attachments")

PUBLISHED_DIR = "published"  # where /publish puts files in the public repository


@dataclass(frozen=True, slots=True)
class Stored:
    files: int  # files the row stores
    bytes: int
    commit: str | None  # the repository commit holding them (None for the local store)


@dataclass(frozen=True, slots=True)
class Published:
    url: str  # the file's page
    raw_url: str  # the file itself (an image is shown from it)
    path: str


class AttachmentStores:
    """The stores rows name: repositories by name (made on first use), and the local store."""

    def __init__(self, raw_for: Callable[[str], bytes | None],
                 repository_for: Callable[[str, str], AttachmentRepository] | None,
                 local: LocalStore | None) -> None:
        self._raw_for = raw_for  # message key -> its raw bytes (None: not stored)
        self._repository_for = repository_for  # (owner/name, branch) -> adapter
        self._local = local
        self._repositories: dict[tuple[str, str], AttachmentRepository] = {}

    def close(self) -> None:
        for repository in self._repositories.values():
            repository.close()
        self._repositories.clear()

    # -- rows ---------------------------------------------------------------------------------

    def store(self, message_key: str | None, payload: dict[str, Any], marker: str) -> Stored:
        """Store the files of `payload` (a `store_attachments` row's), taken out of the raw
        message `message_key`. Idempotent."""
        wanted = payload.get("files") or []
        if not message_key or not wanted:
            raise PermanentError("the row names no message or no files")
        files = self._files(message_key, wanted)
        size = sum(int(item.get("size") or 0) for item in wanted)
        if payload.get("store") == "local":
            local = self._need_local()
            for file in files:
                try:
                    local.store(file.path, file.content())
                except ValueError as exc:
                    raise PermanentError(str(exc)) from exc
            return Stored(len(files), size, None)
        repository = self.repository(str(payload.get("repository") or ""),
                                     str(payload.get("branch") or "main"))
        commit = repository.store(files, f"Attachments of one message\n\n{marker}")
        return Stored(len(files), size, commit)

    def publish(self, payload: dict[str, Any], marker: str) -> Published:
        """Copy the stored file of `payload` (a `publish_attachment` row's) to its public
        repository and branch. Idempotent: the file is written once."""
        path = str(payload["path"])
        data = self.read(str(payload.get("store") or ""), path,
                         str(payload.get("source_repository") or ""),
                         str(payload.get("source_branch") or "main"))
        if data is None:
            raise PermanentError(f"the stored file {path} is not in the attachment store")
        target = self.repository(str(payload["repository"]), str(payload["branch"]))
        public_path = f"{PUBLISHED_DIR}/{path}"
        target.store([StoredFile(public_path, data)], f"Publish one attachment\n\n{marker}")
        return Published(target.file_url(public_path), target.raw_url(public_path), public_path)

    def read(self, store: str, path: str, repository: str, branch: str) -> bytes | None:
        """A stored file's bytes, or None when it is not there."""
        if store == "local":
            found = self._need_local().open(path)
            return found.read_bytes() if found is not None else None
        return self.repository(repository, branch).read(path)

    def repository(self, name: str, branch: str) -> AttachmentRepository:
        if not name or self._repository_for is None:
            raise ConfigError("attachments.repository", "a row stores attachments in a "
                              "repository, but none is configured",
                              "set attachments.repository (and restart)")
        key = (name, branch)
        if key not in self._repositories:
            self._repositories[key] = self._repository_for(name, branch)
        return self._repositories[key]

    # -- steps --------------------------------------------------------------------------------

    def _need_local(self) -> LocalStore:
        if self._local is None:
            raise ConfigError("attachments.store", 'a row stores attachments on this host, but '
                              'attachments.store is not "local"',
                              'set attachments.store = "local" and attachments.directory '
                              "(and restart), or drop the row")
        return self._local

    def _files(self, message_key: str, wanted: Sequence[dict[str, Any]]) -> list[StoredFile]:
        """The files of the row, each made from the raw message when it is needed: one file's
        bytes in memory at a time, beside the raw message."""
        raw = self._raw_for(message_key)
        if raw is None:
            raise PermanentError("the message is no longer stored: its files cannot be read")
        makers = attachment_makers(raw)  # the message read once for all its files
        files = []
        for item in wanted:
            index = int(item["index"])
            if not 0 <= index < len(makers):
                raise PermanentError(f"attachment {index} is not in the message any more")
            files.append(StoredFile(str(item["path"]), makers[index]))
        return files
