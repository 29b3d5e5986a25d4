"""Is it a known issue? The GitHub writer's `lookup_known_issues` rows: search the product
repository for a new inquiry's key terms and record the best matches as Markdown.

A lookup is a read: no marker, and doing it twice is harmless, so a crash anywhere simply does
it again. Its success queues the row that shows the matches (the outbox's `then`, with
`{{gateway:matches}}` filled in), in the same transaction. GitHub's search requires every
phrase to match, so the search starts with all the terms and, while fewer than the wanted
matches were found, drops the least distinctive one (at most MAX_SEARCHES searches); the
stricter matches come first. Searches have their own budget (GitHub allows 30 a minute in its
`search` resource, apart from the content-creation limits): they never spend or wait for the
writes' budget, and a search rate limit reschedules this row (and paces the other lookups),
never the writes. A lookup must never cost the inquiry its notice: one that fails for good
(the repository gone, GitHub's 422) completes with no matches; a transient failure is retried
with backoff, and after MAX_ATTEMPTS attempts completes with no matches. Each outcome is one
log line.

Titles come from GitHub but anyone can write them: they are shown as text that cannot ping,
reference or inject anything (`gateway.inbound.safe_markdown`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
import structlog

from gateway.clock import Clock
from gateway.errors import GatewayError, RateLimited, TransientError
from gateway.inbound.outbox_rows import LOOKUP_KIND
from gateway.inbound.safe_markdown import code_span, escape_text, strip_bidi
from gateway.outbound.github import FoundIssue
from gateway.outbound.outbox import Outbox, OutboxItem
from gateway.outbound.pacing import WriteBudget

__all__ = ["LOOKUP_KIND", "KnownIssueLookups", "matches_markdown", "search_budget",
           "search_plan"]

log = structlog.get_logger("gateway.github")

MAX_SEARCHES = 3  # per lookup: all the terms, then fewer
MAX_ATTEMPTS = 3  # then the notice goes without matches
SEARCHES_PER_MINUTE = 20  # GitHub allows 30; the rest is left for people using the same token
TITLE_MAX = 200
_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'*+,;=%-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

Search = Callable[[str, Sequence[str], int], list[FoundIssue]]  # (repository, terms, limit)


def search_budget(per_minute: int = SEARCHES_PER_MINUTE) -> WriteBudget:
    """The searches' own budget: `per_minute`, no spacing between them."""
    return WriteBudget(min_interval=dt.timedelta(0), per_minute=per_minute,
                       per_hour=per_minute * 60)


def search_plan(terms: Sequence[str]) -> list[tuple[str, ...]]:
    """The searches to try in turn: all the terms, then one fewer at a time from the end (the
    least distinctive), at most MAX_SEARCHES."""
    return [tuple(terms[:n]) for n in range(len(terms), 0, -1)][:MAX_SEARCHES]


def collect(plan: Sequence[Sequence[str]], search: Callable[[Sequence[str]], list[FoundIssue]],
            limit: int) -> tuple[list[FoundIssue], int]:
    """(the first `limit` distinct issues the searches of `plan` find, in order; the number of
    searches made): the next search is made only while fewer than `limit` were found."""
    found: dict[int, FoundIssue] = {}
    made = 0
    for terms in plan:
        if len(found) >= limit:
            break
        made += 1
        for issue in search(terms):
            found.setdefault(issue.number, issue)
    return list(found.values())[:limit], made


def matches_markdown(repository: str, terms: Sequence[str], found: Sequence[FoundIssue]) -> str:
    """The matches as a Markdown paragraph and list, "" for none: for each its reference (a
    link to it), open or closed, and its title as plain text."""
    if not found:
        return ""
    searched = " ".join(code_span(term) for term in terms)
    lines = [f"**Possibly related issues in {escape_text(repository, at_line_start=False)}**,"
             f" found by GitHub's search for {searched}:", ""]
    for issue in found:
        state = issue.state if issue.state in ("open", "closed") else "unknown state"
        lines.append(f"- {_reference(repository, issue)} ({state}): {_title(issue.title)}")
    return "\n".join(lines)


