"""Fault injection: failures a test schedules for chosen endpoints, decided reproducibly.

A rule names a fault kind, the requests it applies to (method and route template or concrete
path, either may be None for "any"), and when it fires: the next `times` matching requests, or
each one with `probability` (both together: at most `times` firings), after letting the
first `skip` matching requests through (to fail exactly the n-th call of a kind). Random
choices come from a `random.Random(seed)`, so a run with the same seed and request order fails
the same way. The pipeline (`pipeline.py`) carries faults out; this module only decides.

Kinds, from the client's point of view:
- ERROR_BEFORE_WRITE: 5xx, nothing applied.
- ERROR_AFTER_WRITE: the request is applied (and its webhooks sent), then 5xx.
- DROP_BEFORE_WRITE / DROP_AFTER_WRITE: the connection closes without a response.
- LATENCY: the response is delayed by `delay` seconds, or uniformly in [delay, delay_max].
- GRAPHQL_ERROR_BEFORE_WRITE / GRAPHQL_ERROR_AFTER_WRITE: HTTP 200 with `data: null` and
  GitHub's untyped "Something went wrong while executing your query" error.

`operation` narrows a rule to GraphQL requests (`POST /graphql`) whose operation name or a root
field equals it ("CreateDiscussion" or "createDiscussion"), so a test can fail exactly the n-th
CreateDiscussion with `skip`.
"""

from __future__ import annotations

import enum
import fnmatch
import random
import threading
from dataclasses import dataclass, field


class FaultKind(enum.StrEnum):
    ERROR_BEFORE_WRITE = "error_before_write"
    ERROR_AFTER_WRITE = "error_after_write"
    DROP_BEFORE_WRITE = "drop_before_write"
    DROP_AFTER_WRITE = "drop_after_write"
    LATENCY = "latency"
    GRAPHQL_ERROR_BEFORE_WRITE = "graphql_error_before_write"
    GRAPHQL_ERROR_AFTER_WRITE = "graphql_error_after_write"

    @property
    def after_write(self) -> bool:
        return self in (
            FaultKind.ERROR_AFTER_WRITE,
            FaultKind.DROP_AFTER_WRITE,
            FaultKind.GRAPHQL_ERROR_AFTER_WRITE,
        )

    @property
    def graphql_error(self) -> bool:
        return self in (FaultKind.GRAPHQL_ERROR_BEFORE_WRITE, FaultKind.GRAPHQL_ERROR_AFTER_WRITE)

    @property
    def drops(self) -> bool:
        return self in (FaultKind.DROP_BEFORE_WRITE, FaultKind.DROP_AFTER_WRITE)


@dataclass(slots=True)
class FaultRule:
    kind: FaultKind
    method: str | None = None
    path: str | None = None  # route template ("/repos/{owner}/{repo}/issues"), path or glob
    times: int | None = 1  # None: unlimited
    probability: float | None = None  # None: always (while `times` lasts)
    status: int = 502
    delay: float = 0.0
    delay_max: float | None = None
    skip: int = 0
    operation: str | None = None  # GraphQL operation name or root field
    fired: int = 0
    skipped: int = 0

    def matches(
        self,
        method: str,
        template: str | None,
        path: str,
        operations: frozenset[str] = frozenset(),
    ) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.operation is not None and self.operation not in operations:
            return False
        if self.path is None:
            return True
        return self.path in (template, path) or fnmatch.fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass(frozen=True, slots=True)
class FiredFault:
    """What a request met: its fault kind and, for latency, the delay chosen."""

    kind: FaultKind
    method: str
    path: str
    status: int = 502
    delay: float = 0.0


@dataclass(slots=True)
class FaultPlan:
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    fired: list[FiredFault] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self, *, reseed: int | None = None) -> None:
        with self._lock:
            self.rules.clear()
            if reseed is not None:
                self._rng.seed(reseed)

    def draw(
        self,
        method: str,
        template: str | None,
        path: str,
        operations: frozenset[str] = frozenset(),
    ) -> list[FiredFault]:
        """The faults this request meets: any latency first, then at most one failure.
        `operations`: a GraphQL request's operation name and root fields."""
        out: list[FiredFault] = []
        failing = False
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(method, template, path, operations):
                    continue
                if rule.skipped < rule.skip:
                    rule.skipped += 1
                    continue
                if failing and rule.kind is not FaultKind.LATENCY:
                    continue  # one failure per request
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                failing = failing or rule.kind is not FaultKind.LATENCY
                delay = rule.delay
                if rule.kind is FaultKind.LATENCY and rule.delay_max is not None:
                    delay = self._rng.uniform(rule.delay, rule.delay_max)
                out.append(FiredFault(rule.kind, method, path, rule.status, delay))
            out.sort(key=lambda f: f.kind is not FaultKind.LATENCY)
            self.fired.extend(out)
        return out
