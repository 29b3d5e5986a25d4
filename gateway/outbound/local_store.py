"""Attachments kept in a directory on the gateway's host (for teams without a private repository).

`LocalStore.store` keeps each content once: the bytes go to `.blobs/<sha256>` (written into a
temporary file, flushed and fsynced, then `os.replace`d into place), and the path is a hard link
to that blob, itself made as a temporary link renamed over the path, so a reader (the web edge)
sees the old file or the new one whole, never half, and the same file mailed twice takes its
space once. Storing the same bytes again is a no-op, so a retried outbox row is harmless. Every
path is relative and `/`-separated (as `gateway.inbound.attachment_names` builds them); one that
is absolute, has an empty, `.`/`..` or hidden (leading-dot: temporary files are) component, or
resolves outside the directory (through a symlink, say) is refused.
This module must not sign links, choose names or read config; its methods block (run them off
the event loop).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

_TEMP_PREFIX = ".part-"  # hidden: `open` never answers a file being written
_BLOBS = ".blobs"  # hidden: each content once, by SHA-256; paths are hard links to them


class LocalStore:
    """Files under one directory, addressed by relative paths."""

    def __init__(self, directory: Path) -> None:
        self._root = Path(directory).resolve()

    @property
    def directory(self) -> Path:
        return self._root

    def store(self, path: str, data: bytes) -> None:
        """Write `data` at `path` atomically, creating parent directories. An existing file with
        the same bytes is left alone; one with other bytes is replaced.

        Raises ValueError for a path that is not a plain relative path inside the directory."""
        target = self._resolve(path)
        if target is None:
            raise ValueError("refused: not a plain relative path inside the attachment store")
        blob = self._blob(data)
        if _same_file(target, blob):
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._resolve(path) != target:  # a parent created meanwhile is a symlink out
            raise ValueError("refused: not a plain relative path inside the attachment store")
        temporary = target.parent / f"{_TEMP_PREFIX}{os.urandom(8).hex()}"
        try:
            os.link(blob, temporary)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(target.parent)

    def _blob(self, data: bytes) -> Path:
        """The file holding `data` under `.blobs/`, written (atomically, durably) if new."""
        digest = hashlib.sha256(data).hexdigest()
        folder = self._root / _BLOBS / digest[:2]
        blob = folder / digest
        if blob.is_file() and blob.stat().st_size == len(data):
            return blob
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, blob)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(folder)
        return blob

    def open(self, path: str) -> Path | None:
        """The file at `path`, or None when there is none or the path is refused."""
        target = self._resolve(path)
        if target is None or not target.is_file():
            return None
        return target

    def _resolve(self, path: str) -> Path | None:
        parts = path.split("/")
        if (not path or "\x00" in path or "\\" in path or path.startswith("/")
                or any(not part or part.startswith(".") for part in parts)):
            return None
        try:
            target = self._root.joinpath(*parts).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long
            return None
        if target == self._root or not target.is_relative_to(self._root):
            return None
        return target


def _same_file(target: Path, blob: Path) -> bool:
    """Whether `target` is already a link to `blob`."""
    try:
        return os.path.samefile(target, blob)
    except OSError:
        return False


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (rename(2) is atomic, not durable, until the directory is
    synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
