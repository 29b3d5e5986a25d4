"""Find the thread a human message belongs to, from ids we already know.

Pure: the shell looks up every candidate id in the store first (`candidate_ids`), then calls
`match_thread` with what it found. Order (ARCHITECTURE "Threading order"): In-Reply-To, then
References (newest first), then GitHub ids of our repository, then a subject token, then the
hidden marker in quoted text; otherwise a new thread. There is no subject-only merging: it
falsely merges unrelated questions titled "VisIt crash".
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Mapping

from gateway.models import Email, ThreadMatch

_MARKER = re.compile(r"visit-gateway:msg=([A-Za-z0-9_-]+)")


def thread_id_for(root_key: str) -> str:
    """A short, stable thread id derived from the key of the thread's first message."""
    return "th-" + hashlib.sha256(root_key.encode("utf-8")).hexdigest()[:12]


def issue_thread_id(issue_number: int) -> str:
    """The thread id for an issue the gateway did not open (opened on GitHub, or unknown)."""
    return f"gh-{issue_number}"


def discussion_thread_id(number: int) -> str:
    """The thread id for a discussion the gateway did not open."""
    return f"ghd-{number}"


def encode_marker_key(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_marker_key(token: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    try:
        key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return key if key.startswith(("mid:", "sha256:")) else None


def marker(key: str) -> str:
    """The hidden marker every issue and comment body carries (found again after a crash)."""
    return f"<!-- visit-gateway:msg={encode_marker_key(key)} -->"


# A GitHub thing a notification names: ("issues", N) — pull requests too — or ("discussions", N).
Ref = tuple[str, int]


def ref_thread_id(ref: Ref) -> str:
    """The thread id for an issue or discussion the gateway did not open."""
    target, number = ref
    return discussion_thread_id(number) if target == "discussions" else issue_thread_id(number)


def github_discussion_number(message_id: str, repository: str) -> int | None:
    """Discussion number from a GitHub notification id of `repository`
    (`<owner/repo/repo-discussions/N@github.com>`, a comment's with `/comments/ID` after N),
    else None."""
    lowered = message_id.lower()
    if not lowered.endswith("@github.com>"):
        return None
    for kind in ("repo-discussions", "discussions"):
        prefix = f"<{repository.lower()}/{kind}/"
        if lowered.startswith(prefix):
            number = lowered[len(prefix):].split("/", 1)[0].split("@", 1)[0]
            return int(number) if number.isdigit() else None
    return None


def github_ref(message_id: str, repository: str,
               discussions_repository: str | None = None) -> Ref | None:
    """The issue of `repository`, or the discussion of `discussions_repository` (when
    discussions are tracked), a GitHub notification id names."""
    number = github_issue_number(message_id, repository)
    if number is not None:
        return ("issues", number)
    if discussions_repository:
        number = github_discussion_number(message_id, discussions_repository)
        if number is not None:
            return ("discussions", number)
    return None


def subject_ref(subject: str, repository: str,
                discussions_repository: str | None = None) -> Ref | None:
    """The issue or discussion a subject token names: `[owner/repo] Title (Issue #N)`,
    `[repo#N]`, or `[owner/repo] Title (Discussion #N)`."""
    number = subject_issue_number(subject, repository)
    if number is not None:
        return ("issues", number)
    if discussions_repository:
        found = _discussion_subject(discussions_repository).search(subject)
        if found:
            return ("discussions", int(found.group(1)))
    return None


@functools.lru_cache(maxsize=8)
def _discussion_subject(repository: str) -> re.Pattern[str]:
    return re.compile(rf"\[{re.escape(repository)}\].*\(Discussion\s+#(\d+)\)", re.IGNORECASE)


def github_issue_number(message_id: str, repository: str) -> int | None:
    """Issue number from a GitHub notification id of `repository`, else None."""
    prefix = f"<{repository.lower()}/issues/"
    lowered = message_id.lower()
    if not (lowered.startswith(prefix) and lowered.endswith("@github.com>")):
        prefix = f"<{repository.lower()}/pull/"
        if not (lowered.startswith(prefix) and lowered.endswith("@github.com>")):
            return None
    number = lowered[len(prefix) :].split("/", 1)[0].split("@", 1)[0]
    return int(number) if number.isdigit() else None


@functools.lru_cache(maxsize=8)
def _subject_patterns(repository: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The two subject-token patterns for `repository`, built once (every message asks)."""
    owner_repo = re.escape(repository)
    name = re.escape(repository.split("/", 1)[1])
    return (
        re.compile(rf"\[{owner_repo}\].*\((?:Issue|PR)\s+#(\d+)\)", re.IGNORECASE),
        re.compile(rf"\[(?:{owner_repo}|{name})#(\d+)\]", re.IGNORECASE),
    )


def subject_issue_number(subject: str, repository: str) -> int | None:
    notification, token = _subject_patterns(repository)
    found = notification.search(subject)
    if not found:
        found = token.search(subject)
    return int(found.group(1)) if found else None


def marker_keys(email: Email) -> tuple[str, ...]:
    keys: list[str] = []
    for text in (*email.text_parts, *email.html_parts):
        for token in _MARKER.findall(text):
            key = decode_marker_key(token)
            if key and key != email.key:
                keys.append(key)
    return tuple(dict.fromkeys(keys))


def candidate_ids(email: Email) -> tuple[str, ...]:
    """Every Message-ID the store should be asked about, In-Reply-To first."""
    return tuple(dict.fromkeys((*email.in_reply_to, *reversed(email.references))))


def match_thread(
    email: Email,
    *,
    known_ids: Mapping[str, str],
    ref_threads: Mapping[Ref, str],
    marker_threads: Mapping[str, str],
    repository: str,
    discussions_repository: str | None = None,
) -> ThreadMatch:
    """Where `email` belongs, given the threads of ids, GitHub issues and discussions, and
    markers found in the store."""
    for ident in email.in_reply_to:
        if ident in known_ids:
            return ThreadMatch(known_ids[ident], "in-reply-to")
    for ident in reversed(email.references):
        if ident in known_ids:
            return ThreadMatch(known_ids[ident], "references")
    for ident in (*email.in_reply_to, *reversed(email.references)):
        ref = github_ref(ident, repository, discussions_repository)
        if ref is not None:
            return ThreadMatch(ref_threads.get(ref, ref_thread_id(ref)), "github-id", ref[1],
                               ref[0])
    ref = subject_ref(email.subject, repository, discussions_repository)
    if ref is not None:
        return ThreadMatch(ref_threads.get(ref, ref_thread_id(ref)), "subject-token", ref[1],
                           ref[0])
    for key in marker_keys(email):
        if key in marker_threads:
            return ThreadMatch(marker_threads[key], "marker")
    return ThreadMatch(None, "new-thread")
