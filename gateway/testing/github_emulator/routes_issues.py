"""REST routes for issues and issue comments, shaped like api.github.com.

Handlers parse the request, call `Actions` under the store lock, and render the result; the
pipeline has already authenticated and rate-limited the caller. Route templates match the
OpenAPI description's paths so fault rules can name them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .context import Context, int_param, json_response, no_content, read_json, read_object
from .model import Comment, Issue, Repo
from .paging import choice, paginate, parse_since

REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + r"/issues/{issue_number:\d+}"
COMMENT = REPO + r"/issues/comments/{comment_id:\d+}"


class IssueRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(REPO + "/issues/comments", self.list_repo_comments, allow_head=False)
        router.add_get(COMMENT, self.get_comment, allow_head=False)
        router.add_patch(COMMENT, self.edit_comment)
        router.add_delete(COMMENT, self.delete_comment)
        router.add_get(REPO + "/issues", self.list_issues, allow_head=False)
        router.add_post(REPO + "/issues", self.create_issue)
        router.add_get(ISSUE, self.get_issue, allow_head=False)
        router.add_patch(ISSUE, self.update_issue)
        router.add_get(ISSUE + "/comments", self.list_comments, allow_head=False)
        router.add_post(ISSUE + "/comments", self.create_comment)
        router.add_post(ISSUE + "/assignees", self.add_assignees)
        router.add_delete(ISSUE + "/assignees", self.remove_assignees)
        router.add_get(ISSUE + "/labels", self.list_labels, allow_head=False)
        router.add_post(ISSUE + "/labels", self.add_labels)
        router.add_delete(ISSUE + "/labels/{name}", self.remove_label)

    # -- issues --------------------------------------------------------------------------------

    async def list_issues(self, request: web.Request) -> web.Response:
        q = request.query
        state = choice(q, "state", ("open", "closed", "all"), "open")
        sort = choice(q, "sort", ("created", "updated", "comments"), "created")
        descending = choice(q, "direction", ("asc", "desc"), "desc") == "desc"
        since = parse_since(q)
        labels = {x.strip().lower() for x in q.get("labels", "").split(",") if x.strip()}
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            found = [i for i in repo.issues.values() if _issue_filter(i, q, state, labels)]
            if since is not None:
                found = [i for i in found if i.updated_at >= since]
            found.sort(key=lambda i: (_sort_key(i, sort), i.number), reverse=descending)
            page, headers = paginate(found, q, self.ctx.render.base_url, request.path)
            data = [self.ctx.render.issue(repo, i) for i in page]
        return json_response(data, headers=headers)

    async def create_issue(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        title = body.get("title")
        if isinstance(title, int) and not isinstance(title, bool):
            title = str(title)
        assignees = body.get("assignees") or []
        if body.get("assignee"):
            assignees = [*assignees, body["assignee"]] if isinstance(assignees, list) else assignees
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.create_issue(
                repo, actor, title, body.get("body"), body.get("labels"), assignees
            )
            data = self.ctx.render.issue(repo, issue)
        return json_response(data, 201, {"Location": data["url"]})

    async def get_issue(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.issue(repo, int_param(request, "issue_number"))
            return json_response(self.ctx.render.issue(repo, issue))

    async def update_issue(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.update_issue(
                repo, actor, int_param(request, "issue_number"), body
            )
            return json_response(self.ctx.render.issue(repo, issue))

    async def add_assignees(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.add_assignees(
                repo, actor, int_param(request, "issue_number"), body.get("assignees")
            )
            return json_response(self.ctx.render.issue(repo, issue), 201)

    async def remove_assignees(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.remove_assignees(
                repo, actor, int_param(request, "issue_number"), body.get("assignees")
            )
            return json_response(self.ctx.render.issue(repo, issue))

    # -- labels on an issue --------------------------------------------------------------------

    async def list_labels(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            issue = self.ctx.actions.issue(repo, int_param(request, "issue_number"))
            labels = [repo.labels[n.lower()] for n in issue.labels]
            page, headers = paginate(labels, request.query, self.ctx.render.base_url, request.path)
            data = [self.ctx.render.label(repo, x) for x in page]
        return json_response(data, headers=headers)

    async def add_labels(self, request: web.Request) -> web.Response:
        body: Any = await read_json(request)
        names = body.get("labels") if isinstance(body, dict) else body
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            labels = self.ctx.actions.add_labels(
                repo, actor, int_param(request, "issue_number"), names
            )
            return json_response([self.ctx.render.label(repo, x) for x in labels])

    async def remove_label(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            labels = self.ctx.actions.remove_label(
                repo, actor, int_param(request, "issue_number"), request.match_info["name"]
            )
            return json_response([self.ctx.render.label(repo, x) for x in labels])

    # -- comments ------------------------------------------------------------------------------

    async def list_comments(self, request: web.Request) -> web.Response:
        since = parse_since(request.query, "IssueComment")
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            number = int_param(request, "issue_number")
            self.ctx.actions.issue(repo, number)
            found = [
                c
                for c in repo.comments.values()
                if c.issue_number == number and (since is None or c.updated_at >= since)
            ]
            return self._comment_page(request, repo, found)

    async def list_repo_comments(self, request: web.Request) -> web.Response:
        q = request.query
        since = parse_since(q, "IssueComment")
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            found = [c for c in repo.comments.values() if since is None or c.updated_at >= since]
            if "sort" in q:  # without `sort`, GitHub ignores `direction` and lists by id
                sort = choice(q, "sort", ("created", "updated"), "created")
                descending = choice(q, "direction", ("asc", "desc"), "desc") == "desc"
                found.sort(key=lambda c: (_comment_key(c, sort), c.id), reverse=descending)
            return self._comment_page(request, repo, found)

    async def create_comment(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            comment = self.ctx.actions.add_comment(
                repo, actor, int_param(request, "issue_number"), body.get("body")
            )
            data = self.ctx.render.comment(repo, comment)
        return json_response(data, 201, {"Location": data["url"]})

    async def get_comment(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            comment = self.ctx.actions.comment(repo, int_param(request, "comment_id"))
            return json_response(self.ctx.render.comment(repo, comment))

    async def edit_comment(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            comment = self.ctx.actions.edit_comment(
                repo, actor, int_param(request, "comment_id"), body.get("body")
            )
            return json_response(self.ctx.render.comment(repo, comment))

    async def delete_comment(self, request: web.Request) -> web.Response:
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            self.ctx.actions.delete_comment(repo, actor, int_param(request, "comment_id"))
        return no_content()

    def _comment_page(self, request: web.Request, repo: Repo, found: list[Comment]) -> web.Response:
        page, headers = paginate(found, request.query, self.ctx.render.base_url, request.path)
        return json_response([self.ctx.render.comment(repo, c) for c in page], headers=headers)


def _issue_filter(issue: Issue, q: Any, state: str, labels: set[str]) -> bool:
    if state != "all" and issue.state != state:
        return False
    creator = q.get("creator")
    if creator and issue.user.lower() != creator.lower():
        return False
    assignee = q.get("assignee")
    if assignee == "none" and issue.assignees:
        return False
    if assignee == "*" and not issue.assignees:
        return False
    if (
        assignee
        and assignee not in ("none", "*")
        and assignee.lower() not in {a.lower() for a in issue.assignees}
    ):
        return False
    return labels <= {n.lower() for n in issue.labels}


def _sort_key(issue: Issue, sort: str) -> Any:
    if sort == "updated":
        return issue.updated_at
    return issue.comments if sort == "comments" else issue.created_at


def _comment_key(comment: Comment, sort: str) -> Any:
    return comment.updated_at if sort == "updated" else comment.created_at
