"""Reactions, as REST (`POST .../reactions`) and GraphQL (`addReaction`) both make them.

A subject is `(kind, id)`: an issue, an issue comment, a discussion or a discussion comment, by
its record `id`. GitHub keeps at most one reaction of each content per person and subject: adding
it again changes nothing, and REST answers 200 with the existing reaction instead of 201
(https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment). Anyone
who can read the repository may react. GitHub sends no webhook for reactions, so none is emitted.
Callers hold `store.lock`; no HTTP and no JSON here.
"""

from __future__ import annotations

import datetime as dt

from .errors import validation_failed
from .model import REACTIONS, Reaction, Repo, Store

Subject = tuple[str, int]  # ("IssueComment", comment id), ("Issue", issue id), ...

# GraphQL's ReactionContent → REST's content.
FROM_GRAPHQL = {
    "THUMBS_UP": "+1",
    "THUMBS_DOWN": "-1",
    "LAUGH": "laugh",
    "CONFUSED": "confused",
    "HEART": "heart",
    "HOORAY": "hooray",
    "ROCKET": "rocket",
    "EYES": "eyes",
}
TO_GRAPHQL = {rest: name for name, rest in FROM_GRAPHQL.items()}


def react(
    store: Store, repo: Repo, login: str, subject: Subject, content: object, now: dt.datetime
) -> tuple[Reaction, bool]:
    """`login`'s reaction `content` (REST spelling) to `subject`: (the reaction, whether it is
    new). A missing or unknown content is REST's 422."""
    if content is None:
        raise validation_failed("Reaction", "content", "missing_field")
    if not isinstance(content, str) or content not in REACTIONS:
        raise validation_failed("Reaction", "content", "invalid", value=str(content))
    existing = repo.reactions.setdefault(subject, [])
    for reaction in existing:
        if reaction.user.lower() == login.lower() and reaction.content == content:
            return reaction, False
    reaction = Reaction(store.next_id(), content, login, now)
    existing.append(reaction)
    return reaction, True


def reactions_to(repo: Repo, subject: Subject, content: str | None = None) -> list[Reaction]:
    """The reactions to `subject` in creation order, only those of `content` when given."""
    found = repo.reactions.get(subject, [])
    return [r for r in found if content is None or r.content == content]


def counts(repo: Repo, subject: Subject) -> dict[str, int]:
    """REST's reaction rollup: `total_count` and one count per content."""
    found = repo.reactions.get(subject, [])
    return {"total_count": len(found), **{c: sum(r.content == c for r in found) for c in REACTIONS}}
