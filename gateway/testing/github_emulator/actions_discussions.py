"""What a GitHub user can do to discussions, with GitHub's rules, announced as events.

The GraphQL mutations and the emulator's "act as a person" helpers both go through
`DiscussionActions`; callers hold `store.lock`. Refusals raise `GraphQLFailure` with the `type`
GitHub puts on its GraphQL errors (NOT_FOUND, FORBIDDEN, UNPROCESSABLE). Rules kept:
- discussions must be enabled on the repository; creating one needs read access;
- a reply names a top-level comment of the same discussion; replying to a reply is refused
  ("Parent comment is already in a thread, cannot reply to it"): GitHub nests one level only;
- labels, closing and reopening need triage (or, for close/reopen, being the author); labels
  must already exist (GraphQL never creates them);
- only a top-level comment in an answerable category can be the answer, chosen by the author of
  the discussion or someone with triage;
- commenting on a locked discussion needs write access.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .actions import Actor
from .model import (
    Discussion,
    DiscussionCategory,
    DiscussionComment,
    Label,
    Repo,
    Store,
    role_at_least,
)
from .validation import BODY_LIMIT, TITLE_LIMIT

CLOSE_REASONS = ("RESOLVED", "OUTDATED", "DUPLICATE")


class GraphQLFailure(Exception):
    """A refusal GitHub reports as `{"type": ..., "message": ...}` in the `errors` array."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type
        self.message = message


def not_resolvable(node_id: str) -> GraphQLFailure:
    return GraphQLFailure(
        "NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'"
    )


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "category"


@dataclass(frozen=True, slots=True)
class DiscussionEvent:
    """One `discussion` or `discussion_comment` webhook, rendered under the store lock."""

    name: str  # "discussion" | "discussion_comment"
    action: str
    repo: Repo
    discussion: Discussion
    sender: str
    comment: DiscussionComment | None = None
    label: Label | None = None
    answer: DiscussionComment | None = None  # answered: the answer; unanswered: the old one
    changes: dict[str, Any] | None = None
    installation_id: int | None = None


