"""The stale rule: an inquiry whose customer has not written for `days` calendar days after the
team's last reply is resolved as won't fix, with a warning `warning_days` before.

`due_stale` is the pure planner the notifier asks every tick. A thread's stale cycle is named
by the time of the team's last reply, so a new reply starts a new cycle, and the customer's
writing (by mail or on GitHub) after it ends the cycle: before the warning nothing happens,
after the warning the close is off, after the close the thread is reopened. Calendar days are
counted in the business time zone (21 days after 16:00 is 16:00, across a DST switch too). A
close waits at least `warning_days` after its warning was queued, however late the warning
went out (a daemon down for a week does not close without notice). A thread labelled
`keep_label` is left alone. Pure: values in, values out; the notifier writes the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.weekly.jobs import OpenIssue


@dataclass(frozen=True, slots=True)
class StaleSettings:
    days: int  # 0: the rule is off
    warning_days: int
    keep_label: str
    wontfix_label: str


@dataclass(frozen=True, slots=True)
class StaleWarning:
    key: str
    issue: OpenIssue
    close_on: dt.datetime  # the earliest the close can come


@dataclass(frozen=True, slots=True)
class StaleClose:
    key: str
    issue: OpenIssue


@dataclass(frozen=True, slots=True)
class StaleReopen:
    key: str
    issue: OpenIssue


StaleAction = StaleWarning | StaleClose | StaleReopen


def due_stale(now: dt.datetime, issues: Sequence[OpenIssue], done: Mapping[str, dt.datetime],
              settings: StaleSettings, tz: dt.tzinfo) -> list[StaleAction]:
    """What the stale rule asks for now; `done` maps the keys of jobs done to when."""
    if settings.days <= 0:
        return []
    actions: list[StaleAction] = []
    for issue in sorted(issues, key=lambda i: (i.arrived_at, i.thread_id)):
        customer, team = issue.last_customer_at, issue.last_team_at
        if issue.state == "closed":
            resolved = issue.resolved_at
            if (issue.closed_as == "stale" and customer is not None and resolved is not None
                    and customer > resolved):
                key = f"stale-reopen:{issue.thread_id}:{_stamp(customer)}"
                if key not in done:
                    actions.append(StaleReopen(key, issue))
            continue
        if (team is None or (customer is not None and customer >= team)
                or issue.has_label(settings.keep_label)):
            continue
        close_at = _days_after(team, settings.days, tz)
        warn_at = _days_after(close_at, -settings.warning_days, tz)
        cycle = f"{issue.thread_id}:{_stamp(team)}"
        warned = done.get(f"stale-warn:{cycle}")
        if warned is None:
            if now >= warn_at:
                close_on = max(close_at, _days_after(now, settings.warning_days, tz))
                actions.append(StaleWarning(f"stale-warn:{cycle}", issue, close_on))
            continue
        key = f"stale-close:{cycle}"
        if key not in done and now >= max(close_at,
                                          _days_after(warned, settings.warning_days, tz)):
            actions.append(StaleClose(key, issue))
    return actions


def _days_after(t: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    """`days` calendar days after `t` (negative: before), at the same wall time in `tz`."""
    return (t.astimezone(tz) + dt.timedelta(days=days)).astimezone(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
