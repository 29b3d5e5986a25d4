"""The stale rule over a table of threads: timing in calendar days (across a DST switch), the
warning before the close, a word from the customer before or after, the keep label, a late
warning still giving its full notice, and the reopening after a stale close."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gateway.weekly.jobs import OpenIssue
from gateway.weekly.stale import (
    StaleClose,
    StaleReopen,
    StaleSettings,
    StaleWarning,
    due_stale,
)

LA = ZoneInfo("America/Los_Angeles")
RULE = StaleSettings(days=21, warning_days=3, keep_label="stale:keep", wontfix_label="wontfix")


def la(month: int, day: int, hour: int = 16) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=LA)


TEAM = la(2, 20)  # Friday 2026-02-20 16:00 PST; 21 calendar days later is 2026-03-13 16:00 PDT
CYCLE = "th-1:2026-02-21T00:00:00Z"


def thread(**fields: object) -> OpenIssue:
    base: dict[str, object] = dict(thread_id="th-1", issue_number=7, title="Crash",
                                   url="https://github.com/o/r/issues/7", arrived_at=la(2, 19),
                                   last_team_at=TEAM, last_customer_at=la(2, 19))
    return OpenIssue(**{**base, **fields})  # type: ignore[arg-type]


def kinds(now: dt.datetime, issue: OpenIssue, done: dict[str, dt.datetime] | None = None,
          rule: StaleSettings = RULE) -> list[tuple[str, str]]:
    return [(type(a).__name__, a.key) for a in due_stale(now, [issue], done or {}, rule, LA)]


@pytest.mark.parametrize(("now", "expected"), [
    (la(3, 10, 15), []),  # 18 days: too early for the warning
    (la(3, 10, 16), [("StaleWarning", f"stale-warn:{CYCLE}")]),  # 21 - 3 days, wall time
    (la(3, 13, 16), [("StaleWarning", f"stale-warn:{CYCLE}")]),  # never warned: warn first
])
def test_the_warning_comes_three_calendar_days_before(now: dt.datetime,
                                                      expected: list[tuple[str, str]]) -> None:
    assert kinds(now, thread()) == expected


def test_the_close_comes_after_21_calendar_days_across_the_dst_switch() -> None:
    done = {f"stale-warn:{CYCLE}": la(3, 10, 16).astimezone(dt.UTC)}
    assert kinds(la(3, 13, 15), thread(), done) == []  # 16:00 PDT, not 16:00 PST + 21*24 h
    assert kinds(la(3, 13, 16), thread(), done) == [("StaleClose", f"stale-close:{CYCLE}")]
    done[f"stale-close:{CYCLE}"] = la(3, 13, 16)
    assert kinds(la(3, 20), thread(), done) == []  # done once


def test_a_late_warning_still_gives_the_customer_its_three_days() -> None:
    warned = la(3, 20)  # the daemon was down: the warning went out a week late
    [warning] = due_stale(warned, [thread()], {}, RULE, LA)
    assert isinstance(warning, StaleWarning) and warning.close_on == la(3, 23)
    done = {warning.key: warned}
    assert kinds(la(3, 23, 15), thread(), done) == []
    assert kinds(la(3, 23, 16), thread(), done) == [("StaleClose", f"stale-close:{CYCLE}")]


@pytest.mark.parametrize("issue", [
    thread(last_customer_at=la(3, 11)),  # the customer wrote after the warning: cancelled
    thread(last_customer_at=TEAM),  # at the same instant: the team's word is not the last
    thread(last_team_at=None),  # the team never answered: no stale rule (reminders instead)
    thread(labels=("Stale:Keep",)),  # exempt, any case
    thread(state="closed", resolved_at=la(3, 1)),  # resolved otherwise
])
def test_nothing_is_due(issue: OpenIssue) -> None:
    done = {f"stale-warn:{CYCLE}": la(3, 10, 16)}
    assert kinds(la(4, 30), issue, done) == []


def test_a_new_team_reply_starts_a_new_cycle() -> None:
    later = la(3, 12)
    issue = thread(last_team_at=later)
    done = {f"stale-warn:{CYCLE}": la(3, 10, 16)}  # the old cycle's warning
    assert kinds(la(3, 13, 16), issue, done) == []
    assert [k for k, _ in kinds(la(3, 30, 16), issue, done)] == ["StaleWarning"]


def test_the_customer_writing_after_a_stale_close_reopens_it() -> None:
    closed = thread(state="closed", resolved_at=la(3, 13, 16), closed_as="stale",
                    last_customer_at=la(3, 16, 9))
    [reopen] = due_stale(la(3, 16, 9, ), [closed], {}, RULE, LA)
    assert isinstance(reopen, StaleReopen)
    assert reopen.key == "stale-reopen:th-1:2026-03-16T16:00:00Z"
    assert due_stale(la(3, 17), [closed], {reopen.key: la(3, 16, 9)}, RULE, LA) == []
    # Closed by a person, not by the rule: the customer's word does not reopen it.
    assert due_stale(la(3, 17), [thread(state="closed", resolved_at=la(3, 13),
                                        last_customer_at=la(3, 16))], {}, RULE, LA) == []


def test_off_when_days_is_zero() -> None:
    off = StaleSettings(days=0, warning_days=3, keep_label="k", wontfix_label="w")
    assert kinds(la(6, 1), thread(), rule=off) == []


def test_close_is_a_stale_close_value() -> None:
    done = {f"stale-warn:{CYCLE}": la(3, 10, 16)}
    [close] = due_stale(la(3, 14), [thread()], done, RULE, LA)
    assert isinstance(close, StaleClose) and close.issue.thread_id == "th-1"
