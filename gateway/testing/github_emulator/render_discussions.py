"""Webhook JSON for discussions, categories and discussion comments.

Keys are a superset of the `discussion*` examples in the shared reference data (octokit's
webhooks-examples), plus `labels` and `state_reason`, which GitHub documents today but the
examples predate. `node_id`s are the ones GraphQL answers; `id`s are the GraphQL `databaseId`s.
Reads the store; never mutates it.
"""

from __future__ import annotations

from typing import Any

from .model import Discussion, DiscussionCategory, DiscussionComment, Repo, next_node_id
from .reactions import counts
from .render import Renderer, stamp

JSON = dict[str, Any]


def html_url(render: Renderer, repo: Repo, number: int) -> str:
    return f"{render.base_url}/{repo.full_name}/discussions/{number}"


def category(render: Renderer, repo: Repo, cat: DiscussionCategory) -> JSON:
    return {
        "id": cat.id,
        "node_id": next_node_id("DiscussionCategory", repo.id, cat.id),
        "repository_id": repo.id,
        "emoji": cat.emoji,
        "name": cat.name,
        "description": cat.description,
        "created_at": stamp(cat.created_at),
        "updated_at": stamp(cat.created_at),
        "slug": cat.slug,
        "is_answerable": cat.is_answerable,
    }


def discussion(render: Renderer, repo: Repo, d: Discussion) -> JSON:
    url = html_url(render, repo, d.number)
    comments = sum(1 for c in repo.discussion_comments.values() if c.discussion_number == d.number)
    state = "closed" if d.closed else ("locked" if d.locked else "open")
    return {
        "repository_url": f"{render.base_url}/repos/{repo.full_name}",
        "category": category(render, repo, repo.categories[d.category_id]),
        "answer_html_url": f"{url}#discussioncomment-{d.answer_id}" if d.answer_id else None,
        "answer_chosen_at": stamp(d.answer_chosen_at),
        "answer_chosen_by": render.user(d.answer_chosen_by) if d.answer_chosen_by else None,
        "html_url": url,
        "id": d.id,
        "node_id": next_node_id("Discussion", repo.id, d.id),
        "number": d.number,
        "title": d.title,
        "user": render.user(d.user),
        "labels": [render.label(repo, repo.labels[n.lower()]) for n in d.labels],
        "state": state,
        "state_reason": d.state_reason.lower() if d.state_reason else None,
        "locked": d.locked,
        "comments": comments,
        "created_at": stamp(d.created_at),
        "updated_at": stamp(d.updated_at),
        "closed_at": stamp(d.closed_at),
        "author_association": render.association(repo, d.user),
        "active_lock_reason": None,
        "body": d.body,
        "reactions": _reactions(
            f"{render.base_url}/repos/{repo.full_name}/discussions/{d.number}",
            counts(repo, ("Discussion", d.id)),
        ),
        "timeline_url": f"{render.base_url}/repos/{repo.full_name}/discussions/{d.number}/timeline",
    }


def comment(render: Renderer, repo: Repo, c: DiscussionComment) -> JSON:
    d = repo.discussions.get(c.discussion_number)
    replies = sum(1 for x in repo.discussion_comments.values() if x.reply_to == c.id)
    return {
        "id": c.id,
        "node_id": next_node_id("DiscussionComment", repo.id, c.id),
        "html_url": f"{html_url(render, repo, c.discussion_number)}#discussioncomment-{c.id}",
        "parent_id": c.reply_to,
        "child_comment_count": replies,
        "repository_url": repo.full_name,  # sic: GitHub sends owner/name here
        "discussion_id": d.id if d is not None else None,
        "author_association": render.association(repo, c.user),
        "user": render.user(c.user),
        "created_at": stamp(c.created_at),
        "updated_at": stamp(c.updated_at),
        "body": c.body,
        "reactions": _reactions(
            f"{render.base_url}/repos/{repo.full_name}/discussions/comments/{c.id}",
            counts(repo, ("DiscussionComment", c.id)),
        ),
    }


def _reactions(api: str, rollup: dict[str, int]) -> JSON:
    return {"url": f"{api}/reactions", **rollup}
