"""The GitHub adapter: create issues and comments, and find them again by their hidden marker.

PyGithub is used with its own retry and throttling turned off (`retry=None`): its default retry
re-sends a POST after a 5xx, and GitHub may already have applied the first one, which is how
other bridges create duplicate issues. The writer owns retries; this module only translates
outcomes at the boundary:

- `RateLimited` — GitHub said wait (403/429 rate limit); nothing was written.
- `OutcomeUnknown` — a write may or may not have been applied (5xx, timeout, dropped connection):
  find the marker before writing again.
- `WriteRejected` — GitHub refused this write for good (422 validation, 404 issue, 410 gone).
- `GitHubAuthError` / `RepositoryNotFound` — the token or repository is wrong: nothing heals
  until an admin fixes the configuration.

Besides its own repository it writes to and reads from another one by name (`create_issue_in`,
`find_issue_in`, `search_issues`: promotion to the product repository), and reacts to, closes
and reopens issues (issue 16). Each of those writes is idempotent on GitHub, so after an unclear
outcome it may simply be sent again; an issue created elsewhere is found again by its marker.

Blocking: call it from the writer's thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import math
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import github
import requests
from github import Auth, Github, GithubException
from github.IssueComment import IssueComment

from gateway.errors import PermanentError, RateLimited, TransientError
from gateway.outbound.issue_search import search_phrases, search_query


class OutcomeUnknown(TransientError):
    """A write was sent but its outcome is unknown; look for it before sending it again."""


class WriteRejected(PermanentError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub refused the write ({status}): {message}")
        self.status = status


class GitHubAuthError(PermanentError):
    """The token is missing, revoked or lacks permission."""


class RepositoryNotFound(PermanentError):
    """The repository does not exist, or the token cannot see it."""


@dataclass(frozen=True, slots=True)
class CreatedIssue:
    number: int
    url: str
    assignees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CreatedComment:
    comment_id: int
    url: str


@dataclass(frozen=True, slots=True)
class RemoteComment:
    comment_id: int
    number: int
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime
    body: str


@dataclass(frozen=True, slots=True)
class RemoteIssue:
    number: int
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    state: str
    assignees: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FoundIssue:
    """An issue GitHub's search found; `url` is its web page, `state` "open" or "closed"."""

    number: int
    title: str
    state: str
    url: str


# REST's reaction contents (https://docs.github.com/rest/reactions/reactions#about-reactions).
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
CLOSE_REASONS = ("completed", "not_planned")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class IssueTracker(Protocol):
    def create_issue(self, title: str, body: str, labels: Sequence[str],
                     assignee: str | None) -> CreatedIssue: ...
    def add_comment(self, number: int, body: str) -> CreatedComment: ...
    def find_issue(self, marker: str, since: dt.datetime) -> CreatedIssue | None: ...
    def find_comment(
        self, number: int, marker: str, since: dt.datetime
    ) -> CreatedComment | None: ...
    def can_assign(self, login: str) -> bool: ...
    def set_assignee(self, number: int, login: str) -> tuple[str, ...]: ...
    def add_reaction(self, comment_id: int, content: str = "+1") -> None: ...
    def close_issue(self, number: int, state_reason: Literal["completed", "not_planned"],
                    labels: Sequence[str] = ()) -> None: ...
    def reopen_issue(self, number: int, remove_labels: Sequence[str] = ()) -> None: ...
    def create_issue_in(self, repository: str, title: str, body: str,
                        labels: Sequence[str]) -> CreatedIssue: ...
    def find_issue_in(self, repository: str, marker: str,
                      since: dt.datetime) -> CreatedIssue | None: ...
    def search_issues(self, repository: str, terms: Sequence[str],
                      limit: int = 5) -> list[FoundIssue]: ...


MAX_RETRY_AFTER = 3600.0  # GitHub's limits reset hourly; a larger (or non-finite) value is bad


def _retry_after(exc: GithubException, secondary_wait: float) -> float:
    """Seconds to wait, from GitHub's headers (docs: 'rate limits for the REST API'), between
    1 s and an hour whatever the headers say."""
    wait = _header_wait(exc, secondary_wait)
    return min(max(wait, 1.0), MAX_RETRY_AFTER) if math.isfinite(wait) else MAX_RETRY_AFTER


def until_reset(headers: Mapping[str, str], local_now: float) -> float:
    """Seconds from this answer until `x-ratelimit-reset` (lower-case `headers`), counted on
    GitHub's own clock (the answer's `Date`), so a skewed local clock changes nothing;
    `local_now` (epoch seconds) only when the answer has no readable `Date`. Raises
    ValueError for a reset that is not a number."""
    reset = float(headers["x-ratelimit-reset"])
    try:
        sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        sent = local_now
    return reset - sent


