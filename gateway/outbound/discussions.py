"""The GitHub Discussions adapter: create discussions, label them, comment, find them again.

The GraphQL twin of `github.GitHubTracker`, for one repository. Documents come only from
`discussion_documents`; answers are judged by `graphql.classify_graphql`, so callers see the
same errors the REST tracker raises (`RateLimited`, `OutcomeUnknown`, `WriteRejected`,
`GitHubAuthError`, `RepositoryNotFound`, plus `GraphQLDocumentError`) and never a library
exception: every method runs inside one translation, which also turns an answer missing a field
into a `TransientError` (or `OutcomeUnknown` for a write). `setup` resolves the configured names
to node ids once; a wrong name is a `ConfigError` naming its key.

Finding our writes again pages `repository.discussions` by creation date and a discussion's
comments backwards: never search, whose index lags. Reconcile reads discussions whole
(`discussions_since`, `discussions_by_id`: state, labels, every comment and reply) as
`RemoteDiscussion` values. Node ids are opaque: never parsed, only sent back. Blocking: call it
from the writer's or the reconcile thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import requests
import structlog
from github import Auth, Github, GithubException

from gateway.errors import ConfigError, TransientError
from gateway.outbound import discussion_documents as docs
from gateway.outbound.github import GitHubAuthError, OutcomeUnknown, WriteRejected
from gateway.outbound.graphql import GraphQLClient, GraphQLForbidden

log = structlog.get_logger("gateway.github")

CLOSE_REASONS = ("RESOLVED", "OUTDATED", "DUPLICATE")  # GitHub's DiscussionCloseReason
REACTION_CONTENTS = frozenset({"THUMBS_UP", "THUMBS_DOWN", "LAUGH", "HOORAY", "CONFUSED",
                               "HEART", "ROCKET", "EYES"})  # GitHub's ReactionContent

# Roles that may label, answer and close (GitHub's "triage"). A FORBIDDEN write from a token
# with one of these concerns that object only (a locked discussion), not the token.
TRIAGE_OR_MORE = frozenset({"TRIAGE", "WRITE", "MAINTAIN", "ADMIN"})


@dataclass(frozen=True, slots=True)
class DiscussionSetup:
    repository_id: str
    category_id: str
    category_name: str
    answerable: bool
    label_ids: tuple[str, ...]
    viewer_permission: str


@dataclass(frozen=True, slots=True)
class CreatedDiscussion:
    number: int
    node_id: str
    url: str


@dataclass(frozen=True, slots=True)
class CreatedDiscussionComment:
    comment_id: int  # databaseId: the webhook's `comment.id`, the `#discussioncomment-` anchor
    node_id: str
    url: str


# GitHub shows a deleted account as "ghost"; GraphQL gives such an author as null.
GHOST = "ghost"
# Discussions per `nodes(ids:)` request: each costs 32 connection requests (TrackedDiscussions).
IDS_PER_READ = 25


@dataclass(frozen=True, slots=True)
class RemoteDiscussionComment:
    """A top-level comment (`parent_id` None) or a reply to the top-level comment `parent_id`.

    `comment_id` (and `parent_id`) are `databaseId`s: the webhook's `comment.id`. `author` is
    the login as GraphQL gives it: a bot's has NO "[bot]" suffix, unlike REST and webhooks
    (compare with `normalize_login`); "ghost" for a deleted account."""

    comment_id: int
    author: str
    created_at: dt.datetime
    body: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class RemoteDiscussion:
    """A discussion as reconcile reads it. `comments` holds every top-level comment, oldest
    first, each followed by its replies, oldest first. `author` as in
    `RemoteDiscussionComment`. `repository` is where the discussion is now (GitHub's
    `nameWithOwner`: another one after a transfer); `category` is the category's name,
    `category_id` its node id. `answered` is false in a category without answers (GitHub's
    `isAnswered` is null there); `answer_id` is the answer's `databaseId`. `state_reason` is
    GitHub's `DiscussionStateReason` (RESOLVED, OUTDATED, DUPLICATE, REOPENED) or None."""

    node_id: str
    number: int
    url: str
    title: str
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed: bool
    closed_at: dt.datetime | None
    state_reason: str | None
    answered: bool
    answer_chosen_at: dt.datetime | None
    category_id: str
    category: str
    repository: str
    labels: tuple[str, ...]
    comments: tuple[RemoteDiscussionComment, ...]
    answer_id: int | None = None


