"""The issue-search query language, as far as the gateway needs it.

Parses `q` into qualifiers (`repo:`, `is:`/`type:`, `state:`, `author:`, `assignee:`,
`label:`, `no:assignee|label`, `in:title,body,comments`, `created:`/`updated:` with `>`, `>=`,
`<`, `<=` or `A..B`) and text terms (bare words and "quoted phrases"), and matches issues against
it. Text matching works on lower-cased alphanumeric tokens, so punctuation is ignored and a
phrase matches a run of consecutive whole tokens, like GitHub's tokenizer:
`<!-- visit-gateway:msg=KEY -->` is found by searching for "visit-gateway:msg=KEY". Pure.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .model import Issue

_TOKEN = re.compile(r"[0-9a-z]+")
_WORD = re.compile(r'"([^"]*)"?|(\S+)')
_COMPARE = re.compile(r"(>=|<=|>|<)?(.+)")
_OPS: dict[str, Callable[[dt.datetime, dt.datetime], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def tokens(text: str | None) -> str:
    """The text as space-separated tokens, padded so that phrase search is a substring test."""
    return " " + " ".join(_TOKEN.findall((text or "").lower())) + " "


@dataclass(slots=True)
class Query:
    repos: list[str] = field(default_factory=list)  # lower full names
    kinds: set[str] = field(default_factory=set)  # "issue" | "pr"
    state: str | None = None
    authors: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # `no:` qualifiers
    fields: set[str] = field(default_factory=set)  # "title" | "body" | "comments"
    times: list[tuple[str, str, dt.datetime]] = field(default_factory=list)  # attr, op, bound
    phrases: list[str] = field(default_factory=list)  # tokenized, padded
    invalid: bool = False  # a qualifier value GitHub would not understand: no results

    @property
    def wants_issues(self) -> bool:
        return not self.kinds or "issue" in self.kinds


def parse_query(q: str) -> Query:
    query = Query()
    for quoted, word in _WORD.findall(q):
        key, sep, value = word.partition(":")
        if word and sep and value and key.lower() in _QUALIFIERS:
            _QUALIFIERS[key.lower()](query, value)
        elif tokens(quoted or word).strip():
            query.phrases.append(tokens(quoted or word))
    return query


def matches(query: Query, issue: Issue, comments: Iterable[str]) -> bool:
    if query.invalid or not query.wants_issues:
        return False
    if query.state and issue.state != query.state:
        return False
    if query.authors and issue.user.lower() not in query.authors:
        return False
    assignees, labels = {a.lower() for a in issue.assignees}, {x.lower() for x in issue.labels}
    if not set(query.assignees) <= assignees or not set(query.labels) <= labels:
        return False
    if ("assignee" in query.missing and assignees) or ("label" in query.missing and labels):
        return False
    for attr, op, bound in query.times:
        if not _OPS[op](getattr(issue, attr), bound):
            return False
    if not query.phrases:
        return True
    fields = query.fields or {"title", "body", "comments"}
    haystacks = []
    if "title" in fields:
        haystacks.append(tokens(issue.title))
    if "body" in fields:
        haystacks.append(tokens(issue.body))
    if "comments" in fields:
        haystacks.extend(tokens(c) for c in comments)
    return all(any(p in h for h in haystacks) for p in query.phrases)


def _is(query: Query, value: str) -> None:
    value = value.lower()
    if value in ("issue", "pr", "pull-request"):
        query.kinds.add("issue" if value == "issue" else "pr")
    elif value in ("open", "closed"):
        query.state = value


def _when(attr: str) -> Callable[[Query, str], None]:
    """`created:>=2026-03-02T16:00:00Z`, `updated:<2026-03-02`, `created:A..B`."""

    def parse(query: Query, value: str) -> None:
        try:
            if ".." in value:
                low, high = value.split("..", 1)
                if low != "*":
                    query.times.append((attr, ">=", _instant(low, end=False)))
                if high != "*":
                    query.times.append((attr, "<=", _instant(high, end=True)))
                return
            match = _COMPARE.fullmatch(value)
            assert match is not None
            op = match.group(1) or ">="
            bound = _instant(match.group(2), end=op in (">", "<="))
            if match.group(1) is None:  # a bare date means that whole day
                query.times.append((attr, "<=", _instant(match.group(2), end=True)))
            query.times.append((attr, op, bound))
        except ValueError:
            query.invalid = True

    return parse


def _instant(text: str, *, end: bool) -> dt.datetime:
    """A bound as an aware datetime; a bare date stands for its first (or last) second."""
    if "T" not in text:
        day = dt.date.fromisoformat(text)
        clock = dt.time(23, 59, 59) if end else dt.time(0, 0)
        return dt.datetime.combine(day, clock, dt.UTC)
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


_QUALIFIERS: dict[str, Callable[[Query, str], None]] = {
    "repo": lambda q, v: q.repos.append(v.lower()),
    "is": _is,
    "type": _is,
    "state": lambda q, v: setattr(q, "state", v.lower()),
    "author": lambda q, v: q.authors.append(v.lower()),
    "assignee": lambda q, v: q.assignees.append(v.lower()),
    "label": lambda q, v: q.labels.append(v.lower().strip('"')),
    "no": lambda q, v: q.missing.add(v.lower()),
    "in": lambda q, v: q.fields.update(x.strip().lower() for x in v.split(",")),
    "created": _when("created_at"),
    "updated": _when("updated_at"),
}
