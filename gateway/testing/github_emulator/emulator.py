"""`Emulator`: the object a test holds. It owns the state, builds the aiohttp application, and
offers the knobs tests turn: users, tokens, repos, collaborators, apps, limits, faults, webhooks,
plus acting as a person (a teammate commenting) and reading back what GitHub now holds.

    emulator = Emulator()
    emulator.add_repo("acme/visit-users")  # private unless private=False
    emulator.add_collaborator("acme/visit-users", "visit-bot", "write")
    token = emulator.add_token("visit-bot")
    with emulator.serve() as base_url:
        ...  # point PyGithub (or the gateway) at base_url

Inspection methods return copies; mutate state only through the methods here or the API.
PyGithub throttles itself by default (0.25 s between requests, 1 s between writes); pass
`seconds_between_requests=None, seconds_between_writes=None` where speed matters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from gateway.clock import Clock, SystemClock

from .actions import Actions, Actor, AssigneePolicy
from .actions_discussions import DiscussionActions
from .context import Context
from .faults import FaultKind, FaultPlan, FaultRule, FiredFault
from .git_objects import GitRepo
from .limits import Limits, RateLimiter
from .model import (
    ROLES,
    App,
    Comment,
    Discussion,
    DiscussionCategory,
    DiscussionComment,
    Installation,
    Issue,
    Label,
    Reaction,
    Repo,
    Store,
    Token,
    User,
    next_node_id,
)
from .pipeline import Pipeline, RequestLog, RequestRecord
from .render import Renderer
from .routes_contents import ContentsRoutes
from .routes_git import GitRoutes
from .routes_graphql import GraphQLLog, GraphQLRoutes
from .routes_issues import IssueRoutes
from .routes_reactions import ReactionRoutes
from .routes_repo import RepoRoutes
from .server import serve_app
from .webhooks import Hook, WebhookSender


class Emulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        limits: Limits | None = None,
        seed: int = 0,
        assignee_policy: AssigneePolicy | str = AssigneePolicy.GITHUB,
        search_delay: float = 0.0,
    ) -> None:
        self.clock = clock or SystemClock()
        self.store = Store()
        self.render = Renderer(self.store)
        self.webhooks = WebhookSender(self.render, random.Random(seed))
        self.actions = Actions(
            self.store, self._now, self.webhooks.emit, AssigneePolicy(assignee_policy)
        )
        self.discussion_actions = DiscussionActions(self.store, self._now, self.webhooks.emit)
        self.graphql_log = GraphQLLog()
        self.limiter = RateLimiter(limits or Limits(), lambda: self.clock.now().timestamp())
        self.faults = FaultPlan(seed)
        self.log = RequestLog()
        self.ctx = Context(
            self.store,
            self.actions,
            self.render,
            self.limiter,
            self._now,
            search_delay,
            rng=random.Random(seed + 1),
        )
        self.base_url: str | None = None
        self.git: dict[int, GitRepo] = {}  # repo id -> its Git objects (`routes_git`)

    @property
    def assignee_policy(self) -> AssigneePolicy:
        """What create/update do with assignees who cannot be assigned (see `actions.py`)."""
        return self.actions.assignee_policy

    @assignee_policy.setter
    def assignee_policy(self, policy: AssigneePolicy | str) -> None:
        self.actions.assignee_policy = AssigneePolicy(policy)

    def _now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC).replace(microsecond=0)

    # -- accounts and repositories -------------------------------------------------------------

    def add_user(
        self,
        login: str,
        *,
        name: str | None = None,
        email: str | None = None,
        type: str = "User",
        site_admin: bool = False,
    ) -> User:
        with self.store.lock:
            user = self.store.user(login)
            if user is None:
                user = User(login, self.store.next_id(), self._now(), type, name, email, site_admin)
                self.store.users[login.lower()] = user
            return dataclasses.replace(user)

    def add_token(
        self,
        login: str,
        token: str | None = None,
        *,
        repos: list[str] | None = None,
        expires_at: dt.datetime | None = None,
    ) -> str:
        """A personal access token for `login` (created if unknown), optionally limited to
        `repos` (full names); returns the token string."""
        self.add_user(login)
        value = token or self.ctx.new_token("ghp_")
        scope = frozenset(r.lower() for r in repos) if repos is not None else None
        with self.store.lock:
            self.store.tokens[value] = Token(value, login, None, scope, expires_at)
        return value

    def revoke_token(self, token: str) -> None:
        with self.store.lock:
            self.store.tokens[token].revoked = True

    def add_repo(
        self, full_name: str, *, private: bool = True, description: str | None = None
    ) -> Repo:
        owner, _, name = full_name.partition("/")
        if not owner or not name:
            raise ValueError(f"repository must be owner/name, not {full_name!r}")
        self.add_user(owner)
        with self.store.lock:
            repo = self.store.repo(full_name)
            if repo is None:
                repo = Repo(self.store.next_id(), owner, name, self._now(), private, description)
                self.store.repos[full_name.lower()] = repo
            return repo

    def add_collaborator(self, full_name: str, login: str, permission: str = "write") -> None:
        """Give `login` a role in the repo: read, triage, write, maintain or admin."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {ROLES}")
        self.add_user(login)
        with self.store.lock:
            self._repo(full_name).collaborators[login.lower()] = permission

    def remove_collaborator(self, full_name: str, login: str) -> None:
        with self.store.lock:
            self._repo(full_name).collaborators.pop(login.lower(), None)

    def add_label(
        self, full_name: str, name: str, *, color: str = "ededed", description: str | None = None
    ) -> Label:
        with self.store.lock:
            repo = self._repo(full_name)
            label = self.actions.create_label(
                repo, Actor(repo.owner, "admin"), name, color, description
            )
            return dataclasses.replace(label)

    def add_app(
        self,
        app_id: int,
        *,
        slug: str,
        owner: str,
        name: str | None = None,
        public_key_pem: str | None = None,
    ) -> App:
        """A GitHub App; its JWTs are verified against `public_key_pem` when given."""
        self.add_user(owner)
        app = App(app_id, slug, name or slug, owner, f"Iv1.{app_id:016x}", public_key_pem)
        self.add_user(app.bot_login, type="Bot")
        with self.store.lock:
            self.store.apps[app_id] = app
        return app

    def add_installation(
        self, installation_id: int, app_id: int, account: str, repos: list[str] | None = None
    ) -> Installation:
        """Install an app on `account`, for all its repos or only `repos` (full names)."""
        self.add_user(account)
        scope = frozenset(r.lower() for r in repos) if repos is not None else None
        inst = Installation(installation_id, app_id, account, scope)
        with self.store.lock:
            self.store.installations[installation_id] = inst
        return inst

    # -- acting as a person (events and webhooks as if done on github.com) -------------------

    def create_issue(
        self,
        full_name: str,
        title: str,
        body: str | None = None,
        *,
        user: str,
        labels: list[str] | None = None,
        assignees: list[str] | None = None,
    ) -> Issue:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy(self.actions.create_issue(repo, actor, title, body, labels, assignees))

    def comment(self, full_name: str, number: int, body: str, *, user: str) -> Comment:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return dataclasses.replace(self.actions.add_comment(repo, actor, number, body))

    def edit_issue(self, full_name: str, number: int, *, user: str, **fields: Any) -> Issue:
        """PATCH-like: title, body, state, state_reason, labels, assignees."""
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy(self.actions.update_issue(repo, actor, number, fields))

    def close_issue(
        self, full_name: str, number: int, *, user: str, reason: str = "completed"
    ) -> Issue:
        return self.edit_issue(full_name, number, user=user, state="closed", state_reason=reason)

    # -- discussions (GraphQL) -----------------------------------------------------------------

    def enable_discussions(self, full_name: str, enabled: bool = True) -> None:
        with self.store.lock:
            self._repo(full_name).discussions_enabled = enabled

    def add_discussion_category(
        self, full_name: str, name: str, *, answerable: bool = True
    ) -> DiscussionCategory:
        """A category (by name; updated if it exists). Answerable = GitHub's "Question / Answer"
        format, where a comment can be marked as the answer."""
        with self.store.lock:
            repo = self._repo(full_name)
            return dataclasses.replace(
                self.discussion_actions.add_category(repo, name, answerable=answerable)
            )

    def discussion_categories(self, full_name: str) -> list[DiscussionCategory]:
        with self.store.lock:
            return [dataclasses.replace(c) for c in self._repo(full_name).categories.values()]

    def create_discussion(
        self, full_name: str, title: str, body: str, *, user: str, category: str
    ) -> Discussion:
        """Open a discussion as `user` in the category named `category` (webhook included)."""
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            cat = self._category(repo, category)
            d = self.discussion_actions.create(repo, actor, cat.id, title, body)
            return _copy_discussion(d)

    def discussion_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        user: str,
        reply_to: int | None = None,
    ) -> DiscussionComment:
        """A person's comment, or their reply to the top-level comment with id `reply_to`."""
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return dataclasses.replace(
                self.discussion_actions.add_comment(repo, actor, number, body, reply_to)
            )

    def edit_discussion(
        self,
        full_name: str,
        number: int,
        *,
        user: str,
        title: str | None = None,
        body: str | None = None,
    ) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            d = self.discussion_actions.edit(repo, actor, number, title=title, body=body)
            return _copy_discussion(d)

    def delete_discussion(self, full_name: str, number: int, *, user: str) -> None:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            self.discussion_actions.delete(repo, actor, number)

    def label_discussion(
        self, full_name: str, number: int, labels: list[str], *, user: str
    ) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            found = [repo.labels[n.lower()] for n in labels]
            d = self.discussion_actions.add_labels(repo, actor, number, found)
            return _copy_discussion(d)

    def mark_answer(self, full_name: str, comment_id: int, *, user: str) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy_discussion(self.discussion_actions.mark_answer(repo, actor, comment_id))

    def unmark_answer(self, full_name: str, comment_id: int, *, user: str) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy_discussion(self.discussion_actions.unmark_answer(repo, actor, comment_id))

    def close_discussion(
        self, full_name: str, number: int, *, user: str, reason: str = "RESOLVED"
    ) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy_discussion(self.discussion_actions.close(repo, actor, number, reason))

    def reopen_discussion(self, full_name: str, number: int, *, user: str) -> Discussion:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return _copy_discussion(self.discussion_actions.reopen(repo, actor, number))

    def lock_discussion(self, full_name: str, number: int, locked: bool = True) -> None:
        with self.store.lock:
            self.discussion_actions.lock(self._repo(full_name), number, locked)

    def edit_discussion_comment(
        self, full_name: str, comment_id: int, body: str, *, user: str
    ) -> DiscussionComment:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            return dataclasses.replace(
                self.discussion_actions.edit_comment(repo, actor, comment_id, body)
            )

    def delete_discussion_comment(self, full_name: str, comment_id: int, *, user: str) -> None:
        with self.store.lock:
            repo, actor = self._act(full_name, user)
            self.discussion_actions.delete_comment(repo, actor, comment_id)

    def discussions(self, full_name: str) -> list[Discussion]:
        with self.store.lock:
            repo = self._repo(full_name)
            return [_copy_discussion(repo.discussions[n]) for n in sorted(repo.discussions)]

    def discussion(self, full_name: str, number: int) -> Discussion:
        with self.store.lock:
            repo = self._repo(full_name)
            return _copy_discussion(self.discussion_actions.discussion(repo, number))

    def discussion_comments(
        self, full_name: str, number: int | None = None
    ) -> list[DiscussionComment]:
        """Comments and replies in creation order (`reply_to` tells which is which)."""
        with self.store.lock:
            return [
                dataclasses.replace(c)
                for c in self._repo(full_name).discussion_comments.values()
                if number is None or c.discussion_number == number
            ]

    def node_id(self, full_name: str, record: object) -> str:
        """The GraphQL global id of a repo, label, category, discussion or comment."""
        with self.store.lock:
            repo = self._repo(full_name)
            kinds = {
                Repo: "Repository",
                Label: "Label",
                DiscussionCategory: "DiscussionCategory",
                Discussion: "Discussion",
                DiscussionComment: "DiscussionComment",
            }
            kind = kinds[type(record)]
            ident = repo.id if isinstance(record, Repo) else record.id  # type: ignore[attr-defined]
            return next_node_id(kind, repo.id, ident)

    def graphql_documents(self) -> list[str]:
        """The text of every GraphQL document received, in order."""
        with self.graphql_log.lock:
            return list(self.graphql_log.documents)

    def graphql_unimplemented(self) -> list[str]:
        """Fields asked for that the emulator does not serve ("Discussion.poll"), in order."""
        with self.graphql_log.lock:
            return list(self.graphql_log.unimplemented)

    def _category(self, repo: Repo, name: str) -> DiscussionCategory:
        for cat in repo.categories.values():
            if cat.name.lower() == name.lower():
                return cat
        raise KeyError(name)

    # -- reading state back --------------------------------------------------------------------

    def issues(self, full_name: str) -> list[Issue]:
        with self.store.lock:
            return [
                _copy(i)
                for i in sorted(self._repo(full_name).issues.values(), key=lambda i: i.number)
            ]

    def issue(self, full_name: str, number: int) -> Issue:
        with self.store.lock:
            return _copy(self.actions.issue(self._repo(full_name), number))

    def comments(self, full_name: str, number: int | None = None) -> list[Comment]:
        with self.store.lock:
            return [
                dataclasses.replace(c)
                for c in self._repo(full_name).comments.values()
                if number is None or c.issue_number == number
            ]

    def reactions(self, full_name: str, comment_id: int) -> list[Reaction]:
        """The reactions to the issue comment `comment_id`, oldest first."""
        with self.store.lock:
            repo = self._repo(full_name)
            return self._reactions(repo, "IssueComment", self.actions.comment(repo, comment_id).id)

    def issue_reactions(self, full_name: str, number: int) -> list[Reaction]:
        """The reactions to the body of issue `number`, oldest first."""
        with self.store.lock:
            repo = self._repo(full_name)
            return self._reactions(repo, "Issue", self.actions.issue(repo, number).id)

    def discussion_reactions(
        self, full_name: str, number: int, comment_id: int | None = None
    ) -> list[Reaction]:
        """The reactions to discussion `number`'s body, or to its comment (or reply)
        `comment_id`, oldest first."""
        with self.store.lock:
            repo = self._repo(full_name)
            d = self.discussion_actions.discussion(repo, number)
            if comment_id is None:
                return self._reactions(repo, "Discussion", d.id)
            comment = self.discussion_actions.comment(repo, comment_id)
            if comment.discussion_number != number:
                raise KeyError(comment_id)
            return self._reactions(repo, "DiscussionComment", comment.id)

    @staticmethod
    def _reactions(repo: Repo, kind: str, ident: int) -> list[Reaction]:
        return [dataclasses.replace(r) for r in repo.reactions.get((kind, ident), [])]

    def labels(self, full_name: str) -> list[Label]:
        with self.store.lock:
            return [dataclasses.replace(x) for x in self._repo(full_name).labels.values()]

    def request_log(self) -> list[RequestRecord]:
        return self.log.records()

    # -- limits --------------------------------------------------------------------------------

    def set_limits(self, limits: Limits | None = None, **changes: Any) -> Limits:
        """Replace the limits, or change some fields: `set_limits(secondary=True, core=100)`."""
        self.limiter.limits = dataclasses.replace(limits or self.limiter.limits, **changes)
        return self.limiter.limits

    @property
    def limit_errors_served(self) -> int:
        """Primary and secondary rate-limit errors answered so far."""
        return self.limiter.errors_served

    def reset_limits(self) -> None:
        """Forget usage and the error count (the limits themselves stay)."""
        self.limiter.reset()

    # -- faults --------------------------------------------------------------------------------

    def inject_fault(
        self,
        kind: FaultKind | str,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
        probability: float | None = None,
        status: int = 502,
        delay: float = 0.0,
        delay_max: float | None = None,
        skip: int = 0,
        operation: str | None = None,
    ) -> FaultRule:
        """Schedule a fault; see `faults.py`. `path` is a route template such as
        "/repos/{owner}/{repo}/issues", a concrete path, or a glob; the first `skip` matching
        requests pass untouched. `operation` (with `path="/graphql"`) names a GraphQL
        operation or root field: "CreateDiscussion", "addDiscussionComment"."""
        return self.faults.add(
            FaultRule(
                FaultKind(kind),
                method,
                path,
                times,
                probability,
                status,
                delay,
                delay_max,
                skip,
                operation,
            )
        )

    def clear_faults(self, *, reseed: int | None = None) -> None:
        self.faults.clear(reseed=reseed)

    @property
    def faults_fired(self) -> list[FiredFault]:
        return list(self.faults.fired)

    # -- webhooks ------------------------------------------------------------------------------

    def add_webhook(
        self,
        url: str,
        secret: str | None = None,
        *,
        events: set[str] | None = None,
        installation_id: int | None = None,
    ) -> Hook:
        """Shortcut for `emulator.webhooks.add_hook`; the rest lives on `emulator.webhooks`."""
        return self.webhooks.add_hook(url, secret, events=events, installation_id=installation_id)

    # -- serving -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A fresh aiohttp application over this state (an app can only be started once)."""
        app = web.Application(middlewares=[Pipeline(self.ctx, self.faults, self.log).handle])
        IssueRoutes(self.ctx).register(app.router)
        ReactionRoutes(self.ctx).register(app.router)
        GraphQLRoutes(self.ctx, self.discussion_actions, self.graphql_log).register(app.router)
        RepoRoutes(self.ctx).register(app.router)
        GitRoutes(self.ctx, self.git).register(app.router)
        ContentsRoutes(self.ctx, self.git).register(app.router)

        async def start_webhooks(_: web.Application) -> None:
            await self.webhooks.start()

        async def stop_webhooks(_: web.Application) -> None:
            await self.webhooks.stop()

        app.on_startup.append(start_webhooks)
        app.on_cleanup.append(stop_webhooks)
        return app

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on real TCP from a background thread; yields the base URL."""
        app = self.app()
        with serve_app(app, host, port) as url:
            self.base_url = self.render.base_url = url
            try:
                yield url
            finally:
                self.base_url = None

    # -- helpers -------------------------------------------------------------------------------

    def _repo(self, full_name: str) -> Repo:
        repo = self.store.repo(full_name)
        if repo is None:
            raise KeyError(full_name)
        return repo

    def _act(self, full_name: str, login: str) -> tuple[Repo, Actor]:
        repo = self._repo(full_name)
        user = self.store.user(login)
        if user is None:
            raise KeyError(login)
        role = self.store.role(repo, user.login)
        app = self.store.app_of_bot(user.login)
        return repo, Actor(user.login, role, app.id if app else None)


def _copy_discussion(d: Discussion) -> Discussion:
    return dataclasses.replace(d, labels=list(d.labels))


def _copy(issue: Issue) -> Issue:
    return dataclasses.replace(issue, labels=list(issue.labels), assignees=list(issue.assignees))
