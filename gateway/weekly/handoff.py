"""The weekly handoff: when it is due, and what it does to the open issues.

Holds the handoff that is due (`Handoff`, `due_handoff`, keyed ``handoff:<instant>``) and its
plan (`plan_handoff` -> `HandoffPlan`: reassignments, a comment and a customer notice per
reassigned issue, the summary mail to the incoming pair). It changes when the handoff rules do
(who takes which issue at the turn of the week, what the team and customers are told). Pure, as
every planner (see `gateway.weekly.jobs`): it must not write outbox rows, render templates, send
mail or call GitHub; the shell (`gateway.weekly.notify`) does that with the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Duty, Person, Schedule
from gateway.tracking.rules import GOAL
from gateway.weekly.jobs import Context, JobKeys, OpenIssue, issue_context, unique_people

Disposition = Literal["reassigned", "kept-label", "kept-assignee", "already-incoming",
                      "same-primary", "no-primary"]

# Template names, as the renderer knows them (.md: an issue comment; .txt: a mail).
HANDOFF_COMMENT = "handoff.md"  # on each reassigned issue
HANDOFF_CUSTOMER = "handoff_customer.txt"  # to the customers of each reassigned issue
HANDOFF_TEAM = "handoff_team.txt"  # to the incoming Primary and Backup

MAX_HANDOFF_AGE = dt.timedelta(days=6)
_JUST_BEFORE = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Handoff:
    """A weekly handoff that is due. `outgoing` is the duty just before `at`, `incoming` the
    duty at `at`; `outgoing_primaries` is everyone who was Primary at some time in the week
    that ends at `at`, in order (a swap at the end of the week makes more than one)."""

    key: str
    at: dt.datetime
    outgoing: Duty
    incoming: Duty
    outgoing_primaries: tuple[Person, ...]


class Reassignment(NamedTuple):
    issue: OpenIssue
    login: str  # the incoming Primary's GitHub login


class IssueComment(NamedTuple):
    issue: OpenIssue
    template: str
    context: Context


class CustomerNotice(NamedTuple):
    """Template `HANDOFF_CUSTOMER`, to issue.customers, threaded on issue.root_message_id."""

    issue: OpenIssue
    context: Context


@dataclass(frozen=True, slots=True)
class TeamSummary:
    to: tuple[Person, ...]  # the incoming Primary and Backup
    cc: tuple[Person, ...]  # the outgoing Primary (all of them), unless already in `to`
    context: Context


@dataclass(frozen=True, slots=True)
class HandoffPlan:
    handoff: Handoff
    reassign: tuple[Reassignment, ...]
    comments: tuple[IssueComment, ...]
    customer_notices: tuple[CustomerNotice, ...]
    team_summary: TeamSummary | None


def handoff_key(at: dt.datetime) -> str:
    return f"handoff:{at.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def due_handoff(now: dt.datetime, schedule: Schedule, done: JobKeys, *,
                max_age: dt.timedelta = MAX_HANDOFF_AGE) -> Handoff | None:
    """The latest handoff at or before `now`, unless it is done or older than `max_age`.

    Only the latest is ever due: a daemon that was down across two handoffs runs the second
    once when it returns, and the first never (its week is over; the second hands everything
    on to the current Primary anyway). Older than `max_age` (a fresh install, or a daemon down
    most of a week) it is skipped too, so nobody is handed last week's issues days late.
    """
    if max_age < dt.timedelta(0):
        raise ValueError(f"max_age must not be negative, got {max_age}")
    at = schedule.week_start(now)
    key = handoff_key(at)
    if key in done or now - at > max_age:
        return None
    before = at - _JUST_BEFORE
    primaries = unique_people(d.primary for d in schedule.week_duties(before))
    return Handoff(key, at, schedule.duty_at(before), schedule.duty_at(at), primaries)


def plan_handoff(handoff: Handoff, issues: Sequence[OpenIssue], *, keep_label: str,
                 calendar: BusinessCalendar, now: dt.datetime,
                 goal: dt.timedelta = GOAL) -> HandoffPlan:
    """What the handoff does to the open issues (closed ones are ignored).

    An open issue goes to the incoming Primary when it is unassigned or held by an outgoing
    Primary, and does not carry `keep_label` (any case). Issues held by anyone else (the
    Backup after a delegation, a developer who was enlisted) stay. Nothing is reassigned when
    nobody is incoming Primary, or when the incoming Primary was the only Primary of the
    ending week (two weeks running); the team summary still goes out. Each reassigned issue
    gets a `HANDOFF_COMMENT` and, if it has customers, a `HANDOFF_CUSTOMER` notice, both with
    this context: ``handoff_at``; ``issue``; ``incoming`` (the new Primary); ``backup`` (the
    incoming Backup); ``outgoing`` (the Primary who held it, or for an unassigned issue the
    outgoing Primary); ``previous_assignee`` (login or None); ``arrived``; ``deadline``
    (arrival plus `goal` in business time); ``goal``; ``first_response_at`` and
    ``first_response_by`` (None while unanswered); ``business_age`` (business time since
    arrival at `now`). The shell adds ``customer_name`` and ``subject`` for the notice.

    The `HANDOFF_TEAM` summary goes to the incoming Primary and Backup, cc the outgoing
    Primary; None when nobody is incoming. Its context: ``handoff_at``; ``incoming``,
    ``backup`` (the incoming pair); ``outgoing``, ``outgoing_backup`` (the pair just before);
    ``outgoing_primaries``; ``same_primary`` (bool); ``issues``, every open issue oldest
    first, each a dict with ``issue``, ``thread_id``, ``arrived``, ``age`` (wall time since
    arrival), ``business_age``, ``deadline``, ``first_response_at``, ``first_response_by``,
    ``responded`` (bool), ``assignee``, ``labels``, ``disposition`` (reassigned, kept-label,
    kept-assignee, already-incoming, same-primary or no-primary) and ``reassigned_to`` (login
    or None); ``reassigned``, ``kept`` and ``unanswered`` (counts).
    """
    incoming = handoff.incoming.primary
    previous = {p.github.casefold(): p for p in handoff.outgoing_primaries}
    running = incoming is not None and set(previous) == {incoming.github.casefold()}

    def disposition(issue: OpenIssue) -> Disposition:
        if incoming is None:
            return "no-primary"
        if issue.has_label(keep_label):
            return "kept-label"
        if running:
            return "same-primary"
        holder = None if issue.assignee is None else issue.assignee.casefold()
        if holder == incoming.github.casefold():
            return "already-incoming"
        return "reassigned" if holder is None or holder in previous else "kept-assignee"

    open_issues = sorted((i for i in issues if i.state == "open"),
                         key=lambda i: (i.arrived_at, i.thread_id))
    reassign: list[Reassignment] = []
    comments: list[IssueComment] = []
    notices: list[CustomerNotice] = []
    listed: list[Context] = []
    for issue in open_issues:
        fate = disposition(issue)
        details = issue_context(issue, calendar, goal, now)
        if fate == "reassigned" and incoming is not None:
            reassign.append(Reassignment(issue, incoming.github))
            held_by = None if issue.assignee is None else previous.get(issue.assignee.casefold())
            context = {**details, "handoff_at": handoff.at, "incoming": incoming,
                       "backup": handoff.incoming.backup,
                       "outgoing": held_by or handoff.outgoing.primary,
                       "previous_assignee": issue.assignee}
            comments.append(IssueComment(issue, HANDOFF_COMMENT, context))
            if issue.customers:
                notices.append(CustomerNotice(issue, dict(context)))
        listed.append({**details, "age": now - issue.arrived_at, "disposition": fate,
                       "reassigned_to": incoming.github if fate == "reassigned" and incoming
                       else None})
    return HandoffPlan(handoff, tuple(reassign), tuple(comments), tuple(notices),
                       _team_summary(handoff, tuple(listed), running, len(reassign)))


def _team_summary(handoff: Handoff, listed: tuple[Context, ...], running: bool,
                  reassigned: int) -> TeamSummary | None:
    to = unique_people((handoff.incoming.primary, handoff.incoming.backup))
    if not to:
        return None
    addressed = {p.github.casefold() for p in to}
    cc = tuple(p for p in unique_people((*handoff.outgoing_primaries, handoff.outgoing.primary))
               if p.github.casefold() not in addressed)
    context = {
        "handoff_at": handoff.at,
        "incoming": handoff.incoming.primary,
        "backup": handoff.incoming.backup,
        "outgoing": handoff.outgoing.primary,
        "outgoing_backup": handoff.outgoing.backup,
        "outgoing_primaries": handoff.outgoing_primaries,
        "same_primary": running,
        "issues": listed,
        "reassigned": reassigned,
        "kept": len(listed) - reassigned,
        "unanswered": sum(1 for x in listed if not x["responded"]),
    }
    return TeamSummary(to, cc, context)
