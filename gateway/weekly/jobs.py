"""Job planning: which weekly handoffs, response nudges and post-mortem prompts are due at `now`.

Holds the issue view the planner reads (`OpenIssue`), the plans it returns (`Handoff` and
`HandoffPlan`, `Nudge`, `Postmortem`, each with a stable `key`) and the planners themselves
(`due_handoff`, `plan_handoff`, `due_nudges`, `due_postmortems`). The shell passes the keys of
the jobs already done and records a job's key in the same transaction as the outbox rows that
carry it out, so every job happens once across restarts. Pure: no I/O, no clock, no logging,
no config; `now`, the calendar and the schedule are arguments. It must not write outbox rows,
render templates, send mail or call GitHub, and it does not acknowledge new inquiries: all of
that is the shell's. Roles, handoffs, escalation and post-mortems follow
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
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal, NamedTuple

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Duty, Person, Schedule
from gateway.tracking.events import ISSUE_STATES, IssueState
from gateway.tracking.rules import GOAL

JobKeys = AbstractSet[str]  # keys of the jobs already done, as the shell stored them
Context = Mapping[str, object]
NudgeKind = Literal["reminder", "escalation"]
Disposition = Literal["reassigned", "kept-label", "kept-assignee", "already-incoming",
                      "same-primary", "no-primary"]

# Template names, as the renderer knows them (.md: an issue comment; .txt: a mail).
HANDOFF_COMMENT = "handoff.md"  # on each reassigned issue
HANDOFF_CUSTOMER = "handoff_customer.txt"  # to the customers of each reassigned issue
HANDOFF_TEAM = "handoff_team.txt"  # to the incoming Primary and Backup
REMINDER = "reminder.md"
ESCALATION = "escalation.md"
ESCALATION_MAIL = "escalation_mail.txt"
POSTMORTEM = "postmortem.md"

MAX_HANDOFF_AGE = dt.timedelta(days=6)
REMINDER_SHARE = 0.75
_JUST_BEFORE = dt.timedelta(microseconds=1)


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


# ---------------------------------------------------------------------------------------------
# Weekly handoff

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
    primaries = _unique_people(d.primary for d in schedule.week_duties(before))
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
        details = _issue_context(issue, calendar, goal, now)
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
    to = _unique_people((handoff.incoming.primary, handoff.incoming.backup))
    if not to:
        return None
    addressed = {p.github.casefold() for p in to}
    cc = tuple(p for p in _unique_people((*handoff.outgoing_primaries, handoff.outgoing.primary))
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


# ---------------------------------------------------------------------------------------------
# Nudges before the response goal is missed

@dataclass(frozen=True, slots=True)
class Nudge:
    """A reminder or escalation on an unanswered issue: a comment (`template`) that
    @mentions `mention`, and for an escalation a mail (`mail_template`) to `email_to`; both
    rendered with `context`."""

    key: str
    kind: NudgeKind
    issue: OpenIssue
    due_at: dt.datetime
    mention: tuple[str, ...]  # GitHub logins
    email_to: tuple[Person, ...]  # () for a reminder
    template: str
    mail_template: str | None
    context: Context


def due_nudges(now: dt.datetime, issues: Sequence[OpenIssue], *, calendar: BusinessCalendar,
               schedule: Schedule, done: JobKeys, share: float = REMINDER_SHARE,
               goal: dt.timedelta = GOAL) -> tuple[Nudge, ...]:
    """The reminders and escalations due at `now`, in the order they fell due.

    For each open issue without a first response: a ``reminder:<thread>`` at `share` of `goal`
    of business time after arrival, an ``escalation:<thread>`` at `goal`. Business time starts
    at the next opening, so a due instant always lies in opening hours (Friday-evening mail is
    reminded Monday 11:00 and escalated at 12:00). A nudge that fell due while the daemon was
    down fires when it returns; both fire if both are due (reminder first); a first response
    in the meantime cancels both.

    Who is addressed is decided at `now`, not at the due instant, so a nudge fired late after
    a handoff goes to the people on duty now. A reminder mentions the issue's assignee (who
    holds it, e.g. the Backup after a delegation), or the Primary on duty if it has none. An
    escalation mentions and mails the Primary and the Backup on duty ("Escalation": the
    Backup is enlisted first); an assignee who is neither hears of it as GitHub notifies
    assignees of every comment. With nobody to address a nudge still fires: the comment
    records that the goal is at risk.

    Context: ``kind``; ``issue``; ``arrived``; ``due_at``; ``deadline``; ``goal``;
    ``percent`` (share of the goal used when the nudge fell due: 75, or 100 for an
    escalation); ``past_deadline`` (bool: the goal was already missed at `now`);
    ``business_age``; ``mention`` (logins); ``holder`` (the assignee's login, or None);
    ``primary``: for a reminder whom it addresses (the holder's roster `Person`, or their
    login if they are not on the roster, else the Primary on duty), for an escalation the
    Primary on duty; ``backup``: the Backup on duty; ``on_duty``: the Primary on duty. People
    may be None when nobody is on duty.
    """
    if not 0 < share <= 1:
        raise ValueError(f"the reminder share must be in (0, 1], got {share}")
    if goal <= dt.timedelta(0):
        raise ValueError(f"the response goal must be positive, got {goal}")
    duty = schedule.duty_at(now)
    roster = {p.github.casefold(): p for p in schedule.people}
    out: list[Nudge] = []
    for issue in issues:
        if issue.state != "open" or issue.first_response_at is not None:
            continue
        deadline = calendar.add_business(issue.arrived_at, goal)
        steps: tuple[tuple[NudgeKind, dt.datetime], ...] = (
            ("reminder", calendar.add_business(issue.arrived_at, goal * share)),
            ("escalation", deadline))
        for kind, due_at in steps:
            key = f"{kind}:{issue.thread_id}"
            if due_at > now or key in done:
                continue
            addressed: Person | str | None = duty.primary
            mail_template: str | None = None
            if kind == "reminder":
                if issue.assignee:
                    addressed = roster.get(issue.assignee.casefold(), issue.assignee)
                mention = _unique_logins((issue.assignee or _login(duty.primary),))
                email_to: tuple[Person, ...] = ()
            else:
                email_to = _unique_people((duty.primary, duty.backup))
                mention = tuple(p.github for p in email_to)
                mail_template = ESCALATION_MAIL
            context = {**_issue_context(issue, calendar, goal, now), "kind": kind,
                       "due_at": due_at, "percent": round(100 * (share if kind == "reminder"
                                                                 else 1)),
                       "past_deadline": deadline <= now, "mention": mention,
                       "holder": issue.assignee, "primary": addressed, "backup": duty.backup,
                       "on_duty": duty.primary}
            template = REMINDER if kind == "reminder" else ESCALATION
            out.append(Nudge(key, kind, issue, due_at, mention, email_to, template,
                             mail_template, context))
    out.sort(key=lambda n: (n.due_at, n.kind != "reminder", n.issue.thread_id))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Post-mortems for serious incidents

@dataclass(frozen=True, slots=True)
class Postmortem:
    """A prompt (a comment, template `POSTMORTEM`) for whoever resolved a serious incident to
    write a brief post-mortem for the next project meeting. `owner` is the login to mention."""

    key: str
    issue: OpenIssue
    owner: str | None
    template: str
    context: Context


def due_postmortems(issues: Sequence[OpenIssue], *, serious_label: str, done: JobKeys,
                    calendar: BusinessCalendar, schedule: Schedule,
                    goal: dt.timedelta = GOAL) -> tuple[Postmortem, ...]:
    """One ``postmortem:<thread>`` per closed issue carrying `serious_label` (any case).

    Once per thread, ever: a reopened and closed again issue is not prompted twice; a label
    added after the close prompts then. The owner, who writes it, is the assignee, else the
    Primary on duty when it was resolved (the process: "the Primary will prepare a brief
    post-mortem"). Oldest resolution first.

    Context: ``issue``; ``arrived``; ``first_response_at``, ``first_response_by`` (None if
    never answered); ``resolved_at``; ``response_time`` (business time to the first
    response, None if never answered); ``met_goal`` (bool, None if never answered);
    ``resolution_time`` (business time from arrival to resolution, None without a resolution
    time); ``deadline``; ``goal``; ``primary`` (the owner's roster `Person`, their login if
    not on the roster, or None); ``owner`` (login or None).
    """
    roster = {p.github.casefold(): p for p in schedule.people}
    out: list[Postmortem] = []
    for issue in issues:
        key = f"postmortem:{issue.thread_id}"
        if issue.state != "closed" or not issue.has_label(serious_label) or key in done:
            continue
        owner = issue.assignee
        if owner is None and issue.resolved_at is not None:
            owner = _login(schedule.duty_at(issue.resolved_at).primary)
        responded = (None if issue.first_response_at is None else
                     calendar.business_duration(issue.arrived_at, issue.first_response_at))
        resolved = (None if issue.resolved_at is None else
                    calendar.business_duration(issue.arrived_at, issue.resolved_at))
        context = {**_issue_context(issue, calendar, goal, None),
                   "resolved_at": issue.resolved_at, "response_time": responded,
                   "met_goal": None if responded is None else responded <= goal,
                   "resolution_time": resolved, "owner": owner,
                   "primary": None if owner is None else roster.get(owner.casefold(), owner)}
        out.append(Postmortem(key, issue, owner, POSTMORTEM, context))
    out.sort(key=lambda p: (p.issue.resolved_at or p.issue.arrived_at, p.issue.thread_id))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Helpers

def _issue_context(issue: OpenIssue, calendar: BusinessCalendar, goal: dt.timedelta,
                   now: dt.datetime | None) -> dict[str, object]:
    """What every context says about the issue; ``business_age`` only when there is a `now`."""
    context: dict[str, object] = {
        "issue": {"number": issue.issue_number, "title": issue.title, "url": issue.url},
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


def _login(person: Person | None) -> str | None:
    return None if person is None else person.github


def _unique_people(people: Iterable[Person | None]) -> tuple[Person, ...]:
    seen: dict[str, Person] = {}
    for p in people:
        if p is not None:
            seen.setdefault(p.github.casefold(), p)
    return tuple(seen.values())


def _unique_logins(logins: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for login in logins:
        if login:
            seen.setdefault(login.casefold(), login)
    return tuple(seen.values())