def normalize_login(login: str) -> str:
    """GraphQL's `Bot.login` has no `[bot]` suffix; REST and webhooks have it."""
    return login.removesuffix("[bot]").casefold()


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _optional_time(text: Any) -> dt.datetime | None:
    return None if text is None else _time(str(text))


def _login(node: Mapping[str, Any]) -> str:
    author = node["author"]
    return str(author["login"]) if author is not None else GHOST


def _nodes(connection: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [n for n in (connection or {}).get("nodes") or () if n]


def _before(connection: Mapping[str, Any]) -> str | None:
    """The cursor to page further back with; None when the page starts at the oldest."""
    info = connection["pageInfo"]
    if not info["hasPreviousPage"]:
        return None
    if not info["startCursor"]:
        raise ValueError("an earlier page without a cursor")
    return str(info["startCursor"])


def _remote_comment(node: Mapping[str, Any], parent_id: int | None) -> RemoteDiscussionComment:
    return RemoteDiscussionComment(int(node["databaseId"]), _login(node), _time(node["createdAt"]),
                                   str(node["body"] or ""), parent_id)


def _remote_discussion(node: Mapping[str, Any],
                       comments: tuple[RemoteDiscussionComment, ...]) -> RemoteDiscussion:
    answer = node["answer"]
    return RemoteDiscussion(
        node_id=str(node["id"]), number=int(node["number"]), url=str(node["url"]),
        title=str(node["title"]), author=_login(node), created_at=_time(node["createdAt"]),
        updated_at=_time(node["updatedAt"]), closed=bool(node["closed"]),
        closed_at=_optional_time(node["closedAt"]),
        state_reason=None if node["stateReason"] is None else str(node["stateReason"]),
        answered=bool(node["isAnswered"]) or answer is not None,
        answer_chosen_at=_optional_time(node["answerChosenAt"]),
        category_id=str(node["category"]["id"]), category=str(node["category"]["name"]),
        repository=str(node["repository"]["nameWithOwner"]),
        labels=tuple(str(label["name"]) for label in _nodes(node["labels"])),
        comments=comments, answer_id=None if answer is None else int(answer["databaseId"]))


def _comment(node: Mapping[str, Any]) -> CreatedDiscussionComment:
    return CreatedDiscussionComment(int(node["databaseId"]), str(node["id"]), str(node["url"]))


class DiscussionTracker:
    """Discussions of one repository over GitHub's GraphQL API."""

    def __init__(self, *, api_url: str, token: str | None = None, repository: str,
                 bot_login: str, timeout: float, secondary_wait: float,
                 auth: Auth.Auth | None = None) -> None:
        if auth is None:
            if not token:
                raise ValueError("DiscussionTracker needs a token or an auth")
            auth = Auth.Token(token)
        self._gh = Github(
            base_url=api_url, auth=auth, retry=None, timeout=int(timeout),
            seconds_between_requests=None, seconds_between_writes=None, lazy=True,
        )
        self._client = GraphQLClient(self._gh, secondary_wait=secondary_wait)
        self._repository = repository
        self._owner, _, self._name = repository.partition("/")
        self._bot = normalize_login(bot_login)
        self.setup_ids: DiscussionSetup | None = None
        self._label_cache: dict[str, str] = {}

    def close(self) -> None:
        self._gh.close()

    # -- translation ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _translated(self, *, write: bool = False) -> Iterator[None]:
        """Errors the client raised pass through; anything else is an answer we could not
        read (or a library error that slipped past the client), never a crash."""
        try:
            yield
        except (GithubException, requests.exceptions.RequestException, ConnectionError,
                TimeoutError) as exc:
            reason = f"no usable answer from GitHub ({type(exc).__name__})"
            raise (OutcomeUnknown(reason) if write else TransientError(reason)) from exc
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            reason = f"GitHub's answer could not be read ({type(exc).__name__})"
            raise (OutcomeUnknown(reason) if write else TransientError(reason)) from exc

    def _read(self, document: str, **variables: Any) -> dict[str, Any]:
        with self._translated():
            return self._client.run(document, variables, write=False)

    def _repo_vars(self) -> dict[str, str]:
        return {"owner": self._owner, "name": self._name}

    def _mutate(self, document: str, **variables: Any) -> dict[str, Any]:
        """Send a mutation. FORBIDDEN is the token's fault unless the token still holds triage
        or more: then only this object refuses (a locked discussion), and the row fails
        instead of pausing the serial writer for every row behind it."""
        with self._translated(write=True):
            try:
                return self._client.run(document, variables, write=True)
            except GraphQLForbidden as exc:
                refused = exc
        data = self._read(docs.VIEWER_PERMISSION, **self._repo_vars())  # nothing was applied
        with self._translated():
            permission = str((data["repository"] or {}).get("viewerPermission") or "")
        if permission in TRIAGE_OR_MORE:
            raise WriteRejected(403, str(refused)) from refused
        raise GitHubAuthError(f"{refused} (the token's permission: {permission or 'none'})"
                              ) from refused

    # -- start-up ---------------------------------------------------------------------------

    def setup(self, category_name: str, label_names: Sequence[str]) -> DiscussionSetup:
        """Resolve the repository, category and label names to ids (kept in `setup_ids`)."""
        repo, categories = self._target()
        if not repo["hasDiscussionsEnabled"]:
            raise ConfigError("github.discussion_repository",
                              f"Discussions are turned off in {self._repository}",
                              "turn them on under Settings → General → Features, or set "
                              'github.target = "issues"')
        category = self._category(categories, category_name)
        self._label_cache.clear()  # names are resolved afresh at every start
        label_ids = self.label_ids(label_names)
        self.setup_ids = DiscussionSetup(
            repository_id=str(repo["id"]), category_id=str(category["id"]),
            category_name=str(category["name"]), answerable=bool(category["isAnswerable"]),
            label_ids=label_ids, viewer_permission=str(repo.get("viewerPermission") or ""))
        return self.setup_ids

    def _target(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        categories: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            data = self._read(docs.DISCUSSION_TARGET, **self._repo_vars(), after=after)
            with self._translated():
                repo = data["repository"]
                page = repo["discussionCategories"]
                categories += [c for c in page["nodes"] if c]
                if not page["pageInfo"]["hasNextPage"]:
                    return repo, categories
                after = page["pageInfo"]["endCursor"]

    def _category(self, categories: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
        exact = [c for c in categories if c["name"] == wanted]
        loose = [c for c in categories if str(c["name"]).casefold() == wanted.casefold()]
        if exact or len(loose) == 1:
            if not exact:
                log.warning("github.discussion_category_case", configured=wanted,
                            found=loose[0]["name"])
            return (exact or loose)[0]
        names = ", ".join(repr(c["name"]) for c in categories) or "none"
        raise ConfigError("github.discussion_category",
                          f"{self._repository} has no discussion category {wanted!r} "
                          f"(it has: {names})", "use one of those names, or create the category")

    def _label_id(self, name: str) -> str:
        data = self._read(docs.LABEL_BY_NAME, **self._repo_vars(), label=name)
        with self._translated():
            label = data["repository"]["label"]
            if label is None:
                raise ConfigError("github.discussion_labels",
                                  f"{self._repository} has no label {name!r}",
                                  "create it on GitHub (GraphQL cannot create labels), or remove "
                                  "it from the list")
            return str(label["id"])

    def label_ids(self, names: Sequence[str]) -> tuple[str, ...]:
        """The ids of labels by name: the configured ones from `setup`, others looked up once.
        A label that does not exist is a ConfigError naming `github.discussion_labels`."""
        found = []
        for name in dict.fromkeys(names):
            if name not in self._label_cache:
                self._label_cache[name] = self._label_id(name)
            found.append(self._label_cache[name])
        return tuple(found)

    def discussion_id(self, number: int) -> str:
        """The node id of discussion `number` (for one the gateway did not open)."""
        data = self._read(docs.DISCUSSION_ID, **self._repo_vars(), number=number)
        with self._translated():
            found = (data["repository"] or {}).get("discussion")
            if not found:
                raise WriteRejected(404, f"{self._repository} has no discussion #{number}")
            return str(found["id"])

    @property
    def answerable(self) -> bool:
        """Whether the category's discussions can have an answer (else they are closed)."""
        return self._ids().answerable

    def _ids(self) -> DiscussionSetup:
        if self.setup_ids is None:
            raise RuntimeError("DiscussionTracker.setup() must run before writes")
        return self.setup_ids

    # -- writes -----------------------------------------------------------------------------

    def create_discussion(self, title: str, body: str) -> CreatedDiscussion:
        ids = self._ids()
        data = self._mutate(docs.CREATE_DISCUSSION, input={
            "repositoryId": ids.repository_id, "categoryId": ids.category_id,
            "title": title, "body": body})
        with self._translated(write=True):
            found = data["createDiscussion"]["discussion"]
            return CreatedDiscussion(int(found["number"]), str(found["id"]), str(found["url"]))

    def add_labels(self, discussion_id: str, label_ids: Sequence[str]) -> tuple[str, ...]:
        """Add labels (idempotent: a repeat changes nothing); the labels it now has."""
        data = self._mutate(docs.ADD_LABELS,
                            input={"labelableId": discussion_id, "labelIds": list(label_ids)})
        with self._translated(write=True):
            labelable = data["addLabelsToLabelable"]["labelable"]
            return tuple(str(n["name"]) for n in labelable["labels"]["nodes"] if n)

    def add_comment(self, discussion_id: str, body: str,
                    reply_to: str | None = None) -> CreatedDiscussionComment:
        """A top-level comment, or a reply to the top-level comment `reply_to` (a node id)."""
        fields: dict[str, Any] = {"discussionId": discussion_id, "body": body}
        if reply_to is not None:
            fields["replyToId"] = reply_to
        data = self._mutate(docs.ADD_DISCUSSION_COMMENT, input=fields)
        with self._translated(write=True):
            return _comment(data["addDiscussionComment"]["comment"])

    # -- answers, closing, reactions, labels off (issue 16) ---------------------------------
    # Each is idempotent on GitHub, so after an unclear outcome it may be sent again; reconcile's
    # reads (`discussions_by_id`: closed, state_reason, answer_id) tell what came of it.

    def mark_answer(self, comment_node_id: str) -> None:
        """Mark the top-level comment `comment_node_id` as its discussion's answer (replacing
        any other). A reply is refused (WriteRejected 422): mark its parent, which
        `comment_node_id()` returns. So is a comment in a category without answers."""
        data = self._mutate(docs.MARK_ANSWER, input={"id": comment_node_id})
        with self._translated(write=True):
            _ = data["markDiscussionCommentAsAnswer"]["discussion"]["id"]

    def unmark_answer(self, comment_node_id: str) -> None:
        """Unmark the comment as the answer; nothing changes if it is not the answer."""
        data = self._mutate(docs.UNMARK_ANSWER, input={"id": comment_node_id})
        with self._translated(write=True):
            _ = data["unmarkDiscussionCommentAsAnswer"]["discussion"]["id"]

    def close_discussion(self, discussion_node_id: str,
                         reason: Literal["RESOLVED", "OUTDATED", "DUPLICATE"]) -> None:
        """Close the discussion as `reason` (GitHub's DiscussionCloseReason)."""
        if reason not in CLOSE_REASONS:
            raise ValueError(f"reason must be one of {CLOSE_REASONS}, not {reason!r}")
        data = self._mutate(docs.CLOSE_DISCUSSION,
                            input={"discussionId": discussion_node_id, "reason": reason})
        with self._translated(write=True):
            _ = data["closeDiscussion"]["discussion"]["id"]

    def reopen_discussion(self, discussion_node_id: str) -> None:
        data = self._mutate(docs.REOPEN_DISCUSSION, input={"discussionId": discussion_node_id})
        with self._translated(write=True):
            _ = data["reopenDiscussion"]["discussion"]["id"]

    def add_reaction(self, subject_node_id: str, content: str = "THUMBS_UP") -> None:
        """React to a discussion, comment or reply with `content` (GraphQL's ReactionContent:
        THUMBS_UP, HEART, ...). Content creation: GitHub's secondary content limit counts it."""
        if content not in REACTION_CONTENTS:
            raise ValueError(f"a reaction is one of {sorted(REACTION_CONTENTS)}, not {content!r}")
        data = self._mutate(docs.ADD_REACTION,
                            input={"subjectId": subject_node_id, "content": content})
        with self._translated(write=True):
            _ = data["addReaction"]["reaction"]["content"]

    def remove_labels(self, labelable_node_id: str,
                      label_ids: Sequence[str]) -> tuple[str, ...]:
        """Remove labels (by node id; one the discussion lacks is skipped); the labels it now
        has."""
        data = self._mutate(docs.REMOVE_LABELS, input={"labelableId": labelable_node_id,
                                                       "labelIds": list(label_ids)})
        with self._translated(write=True):
            labelable = data["removeLabelsFromLabelable"]["labelable"]
            return tuple(str(n["name"]) for n in labelable["labels"]["nodes"] if n)

    def comment_node_id(self, number: int, database_id: int) -> tuple[str, str | None]:
        """(node id, node id of its top-level parent or None) of the comment or reply of
        discussion `number` whose databaseId is `database_id`: the webhook's `comment.id`, the
        `#discussioncomment-N` anchor. Not there (or no such discussion): WriteRejected(404).

        Pages the top-level comments backwards, then the replies of those older than the one
        sought (a reply is always newer than its parent, so databaseIds rise)."""
        before: str | None = None
        while True:
            data = self._read(docs.DISCUSSION_COMMENTS, **self._repo_vars(), number=number,
                              before=before)
            with self._translated():
                page = data["repository"]["discussion"]["comments"]
                parents = _nodes(page)
                for node in parents:
                    if int(node["databaseId"]) == database_id:
                        return str(node["id"]), None
                older = [p for p in parents if int(p["databaseId"]) < database_id]
            for parent in reversed(older):  # the newest parents first
                found = self._reply_node_id(parent, database_id)
                if found is not None:
                    with self._translated():
                        return found, str(parent["id"])
            with self._translated():
                before = _before(page)
            if before is None:
                raise WriteRejected(404, f"discussion #{number} of {self._repository} has no "
                                         f"comment {database_id}")

    def _reply_node_id(self, parent: Mapping[str, Any], database_id: int) -> str | None:
        """The node id of `parent`'s reply `database_id`, paging older replies if need be."""
        with self._translated():
            replies, parent_id = parent["replies"], str(parent["id"])
        while True:
            with self._translated():
                for node in _nodes(replies):
                    if int(node["databaseId"]) == database_id:
                        return str(node["id"])
                before = _before(replies)
            if before is None:
                return None
            data = self._page(docs.COMMENT_REPLIES, id=parent_id, before=before)
            with self._translated():
                replies = self._typed(data["node"], "DiscussionComment")["replies"]

    # -- finding our writes again -----------------------------------------------------------

    def _ours(self, node: Mapping[str, Any], marker: str) -> bool:
        author = node.get("author") or {}
        return (normalize_login(str(author.get("login") or "")) == self._bot
                and marker in str(node.get("body") or ""))

    def find_discussion(self, marker: str, since: dt.datetime) -> CreatedDiscussion | None:
        """A discussion by the bot, created since `since`, whose body carries `marker`.
        No category filter: a person may have moved it."""
        since, after = _utc(since), None
        while True:
            data = self._read(docs.RECENT_DISCUSSIONS, **self._repo_vars(), after=after)
            with self._translated():
                page = data["repository"]["discussions"]
                for node in filter(None, page["nodes"]):
                    if _time(node["createdAt"]) < since:
                        return None
                    if self._ours(node, marker):
                        return CreatedDiscussion(int(node["number"]), str(node["id"]),
                                                 str(node["url"]))
                if not page["pageInfo"]["hasNextPage"]:
                    return None
                after = page["pageInfo"]["endCursor"]

    def find_comment(self, number: int, marker: str, since: dt.datetime,
                     reply_to: str | None = None) -> CreatedDiscussionComment | None:
        """A comment by the bot on discussion `number`, created since `since`, carrying
        `marker`: among the top-level comments and their replies, or, when the comment was a
        reply, among the replies to `reply_to` (node id of the top-level comment) however
        old that comment is."""
        since = _utc(since)
        if reply_to is not None:
            return self._find_reply(reply_to, None, marker, since)
        before: str | None = None
        while True:
            data = self._read(docs.DISCUSSION_COMMENTS, **self._repo_vars(), number=number,
                              before=before)
            with self._translated():
                page = data["repository"]["discussion"]["comments"]
                for node in reversed([n for n in page["nodes"] if n]):  # newest first
                    if self._ours(node, marker) and _time(node["createdAt"]) >= since:
                        return _comment(node)
                    found = self._in_replies(node, marker, since)
                    if found is not None:
                        return found
                    if _time(node["createdAt"]) < since:
                        return None
                if not page["pageInfo"]["hasPreviousPage"]:
                    return None
                before = page["pageInfo"]["startCursor"]

    def _in_replies(self, parent: Mapping[str, Any], marker: str,
                    since: dt.datetime) -> CreatedDiscussionComment | None:
        replies = parent["replies"]
        found, older = self._scan(replies, marker, since)
        if found is None and older:
            return self._find_reply(str(parent["id"]), replies["pageInfo"]["startCursor"],
                                    marker, since)
        return found

    def _find_reply(self, parent_id: str, before: str | None, marker: str,
                    since: dt.datetime) -> CreatedDiscussionComment | None:
        while True:
            data = self._read(docs.COMMENT_REPLIES, id=parent_id, before=before)
            with self._translated():
                node = data["node"]
                if node is None or node.get("__typename") != "DiscussionComment":
                    raise WriteRejected(404, f"{parent_id} is no discussion comment")
                replies = node["replies"]
                found, older = self._scan(replies, marker, since)
                if found is not None or not older:
                    return found
                before = replies["pageInfo"]["startCursor"]

    def _scan(self, connection: Mapping[str, Any], marker: str,
              since: dt.datetime) -> tuple[CreatedDiscussionComment | None, bool]:
        """(our comment, if on this page; whether older pages may still hold it)."""
        nodes = [n for n in connection["nodes"] if n]
        for node in reversed(nodes):
            if _time(node["createdAt"]) < since:
                return None, False
            if self._ours(node, marker):
                return _comment(node), False
        return None, bool(connection["pageInfo"]["hasPreviousPage"])

    # -- reconcile reads --------------------------------------------------------------------

    def discussions_since(self, since: dt.datetime,
                          category_id: str | None) -> list[RemoteDiscussion]:
        """The discussions updated at or after `since`, newest first, in the category with
        node id `category_id` (None: every category), each with all its comments and replies.
        `Repository.discussions` has no `since`: pages by UPDATED_AT DESC and stops at the
        first older one."""
        since, after = _utc(since), None
        found: list[RemoteDiscussion] = []
        while True:
            data = self._read(docs.DISCUSSIONS_SINCE, **self._repo_vars(),
                              categoryId=category_id, after=after)
            with self._translated():
                page = data["repository"]["discussions"]
                nodes = _nodes(page)
                more, after = bool(page["pageInfo"]["hasNextPage"]), page["pageInfo"]["endCursor"]
            for node in nodes:
                with self._translated():
                    if _time(node["updatedAt"]) < since:
                        return found
                found.append(self._whole(node))
            if not more:
                return found

    def discussions_by_id(self, node_ids: Sequence[str]
                          ) -> dict[str, RemoteDiscussion | None]:
        """Each discussion by node id, with all its comments and replies; None for one that
        was deleted or that the token can no longer see (GitHub answers NOT_FOUND for it), or
        an id of something else. Reads 25 ids per request."""
        wanted = list(dict.fromkeys(node_ids))
        found: dict[str, RemoteDiscussion | None] = {}
        for start in range(0, len(wanted), IDS_PER_READ):
            batch = wanted[start:start + IDS_PER_READ]
            for node_id, node in zip(batch, self._tracked_nodes(batch), strict=True):
                found[node_id] = None if node is None else self._whole(node)
        return found

    def _tracked_nodes(self, ids: list[str]) -> list[Mapping[str, Any] | None]:
        """The discussions behind `ids`, in their order; None where there is none. One
        missing id turns the whole answer into a NOT_FOUND error (its partial `data` is not
        kept), so after one the ids are read again one by one: a discussion is gone exactly
        when its own read says so."""
        try:
            return self._nodes_of(ids)
        except WriteRejected as exc:
            if exc.status != 404:
                raise
            if len(ids) == 1:
                return [None]
        return [node for node_id in ids for node in self._tracked_nodes([node_id])]

    def _nodes_of(self, ids: list[str]) -> list[Mapping[str, Any] | None]:
        data = self._read(docs.TRACKED_DISCUSSIONS, ids=ids)
        with self._translated():
            nodes = [n if n is not None and n["__typename"] == "Discussion" else None
                     for n in data["nodes"]]
            if len(nodes) != len(ids):
                raise ValueError(f"{len(nodes)} nodes for {len(ids)} ids")
            return nodes

    def _whole(self, node: Mapping[str, Any]) -> RemoteDiscussion:
        """A DiscussionState node with the comments and replies past its inline pages."""
        with self._translated():
            node_id, page = str(node["id"]), node["comments"]
            top, before = _nodes(page), _before(page)
        while before is not None:
            data = self._page(docs.OLDER_COMMENTS, id=node_id, before=before)
            with self._translated():
                older = self._typed(data["node"], "Discussion")["comments"]
                top, before = _nodes(older) + top, _before(older)
        comments: list[RemoteDiscussionComment] = []
        for parent in top:
            with self._translated():
                comment = _remote_comment(parent, None)
                replies = parent["replies"]
                inline, before = _nodes(replies), _before(replies)
                parent_id = str(parent["id"])
            comments.append(comment)
            comments += self._replies(parent_id, before, inline, comment.comment_id)
        with self._translated():
            return _remote_discussion(node, tuple(comments))

    def _replies(self, parent_id: str, before: str | None, nodes: list[Mapping[str, Any]],
                 parent: int) -> list[RemoteDiscussionComment]:
        """The replies in `nodes` and all older ones, oldest first."""
        while before is not None:
            data = self._page(docs.COMMENT_REPLIES, id=parent_id, before=before)
            with self._translated():
                older = self._typed(data["node"], "DiscussionComment")["replies"]
                nodes, before = _nodes(older) + nodes, _before(older)
        with self._translated():
            return [_remote_comment(reply, parent) for reply in nodes]

    def _page(self, document: str, **variables: Any) -> dict[str, Any]:
        """An older page of something just read. Gone in between (deleted while being read):
        the read fails as a whole, so the next round reads it again from the start."""
        try:
            return self._read(document, **variables)
        except WriteRejected as exc:
            if exc.status != 404:
                raise
            raise TransientError(f"deleted while being read: {exc}") from exc

    @staticmethod
    def _typed(node: Mapping[str, Any] | None, typename: str) -> Mapping[str, Any]:
        if node is None or node.get("__typename") != typename:
            raise TransientError(f"no longer a {typename}: it was deleted while being read")
        return node