class DiscussionActions:
    def __init__(
        self,
        store: Store,
        now: Callable[[], dt.datetime],
        emit: Callable[[DiscussionEvent], None],
    ) -> None:
        self.store = store
        self.now = now
        self.emit = emit

    # -- categories ----------------------------------------------------------------------------

    def add_category(self, repo: Repo, name: str, *, answerable: bool = True) -> DiscussionCategory:
        for category in repo.categories.values():
            if category.name.lower() == name.lower():
                category.is_answerable = answerable
                return category
        category = DiscussionCategory(
            self.store.next_id(), name, slugify(name), answerable, created_at=self.now()
        )
        repo.categories[category.id] = category
        return category

    # -- discussions ---------------------------------------------------------------------------

    def create(
        self, repo: Repo, actor: Actor, category_id: int, title: Any, body: Any
    ) -> Discussion:
        self._enabled(repo)
        if actor.role is None:
            raise GraphQLFailure("FORBIDDEN", f"{actor.login} cannot create discussions here.")
        if category_id not in repo.categories:
            raise GraphQLFailure("NOT_FOUND", "Could not resolve to a DiscussionCategory.")
        if not isinstance(title, str) or not title.strip():
            raise GraphQLFailure("UNPROCESSABLE", "Title can't be blank")
        if len(title) > TITLE_LIMIT:
            raise GraphQLFailure("UNPROCESSABLE", "Title is too long (maximum is 256 characters)")
        self._check_body(body)
        now = self.now()
        discussion = Discussion(
            id=self.store.next_id(),
            number=repo.last_number + 1,
            title=title,
            body=body,
            user=actor.login,
            category_id=category_id,
            created_at=now,
            updated_at=now,
            app_id=actor.app_id,
        )
        repo.discussions[discussion.number] = discussion
        repo.last_number = discussion.number
        self._event("discussion", "created", repo, discussion, actor)
        return discussion

    def edit(
        self, repo: Repo, actor: Actor, number: int, *, title: Any = None, body: Any = None
    ) -> Discussion:
        d = self.discussion(repo, number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "triage")):
            raise self._forbidden(actor, "UpdateDiscussion")
        changes: dict[str, Any] = {}
        if title is not None and title != d.title:
            changes["title"] = {"from": d.title}
            d.title = title
        if body is not None and body != d.body:
            self._check_body(body)
            changes["body"] = {"from": d.body}
            d.body = body
        if changes:
            d.updated_at = self.now()
            self._event("discussion", "edited", repo, d, actor, changes=changes)
        return d

    def delete(self, repo: Repo, actor: Actor, number: int) -> Discussion:
        d = self.discussion(repo, number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "maintain")):
            raise self._forbidden(actor, "DeleteDiscussion")
        del repo.discussions[number]
        for cid in [
            c.id for c in repo.discussion_comments.values() if c.discussion_number == number
        ]:
            del repo.discussion_comments[cid]
        self._event("discussion", "deleted", repo, d, actor)
        return d

    def add_labels(self, repo: Repo, actor: Actor, number: int, labels: list[Label]) -> Discussion:
        d = self.discussion(repo, number)
        if not role_at_least(actor.role, "triage"):
            raise self._forbidden(actor, "AddLabelsToLabelable")
        have = {n.lower() for n in d.labels}
        added = [label for label in labels if label.name.lower() not in have]
        for label in added:
            d.labels.append(label.name)
            have.add(label.name.lower())
        if added:
            d.updated_at = self.now()
        for label in added:
            self._event("discussion", "labeled", repo, d, actor, label=label)
        return d

    def remove_labels(
        self, repo: Repo, actor: Actor, number: int, labels: list[Label]
    ) -> Discussion:
        d = self.discussion(repo, number)
        if not role_at_least(actor.role, "triage"):
            raise self._forbidden(actor, "RemoveLabelsFromLabelable")
        gone = [label for label in labels if label.name.lower() in {n.lower() for n in d.labels}]
        d.labels = [n for n in d.labels if n.lower() not in {g.name.lower() for g in gone}]
        if gone:
            d.updated_at = self.now()
        for label in gone:
            self._event("discussion", "unlabeled", repo, d, actor, label=label)
        return d

    def close(self, repo: Repo, actor: Actor, number: int, reason: str = "RESOLVED") -> Discussion:
        d = self.discussion(repo, number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "triage")):
            raise self._forbidden(actor, "CloseDiscussion")
        if reason not in CLOSE_REASONS:
            raise GraphQLFailure("UNPROCESSABLE", f"Invalid close reason {reason!r}")
        if d.closed:
            d.state_reason = reason
            return d
        d.closed, d.closed_at, d.state_reason = True, self.now(), reason
        d.updated_at = d.closed_at
        self._event("discussion", "closed", repo, d, actor)
        return d

    def reopen(self, repo: Repo, actor: Actor, number: int) -> Discussion:
        d = self.discussion(repo, number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "triage")):
            raise self._forbidden(actor, "ReopenDiscussion")
        if not d.closed:
            return d
        d.closed, d.closed_at, d.state_reason = False, None, "REOPENED"
        d.updated_at = self.now()
        self._event("discussion", "reopened", repo, d, actor)
        return d

    def lock(self, repo: Repo, number: int, locked: bool = True) -> Discussion:
        d = self.discussion(repo, number)
        d.locked = locked
        return d

    def mark_answer(self, repo: Repo, actor: Actor, comment_id: int) -> Discussion:
        comment = self.comment(repo, comment_id)
        d = self.discussion(repo, comment.discussion_number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "triage")):
            raise self._forbidden(actor, "MarkDiscussionCommentAsAnswer")
        if not repo.categories[d.category_id].is_answerable:
            raise GraphQLFailure(
                "UNPROCESSABLE", "Discussion category does not support marking an answer"
            )
        if comment.reply_to is not None:
            raise GraphQLFailure("UNPROCESSABLE", "Only top-level comments can be marked as answer")
        if d.answer_id == comment.id:
            return d
        if d.answer_id is not None:
            self.unmark_answer(repo, actor, d.answer_id)
        d.answer_id, d.answer_chosen_at, d.answer_chosen_by = comment.id, self.now(), actor.login
        d.updated_at = d.answer_chosen_at
        self._event("discussion", "answered", repo, d, actor, answer=comment)
        return d

    def unmark_answer(self, repo: Repo, actor: Actor, comment_id: int) -> Discussion:
        comment = self.comment(repo, comment_id)
        d = self.discussion(repo, comment.discussion_number)
        if not (self._is_author(d.user, actor) or role_at_least(actor.role, "triage")):
            raise self._forbidden(actor, "UnmarkDiscussionCommentAsAnswer")
        if d.answer_id != comment.id:
            return d
        d.answer_id = d.answer_chosen_at = d.answer_chosen_by = None
        d.updated_at = self.now()
        self._event("discussion", "unanswered", repo, d, actor, answer=comment)
        return d

    # -- comments ------------------------------------------------------------------------------

    def add_comment(
        self, repo: Repo, actor: Actor, number: int, body: Any, reply_to: int | None = None
    ) -> DiscussionComment:
        d = self.discussion(repo, number)
        self._enabled(repo)
        if actor.role is None:
            raise self._forbidden(actor, "AddDiscussionComment")
        if d.locked and not actor.can_push:
            raise GraphQLFailure("FORBIDDEN", "This discussion is locked.")
        self._check_body(body)
        if reply_to is not None:
            parent = repo.discussion_comments.get(reply_to)
            if parent is None or parent.discussion_number != number:
                raise GraphQLFailure("NOT_FOUND", "Could not resolve the comment to reply to.")
            if parent.reply_to is not None:
                raise GraphQLFailure(
                    "UNPROCESSABLE", "Parent comment is already in a thread, cannot reply to it"
                )
        now = self.now()
        comment = DiscussionComment(
            self.store.next_id(), number, body, actor.login, now, now, reply_to, actor.app_id
        )
        repo.discussion_comments[comment.id] = comment
        d.updated_at = now
        self._event("discussion_comment", "created", repo, d, actor, comment=comment)
        return comment

    def edit_comment(
        self, repo: Repo, actor: Actor, comment_id: int, body: Any
    ) -> DiscussionComment:
        comment = self.comment(repo, comment_id)
        if not (self._is_author(comment.user, actor) or actor.can_push):
            raise self._forbidden(actor, "UpdateDiscussionComment")
        self._check_body(body)
        changes = {"body": {"from": comment.body}}
        comment.body, comment.updated_at = body, self.now()
        d = self.discussion(repo, comment.discussion_number)
        self._event(
            "discussion_comment", "edited", repo, d, actor, comment=comment, changes=changes
        )
        return comment

    def delete_comment(self, repo: Repo, actor: Actor, comment_id: int) -> DiscussionComment:
        comment = self.comment(repo, comment_id)
        if not (self._is_author(comment.user, actor) or actor.can_push):
            raise self._forbidden(actor, "DeleteDiscussionComment")
        d = self.discussion(repo, comment.discussion_number)
        if d.answer_id == comment.id:
            d.answer_id = d.answer_chosen_at = d.answer_chosen_by = None
        for reply in [c.id for c in repo.discussion_comments.values() if c.reply_to == comment.id]:
            del repo.discussion_comments[reply]
        del repo.discussion_comments[comment_id]
        self._event("discussion_comment", "deleted", repo, d, actor, comment=comment)
        return comment

    # -- lookups -------------------------------------------------------------------------------

    def discussion(self, repo: Repo, number: int) -> Discussion:
        d = repo.discussions.get(number)
        if d is None:
            raise GraphQLFailure(
                "NOT_FOUND",
                f"Could not resolve to a Discussion with the number of {number}.",
            )
        return d

    def comment(self, repo: Repo, comment_id: int) -> DiscussionComment:
        comment = repo.discussion_comments.get(comment_id)
        if comment is None:
            raise GraphQLFailure("NOT_FOUND", "Could not resolve to a DiscussionComment.")
        return comment

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _enabled(repo: Repo) -> None:
        if not repo.discussions_enabled:
            raise GraphQLFailure("UNPROCESSABLE", f"Discussions are disabled for {repo.full_name}.")

    @staticmethod
    def _check_body(body: Any) -> None:
        if not isinstance(body, str) or not body.strip():
            raise GraphQLFailure("UNPROCESSABLE", "Body can't be blank")
        if len(body) > BODY_LIMIT:
            raise GraphQLFailure(
                "UNPROCESSABLE", f"Body is too long (maximum is {BODY_LIMIT} characters)"
            )

    @staticmethod
    def _is_author(login: str, actor: Actor) -> bool:
        return login.lower() == actor.login.lower()

    @staticmethod
    def _forbidden(actor: Actor, mutation: str) -> GraphQLFailure:
        if actor.installation_id is not None:
            return GraphQLFailure("FORBIDDEN", "Resource not accessible by integration")
        return GraphQLFailure(
            "FORBIDDEN",
            f"{actor.login} does not have the correct permissions to execute `{mutation}`",
        )

    def _event(
        self,
        name: str,
        action: str,
        repo: Repo,
        discussion: Discussion,
        actor: Actor,
        **extra: Any,
    ) -> None:
        self.emit(
            DiscussionEvent(
                name,
                action,
                repo,
                discussion,
                actor.login,
                installation_id=actor.installation_id,
                **extra,
            )
        )