def _header_wait(exc: GithubException, secondary_wait: float) -> float:
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    if "retry-after" in headers:
        try:
            return max(float(headers["retry-after"]), 1.0)
        except ValueError:
            pass
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(until_reset(headers, time.time()), 1.0)
        except ValueError:
            pass
    # A secondary limit without retry-after: GitHub says wait at least a minute.
    return max(secondary_wait, 60.0)


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message", "")) or str(exc)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        details = [str(e.get("message") or e.get("code")) if isinstance(e, dict) else str(e)
                   for e in errors]
        message += ": " + "; ".join(details)
    return message[:300]


def _is_rate_limit(exc: GithubException) -> bool:
    if isinstance(exc, github.RateLimitExceededException) or exc.status == 429:
        return True
    text = _message(exc).lower()
    return exc.status == 403 and ("rate limit" in text or "abuse" in text)


def translate_error(exc: Exception, *, write: bool, secondary_wait: float) -> Exception:
    """The gateway's error for what PyGithub raised (see the module docstring); `exc` itself
    when it is none of GitHub's. Shared by every PyGithub adapter."""
    if isinstance(exc, GithubException):
        if _is_rate_limit(exc):
            return RateLimited(_message(exc), _retry_after(exc, secondary_wait))
        status = exc.status if isinstance(exc.status, int) else 0
        if status == 401:
            return GitHubAuthError(f"GitHub rejected the token: {_message(exc)}")
        if status >= 500 or status < 400:  # a 5xx, or an answer that is no HTTP error
            reason = f"GitHub answered {status or 'something unreadable'}"
            return OutcomeUnknown(reason) if write else TransientError(reason)
        if status == 403:
            return GitHubAuthError(f"the token may not do this: {_message(exc)}")
        return WriteRejected(status, _message(exc))
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError):
        reason = f"no answer from GitHub ({type(exc).__name__})"
        return OutcomeUnknown(reason) if write else TransientError(reason)
    return exc


