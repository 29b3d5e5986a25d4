"""Git objects as GitHub's Git Data API keeps them: blobs, trees, commits and refs of one
repository, named by their real SHA-1 ids (`sha1(b"blob %d\\0" + data)`), so identical content
is one object (https://git-scm.com/book/en/v2/Git-Internals-Git-Objects).

Pure data and the functions over it; no HTTP, no locking (the routes hold the store lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

FILE_MODES = frozenset({"100644", "100755", "120000"})
TREE_MODE = "040000"  # as the API spells it; git writes "40000" inside the tree object


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    mode: str
    kind: str  # "blob" or "tree"
    sha: str


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: tuple[str, str, int]  # name, email, unix time
    committer: tuple[str, str, int]


@dataclass(slots=True)
class GitRepo:
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit sha

    def add_blob(self, data: bytes) -> str:
        sha = _object_id(b"blob", data)
        self.blobs[sha] = data
        return sha

    def add_tree(self, entries: list[Entry]) -> str:
        ordered = tuple(sorted(entries, key=_tree_order))
        raw = b"".join(
            f"{e.mode.lstrip('0')} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha)
            for e in ordered
        )
        sha = _object_id(b"tree", raw)
        self.trees[sha] = ordered
        return sha

    def add_commit(
        self,
        tree: str,
        parents: tuple[str, ...],
        message: str,
        author: tuple[str, str, int],
        committer: tuple[str, str, int],
    ) -> Commit:
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [f"author {_person(author)}", f"committer {_person(committer)}"]
        raw = ("\n".join(lines) + "\n\n" + message).encode()
        commit = Commit(_object_id(b"commit", raw), tree, parents, message, author, committer)
        self.commits[commit.sha] = commit
        return commit

    def flatten(self, tree: str, prefix: str = "") -> dict[str, Entry]:
        """Every file under `tree` by its full path (entries keep their own name)."""
        out: dict[str, Entry] = {}
        for e in self.trees[tree]:
            path = prefix + e.name
            if e.kind == "tree":
                out.update(self.flatten(e.sha, path + "/"))
            else:
                out[path] = e
        return out

    def walk(self, tree: str, prefix: str = "") -> list[tuple[str, Entry]]:
        """Trees and blobs under `tree`, depth first, with their full paths (`recursive=1`)."""
        out: list[tuple[str, Entry]] = []
        for e in self.trees[tree]:
            out.append((prefix + e.name, e))
            if e.kind == "tree":
                out += self.walk(e.sha, prefix + e.name + "/")
        return out

    def build(self, files: dict[str, Entry]) -> str:
        """The tree (and subtrees) holding `files` (full path -> blob entry); returns its sha."""
        here: list[Entry] = []
        below: dict[str, dict[str, Entry]] = {}
        for path, e in files.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = e
            else:
                here.append(Entry(head, e.mode, e.kind, e.sha))
        for name, sub in below.items():
            here.append(Entry(name, TREE_MODE, "tree", self.build(sub)))
        return self.add_tree(here)

    def descends_from(self, commit: str, ancestor: str) -> bool:
        seen: set[str] = set()
        todo = [commit]
        while todo:
            sha = todo.pop()
            if sha == ancestor:
                return True
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            todo.extend(self.commits[sha].parents)
        return False

    def resolve_tree(self, sha: str) -> str | None:
        """A tree sha from a tree, a commit or a branch name (as GET git/trees accepts)."""
        if sha in self.trees:
            return sha
        head = self.refs.get(f"refs/heads/{sha}", sha)
        commit = self.commits.get(head)
        return commit.tree if commit is not None else None


def place(files: dict[str, Entry], path: str, mode: str, sha: str) -> None:
    """Put blob `sha` at `path` among `files` (full path -> entry), dropping a file where a
    directory goes or a directory where the file goes."""
    for other in list(files):
        if other.startswith(path + "/") or path.startswith(other + "/"):
            files.pop(other)
    files[path] = Entry(path.rsplit("/", 1)[-1], mode, "blob", sha)


def _object_id(kind: bytes, raw: bytes) -> str:
    return hashlib.sha1(kind + b" %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def _tree_order(e: Entry) -> bytes:
    # git sorts a subtree as if its name ended in "/"
    return (e.name + "/" if e.kind == "tree" else e.name).encode()


def _person(who: tuple[str, str, int]) -> str:
    return f"{who[0]} <{who[1]}> {who[2]} +0000"
