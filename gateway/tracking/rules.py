"""Tracking rules: what a GitHub event means for a thread's issue, and the response metrics.

Holds the per-thread state `TrackedIssue`, the rules that move it (`Rules`, `apply`,
`email_response`, `issue_opened_on_github`, `logins_by_email`) and the response metrics computed
from the state (`GOAL`, `response_time`, `response_hours`, `deadline`, `met_goal`). This module
changes when the team's process does (who counts as a responder, what resolves or reopens an
issue, the response goal); the events it reads are `gateway.tracking.events`'s, built from
GitHub's payloads. Pure: no I/O, no clock, no logging; instants and the calendar are passed in.
It must not parse webhook bodies, read or write the store or GitHub, or deduplicate deliveries
(the store does, by delivery GUID and comment id).

First responses are order-independent: the earliest qualifying reply wins whatever order the
webhook and reconcile deliver them in. Close and reopen are applied in arrival order (see
`apply`). All timestamps are aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Person
from gateway.tracking.commands import bookkeeping_only
from gateway.tracking.events import ISSUE_STATES, CommentEvent, Event, IssueEvent, IssueState

GOAL = dt.timedelta(hours=4)  # customer-response-process.rst, "Response Time"


def _aware(what: str, t: dt.datetime | None) -> None:
    if t is not None and (t.tzinfo is None or t.utcoffset() is None):
        raise ValueError(f"{what} must be an aware datetime, got naive {t.isoformat()}")


@dataclass(frozen=True, slots=True)
class TrackedIssue:
    """What the gateway knows about one thread's GitHub issue. `customer_logins` are GitHub
    logins of the thread's customers (never a first response); `resolved_at` is the latest
    close, None while open."""

    thread_id: str
    issue_number: int
    arrived_at: dt.datetime
    issue_author: str | None = None
    customer_logins: frozenset[str] = frozenset()
    state: IssueState = "open"
    assignee: str | None = None
    first_response_at: dt.datetime | None = None
    first_response_by: str | None = None
    resolved_at: dt.datetime | None = None
    reopened_count: int = 0
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what in ("arrived_at", "first_response_at", "resolved_at"):
            _aware(f"TrackedIssue.{what}", getattr(self, what))
        if self.state not in ISSUE_STATES:
            raise ValueError(f"TrackedIssue.state must be open or closed, got {self.state!r}")
        if (self.first_response_at is None) != (self.first_response_by is None):
            raise ValueError("first_response_at and first_response_by are set together")


@dataclass(frozen=True, slots=True)
class Rules:
    """Who counts as a responder. Logins and addresses are stored casefolded: GitHub logins
    and email addresses are compared without regard to case."""

    bot_login: str
    team: frozenset[str]  # GitHub logins of the roster
    team_emails: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # GraphQL names a bot without the "[bot]" that REST and webhooks add: compare without.
        object.__setattr__(self, "bot_login", _login(self.bot_login))
        object.__setattr__(self, "team", frozenset(x.casefold() for x in self.team if x))
        object.__setattr__(self, "team_emails",
                           frozenset(x.strip().casefold() for x in self.team_emails if x))

    @classmethod
    def from_people(cls, bot_login: str, people: Iterable[Person]) -> Rules:
        roster = tuple(people)
        return cls(bot_login, frozenset(p.github for p in roster),
                   frozenset(p.email for p in roster))

    def is_team(self, login: str) -> bool:
        return login.casefold() in self.team

    def is_bot(self, login: str) -> bool:
        return _login(login) == self.bot_login

    def is_responder(self, login: str, issue: TrackedIssue) -> bool:
        """A team member who is not the bot and not one of this issue's customers.

        The issue's author is excluded through `customer_logins` (a customer who opened the
        issue) or by being the bot; a team member who wrote up a call is not a customer, and
        their later comments count (see `issue_opened_on_github`)."""
        folded = login.casefold()
        return (folded in self.team and not self.is_bot(login)
                and folded not in {c.casefold() for c in issue.customer_logins})


def _login(login: str) -> str:
    return login.casefold().removesuffix("[bot]")


def logins_by_email(people: Iterable[Person]) -> dict[str, str]:
    """Casefolded email -> GitHub login, for `email_response`."""
    return {p.email.strip().casefold(): p.github for p in people if p.email and p.github}


def apply(issue: TrackedIssue, event: Event, rules: Rules) -> TrackedIssue:
    """The issue after `event`; the very same object when nothing changed.

    Comments (created, edited or deleted alike: each says a reply was posted at `at`) set the
    first response when their author `is_responder` and they are earlier than the one known
    (ties go to the smaller login), so any order of delivery, and repeats, give one result;
    editing or deleting a reply never undoes it. The bot's comments never count: a team
    member's emailed reply that the bot posted is recorded with `email_response`.

    closed: state closed, `resolved_at` the latest close. reopened: state open, `resolved_at`
    cleared, `reopened_count` + 1; ignored when already open (a repeat, or reconcile got there
    first) or older than the recorded close (a stale delivery). Beyond that, close and reopen
    follow arrival order, so the CALLER must drop repeated deliveries (the store does, by
    delivery GUID). assigned/unassigned: `assignee` is the first of `event.assignees`.
    labeled/unlabeled: `labels` from the event. opened and edited change nothing but a
    missing `issue_author`; transferred and deleted change nothing here: the issue left this
    repository and the caller decides what becomes of the thread.

    Discussions: answered counts as closed (resolved when the answer was chosen) and
    unanswered as reopened; category_changed changes nothing here (the caller decides whether
    the discussion is still an inquiry).
    """
    if event.number != issue.issue_number:
        raise ValueError(f"event for issue #{event.number} applied to #{issue.issue_number}")
    new = issue
    if new.issue_author is None:
        new = replace(new, issue_author=event.issue_author)
    if isinstance(event, CommentEvent):
        if rules.is_responder(event.author, new) and not bookkeeping_only(event.body):
            new = _earliest(new, event.author, event.at)
    else:
        new = _apply_issue_event(new, event)
    return issue if new == issue else new


def _apply_issue_event(issue: TrackedIssue, event: IssueEvent) -> TrackedIssue:
    match event.action:
        case "closed" | "answered":  # a discussion is resolved when it is answered
            latest = event.at if issue.resolved_at is None else max(issue.resolved_at, event.at)
            return replace(issue, state="closed", resolved_at=latest)
        case "reopened" | "unanswered":
            if issue.state == "open" or (issue.resolved_at is not None
                                         and event.at < issue.resolved_at):
                return issue
            return replace(issue, state="open", resolved_at=None,
                           reopened_count=issue.reopened_count + 1)
        case "assigned" | "unassigned":
            return replace(issue, assignee=event.assignees[0] if event.assignees else None)
        case "labeled" | "unlabeled":
            if event.labels_complete or event.label is None:
                return replace(issue, labels=event.labels)
            # A discussion's body may list no labels: apply the one the event names.
            others = tuple(x for x in issue.labels if x != event.label)
            return replace(issue, labels=(*others, event.label) if event.action == "labeled"
                           else others)
        case _:
            return issue


def _earliest(issue: TrackedIssue, login: str, at: dt.datetime) -> TrackedIssue:
    known_at, known_by = issue.first_response_at, issue.first_response_by
    if known_at is not None and known_by is not None and (
            (known_at, known_by.casefold(), known_by) <= (at, login.casefold(), login)):
        return issue
    return replace(issue, first_response_at=at, first_response_by=login)


def email_response(issue: TrackedIssue, sender_email: str, at: dt.datetime, rules: Rules,
                   login_for_email: Mapping[str, str]) -> TrackedIssue:
    """The issue after a reply by email from `sender_email` (a bare address) sent at `at`.

    Counts, by the same earliest-wins rule as `apply`, when the address is in
    `rules.team_emails`, under the login `login_for_email` gives it (any case; the address
    itself if the roster has no login for it). The same object when nothing changed.
    """
    _aware("email_response at", at)
    address = sender_email.strip().casefold()
    if address not in rules.team_emails:
        return issue
    folded = {k.strip().casefold(): v for k, v in login_for_email.items()}
    login = folded.get(address, address)
    if login.casefold() in {c.casefold() for c in issue.customer_logins}:
        return issue
    return _earliest(issue, login, at)


def issue_opened_on_github(event: IssueEvent, thread_id: str, rules: Rules) -> TrackedIssue:
    """A new thread for an issue opened directly on GitHub (not from the list).

    It arrives when the issue was created; its author is recorded. A customer author (anyone
    not on the team and not the bot) goes into `customer_logins`, so their own comments never
    count. A team member writing up a phone call or walk-in is not a customer: the write-up
    (the issue body) is not a response, the first later comment by any team member,
    the author included, is. Any issue event will do (the opened one may have been missed);
    it is applied on top, so a `closed` event gives a closed issue.
    """
    author = event.issue_author
    outsider = not rules.is_team(author) and not rules.is_bot(author)
    base = TrackedIssue(
        thread_id=thread_id, issue_number=event.number, arrived_at=event.issue_created_at,
        issue_author=author, customer_logins=frozenset({author}) if outsider else frozenset(),
        state=event.state, assignee=event.assignees[0] if event.assignees else None,
        labels=event.labels)
    return apply(base, event, rules)


# ---------------------------------------------------------------------------------------------
# Response metrics (computed from the state, never stored)

def response_time(issue: TrackedIssue, calendar: BusinessCalendar) -> dt.timedelta | None:
    """Business time from arrival to the first response; None while unanswered."""
    if issue.first_response_at is None:
        return None
    return calendar.business_duration(issue.arrived_at, issue.first_response_at)


def response_hours(issue: TrackedIssue, calendar: BusinessCalendar) -> float | None:
    """`response_time` in hours."""
    taken = response_time(issue, calendar)
    return None if taken is None else taken / dt.timedelta(hours=1)


def deadline(issue: TrackedIssue, calendar: BusinessCalendar,
             goal: dt.timedelta = GOAL) -> dt.datetime:
    """When `goal` of business time has passed since arrival (UTC)."""
    return calendar.add_business(issue.arrived_at, goal)


def met_goal(issue: TrackedIssue, calendar: BusinessCalendar, goal: dt.timedelta = GOAL, *,
             now: dt.datetime | None = None) -> bool | None:
    """Whether the first response came within `goal` business time (exactly `goal` meets it).

    None while unanswered, unless `now` is given and more than `goal` of business time has
    already passed (then False). A reply after the deadline's wall time that used no more
    business time (Friday 17:30 for a Friday 17:00 deadline) still meets the goal, as
    `response_hours` would show.
    """
    taken = response_time(issue, calendar)
    if taken is not None:
        return taken <= goal
    if now is not None and calendar.business_duration(issue.arrived_at, now) > goal:
        return False
    return None