class GitHubTracker:
    """`IssueTracker` over PyGithub for one repository."""

    def __init__(self, *, api_url: str, token: str | None = None, repository: str,
                 bot_login: str, timeout: float, secondary_wait: float,
                 auth: Auth.Auth | None = None) -> None:
        """`token` (a personal access token) or `auth` (e.g. a GitHub App installation, whose
        short-lived token PyGithub refreshes before it expires)."""
        if auth is None:
            if not token:
                raise ValueError("GitHubTracker needs a token or an auth")
            auth = Auth.Token(token)
        self._gh = Github(
            base_url=api_url, auth=auth, retry=None, timeout=int(timeout),
            seconds_between_requests=None, seconds_between_writes=None, per_page=100, lazy=True,
        )
        self._repo = self._gh.get_repo(repository)
        self._repository = repository
        self._bot = bot_login
        self._secondary_wait = secondary_wait

    def close(self) -> None:
        self._gh.close()

    # -- translation ------------------------------------------------------------------------

    def _fail(self, exc: Exception, *, write: bool) -> Exception:
        return translate_error(exc, write=write, secondary_wait=self._secondary_wait)

    @contextlib.contextmanager
    def _translated(self, *, write: bool = False) -> Iterator[None]:
        """Every GitHub call runs inside one of these: PyGithub makes requests where it is not
        obvious (a lazy object completing itself, the next page of a list, `get_user`), so the
        whole method body is wrapped, not the one call that looks like a request. A
        malformed answer is a transient failure (or an unclear write), never a crash."""
        try:
            yield
        except (GithubException, requests.exceptions.RequestException, ConnectionError,
                TimeoutError) as exc:
            raise self._fail(exc, write=write) from exc
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            reason = f"GitHub's answer could not be read ({type(exc).__name__})"
            raise (OutcomeUnknown(reason) if write else TransientError(reason)) from exc

    def _call(self, write: bool, func: Any, *args: Any, **kwargs: Any) -> Any:
        with self._translated(write=write):
            return func(*args, **kwargs)

    # -- reads ------------------------------------------------------------------------------

    def check_repository(self) -> bool:
        """Fail fast with a clear error when the token or repository is wrong; else whether
        the repository is private."""
        try:
            with self._translated():
                return bool(self._repo.private)  # completing the lazy object: GET the repo
        except WriteRejected as exc:
            if exc.status != 404:
                raise
            raise RepositoryNotFound(
                f"repository {self._repository} does not exist or the token cannot see it"
            ) from None

    def can_assign(self, login: str) -> bool:
        try:
            return bool(self._call(False, self._repo.has_in_assignees, login))
        except WriteRejected:
            return False

    def find_issue(self, marker: str, since: dt.datetime) -> CreatedIssue | None:
        """An issue by the bot, updated since `since`, whose body carries `marker`."""
        with self._translated():
            issues = self._repo.get_issues(state="all", sort="created", direction="desc",
                                           since=since, creator=self._gh.get_user(self._bot))
            for issue in issues:
                if marker in (issue.body or ""):
                    return CreatedIssue(issue.number, issue.html_url,
                                        tuple(a.login for a in issue.assignees))
        return None

    def find_comment(self, number: int, marker: str, since: dt.datetime) -> CreatedComment | None:
        with self._translated():
            for comment in self._repo.get_issue(number).get_comments(since=since):
                if marker in (comment.body or ""):
                    return CreatedComment(comment.id, comment.html_url)
        return None

    def comments_since(self, since: dt.datetime) -> list[RemoteComment]:
        """Every comment in the repository updated since `since`, oldest first
        (`GET /repos/{owner}/{repo}/issues/comments?since=`)."""
        out: list[RemoteComment] = []
        with self._translated():
            for comment in self._repo.get_issues_comments(sort="updated", direction="asc",
                                                          since=since):
                number = int(comment.issue_url.rstrip("/").rsplit("/", 1)[1])
                out.append(RemoteComment(comment.id, number, comment.user.login,
                                         _utc(comment.created_at), _utc(comment.updated_at),
                                         comment.body or ""))
        return out

    def issue(self, number: int) -> RemoteIssue:
        with self._translated():
            issue = self._repo.get_issue(number)
            return RemoteIssue(
                number=issue.number, author=issue.user.login, created_at=_utc(issue.created_at),
                updated_at=_utc(issue.updated_at),
                closed_at=_utc(issue.closed_at) if issue.closed_at else None, state=issue.state,
                assignees=tuple(a.login for a in issue.assignees),
                labels=tuple(label.name for label in issue.labels))

    # -- writes -----------------------------------------------------------------------------

    def create_issue(self, title: str, body: str, labels: Sequence[str],
                     assignee: str | None) -> CreatedIssue:
        kwargs: dict[str, Any] = {"title": title, "body": body, "labels": list(labels)}
        if assignee:
            kwargs["assignees"] = [assignee]
        with self._translated(write=True):
            issue = self._repo.create_issue(**kwargs)
            return CreatedIssue(issue.number, issue.html_url,
                                tuple(a.login for a in issue.assignees))

    def set_assignee(self, number: int, login: str) -> tuple[str, ...]:
        """Make `login` the issue's only assignee (idempotent: a repeat changes nothing)."""
        with self._translated(write=True):
            self._repo.get_issue(number).edit(assignees=[login])
        with self._translated():
            return tuple(a.login for a in self._repo.get_issue(number).assignees)

    def add_comment(self, number: int, body: str) -> CreatedComment:
        with self._translated(write=True):
            comment = self._repo.get_issue(number).create_comment(body)
            return CreatedComment(comment.id, comment.html_url)

    # -- reactions, closing and reopening (issue 16) ----------------------------------------

    def add_reaction(self, comment_id: int, content: str = "+1") -> None:
        """React to the issue comment `comment_id` with `content` (REST's spelling: "+1",
        "heart", ...). Idempotent: GitHub answers 200 for a reaction the bot already made. One
        POST: the comment object is built lazily from its URL, never fetched."""
        _check_reaction(content)
        comment = IssueComment(self._repo.requester,
                               url=f"{self._repo.url}/issues/comments/{comment_id}")
        with self._translated(write=True):
            comment.create_reaction(content)

    def close_issue(self, number: int, state_reason: Literal["completed", "not_planned"],
                    labels: Sequence[str] = ()) -> None:
        """Add `labels` to the issue, then close it with `state_reason`.

        Idempotent: adding a label the issue has and closing a closed issue change nothing
        (the reason of an issue that was already closed stays, as GitHub ignores `state_reason`
        unless the state changes). Adding a label the repository lacks creates it, with the
        default colour: GitHub does so though its docs do not say it (github/docs#35718); a
        token that may not create it is refused (GitHubAuthError), and if GitHub ever refuses
        an unknown label instead, that is a WriteRejected(422) naming it."""
        if state_reason not in CLOSE_REASONS:
            raise ValueError(f"state_reason must be one of {CLOSE_REASONS}, not {state_reason!r}")
        issue = self._repo.get_issue(number)  # lazy: no request
        with self._translated(write=True):
            if labels:
                issue.add_to_labels(*dict.fromkeys(labels))  # POST .../labels adds, never replaces
            issue.edit(state="closed", state_reason=state_reason)

    def reopen_issue(self, number: int, remove_labels: Sequence[str] = ()) -> None:
        """Remove `remove_labels` from the issue, then reopen it. Idempotent: a label the issue
        does not have is skipped (GitHub's 404 "Label does not exist"), and reopening an open
        issue changes nothing; a missing issue is a WriteRejected(404) from the reopening."""
        issue = self._repo.get_issue(number)
        for name in dict.fromkeys(remove_labels):
            # PyGithub's remove_from_labels leaves "/" unquoted: "area/gui" would miss the route.
            path = f"{issue.url}/labels/{urllib.parse.quote(name, safe='')}"
            try:
                with self._translated(write=True):
                    self._repo.requester.requestJsonAndCheck("DELETE", path)
            except WriteRejected as exc:
                if exc.status != 404:
                    raise
        with self._translated(write=True):
            issue.edit(state="open")

    # -- another repository: promotion and known-issue search (issue 16) --------------------

    @contextlib.contextmanager
    def _elsewhere(self, repository: str, *, write: bool) -> Iterator[None]:
        """`_translated`, with GitHub's 404 for `repository` itself as RepositoryNotFound."""
        try:
            with self._translated(write=write):
                yield
        except WriteRejected as exc:
            if exc.status != 404:
                raise
            raise RepositoryNotFound(
                f"repository {repository} does not exist or the token cannot see it "
                "(a GitHub App must be installed on it too)") from exc

    def create_issue_in(self, repository: str, title: str, body: str,
                        labels: Sequence[str]) -> CreatedIssue:
        """`create_issue` in `repository` (owner/name), unassigned. Without push access there,
        GitHub drops the labels silently. Find it again with `find_issue_in`."""
        repo = self._gh.get_repo(repository)  # lazy: no request
        with self._elsewhere(repository, write=True):
            issue = repo.create_issue(title=title, body=body, labels=list(labels))
            return CreatedIssue(issue.number, issue.html_url,
                                tuple(a.login for a in issue.assignees))

    def find_issue_in(self, repository: str, marker: str,
                      since: dt.datetime) -> CreatedIssue | None:
        """`find_issue` in `repository`: an issue by the bot there, updated since `since`, whose
        body carries `marker`. Lists the bot's issues; never searches (its index lags)."""
        repo = self._gh.get_repo(repository)
        with self._translated():
            creator = self._gh.get_user(self._bot)  # GET /users/{bot}: not the repository's 404
        with self._elsewhere(repository, write=False):
            issues = repo.get_issues(state="all", sort="created", direction="desc",
                                     since=since, creator=creator)
            for issue in issues:
                if marker in (issue.body or ""):
                    return CreatedIssue(issue.number, issue.html_url,
                                        tuple(a.login for a in issue.assignees))
        return None

    def search_issues(self, repository: str, terms: Sequence[str],
                      limit: int = 5) -> list[FoundIssue]:
        """The issues of `repository` that GitHub's search finds for all of `terms` (each one a
        phrase, see `issue_search`), best match first, at most `limit` (1..100). [] without a
        request when no term has anything to search for.

        Search has its own primary limit (30 requests a minute): spent, it is RateLimited with
        the wait until its reset. A repository that does not exist or that the token cannot
        see is GitHub's 422 "cannot be searched": RepositoryNotFound naming it. Search lags
        behind writes by up to a minute: never use it to find the gateway's own writes."""
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be within 1..100, not {limit}")
        if not search_phrases(terms):
            return []
        query = search_query(repository, terms)
        try:
            with self._translated():
                _, data = self._gh.requester.requestJsonAndCheck(
                    "GET", "/search/issues", parameters={"q": query, "per_page": limit})
                return [FoundIssue(int(item["number"]), str(item["title"]), str(item["state"]),
                                   str(item["html_url"])) for item in data["items"][:limit]]
        except WriteRejected as exc:
            if exc.status == 422 and "cannot be searched" in str(exc):
                raise RepositoryNotFound(
                    f"repository {repository} does not exist or the token cannot search it"
                ) from exc
            raise


def _check_reaction(content: str) -> None:
    if content not in REACTIONS:
        raise ValueError(f"a reaction is one of {sorted(REACTIONS)}, not {content!r}")
