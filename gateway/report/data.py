"""Read what `report.aggregate` aggregates from the state store, and pick the report's weeks.

`load_rows` returns plain rows (`ThreadRow`, `EffortRow`, `HandoffRow`); `report_weeks` turns a
date range into rotation weeks and `recent_weeks` picks the default ones for an instant. All
filtering by period happens in `report.build_report`: the store holds one team's traffic, a few
thousand threads at most.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa

from gateway.duty.businesstime import BusinessCalendar, wall_to_instant
from gateway.duty.schedule import Duty, Schedule
from gateway.report.aggregate import (
    AttachmentRow,
    EffortRow,
    HandoffRow,
    PromotionRow,
    ThreadRow,
)
from gateway.store.db import Store
from gateway.store.schema import effort, outbox, threads

HANDOFF_PREFIX = "assign:handoff:"
DEFAULT_WEEKS = 12


@dataclass(frozen=True, slots=True)
class ReportRows:
    threads: tuple[ThreadRow, ...]
    effort: tuple[EffortRow, ...]
    handoffs: tuple[HandoffRow, ...]
    promotions: tuple[PromotionRow, ...] = ()
    attachments: tuple[AttachmentRow, ...] = ()


def load_rows(store: Store, *, before: dt.datetime | None = None) -> ReportRows:
    """Threads that arrived before `before` (all if None), all effort, and the reassignments
    queued by weekly handoffs (outbox kind 'assign', key ``assign:handoff:<time>:<thread>``,
    not dropped)."""
    with store.read() as tx:
        query = sa.select(threads)
        if before is not None:
            query = query.where(threads.c.arrived_at < before)
        thread_rows = tuple(_thread(r) for r in tx.conn.execute(query).mappings())
        effort_rows = tuple(EffortRow(r.thread_id, r.login, r.day, r.minutes)
                            for r in tx.conn.execute(sa.select(effort)))
        handoff_rows = tuple(
            h for h in (_handoff(r) for r in tx.conn.execute(
                sa.select(outbox).where(outbox.c.kind == "assign",
                                        outbox.c.key.startswith(HANDOFF_PREFIX, autoescape=True),
                                        outbox.c.status != "dropped")).mappings())
            if h is not None)
        promotion_rows = tuple(
            PromotionRow(r.thread_id, r.updated_at, str(json.loads(r.result).get("url", "")))
            for r in tx.conn.execute(sa.select(outbox).where(
                outbox.c.kind == "promote", outbox.c.status == "done",
                outbox.c.thread_id.is_not(None), outbox.c.result.is_not(None))))
        attachment_rows = tuple(
            AttachmentRow(r.updated_at, _files(r.kind, r.result),
                          published=r.kind == "publish_attachment")
            for r in tx.conn.execute(sa.select(outbox.c.kind, outbox.c.result,
                                               outbox.c.updated_at).where(
                outbox.c.kind.in_(("store_attachments", "publish_attachment")),
                outbox.c.status == "done")))
    return ReportRows(thread_rows, effort_rows, handoff_rows, promotion_rows, attachment_rows)


def _files(kind: str, result: str | None) -> int:
    """Files a done attachment row wrote: a store row's count, one for a publish."""
    if kind == "publish_attachment":
        return 1
    try:
        files = json.loads(result or "{}").get("files", 0)
    except (ValueError, AttributeError):
        return 0
    return files if isinstance(files, int) else 0


def _thread(r: sa.RowMapping) -> ThreadRow:
    try:
        labels = json.loads(r["labels"] or "[]")
    except ValueError:
        labels = []
    return ThreadRow(
        thread_id=r["thread_id"], arrived_at=r["arrived_at"], issue_number=r["issue_number"],
        assignee=r["assignee"], first_response_at=r["first_response_at"],
        first_response_by=r["first_response_by"], resolved_at=r["resolved_at"],
        state=r["state"], labels=tuple(str(x) for x in labels if isinstance(x, str)),
        reopened_count=r["reopened_count"] or 0, closed_as=r["closed_as"])


def _handoff(r: sa.RowMapping) -> HandoffRow | None:
    """The handoff instant comes from the key (``assign:handoff:2026-03-09T16:00Z:<thread>``),
    else from when the row was queued."""
    rest = str(r["key"])[len(HANDOFF_PREFIX):]
    try:
        at = dt.datetime.strptime(rest[:17], "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt.UTC)
    except ValueError:
        at = r["created_at"]
    try:
        login = json.loads(r["payload"]).get("login")
    except (ValueError, AttributeError):
        login = None
    return HandoffRow(thread_id=r["thread_id"] or "", at=at,
                      login=login if isinstance(login, str) else None)


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The dates to fill in when only one of --since/--until is given: 11 weeks before `today`
    to `today`. With neither, the report uses `recent_weeks` instead."""
    return today - dt.timedelta(weeks=DEFAULT_WEEKS - 1), today


def recent_weeks(schedule: Schedule, now: dt.datetime, n: int = DEFAULT_WEEKS) -> list[Duty]:
    """The last `n` rotation weeks, the one under way at `now` included, whatever the day and
    hour (a Sunday evening counts the week that began on Monday, not just the 11 before it)."""
    start = schedule.week_start(now)
    for _ in range(n - 1):
        start = schedule.week_start(start - dt.timedelta(microseconds=1))
    return schedule.weeks(start, n)


def report_weeks(schedule: Schedule, calendar: BusinessCalendar, since: dt.date,
                 until: dt.date) -> list[Duty]:
    """The rotation weeks that overlap local days since..until (inclusive), counted from the
    first business opening on or after `since` (so a Monday `since` starts with the week whose
    handoff is that Monday 08:00, not the one that ends then); at least one week."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    start = wall_to_instant(since, dt.time(0), calendar.tz)
    end = wall_to_instant(until + dt.timedelta(days=1), dt.time(0), calendar.tz)
    first = schedule.week_start(min(calendar.next_opening(start), end - dt.timedelta(seconds=1)))
    n = 0
    t = first
    while t < end:
        n += 1
        t = schedule.next_handoff(t)
    return schedule.weeks(first, max(1, n))
