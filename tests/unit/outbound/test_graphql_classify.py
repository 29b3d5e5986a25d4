"""`classify_graphql`: one row per kind of answer GitHub gives a GraphQL request (issue 15 §1.6),
for reads and for writes."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import GatewayError, RateLimited, TransientError
from gateway.outbound.github import (
    GitHubAuthError,
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
    until_reset,
)
from gateway.outbound.graphql import GraphQLDocumentError, GraphQLForbidden, classify_graphql

NOW = 1_800_000_000.0
SOMETHING_WRONG = {
    "data": None,
    "errors": [{"message": "Something went wrong while executing your query. This may be the "
                           "result of a timeout, or it could be a GitHub bug."}],
}
LIMITED_HEADERS = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 120)}


def typed(kind: str, path: list[Any] | None = None, data: Any = None,
          message: str = "no") -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if path is not None:
        error["path"] = path
    return {"data": data, "errors": [error]}


OK = {"data": {"repository": {"id": "R_1"}}}
CREATED = {"createDiscussion": {"discussion": {"id": "D_1", "number": 3}}}

# (status, headers, body, error for a read, error for a write); None = use the data
CASES: list[tuple[str, int | None, dict[str, str], Any, type[GatewayError] | None,
                  type[GatewayError] | None]] = [
    ("ok", 200, {}, OK, None, None),
    ("dropped or timed out", None, {}, None, TransientError, OutcomeUnknown),
    ("502", 502, {}, {"data": "<html>bad gateway</html>"}, TransientError, OutcomeUnknown),
    ("504", 504, {}, None, TransientError, OutcomeUnknown),
    ("something went wrong", 200, {}, SOMETHING_WRONG, TransientError, OutcomeUnknown),
    ("200 without data", 200, {}, {}, TransientError, OutcomeUnknown),
    ("200, not json", 200, {}, None, TransientError, OutcomeUnknown),
    ("unknown type", 200, {}, typed("SERVICE_UNAVAILABLE"), TransientError, OutcomeUnknown),
    ("401", 401, {}, {"message": "Bad credentials"}, GitHubAuthError, GitHubAuthError),
    ("403 not a limit", 403, {}, {"message": "Resource not accessible"}, GitHubAuthError,
     GitHubAuthError),
    ("403 secondary", 403, {"Retry-After": "30"},
     {"message": "You have exceeded a secondary rate limit."}, RateLimited, RateLimited),
    ("403 primary", 403, LIMITED_HEADERS, {"message": "API rate limit exceeded"}, RateLimited,
     RateLimited),
    ("429", 429, {}, {"message": "slow down"}, RateLimited, RateLimited),
    ("RATE_LIMITED", 200, LIMITED_HEADERS, typed("RATE_LIMITED"), RateLimited, RateLimited),
    ("RATE_LIMIT", 200, {}, typed("RATE_LIMIT"), RateLimited, RateLimited),
    ("repository NOT_FOUND", 200, {}, typed("NOT_FOUND", ["repository"], {"repository": None}),
     RepositoryNotFound, RepositoryNotFound),
    # (as a write: a mutation whose payload came back is applied, whatever else failed)
    ("discussion NOT_FOUND", 200, {},
     typed("NOT_FOUND", ["repository", "discussion"], {"repository": {"discussion": None}}),
     WriteRejected, None),
    ("node NOT_FOUND in a mutation", 200, {},
     typed("NOT_FOUND", ["addLabelsToLabelable"], {"addLabelsToLabelable": None}),
     WriteRejected, WriteRejected),
    ("FORBIDDEN", 200, {}, typed("FORBIDDEN", ["addLabelsToLabelable"]), GraphQLForbidden,
     GraphQLForbidden),
    ("INSUFFICIENT_SCOPES", 200, {}, typed("INSUFFICIENT_SCOPES"), GitHubAuthError,
     GitHubAuthError),
    ("UNPROCESSABLE", 200, {}, typed("UNPROCESSABLE", ["addDiscussionComment"],
                                     {"addDiscussionComment": None}), WriteRejected,
     WriteRejected),
    ("validation error", 200, {},
     {"errors": [{"message": "Field 'nope' doesn't exist",
                  "extensions": {"code": "undefinedField"}}]},
     GraphQLDocumentError, GraphQLDocumentError),
    ("parse error", 200, {}, {"errors": [{"message": "Syntax Error: Expected Name"}]},
     GraphQLDocumentError, GraphQLDocumentError),
    ("pagination", 200, {}, {"errors": [{"type": "EXCESSIVE_PAGINATION", "message": "101"}]},
     GraphQLDocumentError, GraphQLDocumentError),
    ("node limit", 200, {}, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "n"}]},
     GraphQLDocumentError, GraphQLDocumentError),
    ("partial success", 200, {}, {"data": CREATED, "errors": [{"type": "FORBIDDEN",
                                                                "message": "labels"}]},
     GraphQLForbidden, None),
    ("http 400", 400, {}, {"message": "Problems parsing JSON"}, WriteRejected, WriteRejected),
]


@pytest.mark.parametrize(("status", "headers", "body", "read", "write"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("is_write", [False, True], ids=["read", "write"])
def test_classify(status: int | None, headers: dict[str, str], body: Any,
                  read: type[GatewayError] | None, write: type[GatewayError] | None,
                  is_write: bool) -> None:
    expected = write if is_write else read
    got = classify_graphql(status, headers, body, write=is_write, now=NOW, secondary_wait=60)
    if expected is None:
        assert got is None
    else:
        assert type(got) is expected, got


@pytest.mark.parametrize(("status", "headers", "body", "wait"), [
    (403, {"retry-after": "30"}, {"message": "You have exceeded a secondary rate limit"}, 30.0),
    (403, LIMITED_HEADERS, {"message": "API rate limit exceeded"}, 120.0),
    (200, LIMITED_HEADERS, typed("RATE_LIMITED"), 120.0),
    (200, {"retry-after": "7"}, typed("RATE_LIMIT"), 7.0),
    (200, {}, typed("RATE_LIMITED"), 90.0),  # no headers: the configured secondary wait
    (429, {"retry-after": "99999"}, {}, 3600.0),  # capped at an hour
    (429, {"retry-after": "0"}, {}, 1.0),
    (429, {"retry-after": "soon"}, {}, 90.0),
])
def test_rate_limit_waits(status: int, headers: dict[str, str], body: Any, wait: float) -> None:
    got = classify_graphql(status, headers, body, write=True, now=NOW, secondary_wait=90)
    assert isinstance(got, RateLimited) and got.retry_after == wait


def test_a_write_error_names_status_and_message() -> None:
    body = typed("UNPROCESSABLE", message="Parent comment is already in a thread")
    got = classify_graphql(200, {}, body, write=True, now=NOW)
    assert isinstance(got, WriteRejected) and got.status == 422
    assert "already in a thread" in str(got)
    assert isinstance(classify_graphql(200, {}, typed("NOT_FOUND", ["node"]), write=False,
                                       now=NOW), WriteRejected)


def test_a_mutation_without_its_payload_is_not_a_partial_success() -> None:
    body = {"data": {"createDiscussion": None}, "errors": [{"message": "Something went wrong"}]}
    assert type(classify_graphql(200, {}, body, write=True, now=NOW)) is OutcomeUnknown


@pytest.mark.parametrize(("headers", "local_now", "expected"), [
    # GitHub's own Date wins: a local clock an hour off changes nothing.
    ({"x-ratelimit-reset": "1796599260", "date": "Sun, 06 Dec 2026 23:20:00 GMT"},
     1796599200.0 + 3600, 60.0),
    ({"x-ratelimit-reset": "1796599260"}, 1796599200.0, 60.0),  # no Date: the local clock
    ({"x-ratelimit-reset": "1796599260", "date": "yesterday"}, 1796599230.0, 30.0),
])
def test_the_wait_for_a_reset_counts_on_githubs_clock(
        headers: dict[str, str], local_now: float, expected: float) -> None:
    assert until_reset(headers, local_now) == expected
    limited = classify_graphql(200, {**headers, "x-ratelimit-remaining": "0"},
                               {"errors": [{"type": "RATE_LIMITED", "message": "limited"}]},
                               write=False, now=local_now)
    assert isinstance(limited, RateLimited) and limited.retry_after == expected
