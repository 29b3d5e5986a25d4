"""The emulator's in-memory state: users, repositories, issues, comments, labels, apps, tokens.

Plain mutable records guarded by one lock in `Store`. The store answers questions about access
("what may this login do in this repo?") but never renders JSON and never speaks HTTP; mutations
that GitHub reports as events live in `actions`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field

# Repository roles, weakest first ("Repository roles for an organization", GitHub docs).
ROLES = ("read", "triage", "write", "maintain", "admin")
PUSH_ROLES = frozenset({"write", "maintain", "admin"})


def node_id(kind: str, ident: int) -> str:
    """GitHub's legacy global node id, e.g. `MDU6SXNzdWUx` for ("Issue", 1)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


# Next-format global ids (`D_kwDO…`): opaque to clients, decodable here to find the object.
NODE_PREFIXES = {
    "Repository": "R_kgDO",
    "Discussion": "D_kwDO",
    "DiscussionComment": "DC_kwDO",
    "DiscussionCategory": "DIC_kwDO",
    "Label": "LA_kwDO",
    "User": "U_kgDO",
    "Bot": "BOT_kgDO",
    "Reaction": "REA_lADO",
}


def next_node_id(kind: str, repo_id: int, ident: int) -> str:
    raw = repo_id.to_bytes(5, "big") + ident.to_bytes(5, "big")
    return NODE_PREFIXES[kind] + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_node_id(value: str) -> tuple[str, int, int] | None:
    """(kind, repo id, object id) of an id made by `next_node_id`; None for anything else."""
    for kind, prefix in NODE_PREFIXES.items():
        if value.startswith(prefix):
            tail = value[len(prefix) :]
            try:
                raw = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))
            except (ValueError, TypeError):
                return None
            if len(raw) != 10:
                return None
            return kind, int.from_bytes(raw[:5], "big"), int.from_bytes(raw[5:], "big")
    return None


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


@dataclass(slots=True)
class User:
    login: str
    id: int
    created_at: dt.datetime
    type: str = "User"
    name: str | None = None
    email: str | None = None
    site_admin: bool = False


@dataclass(slots=True)
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass(slots=True)
class Issue:
    id: int
    number: int
    title: str
    body: str | None
    user: str
    created_at: dt.datetime
    updated_at: dt.datetime
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)  # canonical label names
    assignees: list[str] = field(default_factory=list)  # logins
    comments: int = 0
    closed_at: dt.datetime | None = None
    closed_by: str | None = None
    locked: bool = False
    app_id: int | None = None  # set when created through a GitHub App installation


@dataclass(slots=True)
class Comment:
    id: int
    issue_number: int
    body: str
    user: str
    created_at: dt.datetime
    updated_at: dt.datetime
    app_id: int | None = None


@dataclass(slots=True)
class DiscussionCategory:
    id: int
    name: str
    slug: str
    is_answerable: bool = True
    emoji: str = ":speech_balloon:"
    description: str = ""
    created_at: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass(slots=True)
class Discussion:
    """A discussion; `number` comes from the repository's sequence shared with issues."""

    id: int
    number: int
    title: str
    body: str
    user: str
    category_id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    labels: list[str] = field(default_factory=list)  # canonical label names
    closed: bool = False
    closed_at: dt.datetime | None = None
    state_reason: str | None = None  # GraphQL DiscussionStateReason: RESOLVED, OUTDATED, ...
    answer_id: int | None = None  # databaseId of the comment chosen as the answer
    answer_chosen_at: dt.datetime | None = None
    answer_chosen_by: str | None = None
    locked: bool = False
    app_id: int | None = None


@dataclass(slots=True)
class DiscussionComment:
    """A top-level comment (`reply_to` None) or a reply to one (one level of nesting only)."""

    id: int  # databaseId, = the webhook's comment.id
    discussion_number: int
    body: str
    user: str
    created_at: dt.datetime
    updated_at: dt.datetime
    reply_to: int | None = None
    app_id: int | None = None


# Reaction contents as REST spells them; GraphQL's `ReactionContent` says THUMBS_UP for "+1" etc.
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass(slots=True)
class Reaction:
    """One person's reaction to an issue, an issue comment, a discussion or a discussion comment
    (GitHub keeps at most one of each `content` per person and subject)."""

    id: int
    content: str  # REST spelling: "+1", "heart", ...
    user: str
    created_at: dt.datetime


@dataclass(slots=True)
class Repo:
    id: int
    owner: str
    name: str
    created_at: dt.datetime
    private: bool = True
    description: str | None = None
    default_branch: str = "main"  # the branch a repository's first commit creates
    issues: dict[int, Issue] = field(default_factory=dict)  # by number
    comments: dict[int, Comment] = field(default_factory=dict)  # by id, in creation order
    labels: dict[str, Label] = field(default_factory=dict)  # by lower-cased name
    collaborators: dict[str, str] = field(default_factory=dict)  # lower login -> role
    last_number: int = 0  # shared by issues and discussions, as on GitHub
    discussions_enabled: bool = False
    categories: dict[int, DiscussionCategory] = field(default_factory=dict)  # by id
    discussions: dict[int, Discussion] = field(default_factory=dict)  # by number
    discussion_comments: dict[int, DiscussionComment] = field(default_factory=dict)  # by id
    # (subject kind, subject id) -> reactions in creation order; kinds: "Issue", "IssueComment",
    # "Discussion", "DiscussionComment"; ids are the records' `id`s (never issue numbers)
    reactions: dict[tuple[str, int], list[Reaction]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(slots=True)
class App:
    id: int
    slug: str
    name: str
    owner: str
    client_id: str
    public_key_pem: str | None = None  # None: JWT signatures are not checked, only their shape

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass(slots=True)
class Installation:
    id: int
    app_id: int
    account: str
    repos: frozenset[str] | None = None  # lower full names; None = every repo of `account`


@dataclass(slots=True)
class Token:
    value: str
    login: str
    installation_id: int | None = None
    repos: frozenset[str] | None = None  # lower full names the token may see; None = no limit
    expires_at: dt.datetime | None = None
    revoked: bool = False


class Store:
    """All state, one lock. Callers hold `lock` across a read-modify-render sequence."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}  # lower login -> user
        self.repos: dict[str, Repo] = {}  # lower full name -> repo
        self.tokens: dict[str, Token] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self._ids = itertools.count(1_000_001)

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str) -> User | None:
        return self.users.get(login.lower())

    def repo(self, full_name: str) -> Repo | None:
        return self.repos.get(full_name.lower())

    def app_of_bot(self, login: str) -> App | None:
        for app in self.apps.values():
            if app.bot_login.lower() == login.lower():
                return app
        return None

    def installation_covers(self, installation_id: int, repo: Repo) -> bool:
        inst = self.installations.get(installation_id)
        if inst is None:
            return False
        if inst.repos is not None:
            return repo.full_name.lower() in inst.repos
        return inst.account.lower() == repo.owner.lower()

    def role(self, repo: Repo, login: str, installation_id: int | None = None) -> str | None:
        """The login's role in `repo`, or None when it cannot even read it."""
        if installation_id is not None:
            # An installation with `issues: write` acts with write access on the repos it covers.
            return "write" if self.installation_covers(installation_id, repo) else None
        if login.lower() == repo.owner.lower():
            return "admin"
        role = repo.collaborators.get(login.lower())
        if role is not None:
            return role
        return None if repo.private else "read"

    def assignable(self, repo: Repo, login: str) -> bool:
        """Who may be assigned: people with push access (owner and write+ collaborators)."""
        user = self.user(login)
        return user is not None and self.role(repo, user.login) in PUSH_ROLES
