"""REST routes for reactions to issues and issue comments, shaped like api.github.com.

`POST` answers 201 with a new reaction and 200 with the one the caller already made of that
content (https://docs.github.com/rest/reactions/reactions); a missing issue or comment is 404 and
an unknown content 422. A reaction is a write, so the pipeline counts it against the secondary
content limit like any other POST. Same conventions as `routes_issues`: parse, act under the store
lock, render.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from .context import Context, int_param, json_response, read_object
from .model import Repo
from .paging import paginate
from .reactions import Subject, react, reactions_to

REPO = "/repos/{owner}/{repo}"
ISSUE_REACTIONS = REPO + r"/issues/{issue_number:\d+}/reactions"
COMMENT_REACTIONS = REPO + r"/issues/comments/{comment_id:\d+}/reactions"
SubjectOf = Callable[[web.Request, Repo], Subject]  # the issue or comment a request names


class ReactionRoutes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(ISSUE_REACTIONS, self.list_for_issue, allow_head=False)
        router.add_post(ISSUE_REACTIONS, self.create_for_issue)
        router.add_get(COMMENT_REACTIONS, self.list_for_comment, allow_head=False)
        router.add_post(COMMENT_REACTIONS, self.create_for_comment)

    async def create_for_issue(self, request: web.Request) -> web.Response:
        return await self._create(request, self._issue)

    async def create_for_comment(self, request: web.Request) -> web.Response:
        return await self._create(request, self._comment)

    async def list_for_issue(self, request: web.Request) -> web.Response:
        return self._list(request, self._issue)

    async def list_for_comment(self, request: web.Request) -> web.Response:
        return self._list(request, self._comment)

    # -- helpers -------------------------------------------------------------------------------

    def _issue(self, request: web.Request, repo: Repo) -> Subject:
        issue = self.ctx.actions.issue(repo, int_param(request, "issue_number"))
        return "Issue", issue.id

    def _comment(self, request: web.Request, repo: Repo) -> Subject:
        comment = self.ctx.actions.comment(repo, int_param(request, "comment_id"))
        return "IssueComment", comment.id

    async def _create(self, request: web.Request, subject_of: SubjectOf) -> web.Response:
        body = await read_object(request)
        with self.ctx.store.lock:
            repo, actor = self.ctx.repo_and_actor(request)
            subject = subject_of(request, repo)
            reaction, created = react(
                self.ctx.store, repo, actor.login, subject, body.get("content"), self.ctx.now()
            )
            return json_response(self.ctx.render.reaction(reaction), 201 if created else 200)

    def _list(self, request: web.Request, subject_of: SubjectOf) -> web.Response:
        with self.ctx.store.lock:
            repo, _ = self.ctx.repo_and_actor(request)
            found = reactions_to(repo, subject_of(request, repo), request.query.get("content"))
            page, headers = paginate(found, request.query, self.ctx.render.base_url, request.path)
            data = [self.ctx.render.reaction(r) for r in page]
        return json_response(data, headers=headers)

