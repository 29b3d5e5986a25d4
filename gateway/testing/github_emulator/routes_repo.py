"""REST routes around the issues: the caller, users, repos, labels, assignees, collaborators,
rate limits, issue search and GitHub App installation tokens.

Same conventions as `routes_issues`: parse, act under the store lock, render.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from . import search
from .context import Context, caller, int_param, json_response, no_content, read_object
from .errors import ApiError, forbidden, not_found, validation_failed
from .model import PUSH_ROLES, Issue, Repo, Token
from .paging import choice, paginate
from .render import stamp

REPO = "/repos/{owner}/{repo}"
SEARCH_RESULT_CAP = 1000  # "Only the first 1000 search results are available"
# "Queries longer than 256 characters are not supported" (docs: troubleshooting search queries)
SEARCH_QUERY_LIMIT = 256
# GitHub's 422 when a `repo:` qualifier names a repository the caller cannot see (or none).
UNSEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not "
    "exist or you do not have permission to view them."
)


class RepoRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/user", self.me, allow_head=False)
        router.add_get("/users/{username}", self.user, allow_head=False)
        router.add_get("/rate_limit", self.rate_limit, allow_head=False)
        router.add_get("/search/issues", self.search_issues, allow_head=False)
        router.add_post("/app/installations/{installation_id}/access_tokens", self.access_token)
        router.add_get(REPO + "/installation", self.installation, allow_head=False)
        router.add_get(REPO, self.repo, allow_head=False)
        router.add_get(REPO + "/labels", self.labels, allow_head=False)
        router.add_post(REPO + "/labels", self.create_label)
        router.add_get(REPO + "/assignees", self.assignees, allow_head=False)
        router.add_get(REPO + "/assignees/{assignee}", self.check_assignee, allow_head=False)
        router.add_get(REPO + "/collaborators/{username}", self.collaborator, allow_head=False)
        router.add_get(
            REPO + "/collaborators/{username}/permission", self.permission, allow_head=False
        )

    # -- users and limits ----------------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        who = caller()
        if who.installation_id is not None:
            raise forbidden("Resource not accessible by integration")
        with self.ctx.store.lock:
            user = self.ctx.store.user(who.login)
            assert user is not None
            return json_response(self.ctx.render.private_user(user))

    async def user(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            user = self.ctx.store.user(request.match_info["username"])
            if user is None:
                raise not_found()
            return json_response(self.ctx.render.public_user(user))

    async def rate_limit(self, request: web.Request) -> web.Response:
        who = caller()
        core = self.ctx.limiter.peek(who.identity, "core")
        resources = {
            name: {"limit": q.limit, "used": q.used, "remaining": q.remaining, "reset": q.reset}
            for name, q in (
                ("core", core),
                ("search", self.ctx.limiter.peek(who.identity, "search")),
            )
        }
        return json_response({"resources": resources, "rate": resources["core"]})

    # -- repositories --------------------------------------------------------------------------

    async def repo(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            return json_response(self.ctx.render.repo(repo, actor.role))

    async def labels(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            labels = sorted(repo.labels.values(), key=lambda x: x.name.lower())
            page, headers = paginate(labels, request.query, self.ctx.render.base_url, request.path)
            return json_response([self.ctx.render.label(repo, x) for x in page], headers=headers)

    async def create_label(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            label = self.ctx.actions.create_label(
                repo, actor, body.get("name"), body.get("color"), body.get("description")
            )
            return json_response(self.ctx.render.label(repo, label), 201)

    async def assignees(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            logins = [
                repo.owner,
                *(
                    u.login
                    for u in self.ctx.store.users.values()
                    if repo.collaborators.get(u.login.lower()) in PUSH_ROLES
                ),
            ]
            page, headers = paginate(logins, request.query, self.ctx.render.base_url, request.path)
            return json_response([self.ctx.render.user(x) for x in page], headers=headers)

    async def check_assignee(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            if not self.ctx.store.assignable(repo, request.match_info["assignee"]):
                raise not_found()
        return no_content()

    async def collaborator(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            if not actor.can_push:
                raise forbidden("Must have push access to view repository collaborators.")
            login = request.match_info["username"]
            if login.lower() != repo.owner.lower() and login.lower() not in repo.collaborators:
                raise not_found()
        return no_content()

    async def permission(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            user = self.ctx.store.user(request.match_info["username"])
            if user is None:
                raise not_found()
            role = self.ctx.store.role(repo, user.login)
            # `permission` keeps the legacy five values; `role_name` says the actual role.
            legacy = {"maintain": "write", "triage": "read"}.get(role or "", role or "none")
            data = {
                "permission": legacy,
                "role_name": role or "none",
                "user": {**self.ctx.render.user(user.login), "permissions": _flags(role)},
            }
            return json_response(data)

    # -- search --------------------------------------------------------------------------------

    async def search_issues(self, request: web.Request) -> web.Response:
        q = request.query
        if not q.get("q", "").strip():
            raise validation_failed("Search", "q", "missing")
        if len(q["q"]) > SEARCH_QUERY_LIMIT:
            raise validation_failed(
                "Search",
                "q",
                "invalid",
                message=f"The search is longer than {SEARCH_QUERY_LIMIT} characters.",
            )
        query = search.parse_query(q["q"])
        sort = q.get("sort")
        descending = choice(q, "order", ("asc", "desc"), "desc") == "desc"
        visible_from = self.ctx.now() - dt.timedelta(seconds=self.ctx.search_delay)
        with self.ctx.store.lock:
            named = [self.ctx.store.repo(n) for n in query.repos]
            if not all(r is not None and self._may_search(r) for r in named):
                raise validation_failed("Search", "q", "invalid", message=UNSEARCHABLE)
            hits = []
            for repo in self._searchable(query.repos):
                if not self._may_search(repo):
                    continue
                bodies: dict[int, list[str]] = {}
                for c in repo.comments.values():
                    bodies.setdefault(c.issue_number, []).append(c.body)
                hits += [
                    (repo, i)
                    for i in repo.issues.values()
                    if i.created_at <= visible_from
                    and search.matches(query, i, bodies.get(i.number, ()))
                ]
            hits.sort(key=lambda h: (_search_key(h[1], sort), h[1].id), reverse=descending)
            page, headers = paginate(
                hits[:SEARCH_RESULT_CAP], q, self.ctx.render.base_url, request.path
            )
            data = {
                "total_count": len(hits),
                "incomplete_results": False,
                "search_type": "lexical",
                "items": [self.ctx.render.search_item(r, i) for r, i in page],
            }
        return json_response(data, headers=headers)

    def _may_search(self, repo: Repo) -> bool:
        who = caller()
        if who.repos is not None and repo.full_name.lower() not in who.repos:
            return False
        return self.ctx.store.role(repo, who.login, who.installation_id) is not None

    def _searchable(self, names: list[str]) -> list[Repo]:
        if not names:
            return list(self.ctx.store.repos.values())
        return [r for r in (self.ctx.store.repo(n) for n in names) if r is not None]

    # -- GitHub App ----------------------------------------------------------------------------

    async def access_token(self, request: web.Request) -> web.Response:
        who = caller()
        body = await read_object(request)
        with self.ctx.store.lock:
            inst = self.ctx.store.installations.get(int_param(request, "installation_id"))
            if inst is None or inst.app_id != who.app_id:
                raise not_found()
            repos = None
            if isinstance(body.get("repositories"), list):
                repos = frozenset(f"{inst.account}/{n}".lower() for n in body["repositories"])
            token = Token(
                self.ctx.new_token("ghs_"),
                who.login,
                inst.id,
                repos,
                self.ctx.now() + self.ctx.token_ttl,
            )
            self.ctx.store.tokens[token.value] = token
            data = {
                "token": token.value,
                "expires_at": stamp(token.expires_at),
                "permissions": body.get("permissions") or {"issues": "write", "metadata": "read"},
                "repository_selection": "selected" if (repos or inst.repos) else "all",
            }
        return json_response(data, 201)

    async def installation(self, request: web.Request) -> web.Response:
        who = caller()
        with self.ctx.store.lock:
            repo = self.ctx.store.repo(
                f"{request.match_info['owner']}/{request.match_info['repo']}"
            )
            for inst in self.ctx.store.installations.values():
                if (
                    repo is not None
                    and inst.app_id == who.app_id
                    and (self.ctx.store.installation_covers(inst.id, repo))
                ):
                    return json_response(self.ctx.render.installation(inst))
        raise ApiError(404, "Not Found")


def _search_key(issue: Issue, sort: str | None) -> Any:
    """GitHub's `sort` for search; "best match" is approximated by newest first."""
    if sort == "updated":
        return issue.updated_at
    if sort == "comments":
        return issue.comments
    return issue.created_at


def _flags(role: str | None) -> dict[str, bool]:
    order = ("read", "triage", "write", "maintain", "admin")
    rank = order.index(role) if role in order else -1
    return {
        "pull": rank >= 0,
        "triage": rank >= 1,
        "push": rank >= 2,
        "maintain": rank >= 3,
        "admin": rank >= 4,
    }
