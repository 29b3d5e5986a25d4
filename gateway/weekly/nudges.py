"""Nudges before the response goal is missed: reminders and escalations to the Backup.

Holds the nudge values (`Nudge`, keyed ``reminder:<thread>`` or ``escalation:<thread>``) and
`due_nudges`, which finds those due at `now` on unanswered issues and whom they address. It
changes when the escalation rules do (when a reminder falls due, who is mentioned or mailed).
Pure, as every planner (see `gateway.weekly.jobs`): it must not write outbox rows, render
templates, send mail or call GitHub; the shell (`gateway.weekly.notify`) does that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.delegation import delegation_at
from gateway.duty.schedule import Override, Person, Schedule
from gateway.tracking.rules import GOAL
from gateway.weekly.jobs import (
    Context,
    JobKeys,
    OpenIssue,
    issue_context,
    login_of,
    unique_people,
)

NudgeKind = Literal["reminder", "escalation"]

# Template names, as the renderer knows them (.md: an issue comment; .txt: a mail).
REMINDER = "reminder.md"
ESCALATION = "escalation.md"
ESCALATION_MAIL = "escalation_mail.txt"

REMINDER_SHARE = 0.75


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
    holds it, e.g. the Backup the issue was handed to), or the Primary on duty if it has
    none; while the holder has delegated the Primary role (`gateway.duty.delegation`), the
    delegate. An escalation mentions and mails the Primary and the Backup on duty ("Escalation": the
    Backup is enlisted first); an assignee who is neither hears of it as GitHub notifies
    assignees of every comment. With nobody to address a nudge still fires: the comment
    records that the goal is at risk.

    Context: ``kind``; ``issue``; ``arrived``; ``due_at``; ``deadline``; ``goal``;
    ``percent`` (share of the goal used when the nudge fell due: 75, or 100 for an
    escalation); ``past_deadline`` (bool: the goal was already missed at `now`);
    ``business_age``; ``mention`` (logins); ``holder`` (the assignee's login, or None);
    ``primary``: for a reminder whom it addresses (the holder's, or their delegate's, roster
    `Person`, or their login if they are not on the roster, else the Primary on duty), for an
    escalation the Primary on duty; ``backup``: the Backup on duty; ``on_duty``: the Primary
    on duty. People may be None when nobody is on duty.
    """
    if not 0 < share <= 1:
        raise ValueError(f"the reminder share must be in (0, 1], got {share}")
    if goal <= dt.timedelta(0):
        raise ValueError(f"the response goal must be positive, got {goal}")
    duty = schedule.duty_at(now)
    delegated = delegation_at(schedule, now)
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
                holder = _stand_in(issue.assignee, delegated)
                if holder:
                    addressed = roster.get(holder.casefold(), holder)
                mention = _unique_logins((holder or login_of(duty.primary),))
                email_to: tuple[Person, ...] = ()
            else:
                email_to = unique_people((duty.primary, duty.backup))
                mention = tuple(p.github for p in email_to)
                mail_template = ESCALATION_MAIL
            context = {**issue_context(issue, calendar, goal, now), "kind": kind,
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


def _stand_in(holder: str | None, delegated: Override | None) -> str | None:
    """Whom a reminder for `holder`'s issue addresses: the delegate while `holder` has
    delegated the Primary role, else `holder`."""
    giver = delegated.on_behalf_of if delegated is not None else None
    if holder and delegated is not None and giver is not None and (
            holder.casefold() == giver.github.casefold()):
        return delegated.person.github
    return holder


def _unique_logins(logins: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for login in logins:
        if login:
            seen.setdefault(login.casefold(), login)
    return tuple(seen.values())
