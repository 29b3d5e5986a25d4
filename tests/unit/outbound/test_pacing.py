"""The write budget keeps writes a second apart and within 80/minute and 500/hour."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.outbound.pacing import WriteBudget

T0 = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def budget() -> WriteBudget:
    return WriteBudget(min_interval=S, per_minute=80, per_hour=500)


def test_min_interval_and_pause() -> None:
    b = budget()
    assert b.next_allowed(T0) == T0
    b.record(T0)
    assert b.next_allowed(T0) == T0 + S
    b.pause(T0 + 90 * S)
    assert b.next_allowed(T0 + 2 * S) == T0 + 90 * S
    assert b.next_allowed(T0 + 100 * S) == T0 + 100 * S


def test_greedy_writer_never_exceeds_any_limit() -> None:
    b = WriteBudget(min_interval=dt.timedelta(0), per_minute=80, per_hour=500)
    now = T0
    sent: list[dt.datetime] = []
    for _ in range(1200):
        now = b.next_allowed(now)
        b.record(now)
        sent.append(now)
    for i, when in enumerate(sent):
        assert sum(1 for w in sent[i:] if w < when + dt.timedelta(minutes=1)) <= 80
        assert sum(1 for w in sent[i:] if w < when + dt.timedelta(hours=1)) <= 500
    # ...and uses what the limits allow: 500 in the first hour.
    assert sum(1 for w in sent if w < T0 + dt.timedelta(hours=1)) == 500


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=7200), min_size=1, max_size=300))
def test_seeded_history_is_respected(offsets: list[float]) -> None:
    b = budget()
    past = sorted(T0 + dt.timedelta(seconds=o) for o in offsets)
    b.seed(past)
    now = past[-1]
    allowed = b.next_allowed(now)
    window = [w for w in past if w > allowed - dt.timedelta(hours=1)]
    assert len(window) < 500 or allowed > now
    assert allowed >= past[-1] + S


def test_room_for_several_at_once() -> None:
    """A known-issue lookup makes up to three searches back to back: it starts only when the
    minute has room for all of them."""
    b = WriteBudget(min_interval=dt.timedelta(0), per_minute=20, per_hour=1200)
    for n in range(18):
        b.record(T0 + n * S)
    now = T0 + 20 * S
    assert b.next_allowed(now) == now and b.next_allowed(now, 2) == now
    assert b.next_allowed(now, 3) == T0 + dt.timedelta(minutes=1)  # the first ages out
    b.record(now)
    b.record(now)
    assert b.next_allowed(now, 1) == T0 + dt.timedelta(minutes=1)
    assert b.next_allowed(now, 3) == T0 + 2 * S + dt.timedelta(minutes=1)
    assert b.next_allowed(now, 100) == b.next_allowed(now, 20)  # at most the whole minute


@given(st.integers(1, 5), st.integers(0, 300))
@settings(max_examples=60, deadline=None)
def test_greedy_batches_never_exceed_the_minute(count: int, seed: int) -> None:
    b = WriteBudget(min_interval=dt.timedelta(0), per_minute=20, per_hour=1200)
    now = T0 + seed * S
    sent: list[dt.datetime] = []
    for _ in range(60):
        now = b.next_allowed(now, count)
        for _ in range(count):
            b.record(now)
            sent.append(now)
    for i, when in enumerate(sent):
        assert sum(1 for w in sent[i:] if w < when + dt.timedelta(minutes=1)) <= 20


def _by_scanning(writes: list[dt.datetime], now: dt.datetime, count: int, per_minute: int,
                 per_hour: int) -> dt.datetime:
    """The answer as the definition reads, every write looked at: the oracle for the
    bisection `next_allowed` uses."""
    recent = [w for w in writes if w > now - dt.timedelta(hours=1)]
    candidates = [now]
    if recent:
        candidates.append(recent[-1] + S)
        count = max(1, min(count, per_minute, per_hour))
        in_minute = [w for w in recent if w > now - dt.timedelta(minutes=1)]
        if len(in_minute) > per_minute - count:
            candidates.append(in_minute[len(in_minute) - per_minute + count - 1]
                              + dt.timedelta(minutes=1))
        if len(recent) > per_hour - count:
            candidates.append(recent[len(recent) - per_hour + count - 1] + dt.timedelta(hours=1))
    return max(candidates)


@settings(max_examples=300, deadline=None)
@given(gaps=st.lists(st.integers(min_value=0, max_value=400), max_size=60),
       ask=st.integers(min_value=0, max_value=5_000), count=st.integers(min_value=1, max_value=8),
       per_minute=st.integers(min_value=1, max_value=12),
       per_hour=st.integers(min_value=1, max_value=40))
def test_the_answer_is_the_one_every_write_looked_at_gives(
        gaps: list[int], ask: int, count: int, per_minute: int, per_hour: int) -> None:
    b = WriteBudget(min_interval=S, per_minute=per_minute, per_hour=per_hour)
    writes, at = [], T0
    for gap in gaps:  # seconds, so a minute holds several writes and an hour most of them
        at += gap * S
        writes.append(at)
        b.record(at)
    now = at + ask * S
    assert b.next_allowed(now, count) == _by_scanning(writes, now, count, per_minute, per_hour)


def test_a_write_recorded_before_the_last_counts_as_the_last() -> None:
    """A clock stepped back: the writes stay in order, and the next waits as after the last."""
    b = budget()
    b.record(T0 + 10 * S)
    b.record(T0)
    assert b.next_allowed(T0) == T0 + 11 * S
