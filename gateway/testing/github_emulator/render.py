"""JSON shapes of the emulator's records, as GitHub's REST API and webhooks present them.

Every `required` field of the matching schema in the OpenAPI description is present, and every
URL points at the emulator's base URL: API URLs under `{base}/repos/...`, web URLs at
`{base}/{owner}/{repo}/...` (the GitHub Enterprise layout, with the API at the root).
Reads the `Store`; never mutates it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .model import (
    App,
    Comment,
    Installation,
    Issue,
    Label,
    Reaction,
    Repo,
    Store,
    User,
    node_id,
)
from .reactions import counts

JSON = dict[str, Any]


def stamp(when: dt.datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


class Renderer:
    def __init__(self, store: Store, base_url: str = "http://127.0.0.1") -> None:
        self.store = store
        self.base_url = base_url

    # -- users ---------------------------------------------------------------------------------

    def user(self, login: str) -> JSON:
        user = self.store.user(login)
        if user is None:  # a deleted account shows as the ghost user
            user = User("ghost", 10137, dt.datetime(2013, 7, 22, tzinfo=dt.UTC))
        api, web = f"{self.base_url}/users/{user.login}", f"{self.base_url}/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User" if user.type != "Bot" else "Bot", user.id),
            "avatar_url": f"{self.base_url}/avatars/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": web,
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": user.site_admin,
        }

    def public_user(self, user: User) -> JSON:
        owned = [r for r in self.store.repos.values() if r.owner.lower() == user.login.lower()]
        return {
            **self.user(user.login),
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": sum(1 for r in owned if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": stamp(user.created_at),
            "updated_at": stamp(user.created_at),
        }

    def private_user(self, user: User) -> JSON:
        owned = [r for r in self.store.repos.values() if r.owner.lower() == user.login.lower()]
        private = sum(1 for r in owned if r.private)
        return {
            **self.public_user(user),
            "user_view_type": "private",
            "notification_email": user.email,
            "private_gists": 0,
            "total_private_repos": private,
            "owned_private_repos": private,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {
                "name": "free",
                "space": 976562499,
                "collaborators": 0,
                "private_repos": 10000,
            },
        }

    # -- repositories --------------------------------------------------------------------------

    def repo(self, repo: Repo, role: str | None = None) -> JSON:
        api, web = f"{self.base_url}/repos/{repo.full_name}", f"{self.base_url}/{repo.full_name}"
        open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
        data: JSON = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": web,
            "description": repo.description,
            "fork": False,
            "url": api,
        }
        for key, suffix in _REPO_URLS.items():
            data[key] = f"{api}/{suffix}"
        data.update(
            {
                "created_at": stamp(repo.created_at),
                "updated_at": stamp(repo.created_at),
                "pushed_at": stamp(repo.created_at),
                "git_url": f"git://{self._host()}/{repo.full_name}.git",
                "ssh_url": f"git@{self._host()}:{repo.full_name}.git",
                "clone_url": f"{web}.git",
                "svn_url": web,
                "homepage": None,
                "size": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "language": None,
                "has_issues": True,
                "has_projects": True,
                "has_downloads": True,
                "has_wiki": True,
                "has_pages": False,
                "has_discussions": repo.discussions_enabled,
                "forks_count": 0,
                "mirror_url": None,
                "archived": False,
                "disabled": False,
                "open_issues_count": open_issues,
                "license": None,
                "allow_forking": True,
                "is_template": False,
                "topics": [],
                "web_commit_signoff_required": False,
                "custom_properties": {},
                "visibility": "private" if repo.private else "public",
                "forks": 0,
                "open_issues": open_issues,
                "watchers": 0,
                "default_branch": repo.default_branch,
                "network_count": 0,
                "subscribers_count": 0,
            }
        )
        if role is not None:
            data["permissions"] = {
                "admin": role == "admin",
                "maintain": role in ("maintain", "admin"),
                "push": role in ("write", "maintain", "admin"),
                "triage": role in ("triage", "write", "maintain", "admin"),
                "pull": True,
            }
        return data

    def label(self, repo: Repo, label: Label) -> JSON:
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.base_url}/repos/{repo.full_name}/labels/{label.name}",
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
        }

    # -- issues and comments -------------------------------------------------------------------

    def issue(self, repo: Repo, issue: Issue) -> JSON:
        api = f"{self.base_url}/repos/{repo.full_name}/issues/{issue.number}"
        return {
            "url": api,
            "repository_url": f"{self.base_url}/repos/{repo.full_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.base_url}/{repo.full_name}/issues/{issue.number}",
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": [self.label(repo, repo.labels[n.lower()]) for n in issue.labels],
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(x) for x in issue.assignees],
            "milestone": None,
            "comments": issue.comments,
            "created_at": stamp(issue.created_at),
            "updated_at": stamp(issue.updated_at),
            "closed_at": stamp(issue.closed_at),
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "author_association": self.association(repo, issue.user),
            "active_lock_reason": None,
            "body": issue.body,
            "draft": False,
            "reactions": self._reactions(api, repo, ("Issue", issue.id)),
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": self.app(self.store.apps[issue.app_id])
            if issue.app_id in self.store.apps
            else None,
            "state_reason": issue.state_reason,
        }

    def comment(self, repo: Repo, comment: Comment) -> JSON:
        api = f"{self.base_url}/repos/{repo.full_name}/issues/comments/{comment.id}"
        html = f"{self.base_url}/{repo.full_name}/issues/{comment.issue_number}"
        return {
            "url": api,
            "html_url": f"{html}#issuecomment-{comment.id}",
            "issue_url": f"{self.base_url}/repos/{repo.full_name}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "user": self.user(comment.user),
            "created_at": stamp(comment.created_at),
            "updated_at": stamp(comment.updated_at),
            "author_association": self.association(repo, comment.user),
            "body": comment.body,
            "reactions": self._reactions(api, repo, ("IssueComment", comment.id)),
            "performed_via_github_app": self.app(self.store.apps[comment.app_id])
            if comment.app_id in self.store.apps
            else None,
        }

    def reaction(self, reaction: Reaction) -> JSON:
        return {
            "id": reaction.id,
            "node_id": node_id("Reaction", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": stamp(reaction.created_at),
        }

    def search_item(self, repo: Repo, issue: Issue) -> JSON:
        return {**self.issue(repo, issue), "score": 1.0}

    def association(self, repo: Repo, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        return "COLLABORATOR" if login.lower() in repo.collaborators else "NONE"

    # -- apps ----------------------------------------------------------------------------------

    def app(self, app: App) -> JSON:
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("Integration", app.id),
            "client_id": app.client_id,
            "owner": self.user(app.owner),
            "name": app.name,
            "description": None,
            "external_url": f"{self.base_url}/apps/{app.slug}",
            "html_url": f"{self.base_url}/apps/{app.slug}",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {"issues": "write", "metadata": "read"},
            "events": ["issues", "issue_comment"],
        }

    def installation(self, inst: Installation) -> JSON:
        app = self.store.apps[inst.app_id]
        api = f"{self.base_url}/app/installations/{inst.id}"
        return {
            "id": inst.id,
            "account": self.user(inst.account),
            "repository_selection": "all" if inst.repos is None else "selected",
            "access_tokens_url": f"{api}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"{self.base_url}/settings/installations/{inst.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "target_id": self._user_id(inst.account),
            "target_type": "User",
            "permissions": {"issues": "write", "metadata": "read"},
            "events": ["issues", "issue_comment"],
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    # -- helpers -------------------------------------------------------------------------------

    def _user_id(self, login: str) -> int:
        user = self.store.user(login)
        return user.id if user else 0

    def _host(self) -> str:
        return self.base_url.split("://", 1)[-1]

    @staticmethod
    def _reactions(api: str, repo: Repo, subject: tuple[str, int]) -> JSON:
        return {"url": f"{api}/reactions", **counts(repo, subject)}


_REPO_URLS = {
    "forks_url": "forks",
    "keys_url": "keys{/key_id}",
    "collaborators_url": "collaborators{/collaborator}",
    "teams_url": "teams",
    "hooks_url": "hooks",
    "issue_events_url": "issues/events{/number}",
    "events_url": "events",
    "assignees_url": "assignees{/user}",
    "branches_url": "branches{/branch}",
    "tags_url": "tags",
    "blobs_url": "git/blobs{/sha}",
    "git_tags_url": "git/tags{/sha}",
    "git_refs_url": "git/refs{/sha}",
    "trees_url": "git/trees{/sha}",
    "statuses_url": "statuses/{sha}",
    "languages_url": "languages",
    "stargazers_url": "stargazers",
    "contributors_url": "contributors",
    "subscribers_url": "subscribers",
    "subscription_url": "subscription",
    "commits_url": "commits{/sha}",
    "git_commits_url": "git/commits{/sha}",
    "comments_url": "comments{/number}",
    "issue_comment_url": "issues/comments{/number}",
    "contents_url": "contents/{+path}",
    "compare_url": "compare/{base}...{head}",
    "merges_url": "merges",
    "archive_url": "{archive_format}{/ref}",
    "downloads_url": "downloads",
    "issues_url": "issues{/number}",
    "pulls_url": "pulls{/number}",
    "milestones_url": "milestones{/number}",
    "notifications_url": "notifications{?since,all,participating}",
    "labels_url": "labels{/name}",
    "releases_url": "releases{/id}",
    "deployments_url": "deployments",
}
