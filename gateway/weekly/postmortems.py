"""Post-mortem prompts: asking whoever resolved a serious incident to write it up.

Holds the prompt value (`Postmortem`, keyed ``postmortem:<thread>``) and `due_postmortems`, which
finds the closed issues carrying the serious label that were not prompted yet and whom to ask.
It changes when the post-mortem rules do (which incidents, who writes it, what they are told).
Pure, as every planner (see `gateway.weekly.jobs`): it must not write outbox rows, render
templates or call GitHub; the shell (`gateway.weekly.notify`) does that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Schedule
from gateway.tracking.rules import GOAL
from gateway.weekly.jobs import Context, JobKeys, OpenIssue, issue_context, login_of

POSTMORTEM = "postmortem.md"  # the template name, as the renderer knows it


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
            owner = login_of(schedule.duty_at(issue.resolved_at).primary)
        responded = (None if issue.first_response_at is None else
                     calendar.business_duration(issue.arrived_at, issue.first_response_at))
        resolved = (None if issue.resolved_at is None else
                    calendar.business_duration(issue.arrived_at, issue.resolved_at))
        context = {**issue_context(issue, calendar, goal, None),
                   "resolved_at": issue.resolved_at, "response_time": responded,
                   "met_goal": None if responded is None else responded <= goal,
                   "resolution_time": resolved, "owner": owner,
                   "primary": None if owner is None else roster.get(owner.casefold(), owner)}
        out.append(Postmortem(key, issue, owner, POSTMORTEM, context))
    out.sort(key=lambda p: (p.issue.resolved_at or p.issue.arrived_at, p.issue.thread_id))
    return tuple(out)
