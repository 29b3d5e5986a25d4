"""What every job planner shares: the issue view it reads, the keys of jobs done, the context.

Holds the issue view the planners read (`OpenIssue`), the set of done job keys (`JobKeys`), the
shape of a template context (`Context`) and what every context says about an issue
(`issue_context`), with the small helpers the planners share (`login_of`, `unique_people`). The
planners are one module per job: the weekly handoff (`handoff`), reminders and escalations
(`nudges`) and post-mortem prompts (`postmortems`); a new kind of job is a new module beside
them. Each plan carries a stable `key`: the shell passes the keys of the jobs already done and
records a job's key in the same transaction as the outbox rows that carry it out, so every job
happens once across restarts. Pure: no I/O, no clock, no logging, no config; `now`, the calendar
and the schedule are arguments. It must not plan any job itself, write outbox rows, render
templates, send mail or call GitHub, and no job acknowledges new inquiries: all of that is the
shell's (`gateway.weekly.notify`). Roles, handoffs, escalation and post-mortems follow
customer-response-process.rst ("Roles", "Handoffs", "Escalation", "The Basic Process").

Contexts are plain dicts, passed as the keyword arguments of `Renderer.render`; each holds at
least the names `gateway.outbound.render.TEMPLATE_VARIABLES` lists for its template, and more
(extras are ignored by the built-in templates). People are `schedule.Person` or None, instants
aware UTC datetimes, durations timedeltas. ``issue`` is always ``{"number", "title", "url"}``
(the shape of the renderer's `IssueRef`). The shell adds what the planner cannot know: the
customer notice's ``customer_name`` and ``subject``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Person
from gateway.tracking.events import ISSUE_STATES, IssueState

JobKeys = AbstractSet[str]  # keys of the jobs already done, as the shell stored them
Context = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class OpenIssue:
    """A thread's GitHub issue as the planner sees it; the shell fills it from the `threads`
    and `thread_customers` rows of threads whose issue exists. Despite the name it may be
    closed (post-mortems look at closed ones). `customers` are email addresses; `assignee`
    is a GitHub login; `root_message_id` is the customer's first message, for threading mail."""

    thread_id: str
    issue_number: int
    title: str
    url: str
    arrived_at: dt.datetime
    assignee: str | None = None
    first_response_at: dt.datetime | None = None
    first_response_by: str | None = None
    labels: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    root_message_id: str | None = None
    state: IssueState = "open"
    resolved_at: dt.datetime | None = None
    target: str = "issues"  # "discussions": a discussion (no assignee; comments the same)
    # The stale rule's clocks (weekly.stale): the team's and the customer's latest words,
    # the team's latest top-level comment, and how the gateway closed the thread.
    last_team_at: dt.datetime | None = None
    last_team_comment: int | None = None
    last_customer_at: dt.datetime | None = None
    closed_as: str | None = None

    def __post_init__(self) -> None:
        for what in ("arrived_at", "first_response_at", "resolved_at"):
            t = getattr(self, what)
            if t is not None and (t.tzinfo is None or t.utcoffset() is None):
                raise ValueError(f"OpenIssue.{what} must be an aware datetime, got {t!r}")
        if self.state not in ISSUE_STATES:
            raise ValueError(f"OpenIssue.state must be open or closed, got {self.state!r}")

    def has_label(self, label: str) -> bool:
        """GitHub label names are unique regardless of case, so compare them that way."""
        wanted = label.casefold()
        return any(x.casefold() == wanted for x in self.labels)


def issue_context(issue: OpenIssue, calendar: BusinessCalendar, goal: dt.timedelta,
                  now: dt.datetime | None) -> dict[str, object]:
    """What every context says about the issue; ``business_age`` only when there is a `now`."""
    context: dict[str, object] = {
        "issue": {"number": issue.issue_number, "title": issue.title, "url": issue.url,
                  "kind": "discussion" if issue.target == "discussions" else "issue"},
        "thread_id": issue.thread_id,
        "assignee": issue.assignee,
        "labels": issue.labels,
        "arrived": _utc(issue.arrived_at),
        "first_response_at": _utc(issue.first_response_at),
        "first_response_by": issue.first_response_by,
        "responded": issue.first_response_at is not None,
        "deadline": calendar.add_business(issue.arrived_at, goal),
        "goal": goal,
    }
    if now is not None:
        context["business_age"] = calendar.business_duration(issue.arrived_at, now)
    return context


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.astimezone(dt.UTC)


def login_of(person: Person | None) -> str | None:
    """The person's GitHub login; None for nobody."""
    return None if person is None else person.github


def unique_people(people: Iterable[Person | None]) -> tuple[Person, ...]:
    """The people in order, without None and without repeats (by login, any case)."""
    seen: dict[str, Person] = {}
    for p in people:
        if p is not None:
            seen.setdefault(p.github.casefold(), p)
    return tuple(seen.values())
