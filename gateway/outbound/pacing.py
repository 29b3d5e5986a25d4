"""The write budget: GitHub's content-creation limits as a pure calculator.

GitHub documents at most 80 content-creating requests a minute and 500 an hour, and asks for
writes at least a second apart (docs: "Best practices for using the REST API"). `WriteBudget`
remembers when recent writes happened and answers when the next one may go; a rate-limit
answer from GitHub pauses everything until its `retry-after`. No clock, no sleeping: callers
pass `now` and wait themselves.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@dataclass(slots=True)
class WriteBudget:
    min_interval: dt.timedelta
    per_minute: int
    per_hour: int
    _writes: deque[dt.datetime] = field(default_factory=deque)
    paused_until: dt.datetime | None = None

    def seed(self, past_writes: Iterable[dt.datetime]) -> None:
        """Start from the writes made in the last hour (e.g. before a restart)."""
        for when in sorted(past_writes):
            self._writes.append(when)

    def record(self, when: dt.datetime) -> None:
        """A write made at `when`; in time order (a clock stepped back counts it as now)."""
        if self._writes and when < self._writes[-1]:
            when = self._writes[-1]
        self._writes.append(when)

    def pause(self, until: dt.datetime) -> None:
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until

    def next_allowed(self, now: dt.datetime, count: int = 1) -> dt.datetime:
        """The earliest instant >= now at which `count` more writes (made at once: a lookup's
        searches) stay within every limit; `count` is at most the smaller limit."""
        while self._writes and self._writes[0] <= now - HOUR:
            self._writes.popleft()
        candidates = [now]
        if self.paused_until is not None:
            candidates.append(self.paused_until)
        if self._writes:
            candidates.append(self._writes[-1] + self.min_interval)
            count = max(1, min(count, self.per_minute, self.per_hour))
            # The writes are in time order: those of the last minute are a tail, found by
            # bisection (a scan made this O(writes in the hour) per write).
            first = bisect.bisect_right(self._writes, now - MINUTE)
            in_minute = len(self._writes) - first
            if in_minute > self.per_minute - count:  # the oldest must age out first
                candidates.append(self._writes[first + in_minute - self.per_minute + count - 1]
                                  + MINUTE)
            if len(self._writes) > self.per_hour - count:
                candidates.append(self._writes[len(self._writes) - self.per_hour + count - 1]
                                  + HOUR)
        return max(candidates)
