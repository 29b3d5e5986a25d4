"""`backoff_delay`: exponential, jittered 0.5-1.5x, and never above its cap (jitter included)."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from gateway.outbound.outbox import backoff_delay


@given(attempt=st.integers(1, 60), base=st.floats(0.01, 100), cap=st.floats(0.01, 5000),
       seed=st.integers(0, 2**32))
def test_delay_is_jittered_exponential_and_capped(attempt: int, base: float, cap: float,
                                                  seed: int) -> None:
    delay = backoff_delay(attempt, base, cap, random.Random(seed)).total_seconds()
    nominal = base * 2.0 ** min(attempt - 1, 16)
    us = 1e-6  # timedelta keeps microseconds
    assert min(0.5 * nominal, cap) - us <= delay <= min(1.5 * nominal, cap) + us


def test_the_cap_holds_where_jitter_would_exceed_it() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(20, 2.0, 600.0, rng) for _ in range(200)]
    assert max(delays) == dt.timedelta(seconds=600)
    assert backoff_delay(1, 2.0, 600.0, random.Random(7)) < dt.timedelta(seconds=3)
