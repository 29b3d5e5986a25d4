"""The thread candidates of a batch of messages, looked up once, and matching against them.

Step 2 of the pipeline decides a whole batch in one transaction: `prefetch` reads from the store
every thread that any message of the batch could join (by Message-ID, GitHub issue number,
hidden marker) in three queries, and `ThreadIndex.learn` adds what the batch itself records, so
a reply later in the same batch finds the thread its parent just opened. Matching itself is the
pure `thread.match_thread`. This module changes with how threads are looked up; it decides
nothing and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.inbound.thread import (
    candidate_ids,
    github_issue_number,
    issue_thread_id,
    marker_keys,
    match_thread,
    subject_issue_number,
)
from gateway.models import Email, ThreadMatch
from gateway.store.db import Tx
from gateway.store.values import Recorded


@dataclass(slots=True)
class ThreadIndex:
    """What the store knows about the batch's candidate ids, plus the batch's own writes."""

    ids: dict[str, str] = field(default_factory=dict)
    issues: dict[int, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def learn(self, rec: Recorded) -> None:
        for message_id, thread_id, _source in rec.ids:
            self.ids.setdefault(message_id, thread_id)
        if rec.new_thread is not None and rec.new_thread.issue_number is not None:
            self.issues.setdefault(rec.new_thread.issue_number, rec.new_thread.thread_id)
        if rec.thread_id:
            self.keys[rec.key] = rec.thread_id


def prefetch(tx: Tx, emails: Sequence[Email], repository: str) -> ThreadIndex:
    """One query per kind for every thread candidate of a batch: the ids its messages refer
    to, the GitHub issue numbers in their ids and subjects, and our markers in quoted text."""
    repo = repository
    ids: dict[str, None] = {}
    numbers: set[int] = set()
    keys: dict[str, None] = {}
    for email in emails:
        candidates = candidate_ids(email)
        ids.update(dict.fromkeys(candidates))
        for ident in (*candidates, email.message_id or ""):
            number = github_issue_number(ident, repo) if ident else None
            if number is not None:
                numbers.add(number)
        number = subject_issue_number(email.subject, repo)
        if number is not None:
            numbers.add(number)
        keys.update(dict.fromkeys(marker_keys(email)))
    return ThreadIndex(
        ids=tx.threads_for_ids(list(ids)),
        issues=tx.threads_for_issues(numbers),
        keys=tx.threads_for_message_keys(list(keys)),
    )


def thread_for(email: Email, index: ThreadIndex, repository: str) -> ThreadMatch:
    """The thread `email` joins, from what the index knows (`thread.match_thread`)."""
    return match_thread(
        email,
        known_ids=index.ids,
        issue_threads=index.issues,
        marker_threads=index.keys,
        repository=repository,
    )


def github_match(email: Email, index: ThreadIndex, repository: str) -> ThreadMatch | None:
    """A notification's own Message-ID names its issue: that is its thread."""
    if not email.message_id:
        return None
    number = github_issue_number(email.message_id, repository)
    if number is None:
        return None
    return ThreadMatch(index.issues.get(number, issue_thread_id(number)), "github-id", number)
