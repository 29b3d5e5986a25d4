"""The query for GitHub's issue search ("is it a known issue?"), built from words a customer
typed so that nothing they type can change the query's scope. Pure; sends nothing.

Each term becomes one quoted phrase, and GitHub requires every phrase to match. Inside a phrase
GitHub's search syntax has no meaning left: the term loses what could end or escape the quotes
(`"` and `\\`) and its colons, so `repo:acme/x`, `user:me` or `is:pr` typed by a customer are plain
words (a qualifier is only ever `name:value`; GitHub's tokenizer ignores punctuation in text, so
nothing searchable is lost). Quoting also disarms AND/OR/NOT, a leading `-` and parentheses. The
scope `repo:OWNER/NAME is:issue` comes last. GitHub does not support queries longer than 256
characters (docs: "Troubleshooting search queries"): phrases that do not fit are left out, and a
first phrase that is too long alone is cut at a word boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

QUERY_LIMIT = 256
_SYNTAX = re.compile(r'["\\:]')
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def search_phrases(terms: Iterable[str]) -> list[str]:
    """The terms as quoted phrases, in order; blank, punctuation-only and repeated (ignoring
    case) ones left out."""
    phrases: list[str] = []
    seen: set[str] = set()
    for term in terms:
        words = " ".join(_SYNTAX.sub(" ", term).split())
        if any(ch.isalnum() for ch in words) and words.casefold() not in seen:
            seen.add(words.casefold())
            phrases.append(f'"{words}"')
    return phrases


def search_query(repository: str, terms: Iterable[str]) -> str:
    """`q` for `GET /search/issues`: the terms' phrases, then `repo:REPOSITORY is:issue`.

    ValueError when `repository` is not `owner/name` or no term has anything to search for."""
    if not _REPOSITORY.fullmatch(repository):
        raise ValueError(f"a repository is owner/name, not {repository!r}")
    phrases = search_phrases(terms)
    if not phrases:
        raise ValueError("no search terms: every term was blank or punctuation")
    scope = f"repo:{repository} is:issue"
    room = QUERY_LIMIT - len(scope)
    kept: list[str] = []
    for phrase in phrases:
        if len(phrase) + 1 <= room:
            kept.append(phrase)
            room -= len(phrase) + 1
        elif not kept:
            kept.append(_cut(phrase, room - 1))
            break
    return " ".join([*kept, scope])


def _cut(phrase: str, size: int) -> str:
    """`phrase` shortened to at most `size` characters, quotes included, at a word boundary when
    there is one."""
    text = phrase[1:-1][: size - 2]
    if " " in text and phrase[len(text) + 1] != " ":  # the cut fell inside a word
        text = text.rsplit(" ", 1)[0]
    return f'"{text.strip()}"'