def _reference(repository: str, issue: FoundIssue) -> str:
    """`owner/repo#N` linked to the issue; inside a link GitHub makes no reference of it."""
    text = f"{repository}#{issue.number}"
    if _URL.fullmatch(issue.url):
        return f"[{escape_text(text, at_line_start=False, in_link=True)}](<{issue.url}>)"
    return code_span(text)


def _title(title: str) -> str:
    text = " ".join(_CONTROL.sub(" ", strip_bidi(title, marks=True)).split())
    if len(text) > TITLE_MAX:
        text = text[:TITLE_MAX - 1].rstrip() + "…"
    return escape_text(text, at_line_start=False) if text else "(no title)"


class KnownIssueLookups:
    """Carries out `lookup_known_issues` rows for the GitHub writer, in its thread."""

    def __init__(self, outbox: Outbox, search: Callable[[], Search], budget: WriteBudget,
                 clock: Clock, backoff: Callable[[int], dt.timedelta]) -> None:
        self.outbox = outbox
        self._search = search  # the adapter's search_issues, made when first needed
        self.budget = budget
        self.clock = clock
        self._backoff = backoff

    def run(self, item: OutboxItem) -> None:
        """Look up one row's known issues, or reschedule it until the search budget allows."""
        payload = item.payload
        repository, limit = str(payload["repository"]), int(payload["limit"])
        terms = [str(term) for term in payload["terms"]]
        plan = search_plan(terms)
        now = self.clock.now()
        allowed = self.budget.next_allowed(now, len(plan))
        if allowed > now:
            self.outbox.reschedule(item, now, status="pending", at=allowed,
                                   error="waiting for the search budget")
            return
        bound = log.bind(row=item.key, thread=item.thread_id, kind=item.kind,
                         repository=repository)
        attempt = item.attempts + 1
        self.outbox.mark_sending(item, now)  # counts the attempt, a crash's too

        def search(these: Sequence[str]) -> list[FoundIssue]:
            self.budget.record(self.clock.now())
            return self._search()(repository, these, limit)

        try:
            found, made = collect(plan, search, limit)
            matches = matches_markdown(repository, terms, found)
        except sa.exc.SQLAlchemyError:
            raise
        except RateLimited as exc:
            until = self.clock.now() + dt.timedelta(seconds=exc.retry_after)
            self.budget.pause(until)  # the other lookups wait too; the writes do not
            if attempt < MAX_ATTEMPTS:
                self._retry(item, until, str(exc))
                bound.warning("known_issues.rate_limited", retry_after=exc.retry_after,
                              attempt=attempt)
                return
            self._nothing(item, bound, f"rate limited: {exc}", attempt, "known_issues.gave_up")
        except TransientError as exc:
            if attempt < MAX_ATTEMPTS:
                at = self.clock.now() + self._backoff(attempt)
                self._retry(item, at, str(exc))
                bound.warning("known_issues.retry", reason=str(exc), attempt=attempt,
                              retry_at=at.isoformat())
                return
            self._nothing(item, bound, str(exc), attempt, "known_issues.gave_up")
        except (GatewayError, ValueError) as exc:  # the repository gone, GitHub's 422
            self._nothing(item, bound, str(exc), attempt, "known_issues.failed")
        except Exception as exc:  # a bug: the notice still goes, without matches
            bound.exception("known_issues.failed", attempt=attempt)
            self._nothing(item, bound, f"internal error ({type(exc).__name__})", attempt, None)
        else:
            numbers = [issue.number for issue in found]
            self.outbox.done(item, self.clock.now(), {"matches": matches, "numbers": numbers,
                                                      "searches": made})
            bound.info("known_issues.looked_up", terms=len(terms), searches=made,
                       found=numbers)

    def _retry(self, item: OutboxItem, at: dt.datetime, error: str) -> None:
        self.outbox.reschedule(item, self.clock.now(), status="pending", error=error, at=at)

    def _nothing(self, item: OutboxItem, bound: structlog.BoundLogger, reason: str,
                 attempt: int, event: str | None) -> None:
        """Complete the lookup with no matches: whatever waits for it (the notice) goes."""
        self.outbox.done(item, self.clock.now(), {"matches": "", "numbers": [], "searches": 0,
                                                  "error": reason[:300]})
        if event is not None:
            bound.warning(event, reason=reason[:200], attempts=attempt)
