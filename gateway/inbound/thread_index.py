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
    Ref,
    candidate_ids,
    github_ref,
    marker_keys,
    match_thread,
    ref_thread_id,
    subject_ref,
)
from gateway.models import Email, ThreadMatch
from gateway.store.db import Tx
from gateway.store.values import Recorded


@dataclass(slots=True)
class ThreadIndex:
    """What the store knows about the batch's candidate ids, plus the batch's own writes."""

    ids: dict[str, str] = field(default_factory=dict)
    refs: dict[Ref, str] = field(default_factory=dict)  # (target, number) -> thread
    keys: dict[str, str] = field(default_factory=dict)

    def learn(self, rec: Recorded) -> None:
        for message_id, thread_id, _source in rec.ids:
            self.ids.setdefault(message_id, thread_id)
        new = rec.new_thread
        if new is not None and new.issue_number is not None:
            self.refs.setdefault((new.target, new.issue_number), new.thread_id)
        if rec.thread_id:
            self.keys[rec.key] = rec.thread_id


def prefetch(tx: Tx, emails: Sequence[Email], repository: str,
             discussions_repository: str | None = None) -> ThreadIndex:
    """One query per kind for every thread candidate of a batch: the ids its messages refer
    to, the GitHub issues and discussions their ids and subjects name, and our markers in
    quoted text."""
    ids: dict[str, None] = {}
    refs: set[Ref] = set()
    keys: dict[str, None] = {}
    for email in emails:
        candidates = candidate_ids(email)
        ids.update(dict.fromkeys(candidates))
        for ident in (*candidates, email.message_id or ""):
            ref = github_ref(ident, repository, discussions_repository) if ident else None
            if ref is not None:
                refs.add(ref)
        ref = subject_ref(email.subject, repository, discussions_repository)
        if ref is not None:
            refs.add(ref)
        keys.update(dict.fromkeys(marker_keys(email)))
    return ThreadIndex(
        ids=tx.threads_for_ids(list(ids)),
        refs=tx.threads_for_refs(refs),
        keys=tx.threads_for_message_keys(list(keys)),
    )


def thread_for(email: Email, index: ThreadIndex, repository: str,
               discussions_repository: str | None = None) -> ThreadMatch:
    """The thread `email` joins, from what the index knows (`thread.match_thread`)."""
    return match_thread(
        email,
        known_ids=index.ids,
        ref_threads=index.refs,
        marker_threads=index.keys,
        repository=repository,
        discussions_repository=discussions_repository,
    )


def github_match(email: Email, index: ThreadIndex, repository: str,
                 discussions_repository: str | None = None) -> ThreadMatch | None:
    """A notification's own Message-ID names its issue or discussion: that is its thread."""
    if not email.message_id:
        return None
    ref = github_ref(email.message_id, repository, discussions_repository)
    if ref is None:
        return None
    return ThreadMatch(index.refs.get(ref, ref_thread_id(ref)), "github-id", ref[1], ref[0])
