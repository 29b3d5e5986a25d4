"""GitHub's rate limits: primary (requests per window per identity) and secondary (content).

Primary: 5,000 requests an hour per user or installation for `core`, 30 a minute for `search`;
when used up GitHub answers 403 (or 429) with `x-ratelimit-remaining: 0` and "API rate limit
exceeded for ...". Secondary: at most 80 content-generating requests a minute and 500 an hour;
over that, 403 (or 429) with `retry-after` and "You have exceeded a secondary rate limit"
(https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api). Secondary limits
are off by default so benchmarks run at full speed; `min_interval` adds an optional minimum
spacing between content requests. Pure bookkeeping over a time function; thread-safe.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)


@dataclass(frozen=True, slots=True)
class Limits:
    core: int = 5000
    core_window: float = 3600.0
    search: int = 30
    search_window: float = 60.0
    primary_status: int = 403
    secondary: bool = False
    content_per_minute: int = 80
    content_per_hour: int = 500
    min_interval: float = 0.0
    secondary_status: int = 403
    retry_after: int | None = None  # None: seconds until the window frees a slot
    # GraphQL: its own primary bucket in points (x-ratelimit-resource: graphql); when spent,
    # GitHub has been seen answering both 200 + errors[type=RATE_LIMITED] and 403.
    graphql: int = 5000
    graphql_window: float = 3600.0
    graphql_primary_style: str = "200"  # "200" | "403"
    graphql_secondary_points: int = 2000  # per minute: 5 per mutation, 1 per query


@dataclass(frozen=True, slots=True)
class Quota:
    resource: str
    limit: int
    used: int
    reset: int  # epoch seconds

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": self.resource,
        }


@dataclass(slots=True)
class _Bucket:
    used: int = 0
    reset_at: float = 0.0


class RateLimiter:
    def __init__(self, limits: Limits, now: Callable[[], float]) -> None:
        self.limits = limits
        self._now = now
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._content: dict[str, collections.deque[float]] = {}
        self._graphql_points: dict[str, collections.deque[tuple[float, int]]] = {}
        self.primary_errors = 0
        self.secondary_errors = 0

    @property
    def errors_served(self) -> int:
        return self.primary_errors + self.secondary_errors

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._content.clear()
            self._graphql_points.clear()
            self.primary_errors = self.secondary_errors = 0

    def _window(self, resource: str) -> tuple[int, float]:
        if resource == "search":
            return self.limits.search, self.limits.search_window
        if resource == "graphql":
            return self.limits.graphql, self.limits.graphql_window
        return self.limits.core, self.limits.core_window

    def _bucket(self, identity: str, resource: str, now: float) -> _Bucket:
        bucket = self._buckets.setdefault((identity, resource), _Bucket())
        if now >= bucket.reset_at:
            bucket.used, bucket.reset_at = 0, now + self._window(resource)[1]
        return bucket

    def peek(self, identity: str, resource: str) -> Quota:
        with self._lock:
            now = self._now()
            bucket = self._bucket(identity, resource, now)
            return Quota(
                resource, self._window(resource)[0], bucket.used, math.ceil(bucket.reset_at)
            )

    def take(self, identity: str, resource: str, points: int = 1) -> tuple[Quota, bool]:
        """Count one request (`points` of it for GraphQL); the quota after it and whether it
        was over the limit (then nothing is charged)."""
        with self._lock:
            now = self._now()
            bucket = self._bucket(identity, resource, now)
            limit = self._window(resource)[0]
            over = bucket.used + points > limit
            if over:
                self.primary_errors += 1
            else:
                bucket.used += points
            return Quota(resource, limit, bucket.used, math.ceil(bucket.reset_at)), over

    def refund(self, identity: str, resource: str) -> None:
        """Conditional requests answered 304 do not count (GitHub's documented behaviour)."""
        with self._lock:
            bucket = self._buckets.get((identity, resource))
            if bucket is not None and bucket.used > 0:
                bucket.used -= 1

    def take_graphql_secondary(self, identity: str, points: int, *, content: bool) -> int | None:
        """GraphQL's secondary limits: points per minute, and content-creating mutations
        against the same per-minute/hour counts as REST. Seconds to wait, or None."""
        if not self.limits.secondary:
            return None
        with self._lock:
            now = self._now()
            spent = self._graphql_points.setdefault(identity, collections.deque())
            while spent and spent[0][0] <= now - 60.0:
                spent.popleft()
            if sum(p for _, p in spent) + points > self.limits.graphql_secondary_points:
                self.secondary_errors += 1
                if self.limits.retry_after is not None:
                    return self.limits.retry_after
                return max(math.ceil(spent[0][0] + 60.0 - now), 1) if spent else 60
        if content:
            wait = self.take_content(identity)
            if wait is not None:
                return wait
        with self._lock:
            self._graphql_points.setdefault(identity, collections.deque()).append((now, points))
        return None

    def take_content(self, identity: str) -> int | None:
        """Count a content-generating request; seconds to wait when it is over a limit."""
        limits = self.limits
        if not limits.secondary:
            return None
        with self._lock:
            now = self._now()
            times = self._content.setdefault(identity, collections.deque())
            while times and times[0] <= now - 3600.0:
                times.popleft()
            waits = []
            last_minute = [t for t in times if t > now - 60.0]
            if len(last_minute) >= limits.content_per_minute:
                waits.append(last_minute[-limits.content_per_minute] + 60.0 - now)
            if len(times) >= limits.content_per_hour:
                waits.append(times[-limits.content_per_hour] + 3600.0 - now)
            if times and limits.min_interval > 0 and now - times[-1] < limits.min_interval:
                waits.append(times[-1] + limits.min_interval - now)
            if waits:
                self.secondary_errors += 1
                if limits.retry_after is not None:
                    return limits.retry_after
                return max(math.ceil(max(waits)), 1)
            times.append(now)
            return None
