"""Sending a GraphQL document to GitHub, and what its answer means for us.

`classify_graphql` is pure: (HTTP status, headers, body) → None when `data` may be used, else
the gateway error to raise. GraphQL answers HTTP 200 even when the operation failed, with
`errors: [{type?, message, path?, extensions?}]` and sometimes partial `data`; transport and
limit failures still come as HTTP statuses
(https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api).
The mapping (issue 15 design §1.6):

- no answer (dropped, timeout), HTTP 5xx, an unreadable body, an untyped "Something went wrong
  while executing your query", an unknown `type` → `TransientError` for reads, `OutcomeUnknown`
  for writes (look for the marker before sending again);
- HTTP 401, `INSUFFICIENT_SCOPES` → `GitHubAuthError`; `FORBIDDEN` → `GraphQLForbidden` (an
  auth error; for a write the caller may find it is only this object, e.g. a locked discussion);
- HTTP 403/429 rate limits, `RATE_LIMITED` or `RATE_LIMIT` (both spellings are seen) →
  `RateLimited` (nothing was applied);
- `NOT_FOUND` on `repository` → `RepositoryNotFound`; elsewhere → `WriteRejected(404)`;
- `UNPROCESSABLE` → `WriteRejected(422)`;
- validation, parse and pagination errors → `GraphQLDocumentError`: our document is wrong (or
  GitHub changed its schema); nothing ran, so failing the row is safe;
- a mutation whose payload came back non-null together with `errors` (partial success) is a
  success: GitHub applied it, and the caller reads the fields it needs (a missing one is an
  unclear outcome there).

`GraphQLClient.run` sends through PyGithub's requester, so auth (App token refresh included),
timeout, user agent, GHES paths and the connection pool are the REST tracker's. It calls
`requestJsonAndCheck` on `requester.graphql_url` rather than `graphql_query`: the latter turns
a 200-with-errors into `GithubException(400)` or `UnknownObjectException(404)` (PyGithub 2.10),
losing the real status that tells "GitHub refused" from "HTTP 4xx". Blocking, like PyGithub.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from github import Github, GithubException

from gateway.errors import GatewayError, PermanentError, RateLimited, TransientError
from gateway.outbound.github import (
    MAX_RETRY_AFTER,
    GitHubAuthError,
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
    until_reset,
)


class GraphQLDocumentError(PermanentError):
    """GitHub refused the document itself (validation, parse, pagination); nothing ran."""


class GraphQLForbidden(GitHubAuthError):
    """A `FORBIDDEN` answer: the token may not do this, or not to this object."""


RATE_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
DOCUMENT_TYPES = frozenset({
    "MISSING_PAGINATION_BOUNDARIES", "EXCESSIVE_PAGINATION", "INVALID_PAGINATION",
    "INVALID_CURSOR_ARGUMENTS", "MAX_NODE_LIMIT_EXCEEDED", "PARSE_ERROR",
})


def _unclear(reason: str, write: bool) -> TransientError:
    return OutcomeUnknown(reason) if write else TransientError(reason)


def _wait(headers: Mapping[str, str], now: float, secondary_wait: float) -> float:
    """Seconds to wait, from GitHub's headers, between 1 s and an hour."""
    wait = max(secondary_wait, 60.0)  # a limit without headers: GitHub says at least a minute
    try:
        if "retry-after" in headers:
            wait = float(headers["retry-after"])
        elif "x-ratelimit-reset" in headers and headers.get("x-ratelimit-remaining") == "0":
            wait = until_reset(headers, now)
    except ValueError:
        pass
    return min(max(wait, 1.0), MAX_RETRY_AFTER) if math.isfinite(wait) else MAX_RETRY_AFTER


def _text(body: Any) -> str:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                             for e in errors)[:300]
        return str(body.get("message", ""))[:300]
    return ""


def _applied(data: Any) -> bool:
    """A mutation's payload is there: every root field came back non-null."""
    return isinstance(data, dict) and bool(data) and all(v is not None for v in data.values())


