"""What a GitHub user can do to issues, with GitHub's permission quirks, announced as events.

Every mutation the REST routes (or a test acting as a person) make goes through `Actions`, which
validates like GitHub, applies the change to the `Store` and emits one `Event` per webhook GitHub
would send. Callers hold `store.lock`. No HTTP and no JSON here.

Quirks kept on purpose (https://docs.github.com/rest/issues/issues#create-an-issue):
- Without push access, `labels` and `assignees` on create/update are silently dropped.
- With push access, an assignee who cannot be assigned makes create/update fail with 422
  (`code: invalid`, `field: assignees`), while `POST .../assignees` silently ignores them.
  `AssigneePolicy.DROP` drops them silently everywhere instead.
- Labels named on an issue are created on the fly.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, forbidden, not_found, validation_failed
from .model import PUSH_ROLES, Comment, Issue, Label, Repo, Store, role_at_least
from .validation import check_body, check_title, label_names, login_list, unique

STATE_REASONS = ("completed", "not_planned", "reopened", "duplicate")


class AssigneePolicy(enum.StrEnum):
    GITHUB = "github"  # 422 for unassignable assignees on create/update
    DROP = "drop"  # silently drop them everywhere


@dataclass(frozen=True, slots=True)
class Actor:
    login: str
    role: str | None  # role in the repo at hand
    app_id: int | None = None
    installation_id: int | None = None

    @property
    def can_push(self) -> bool:
        return self.role in PUSH_ROLES


@dataclass(frozen=True, slots=True)
class Event:
    """One webhook-worthy change. Rendered into a payload immediately, under the store lock."""

    name: str  # "issues" | "issue_comment"
    action: str
    repo: Repo
    issue: Issue
    sender: str
    comment: Comment | None = None
    label: Label | None = None
    assignee: str | None = None
    changes: dict[str, Any] | None = None
    installation_id: int | None = None


class Actions:
    def __init__(
        self,
        store: Store,
        now: Callable[[], dt.datetime],
        emit: Callable[[Event], None],
        assignee_policy: AssigneePolicy = AssigneePolicy.GITHUB,
    ) -> None:
        self.store = store
        self.now = now
        self.emit = emit
        self.assignee_policy = assignee_policy

    # -- issues --------------------------------------------------------------------------------

    def create_issue(
        self,
        repo: Repo,
        actor: Actor,
        title: Any,
        body: Any = None,
        labels: Any = None,
        assignees: Any = None,
    ) -> Issue:
        check_title(title)
        check_body(body, "Issue", nullable=True)
        names = label_names(labels)
        logins = self._assignees(repo, login_list(assignees)) if actor.can_push else []
        if not actor.can_push:
            names = []  # silently dropped for users without push access
        now = self.now()
        issue = Issue(
            id=self.store.next_id(),
            number=repo.last_number + 1,
            title=title,
            body=body,
            user=actor.login,
            created_at=now,
            updated_at=now,
            labels=[self._ensure_label(repo, n).name for n in unique(names)],
            assignees=logins,
            app_id=actor.app_id,
        )
        repo.issues[issue.number] = issue
        repo.last_number = issue.number
        self._event("issues", "opened", repo, issue, actor)
        for name in issue.labels:
            self._event("issues", "labeled", repo, issue, actor, label=repo.labels[name.lower()])
        for login in issue.assignees:
            self._event("issues", "assigned", repo, issue, actor, assignee=login)
        return issue

    def update_issue(self, repo: Repo, actor: Actor, number: int, fields: dict[str, Any]) -> Issue:
        issue = self.issue(repo, number)
        is_author = issue.user.lower() == actor.login.lower()
        events: list[tuple[str, dict[str, Any]]] = []
        changes: dict[str, Any] = {}
        for key in ("title", "body"):
            if key in fields and fields[key] != getattr(issue, key):
                if not (is_author or actor.can_push):
                    raise forbidden("Must have push access to update this issue.")
                if key == "title":
                    check_title(fields[key])
                else:
                    check_body(fields[key], "Issue", nullable=True)
                changes[key] = {"from": getattr(issue, key)}
                setattr(issue, key, fields[key])
        if changes:
            events.append(("edited", {"changes": changes}))
        if "state" in fields or "state_reason" in fields:
            if not (is_author or role_at_least(actor.role, "triage")):
                raise forbidden("Must have triage access to change the state of this issue.")
            events.extend(self._set_state(issue, actor, fields))
        if "labels" in fields and actor.can_push:
            events.extend(self._replace_labels(repo, issue, label_names(fields["labels"])))
        if ("assignees" in fields or "assignee" in fields) and actor.can_push:
            wanted = login_list(fields.get("assignees", []))
            if fields.get("assignee") is not None:
                wanted = [*wanted, fields["assignee"]]
            events.extend(self._replace_assignees(issue, self._assignees(repo, wanted)))
        if events:
            issue.updated_at = self.now()
        for action, extra in events:
            self._event("issues", action, repo, issue, actor, **extra)
        return issue

    def add_assignees(self, repo: Repo, actor: Actor, number: int, logins: Any) -> Issue:
        issue = self.issue(repo, number)
        if not actor.can_push:
            return issue  # "Assignees are silently ignored otherwise."
        wanted = [x for x in login_list(logins) if self.store.assignable(repo, x)]
        added = self._replace_assignees(issue, unique([*issue.assignees, *wanted]))
        self._touch(repo, issue, actor, added)
        return issue

    def remove_assignees(self, repo: Repo, actor: Actor, number: int, logins: Any) -> Issue:
        issue = self.issue(repo, number)
        if not actor.can_push:
            return issue
        gone = {x.lower() for x in login_list(logins)}
        kept = [x for x in issue.assignees if x.lower() not in gone]
        self._touch(repo, issue, actor, self._replace_assignees(issue, kept))
        return issue

    def add_labels(self, repo: Repo, actor: Actor, number: int, names: Any) -> list[Label]:
        issue = self.issue(repo, number)
        if not actor.can_push:
            raise forbidden("Must have admin rights to Repository.")
        merged = [*issue.labels, *label_names(names)]
        self._touch(repo, issue, actor, self._replace_labels(repo, issue, merged))
        return [repo.labels[n.lower()] for n in issue.labels]

    def remove_label(self, repo: Repo, actor: Actor, number: int, name: str) -> list[Label]:
        issue = self.issue(repo, number)
        if not actor.can_push:
            raise forbidden("Must have admin rights to Repository.")
        if name.lower() not in {n.lower() for n in issue.labels}:
            raise ApiError(404, "Label does not exist")
        kept = [n for n in issue.labels if n.lower() != name.lower()]
        self._touch(repo, issue, actor, self._replace_labels(repo, issue, kept))
        return [repo.labels[n.lower()] for n in issue.labels]

    def create_label(
        self, repo: Repo, actor: Actor, name: Any, color: Any, description: Any
    ) -> Label:
        if not actor.can_push:
            raise forbidden("Must have admin rights to Repository.")
        if not isinstance(name, str) or not name:
            raise validation_failed("Label", "name", "missing_field")
        if name.lower() in repo.labels:
            raise validation_failed("Label", "name", "already_exists", value=name)
        label = self._ensure_label(repo, name)
        if isinstance(color, str) and color:
            label.color = color.lstrip("#")
        if isinstance(description, str):
            label.description = description
        return label

    # -- comments ------------------------------------------------------------------------------

    def add_comment(self, repo: Repo, actor: Actor, number: int, body: Any) -> Comment:
        issue = self.issue(repo, number)
        check_body(body, "IssueComment", nullable=False)
        now = self.now()
        comment = Comment(self.store.next_id(), number, body, actor.login, now, now, actor.app_id)
        repo.comments[comment.id] = comment
        issue.comments += 1
        issue.updated_at = now
        self._event("issue_comment", "created", repo, issue, actor, comment=comment)
        return comment

    def edit_comment(self, repo: Repo, actor: Actor, comment_id: int, body: Any) -> Comment:
        comment = self.comment(repo, comment_id)
        if not (comment.user.lower() == actor.login.lower() or actor.can_push):
            raise forbidden("Must have push access to edit this comment.")
        check_body(body, "IssueComment", nullable=False)
        changes = {"body": {"from": comment.body}}
        comment.body = body
        comment.updated_at = self.now()
        issue = repo.issues[comment.issue_number]
        self._event("issue_comment", "edited", repo, issue, actor, comment=comment, changes=changes)
        return comment

    def delete_comment(self, repo: Repo, actor: Actor, comment_id: int) -> None:
        comment = self.comment(repo, comment_id)
        if not (comment.user.lower() == actor.login.lower() or actor.can_push):
            raise forbidden("Must have push access to delete this comment.")
        del repo.comments[comment_id]
        issue = repo.issues[comment.issue_number]
        issue.comments -= 1
        self._event("issue_comment", "deleted", repo, issue, actor, comment=comment)

    # -- lookups -------------------------------------------------------------------------------

    def issue(self, repo: Repo, number: int) -> Issue:
        issue = repo.issues.get(number)
        if issue is None:
            raise not_found()
        return issue

    def comment(self, repo: Repo, comment_id: int) -> Comment:
        comment = repo.comments.get(comment_id)
        if comment is None:
            raise not_found()
        return comment

    # -- helpers -------------------------------------------------------------------------------

    def _set_state(
        self, issue: Issue, actor: Actor, fields: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any]]]:
        state = fields.get("state", issue.state)
        reason = fields.get("state_reason")
        if state not in ("open", "closed"):
            raise validation_failed("Issue", "state", "invalid", value=state)
        if reason is not None and reason not in STATE_REASONS:
            raise validation_failed("Issue", "state_reason", "invalid", value=reason)
        if state == issue.state:
            return []  # `state_reason`: "Ignored unless `state` is changed." (REST docs)
        issue.state = state
        if state == "closed":
            issue.closed_at, issue.closed_by = self.now(), actor.login
            issue.state_reason = reason or "completed"
            return [("closed", {})]
        issue.closed_at, issue.closed_by = None, None
        issue.state_reason = "reopened"
        return [("reopened", {})]

    def _replace_labels(
        self, repo: Repo, issue: Issue, names: list[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        new = [self._ensure_label(repo, n).name for n in unique(names)]
        old_keys, new_keys = {n.lower() for n in issue.labels}, {n.lower() for n in new}
        events = [
            ("unlabeled", {"label": repo.labels[n.lower()]})
            for n in issue.labels
            if n.lower() not in new_keys
        ]
        events += [
            ("labeled", {"label": repo.labels[n.lower()]}) for n in new if n.lower() not in old_keys
        ]
        issue.labels = new
        return events

    def _replace_assignees(
        self, issue: Issue, logins: list[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        old, new = {x.lower() for x in issue.assignees}, {x.lower() for x in logins}
        events = [("unassigned", {"assignee": x}) for x in issue.assignees if x.lower() not in new]
        events += [("assigned", {"assignee": x}) for x in logins if x.lower() not in old]
        issue.assignees = logins
        return events

    def _assignees(self, repo: Repo, logins: list[str]) -> list[str]:
        """Canonical logins of the assignable ones; 422 or drop for the rest (see module doc)."""
        bad = [x for x in logins if not self.store.assignable(repo, x)]
        if bad and self.assignee_policy is AssigneePolicy.GITHUB:
            raise validation_failed(
                "Issue",
                "assignees",
                "invalid",
                value=bad,
                message=f"assignees {', '.join(bad)} cannot be assigned to this issue",
            )
        users = [self.store.user(x) for x in logins if x not in bad]
        return unique([u.login for u in users if u is not None])

    def _ensure_label(self, repo: Repo, name: str) -> Label:
        label = repo.labels.get(name.lower())
        if label is None:
            label = Label(self.store.next_id(), name)
            repo.labels[name.lower()] = label
        return label

    def _touch(
        self, repo: Repo, issue: Issue, actor: Actor, events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        if events:
            issue.updated_at = self.now()
        for action, extra in events:
            self._event("issues", action, repo, issue, actor, **extra)

    def _event(
        self, name: str, action: str, repo: Repo, issue: Issue, actor: Actor, **extra: Any
    ) -> None:
        self.emit(
            Event(
                name,
                action,
                repo,
                issue,
                actor.login,
                installation_id=actor.installation_id,
                **extra,
            )
        )
