"""Resolvers for the part of GitHub's GraphQL API the emulator serves, over its model.

A table keyed by (GraphQL type, field) says how each field is computed. Objects travel as
`At(repo, record)` so a field can reach its repository (urls, ids, permissions); connection,
page-info, edge, rate-limit and mutation-payload objects are plain dicts. A field that is valid
in GitHub's schema but missing here fails loudly: the error names it ("the GitHub emulator does
not implement Discussion.poll") and the emulator keeps a list of them, so a test never mistakes
a missing feature for a null. Callers hold `store.lock` for the whole execution.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLAbstractType, GraphQLError, GraphQLResolveInfo

from .actions import Actor
from .actions_discussions import DiscussionActions, GraphQLFailure, not_resolvable
from .auth import Principal
from .model import (
    ROLES,
    Discussion,
    DiscussionCategory,
    DiscussionComment,
    Label,
    Repo,
    Store,
    User,
    next_node_id,
    parse_node_id,
)
from .render import stamp

if TYPE_CHECKING:
    Info = GraphQLResolveInfo[Any]
else:
    Info = GraphQLResolveInfo
Resolver = Callable[..., Any]
RESOLVERS: dict[tuple[str, str], Resolver] = {}


@dataclass(frozen=True, slots=True)
class At:
    repo: Repo
    obj: Any


@dataclass(slots=True)
class GraphQLContext:
    store: Store
    actions: DiscussionActions
    who: Principal
    base_url: str
    now: Callable[[], dt.datetime]
    rate_limit: dict[str, Any]
    unimplemented: list[str] = field(default_factory=list)

    # -- access --------------------------------------------------------------------------------

    def role(self, repo: Repo) -> str | None:
        if self.who.repos is not None and repo.full_name.lower() not in self.who.repos:
            return None
        return self.store.role(repo, self.who.login, self.who.installation_id)

    def actor(self, repo: Repo) -> Actor:
        w = self.who
        return Actor(w.login, self.role(repo), w.app_id, w.installation_id)

    def visible_repo(self, owner: str, name: str) -> Repo | None:
        repo = self.store.repo(f"{owner}/{name}")
        return repo if repo is not None and self.role(repo) is not None else None

    def node(self, node_id: Any) -> At | User:
        """The object behind a global id the caller may see; NOT_FOUND otherwise."""
        parsed = parse_node_id(node_id) if isinstance(node_id, str) else None
        if parsed is None:
            raise not_resolvable(str(node_id))
        kind, repo_id, ident = parsed
        if kind in ("User", "Bot"):
            user = next((u for u in self.store.users.values() if u.id == ident), None)
            if user is None:
                raise not_resolvable(node_id)
            return user
        repo = next((r for r in self.store.repos.values() if r.id == repo_id), None)
        if repo is None or self.role(repo) is None:
            raise not_resolvable(node_id)
        found: Any = None
        if kind == "Repository":
            found = repo if ident == repo.id else None
        elif kind == "Discussion":
            found = next((d for d in repo.discussions.values() if d.id == ident), None)
        elif kind == "DiscussionComment":
            found = repo.discussion_comments.get(ident)
        elif kind == "DiscussionCategory":
            found = repo.categories.get(ident)
        elif kind == "Label":
            found = next((x for x in repo.labels.values() if x.id == ident), None)
        if found is None:
            raise not_resolvable(node_id)
        return At(repo, found)

    def node_of(self, node_id: Any, cls: type) -> At:
        found = self.node(node_id)
        if not isinstance(found, At) or not isinstance(found.obj, cls):
            raise not_resolvable(str(node_id))
        return found

    def url(self, repo: Repo, suffix: str = "") -> str:
        return f"{self.base_url}/{repo.full_name}{suffix}"


def resolves(type_name: str, *fields: str) -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        for name in fields:
            RESOLVERS[(type_name, name)] = fn
        return fn

    return register


def resolve_field(source: Any, info: Info, **args: Any) -> Any:
    key = (info.parent_type.name, info.field_name)
    fn = RESOLVERS.get(key)
    if fn is not None:
        return fn(source, info, **args)
    if isinstance(source, dict) and info.field_name in source:
        return source[info.field_name]
    what = f"{key[0]}.{key[1]}"
    info.context.unimplemented.append(what)
    raise GraphQLError(
        f"the GitHub emulator does not implement {what}",
        extensions={"code": "emulatorUnimplemented", "typeName": key[0], "fieldName": key[1]},
    )


TYPE_NAMES: dict[type, str] = {
    Repo: "Repository",
    Discussion: "Discussion",
    DiscussionComment: "DiscussionComment",
    DiscussionCategory: "DiscussionCategory",
    Label: "Label",
}


def resolve_type(value: Any, info: Info, abstract: GraphQLAbstractType) -> str:
    if isinstance(value, User):
        return "Bot" if value.type == "Bot" else "User"
    if isinstance(value, At) and type(value.obj) in TYPE_NAMES:
        return TYPE_NAMES[type(value.obj)]
    raise GraphQLError(f"the GitHub emulator cannot tell the {abstract.name} type of {value!r}")


def ctx(info: Info) -> GraphQLContext:
    context: GraphQLContext = info.context
    return context


# -- connections ------------------------------------------------------------------------------


def cursor(key: int) -> str:
    return base64.b64encode(f"cursor:v2:{key}".encode()).decode()


def _position(keys: list[int], value: str) -> int:
    try:
        decoded = base64.b64decode(value.encode(), validate=True).decode()
        key = int(decoded.removeprefix("cursor:v2:"))
        return keys.index(key)
    except (ValueError, UnicodeDecodeError):
        raise GraphQLFailure(
            "INVALID_CURSOR_ARGUMENTS", f"`{value}` does not appear to be a valid cursor."
        ) from None


def connection(
    repo: Repo, items: Sequence[Any], args: dict[str, Any], key: Callable[[Any], int]
) -> dict[str, Any]:
    keys = [key(x) for x in items]
    start, end = 0, len(items)
    if args.get("after") is not None:
        start = _position(keys, args["after"]) + 1
    if args.get("before") is not None:
        end = _position(keys, args["before"])
    if args.get("first") is not None:
        end = min(end, start + args["first"])
    if args.get("last") is not None:
        start = max(start, end - args["last"])
    chosen = list(items[start:end]) if start < end else []
    edges = [{"cursor": cursor(key(x)), "node": At(repo, x)} for x in chosen]
    return {
        "nodes": [e["node"] for e in edges],
        "edges": edges,
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": end < len(items) and bool(chosen),
            "hasPreviousPage": start > 0 and bool(chosen),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


# -- Query ------------------------------------------------------------------------------------


@resolves("Query", "repository")
def q_repository(_: Any, info: Info, owner: str, name: str, **__: Any) -> At:
    repo = ctx(info).visible_repo(owner, name)
    if repo is None:
        raise GraphQLFailure(
            "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
        )
    return At(repo, repo)


@resolves("Query", "node")
def q_node(_: Any, info: Info, id: str) -> At | User:
    return ctx(info).node(id)


@resolves("Query", "nodes")
def q_nodes(_: Any, info: Info, ids: list[str]) -> list[Any]:
    out: list[Any] = []
    for node_id in ids:
        try:
            out.append(ctx(info).node(node_id))
        except GraphQLFailure as exc:
            out.append(exc)  # graphql-core reports it at ["nodes", i] and leaves a null
    return out


@resolves("Query", "rateLimit")
def q_rate_limit(_: Any, info: Info, **__: Any) -> dict[str, Any]:
    return ctx(info).rate_limit


@resolves("Query", "viewer")
def q_viewer(_: Any, info: Info) -> User:
    user = ctx(info).store.user(ctx(info).who.login)
    assert user is not None
    return user


# -- Repository -------------------------------------------------------------------------------

PERMISSIONS = {role: role.upper() for role in ROLES}


def _repo(source: At) -> Repo:
    repo: Repo = source.obj
    return repo


RESOLVERS[("Repository", "id")] = lambda s, i: next_node_id("Repository", s.repo.id, s.repo.id)
RESOLVERS[("Repository", "databaseId")] = lambda s, i: s.repo.id
RESOLVERS[("Repository", "name")] = lambda s, i: s.repo.name
RESOLVERS[("Repository", "nameWithOwner")] = lambda s, i: s.repo.full_name
RESOLVERS[("Repository", "url")] = lambda s, i: ctx(i).url(s.repo)
RESOLVERS[("Repository", "isPrivate")] = lambda s, i: s.repo.private
RESOLVERS[("Repository", "hasDiscussionsEnabled")] = lambda s, i: s.repo.discussions_enabled
RESOLVERS[("Repository", "hasIssuesEnabled")] = lambda s, i: True


@resolves("Repository", "viewerPermission")
def r_viewer_permission(source: At, info: Info) -> str | None:
    role = ctx(info).role(source.repo)
    return PERMISSIONS[role] if role else None


@resolves("Repository", "discussionCategories")
def r_categories(source: At, info: Info, **args: Any) -> dict[str, Any]:
    cats = sorted(source.repo.categories.values(), key=lambda c: c.id)
    if args.get("filterByAssignable"):
        cats = [c for c in cats if c.is_answerable or ctx(info).role(source.repo) is not None]
    return connection(source.repo, cats, args, lambda c: c.id)


@resolves("Repository", "discussionCategory")
def r_category(source: At, info: Info, slug: str) -> At | None:
    cat = next((c for c in source.repo.categories.values() if c.slug == slug), None)
    return At(source.repo, cat) if cat else None


@resolves("Repository", "label")
def r_label(source: At, info: Info, name: str) -> At | None:
    label = source.repo.labels.get(name.lower())
    return At(source.repo, label) if label else None


@resolves("Repository", "labels")
def r_labels(source: At, info: Info, **args: Any) -> dict[str, Any]:
    labels = sorted(source.repo.labels.values(), key=lambda x: x.name.lower())
    if args.get("query"):
        labels = [x for x in labels if args["query"].lower() in x.name.lower()]
    return connection(source.repo, labels, args, lambda x: x.id)


@resolves("Repository", "discussions")
def r_discussions(source: At, info: Info, **args: Any) -> dict[str, Any]:
    repo = source.repo
    items = list(repo.discussions.values())
    if args.get("categoryId") is not None:
        try:
            cat = ctx(info).node_of(args["categoryId"], DiscussionCategory)
        except GraphQLFailure:
            items = []
        else:
            items = [d for d in items if d.category_id == cat.obj.id]
    states = args.get("states")
    if states:
        items = [d for d in items if ("CLOSED" if d.closed else "OPEN") in states]
    if args.get("answered") is not None:
        items = [d for d in items if (d.answer_id is not None) == args["answered"]]
    order = args.get("orderBy") or {"field": "UPDATED_AT", "direction": "DESC"}
    attr = "created_at" if order["field"] == "CREATED_AT" else "updated_at"
    items.sort(key=lambda d: (getattr(d, attr), d.number), reverse=order["direction"] == "DESC")
    return connection(repo, items, args, lambda d: d.id)


@resolves("Repository", "discussion")
def r_discussion(source: At, info: Info, number: int) -> At:
    return At(source.repo, ctx(info).actions.discussion(source.repo, number))


# -- Discussion -------------------------------------------------------------------------------


def _user(info: Info, login: str | None) -> User | None:
    if login is None:
        return None
    return ctx(info).store.user(login)


def _association(repo: Repo, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    return "COLLABORATOR" if login.lower() in repo.collaborators else "NONE"


def _d(source: At) -> Discussion:
    d: Discussion = source.obj
    return d


D = "Discussion"
RESOLVERS[(D, "id")] = lambda s, i: next_node_id(D, s.repo.id, s.obj.id)
RESOLVERS[(D, "databaseId")] = lambda s, i: s.obj.id
RESOLVERS[(D, "number")] = lambda s, i: s.obj.number
RESOLVERS[(D, "title")] = lambda s, i: s.obj.title
RESOLVERS[(D, "body")] = lambda s, i: s.obj.body
RESOLVERS[(D, "bodyText")] = lambda s, i: s.obj.body
RESOLVERS[(D, "url")] = lambda s, i: ctx(i).url(s.repo, f"/discussions/{s.obj.number}")
RESOLVERS[(D, "resourcePath")] = lambda s, i: f"/{s.repo.full_name}/discussions/{s.obj.number}"
RESOLVERS[(D, "createdAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(D, "publishedAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(D, "updatedAt")] = lambda s, i: stamp(s.obj.updated_at)
RESOLVERS[(D, "closed")] = lambda s, i: s.obj.closed
RESOLVERS[(D, "closedAt")] = lambda s, i: stamp(s.obj.closed_at)
RESOLVERS[(D, "stateReason")] = lambda s, i: s.obj.state_reason
RESOLVERS[(D, "locked")] = lambda s, i: s.obj.locked
RESOLVERS[(D, "isAnswered")] = lambda s, i: (
    s.obj.answer_id is not None if s.repo.categories[s.obj.category_id].is_answerable else None
)
RESOLVERS[(D, "answerChosenAt")] = lambda s, i: stamp(s.obj.answer_chosen_at)
RESOLVERS[(D, "answerChosenBy")] = lambda s, i: _user(i, s.obj.answer_chosen_by)
RESOLVERS[(D, "answer")] = lambda s, i: (
    At(s.repo, s.repo.discussion_comments[s.obj.answer_id]) if s.obj.answer_id else None
)
RESOLVERS[(D, "author")] = lambda s, i: _user(i, s.obj.user)
RESOLVERS[(D, "authorAssociation")] = lambda s, i: _association(s.repo, s.obj.user)
RESOLVERS[(D, "category")] = lambda s, i: At(s.repo, s.repo.categories[s.obj.category_id])
RESOLVERS[(D, "repository")] = lambda s, i: At(s.repo, s.repo)
RESOLVERS[(D, "viewerDidAuthor")] = lambda s, i: s.obj.user.lower() == ctx(i).who.login.lower()


@resolves(D, "labels")
def d_labels(source: At, info: Info, **args: Any) -> dict[str, Any]:
    labels = [source.repo.labels[n.lower()] for n in _d(source).labels]
    return connection(source.repo, labels, args, lambda x: x.id)


@resolves(D, "comments")
def d_comments(source: At, info: Info, **args: Any) -> dict[str, Any]:
    number = _d(source).number
    top = [
        c
        for c in source.repo.discussion_comments.values()
        if c.discussion_number == number and c.reply_to is None
    ]
    return connection(source.repo, top, args, lambda c: c.id)


# -- DiscussionComment ------------------------------------------------------------------------

C = "DiscussionComment"
RESOLVERS[(C, "id")] = lambda s, i: next_node_id(C, s.repo.id, s.obj.id)
RESOLVERS[(C, "databaseId")] = lambda s, i: s.obj.id
RESOLVERS[(C, "body")] = lambda s, i: s.obj.body
RESOLVERS[(C, "bodyText")] = lambda s, i: s.obj.body
RESOLVERS[(C, "url")] = lambda s, i: ctx(i).url(
    s.repo, f"/discussions/{s.obj.discussion_number}#discussioncomment-{s.obj.id}"
)
RESOLVERS[(C, "resourcePath")] = lambda s, i: (
    f"/{s.repo.full_name}/discussions/{s.obj.discussion_number}#discussioncomment-{s.obj.id}"
)
RESOLVERS[(C, "createdAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(C, "publishedAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(C, "updatedAt")] = lambda s, i: stamp(s.obj.updated_at)
RESOLVERS[(C, "author")] = lambda s, i: _user(i, s.obj.user)
RESOLVERS[(C, "authorAssociation")] = lambda s, i: _association(s.repo, s.obj.user)
RESOLVERS[(C, "deletedAt")] = lambda s, i: None
RESOLVERS[(C, "isMinimized")] = lambda s, i: False
RESOLVERS[(C, "replyTo")] = lambda s, i: (
    At(s.repo, s.repo.discussion_comments[s.obj.reply_to]) if s.obj.reply_to else None
)
RESOLVERS[(C, "isAnswer")] = lambda s, i: (
    s.repo.discussions[s.obj.discussion_number].answer_id == s.obj.id
)
RESOLVERS[(C, "discussion")] = lambda s, i: At(s.repo, s.repo.discussions[s.obj.discussion_number])
RESOLVERS[(C, "viewerDidAuthor")] = lambda s, i: s.obj.user.lower() == ctx(i).who.login.lower()


@resolves(C, "replies")
def c_replies(source: At, info: Info, **args: Any) -> dict[str, Any]:
    ident = source.obj.id
    replies = [c for c in source.repo.discussion_comments.values() if c.reply_to == ident]
    return connection(source.repo, replies, args, lambda c: c.id)


# -- DiscussionCategory, Label, actors ---------------------------------------------------------

K = "DiscussionCategory"
RESOLVERS[(K, "id")] = lambda s, i: next_node_id(K, s.repo.id, s.obj.id)
RESOLVERS[(K, "name")] = lambda s, i: s.obj.name
RESOLVERS[(K, "slug")] = lambda s, i: s.obj.slug
RESOLVERS[(K, "isAnswerable")] = lambda s, i: s.obj.is_answerable
RESOLVERS[(K, "emoji")] = lambda s, i: s.obj.emoji
RESOLVERS[(K, "emojiHTML")] = lambda s, i: f"<div>{s.obj.emoji}</div>"
RESOLVERS[(K, "description")] = lambda s, i: s.obj.description
RESOLVERS[(K, "createdAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(K, "updatedAt")] = lambda s, i: stamp(s.obj.created_at)
RESOLVERS[(K, "repository")] = lambda s, i: At(s.repo, s.repo)

L = "Label"
RESOLVERS[(L, "id")] = lambda s, i: next_node_id(L, s.repo.id, s.obj.id)
RESOLVERS[(L, "name")] = lambda s, i: s.obj.name
RESOLVERS[(L, "color")] = lambda s, i: s.obj.color
RESOLVERS[(L, "description")] = lambda s, i: s.obj.description
RESOLVERS[(L, "isDefault")] = lambda s, i: s.obj.default
RESOLVERS[(L, "url")] = lambda s, i: ctx(i).url(s.repo, f"/labels/{s.obj.name}")

for _kind in ("User", "Bot"):
    # GraphQL's Bot.login has no "[bot]" suffix; REST and webhooks have it.
    RESOLVERS[(_kind, "login")] = lambda s, i: s.login.removesuffix("[bot]")
    RESOLVERS[(_kind, "id")] = lambda s, i: next_node_id(
        "Bot" if s.type == "Bot" else "User", 0, s.id
    )
    RESOLVERS[(_kind, "databaseId")] = lambda s, i: s.id
    RESOLVERS[(_kind, "url")] = lambda s, i: f"{ctx(i).base_url}/{s.login}"
RESOLVERS[("User", "name")] = lambda s, i: s.name
RESOLVERS[("User", "email")] = lambda s, i: s.email or ""


# -- mutations --------------------------------------------------------------------------------


def _payload(input: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"clientMutationId": input.get("clientMutationId"), **fields}


def _discussion(info: Info, node_id: Any) -> tuple[Repo, Discussion, Actor]:
    found = ctx(info).node_of(node_id, Discussion)
    return found.repo, found.obj, ctx(info).actor(found.repo)


def _comment(info: Info, node_id: Any) -> tuple[Repo, DiscussionComment, Actor]:
    found = ctx(info).node_of(node_id, DiscussionComment)
    return found.repo, found.obj, ctx(info).actor(found.repo)


M = "Mutation"


@resolves(M, "createDiscussion")
def m_create(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    c = ctx(info)
    repo = c.node_of(input["repositoryId"], Repo).repo
    category = c.node_of(input["categoryId"], DiscussionCategory)
    if category.repo is not repo:
        raise not_resolvable(input["categoryId"])
    d = c.actions.create(repo, c.actor(repo), category.obj.id, input["title"], input["body"])
    return _payload(input, discussion=At(repo, d))


@resolves(M, "updateDiscussion")
def m_update(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _discussion(info, input["discussionId"])
    ctx(info).actions.edit(repo, actor, d.number, title=input.get("title"), body=input.get("body"))
    return _payload(input, discussion=At(repo, d))


@resolves(M, "deleteDiscussion")
def m_delete(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _discussion(info, input["id"])
    ctx(info).actions.delete(repo, actor, d.number)
    return _payload(input, discussion=At(repo, d))


@resolves(M, "addDiscussionComment")
def m_comment(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _discussion(info, input["discussionId"])
    reply_to = None
    if input.get("replyToId") is not None:
        parent = ctx(info).node_of(input["replyToId"], DiscussionComment)
        if parent.repo is not repo:
            raise not_resolvable(input["replyToId"])
        reply_to = parent.obj.id
    comment = ctx(info).actions.add_comment(repo, actor, d.number, input["body"], reply_to)
    return _payload(input, comment=At(repo, comment))


@resolves(M, "updateDiscussionComment")
def m_edit_comment(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, comment, actor = _comment(info, input["commentId"])
    ctx(info).actions.edit_comment(repo, actor, comment.id, input["body"])
    return _payload(input, comment=At(repo, comment))


@resolves(M, "deleteDiscussionComment")
def m_delete_comment(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, comment, actor = _comment(info, input["id"])
    ctx(info).actions.delete_comment(repo, actor, comment.id)
    return _payload(input, comment=At(repo, comment))


def _labels(info: Info, repo: Repo, ids: list[str]) -> list[Label]:
    labels = []
    for label_id in ids:
        found = ctx(info).node_of(label_id, Label)
        if found.repo is not repo:
            raise not_resolvable(label_id)
        labels.append(found.obj)
    return labels


def _labelable(info: Info, node_id: Any) -> tuple[Repo, Discussion, Actor]:
    found = ctx(info).node(node_id)
    if isinstance(found, At) and isinstance(found.obj, Discussion):
        return found.repo, found.obj, ctx(info).actor(found.repo)
    if isinstance(found, At) and isinstance(found.obj, Repo | Label | DiscussionCategory):
        raise not_resolvable(node_id)
    raise GraphQLError("the GitHub emulator labels only discussions over GraphQL")


@resolves(M, "addLabelsToLabelable")
def m_add_labels(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _labelable(info, input["labelableId"])
    labels = _labels(info, repo, input["labelIds"])
    ctx(info).actions.add_labels(repo, actor, d.number, labels)
    return _payload(input, labelable=At(repo, d))


@resolves(M, "removeLabelsFromLabelable")
def m_remove_labels(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _labelable(info, input["labelableId"])
    labels = _labels(info, repo, input["labelIds"])
    ctx(info).actions.remove_labels(repo, actor, d.number, labels)
    return _payload(input, labelable=At(repo, d))


@resolves(M, "markDiscussionCommentAsAnswer")
def m_mark(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, comment, actor = _comment(info, input["id"])
    d = ctx(info).actions.mark_answer(repo, actor, comment.id)
    return _payload(input, discussion=At(repo, d))


@resolves(M, "unmarkDiscussionCommentAsAnswer")
def m_unmark(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, comment, actor = _comment(info, input["id"])
    d = ctx(info).actions.unmark_answer(repo, actor, comment.id)
    return _payload(input, discussion=At(repo, d))


@resolves(M, "closeDiscussion")
def m_close(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _discussion(info, input["discussionId"])
    ctx(info).actions.close(repo, actor, d.number, input.get("reason") or "RESOLVED")
    return _payload(input, discussion=At(repo, d))


@resolves(M, "reopenDiscussion")
def m_reopen(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    repo, d, actor = _discussion(info, input["discussionId"])
    ctx(info).actions.reopen(repo, actor, d.number)
    return _payload(input, discussion=At(repo, d))


CONTENT_MUTATIONS = frozenset({"createDiscussion", "addDiscussionComment", "addReaction"})
