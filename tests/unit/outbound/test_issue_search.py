"""`search_query`: what a customer typed never changes the search's scope, and the query stays
within GitHub's 256 characters."""

from __future__ import annotations

import pytest

from gateway.outbound.issue_search import QUERY_LIMIT, search_phrases, search_query
from gateway.testing.github_emulator.search import parse_query

REPO = "visit-dav/visit"
SCOPE = f"repo:{REPO} is:issue"


@pytest.mark.parametrize(("terms", "query"), [
    (["crash"], f'"crash" {SCOPE}'),
    (["Silo reader", "segfault"], f'"Silo reader" "segfault" {SCOPE}'),
    (["  many   spaces\tand\nlines "], f'"many spaces and lines" {SCOPE}'),
    # qualifiers typed by a customer are words
    (["repo:acme/secret crash"], f'"repo acme/secret crash" {SCOPE}'),
    (["user:me", "org:acme", "is:pr", "-label:bug"], f'"user me" "org acme" "is pr" '
                                                     f'"-label bug" {SCOPE}'),
    (["in:title,body"], f'"in title,body" {SCOPE}'),
    # quotes and backslashes cannot end or escape the phrase
    (['say "repo:x" now'], f'"say repo x now" {SCOPE}'),
    (['tail\\"'], f'"tail" {SCOPE}'),
    # operators and exclusion are words inside a phrase
    (["crash OR NOT silo", "-segfault", "(a)"], f'"crash OR NOT silo" "-segfault" "(a)" {SCOPE}'),
    # blank, punctuation-only and repeated terms are left out
    (["", "  ", ":::", '""', "!!", "Crash", "crash", "CRASH "], f'"Crash" {SCOPE}'),
    (["std::vector"], f'"std vector" {SCOPE}'),
    (["ошибка Юникод"], f'"ошибка Юникод" {SCOPE}'),
])
def test_search_query(terms: list[str], query: str) -> None:
    assert search_query(REPO, terms) == query


@pytest.mark.parametrize("terms", [
    ["repo:acme/secret crash"], ["user:acme"], ["org:acme"], ["is:pr"], ['" repo:acme/x "'],
    ['x" repo:acme/secret "y'], ["-repo:visit-dav/visit"], ["author:evil", "label:x"],
])
def test_the_scope_is_only_ever_the_repository(terms: list[str]) -> None:
    """As the emulator's query parser (GitHub's syntax, as far as the gateway uses it) reads
    the query: one repository, issues only, no other qualifier."""
    parsed = parse_query(search_query(REPO, terms))
    assert parsed.repos == [REPO]
    assert parsed.kinds == {"issue"}
    assert (parsed.state, parsed.authors, parsed.labels, parsed.fields) == (None, [], [], set())


def test_terms_that_do_not_fit_are_left_out() -> None:
    long = "x" * 220  # fits alone, not after "crash"
    query = search_query(REPO, ["crash", long, "silo"])
    assert query == f'"crash" "silo" {SCOPE}'
    assert len(search_query(REPO, [long])) <= QUERY_LIMIT


def test_a_first_term_too_long_alone_is_cut_at_a_word() -> None:
    words = " ".join(f"word{n:03d}" for n in range(60))  # 479 characters
    query = search_query(REPO, [words, "crash"])
    assert len(query) <= QUERY_LIMIT
    phrase = query.removesuffix(f" {SCOPE}")
    assert phrase.startswith('"word000 word001') and phrase.endswith('"')
    assert all(len(w) == 7 for w in phrase.strip('"').split())  # whole words only
    assert len(search_query(REPO, ["y" * 400])) == QUERY_LIMIT  # one word: cut where it must


@pytest.mark.parametrize("repository", ["visit", "a/b/c", "a/b c", "a/b repo:x", "", "/x"])
def test_a_wrong_repository_is_refused(repository: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        search_query(repository, ["crash"])


def test_nothing_to_search_for_is_refused() -> None:
    assert search_phrases(["", " : ", "..."]) == []
    with pytest.raises(ValueError, match="no search terms"):
        search_query(REPO, ["", " : "])
