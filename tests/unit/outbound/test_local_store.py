"""The local attachment store (issue 17): atomic, idempotent, and never outside its directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.inbound.attachment_names import storage_path
from gateway.outbound.local_store import LocalStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


def test_store_creates_parents_and_open_finds_the_file(root: Path) -> None:
    store = LocalStore(root)
    path = storage_path("<q1@univ.edu>", 0, "report.pdf")
    store.store(path, b"%PDF-1.7")
    found = store.open(path)
    assert found is not None and found.read_bytes() == b"%PDF-1.7"
    assert found == root.resolve() / path
    assert store.open("0123456789abcdef/0-missing.pdf") is None


def test_storing_the_same_bytes_again_leaves_the_file_alone(root: Path) -> None:
    store = LocalStore(root)
    store.store("k/0-a.txt", b"same")
    before = os.stat(root / "k/0-a.txt")
    store.store("k/0-a.txt", b"same")
    after = os.stat(root / "k/0-a.txt")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_other_bytes_replace_the_file_atomically_and_leave_no_temporaries(root: Path) -> None:
    store = LocalStore(root)
    store.store("k/0-a.txt", b"old")
    with open(root / "k/0-a.txt", "rb") as reader:  # a download in progress keeps the old file
        store.store("k/0-a.txt", b"new and longer")
        assert reader.read() == b"old"
    assert (root / "k/0-a.txt").read_bytes() == b"new and longer"
    assert sorted(p.name for p in (root / "k").iterdir()) == ["0-a.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(root)
    store.store("k/0-a.txt", b"old")

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        store.store("k/0-a.txt", b"new")
    assert (root / "k/0-a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in (root / "k").iterdir()) == ["0-a.txt"]


@pytest.mark.parametrize("path", [
    "../escape.txt", "k/../../escape.txt", "/etc/passwd", "k/../k/0-a.txt", "./k/0-a.txt",
    "", ".", "..", "k/", "k//a", "..\\escape.txt", "k/.part-abc", ".htaccess", "a\x00b",
])
def test_paths_that_are_not_plain_and_inside_are_refused(root: Path, path: str) -> None:
    store = LocalStore(root)
    with pytest.raises(ValueError, match="refused"):
        store.store(path, b"x")
    assert store.open(path) is None
    assert not (root.parent / "escape.txt").exists()


def test_a_symlink_out_of_the_directory_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root.mkdir()
    (root / "link").symlink_to(outside)
    store = LocalStore(root)
    assert store.open("link/secret.txt") is None
    with pytest.raises(ValueError, match="refused"):
        store.store("link/new.txt", b"x")
    assert not (outside / "new.txt").exists()


def test_a_directory_is_not_a_file(root: Path) -> None:
    store = LocalStore(root)
    store.store("k/0-a.txt", b"x")
    assert store.open("k") is None


def test_the_same_content_under_two_paths_is_kept_once(root: Path) -> None:
    store = LocalStore(root)
    data = os.urandom(4096)
    store.store("k1/0-screenshot.png", data)
    store.store("k2/3-copy of screenshot.png", data)
    store.store("k2/4-other.txt", b"other")
    first, second = root / "k1/0-screenshot.png", root / "k2/3-copy of screenshot.png"
    assert first.read_bytes() == second.read_bytes() == data
    assert os.stat(first).st_ino == os.stat(second).st_ino  # one file, two names
    blobs = sorted(p for p in (root / ".blobs").rglob("*") if p.is_file())
    # Two contents, two blobs: the shared one has three names (blob, two paths), the other two.
    assert sorted(b.stat().st_nlink for b in blobs) == [2, 3]
    # The blob directory is hidden: no path reaches it.
    digest = blobs[0].name
    assert store.open(f".blobs/{digest[:2]}/{digest}") is None