def classify_graphql(status: int | None, headers: Mapping[str, str], body: Any, *,
                     write: bool, now: float, secondary_wait: float = 60.0
                     ) -> GatewayError | None:
    """None if `body["data"]` is GitHub's answer to use; else the error it means.

    `status` None = no answer at all (connection dropped, timeout). `now` (epoch seconds) turns
    `x-ratelimit-reset` into a wait."""
    headers = {k.lower(): str(v) for k, v in headers.items()}
    message = _text(body)
    if status is None:
        return _unclear("no answer from GitHub", write)
    if status == 401:
        return GitHubAuthError(f"GitHub rejected the token: {message}")
    if status in (403, 429):
        if (status == 429 or "retry-after" in headers
                or headers.get("x-ratelimit-remaining") == "0"
                or "rate limit" in message.lower() or "abuse" in message.lower()):
            return RateLimited(message or "GitHub rate limit",
                               _wait(headers, now, secondary_wait))
        return GitHubAuthError(f"the token may not do this: {message}")
    if status >= 500 or status < 200 or 300 <= status < 400:  # 5xx, or no HTTP answer
        return _unclear(f"GitHub answered {status}", write)
    if status >= 400:
        return WriteRejected(status, message or f"HTTP {status}")
    if not isinstance(body, dict):
        return _unclear("GitHub's answer could not be read", write)
    errors = body.get("errors")
    if not errors:
        return None if isinstance(body.get("data"), dict) else _unclear(
            "GitHub's answer had no data", write)
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        return _unclear("GitHub's errors could not be read", write)
    types = [str(e.get("type") or "") for e in errors]
    if RATE_LIMIT_TYPES & set(types):
        return RateLimited(message, _wait(headers, now, secondary_wait))
    if write and _applied(body.get("data")):
        return None  # partial success: the mutation was applied (see the module docstring)
    first, kind = errors[0], types[0]
    if kind == "NOT_FOUND":
        if first.get("path") == ["repository"]:
            return RepositoryNotFound(message)
        return WriteRejected(404, message)
    if kind == "FORBIDDEN":
        return GraphQLForbidden(f"GitHub refused ({kind}): {message}")
    if kind == "INSUFFICIENT_SCOPES":
        return GitHubAuthError(f"the token lacks a scope: {message}")
    if kind == "UNPROCESSABLE":
        return WriteRejected(422, message)
    # The GraphQL spec: an error raised before execution leaves out `data` altogether.
    if kind in DOCUMENT_TYPES or (not kind and "data" not in body):
        return GraphQLDocumentError(f"GitHub refused the document: {message}")
    return _unclear(f"GitHub could not run the query: {message}", write)


class GraphQLClient:
    """Posts documents through a PyGithub client built with `retry=None` (a POST is never
    re-sent blindly) and raises what `classify_graphql` says."""

    def __init__(self, gh: Github, *, secondary_wait: float,
                 now: Callable[[], float] = time.time) -> None:
        self._gh = gh
        self._secondary_wait = secondary_wait
        self._now = now
        self.last_headers: dict[str, str] = {}  # x-ratelimit-* of the last answer

    def run(self, document: str, variables: Mapping[str, Any], *, write: bool) -> dict[str, Any]:
        """The answer's `data`, or a gateway error; never a library exception."""
        status: int | None = 200
        try:
            requester = self._gh.requester
            headers, body = requester.requestJsonAndCheck(
                "POST", requester.graphql_url,
                input={"query": document, "variables": dict(variables)})
        except GithubException as exc:
            status = exc.status if isinstance(exc.status, int) else 0
            headers, body = exc.headers or {}, exc.data
        except (requests.exceptions.RequestException, ConnectionError, TimeoutError):
            status, headers, body = None, {}, None
        except ValueError:  # a body that looked like JSON and was not
            status, headers, body = 200, {}, None
        self.last_headers = {k.lower(): str(v) for k, v in (headers or {}).items()}
        error = classify_graphql(status, self.last_headers, body, write=write, now=self._now(),
                                 secondary_wait=self._secondary_wait)
        if error is not None:
            raise error
        data: dict[str, Any] = body["data"]
        return data
