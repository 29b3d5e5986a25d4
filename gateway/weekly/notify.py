"""The notification shell: turn due jobs (the weekly planners) and new issues into outbox rows.

Every `tick`, it loads the tracked issues, the keys of jobs already done and the Primary's
delegations (`gateway.weekly.delegation`: one recorded by the CLI counts at the next tick), asks
the pure planner what is due (the weekly handoff, reminders and escalations, post-mortem prompts),
renders the templates now (so a row holds finished text), and writes the rows and the job keys
in ONE transaction: a job fires once, across crashes and restarts. The acknowledgement of a new
inquiry is built when its issue exists (it links to it) and is written in the same transaction
that records the issue. Sending is the writers' job; this module only queues.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog

from gateway.config.loader import NotifySection
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Person, Schedule
from gateway.inbound.clean import issue_title
from gateway.inbound.hotline import is_hotline_source
from gateway.inbound.outbox_rows import MATCHES
from gateway.inbound.parse import parse_email
from gateway.inbound.replyable import RecentReplyables, replyable
from gateway.outbound.mail import OutboundMail
from gateway.outbound.render import IssueRef, Renderer, TextBlock
from gateway.store.db import Store, Tx, queue_rows
from gateway.store.engine import insert_or_ignore
from gateway.store.prepared import Prepared
from gateway.store.schema import jobs, messages, threads
from gateway.store.values import OutboxRow
from gateway.tracking.events import CommentEvent
from gateway.weekly.delegation import schedule_at
from gateway.weekly.handoff import HandoffPlan, due_handoff, plan_handoff
from gateway.weekly.jobs import OpenIssue, issue_context
from gateway.weekly.nudges import due_nudges
from gateway.weekly.postmortems import due_postmortems
from gateway.weekly.stale import (
    StaleAction,
    StaleClose,
    StaleReopen,
    StaleSettings,
    StaleWarning,
    due_stale,
)

log = structlog.get_logger("gateway.weekly.notify")

STALE_NUDGE = dt.timedelta(days=1)
# A comment first seen later than this after it was written (the feature just turned on, a
# long outage caught up by reconcile) is not mailed: the conversation has moved on.
RELAY_MAX_AGE = dt.timedelta(days=3)


@dataclass(frozen=True, slots=True)
class NotifyContext:
    settings: NotifySection
    calendar: BusinessCalendar
    schedule: Schedule | None
    renderer: Renderer
    list_address: str
    list_prefix: str
    issue_url: str  # "{web_url}/{owner}/{repo}/issues/{number}"
    team_emails: frozenset[str]
    discussion_url: str = ""  # "{web_url}/{owner}/{repo}/discussions/{number}"
    notify_primary: bool = False  # github.notify_primary, with github.target = "discussions"
    stale: StaleSettings | None = None  # the stale rule (process.stale_*); None: off
    # Known-issue lookups are on (process.product_repository, known_issue_matches): the notice
    # has a place for their matches, filled in when they are known (`outbox_rows.MATCHES`).
    known_issues: bool = False

    @property
    def goal(self) -> dt.timedelta:
        return dt.timedelta(hours=self.settings.goal_hours)

    def url(self, number: int, target: str = "issues") -> str:
        template = self.discussion_url if target == "discussions" else self.issue_url
        return template.format(number=number)


# What a relayed comment and an acknowledgement read, built once and run on the driver's
# cursor (`gateway.store.prepared`): a backlog runs them once a message.
_THREAD = Prepared(sa.select(threads).where(threads.c.thread_id == sa.bindparam("thread")))
# The acknowledgement's thread with its first message's place in one statement; the raw
# message only when the intake kept nothing of its parse (after a restart, or once its cache
# let the message go).
_ACK_THREAD = Prepared(
    sa.select(threads.c.root_key, threads.c.title, threads.c.arrived_at, threads.c.created_at,
              threads.c.assignee, threads.c.target, messages.c.key.label("source_key"),
              messages.c.folder, messages.c.uid)
    .select_from(threads.outerjoin(messages, messages.c.key == threads.c.root_key))
    .where(threads.c.thread_id == sa.bindparam("thread")))
_RAW = Prepared(sa.select(messages.c.raw).where(messages.c.key == sa.bindparam("key")))


class Notifier:
    def __init__(self, store: Store, context: NotifyContext,
                 replyables: RecentReplyables | None = None) -> None:
        """`replyables`: what the intake kept of the messages it parsed (the daemon's), so an
        acknowledgement need not parse its message again."""
        self.store = store
        self.ctx = context
        self.replyables = replyables

    # -- acknowledgement --------------------------------------------------------------------

    def ack_row(self, tx: Tx, thread_id: str, number: int) -> OutboxRow | None:
        """The acknowledgement for a new inquiry whose issue `number` now exists, or None
        (turned off, no human sender, a team member, the list itself, or a call or visit
        logged without `--ack`)."""
        ctx = self.ctx
        if not ctx.settings.acknowledge:
            return None
        thread = _ACK_THREAD.run(tx.conn, {"thread": thread_id}).first()
        if thread is None or thread.root_key is None or thread.source_key is None:
            return None  # an issue opened on GitHub: nobody to acknowledge by mail
        # What the intake kept from its parse of the message, else the message parsed again.
        message = self.replyables.get(thread.root_key) if self.replyables is not None else None
        if message is None:
            source = _RAW.run(tx.conn, {"key": thread.root_key}).first()
            message = replyable(parse_email(source.raw, list_address=ctx.list_address,
                                            key=thread.root_key))
        sender = message.sender
        if (sender is None or sender.addr == ctx.list_address
                or sender.addr in ctx.team_emails):
            return None
        if is_hotline_source(thread.folder, thread.uid):
            logged = message.logged
            if logged is None or not logged.ack:
                return None  # a call or visit logged without --ack: the caller wants no mail
        arrived = thread.arrived_at or thread.created_at
        primary = self._person(thread.assignee)
        subject, body = ctx.renderer.render(
            "ack.txt", customer_name=sender.name, subject=message.subject,
            issue={"number": number, "title": issue_title(thread.title, ctx.list_prefix),
                   "url": ctx.url(number, thread.target), "kind": _kind(thread.target)},
            primary=primary, deadline=ctx.calendar.add_business(arrived, ctx.goal),
            goal=ctx.goal)
        day = arrived.astimezone(ctx.calendar.tz).date().isoformat()
        mail = OutboundMail(
            kind="ack", to=((sender.name, sender.addr),), cc=(), subject=subject, body=body,
            in_reply_to=message.message_id,
            references=(message.message_id,) if message.message_id else (),
            auto_submitted="auto-replied", thread_id=thread_id)
        # One per sender per thread per day: the key says so, and keys are unique. The address
        # is hashed: row keys appear in logs, addresses must not.
        who = hashlib.sha256(sender.addr.encode()).hexdigest()[:12]
        return OutboxRow(key=f"mail:ack:{thread_id}:{who}:{day}", kind="send_mail",
                         thread_id=thread_id, message_key=None, payload=mail.as_payload())

    # -- the Primary on a new discussion --------------------------------------------------

    def primary_notice(self, arrival: dt.datetime) -> str | None:
        """The first comment of a new discussion for an inquiry that arrived at `arrival`:
        the Primary @mentioned (one notification; GitHub subscribes them to the discussion),
        the Backup named without a mention, the deadline. None when turned off or without a
        schedule: there is nobody to name."""
        ctx = self.ctx
        if not ctx.notify_primary or ctx.schedule is None:
            return None
        # The same Primary `assignee_at_arrival` records: whoever is on at the first opening.
        opening = ctx.calendar.next_opening(arrival)
        with self.store.read() as tx:
            duty = schedule_at(tx, ctx.schedule, opening).duty_at(opening)
        return ctx.renderer.render_comment(
            "notice.md", primary=duty.primary, backup=duty.backup, arrived=arrival,
            deadline=ctx.calendar.add_business(arrival, ctx.goal), goal=ctx.goal,
            known_issues=MATCHES if ctx.known_issues else "")

    # -- relayed comments -------------------------------------------------------------------

    def relay_row(self, tx: Tx, event: CommentEvent, thread_id: str,
                  now: dt.datetime) -> OutboxRow | None:
        """The mail that carries a team member's new GitHub comment to the inquiry's customers
        (the list in Cc), threaded under their original message; None when relaying is off or
        this comment is not for them (see `relay_text`), too old, or the issue has no mail
        thread. Keyed by the comment id: at most one mail per comment."""
        ctx = self.ctx
        if not ctx.settings.relay_comments:
            return None
        text = relay_text(event.body)
        if text is None:
            return self._relay_skipped(tx, event, "internal-or-empty")
        if event.at < now - RELAY_MAX_AGE:
            return self._relay_skipped(tx, event, "too-old")
        thread = _THREAD.run(tx.conn, {"thread": thread_id}).first()
        customers = tx.customers(thread_id)
        if thread is None or thread.root_key is None or not customers:
            return self._relay_skipped(tx, event, "no-mail-thread")
        root_id = thread.root_key.removeprefix("mid:") if thread.root_key.startswith(
            "mid:") else None
        person = self._person(event.author)
        subject, body = ctx.renderer.render(
            "relay.txt", subject=thread.title or "", author=person or event.author,
            issue=IssueRef(event.number, issue_title(thread.title, ctx.list_prefix),
                           ctx.url(event.number, event.target), _kind(event.target)),
            comment=TextBlock(text))
        mail = OutboundMail(
            kind="relay", to=tuple(("", addr) for addr in customers),
            cc=(("", ctx.list_address),), subject=subject, body=body, in_reply_to=root_id,
            references=(root_id,) if root_id else (), auto_submitted="auto-generated",
            thread_id=thread_id, on_behalf_of=person.name if person else event.author)
        return OutboxRow(key=f"mail:relay:{event.comment_id}", kind="send_mail",
                         thread_id=thread_id, message_key=None, payload=mail.as_payload())

    def _relay_skipped(self, tx: Tx, event: CommentEvent, reason: str) -> OutboxRow | None:
        """Log why the comment is not mailed (once its transaction commits); None, for
        `relay_row` to return."""
        tx.after_commit(log.info, "notify.relay_skipped", issue=event.number,
                        comment=event.comment_id, reason=reason)
        return None

    # -- jobs -------------------------------------------------------------------------------

    def tick(self, now: dt.datetime) -> list[str]:
        """Queue whatever is due; returns the keys of the jobs that fired."""
        ctx = self.ctx
        with self.store.read() as tx:
            issues = self._issues(tx)
            done_at = {row.key: row.done_at for row in tx.conn.execute(
                sa.select(jobs.c.key, jobs.c.done_at))}
            schedule = (schedule_at(tx, ctx.schedule, now)  # with the delegations recorded
                        if ctx.schedule is not None else None)
        done = set(done_at)
        rows: list[OutboxRow] = []
        fired: list[str] = []
        closing: dict[str, str | None] = {}  # thread -> closed_as, written with the jobs
        if ctx.stale is not None:
            for action in due_stale(now, issues, done_at, ctx.stale, ctx.calendar.tz):
                rows += self._stale_rows(action, ctx.stale)
                fired.append(action.key)
                closing[action.issue.thread_id] = (
                    "stale" if isinstance(action, StaleClose) else
                    None if isinstance(action, StaleReopen) else action.issue.closed_as)
        if schedule is None:
            if fired:
                self._commit(rows, fired, now, closing)
                log.info("notify.fired", jobs=fired, rows=len(rows))
            return fired
        if ctx.settings.handoff:
            handoff = due_handoff(now, schedule, done)
            if handoff is not None:
                plan = plan_handoff(handoff, issues, keep_label=ctx.settings.keep_label,
                                    calendar=ctx.calendar, now=now, goal=ctx.goal)
                rows += self._handoff_rows(plan)
                fired.append(handoff.key)
        if ctx.settings.reminders:
            for nudge in due_nudges(now, issues, calendar=ctx.calendar, schedule=schedule,
                                    done=done, share=ctx.settings.reminder_share,
                                    goal=ctx.goal):
                fired.append(nudge.key)
                if nudge.due_at < now - STALE_NUDGE:
                    # Long overdue (a fresh install adopting old issues, a long outage):
                    # a reminder now would be noise. Retire it without sending.
                    log.info("notify.nudge_retired", job=nudge.key, due=nudge.due_at.isoformat())
                    continue
                rows.append(self._comment(nudge.key, nudge.issue, nudge.template,
                                          nudge.context))
                if nudge.mail_template and nudge.email_to:
                    rows.append(self._team_mail(nudge.key, nudge.issue.thread_id,
                                                nudge.mail_template, nudge.context,
                                                to=nudge.email_to, cc=()))
        if ctx.settings.postmortem:
            for prompt in due_postmortems(issues, serious_label=ctx.settings.serious_label,
                                          done=done, calendar=ctx.calendar,
                                          schedule=schedule, goal=ctx.goal):
                rows.append(self._comment(prompt.key, prompt.issue, prompt.template,
                                          prompt.context))
                fired.append(prompt.key)
        if fired:
            self._commit(rows, fired, now, closing)
            log.info("notify.fired", jobs=fired, rows=len(rows))
        return fired

    def _commit(self, rows: Sequence[OutboxRow], keys: Sequence[str], now: dt.datetime,
                closing: dict[str, str | None] | None = None) -> None:
        with self.store.tx() as tx:
            claimed = [key for key in keys if tx.conn.execute(
                insert_or_ignore(tx.conn, jobs, ["key"]), {"key": key, "done_at": now}
            ).rowcount == 1]
            if len(claimed) != len(keys):  # another tick got there first: do nothing twice
                raise RuntimeError(f"jobs already done: {sorted(set(keys) - set(claimed))}")
            queue_rows(tx.conn, rows, now)
            for thread_id, closed_as in (closing or {}).items():
                tx.conn.execute(threads.update().where(threads.c.thread_id == thread_id)
                                .values(closed_as=closed_as))

    # -- the stale rule -------------------------------------------------------------------

    def _stale_rows(self, action: StaleAction, stale: StaleSettings) -> list[OutboxRow]:
        """The warning (a comment, and mail to the inquiry's mail customers), the close as
        won't fix, or the reopening after the customer wrote again."""
        issue, key = action.issue, action.key
        thread = issue.thread_id
        discussion = issue.target == "discussions"
        if isinstance(action, StaleWarning):
            context = {**issue_context(issue, self.ctx.calendar, self.ctx.goal, None),
                       "last_reply": issue.last_team_at, "close_on": action.close_on,
                       "days": stale.days, "keep_label": stale.keep_label}
            rows = [self._comment(key, issue, "stale_warning.md", context)]
            if issue.customers:
                subject, body = self.ctx.renderer.render(
                    "stale_warning.txt", customer_name="", subject=issue.title,
                    **_without(context, "customer_name", "subject", "days", "keep_label"))
                mail = OutboundMail(
                    kind="stale_warning", to=tuple(("", a) for a in issue.customers), cc=(),
                    subject=subject, body=body, in_reply_to=issue.root_message_id,
                    references=(issue.root_message_id,) if issue.root_message_id else (),
                    auto_submitted="auto-generated", thread_id=thread)
                rows.append(OutboxRow(key=f"mail:{key}", kind="send_mail", thread_id=thread,
                                      message_key=None, payload=mail.as_payload()))
            log.info("notify.stale_warning", thread=thread, close_on=action.close_on.isoformat())
            return rows
        if isinstance(action, StaleClose):
            log.info("notify.stale_close", thread=thread)
            if not discussion:
                return [OutboxRow(key=f"close:{key}", kind="close_issue", thread_id=thread,
                                  message_key=None, payload={
                                      "state_reason": "not_planned",
                                      "labels": [stale.wontfix_label]})]
            rows = [OutboxRow(key=f"labels:{key}", kind="label_discussion", thread_id=thread,
                              message_key=None, payload={"labels": [stale.wontfix_label],
                                                         "optional": True})]
            if issue.last_team_comment is not None:  # the team's last answer is the answer
                rows.append(OutboxRow(key=f"answer:{key}", kind="mark_answer", thread_id=thread,
                                      message_key=None,
                                      payload={"comment_id": issue.last_team_comment}))
            else:
                rows.append(OutboxRow(key=f"close:{key}", kind="close_discussion",
                                      thread_id=thread, message_key=None,
                                      payload={"reason": "OUTDATED"}))
            return rows
        log.info("notify.stale_reopen", thread=thread)
        if not discussion:
            return [OutboxRow(key=f"reopen:{key}", kind="reopen_issue", thread_id=thread,
                              message_key=None,
                              payload={"remove_labels": [stale.wontfix_label]})]
        return [OutboxRow(key=f"reopen:{key}", kind="reopen_discussion", thread_id=thread,
                          message_key=None,
                          payload={"unmark_comment_id": issue.last_team_comment,
                                   "remove_labels": [stale.wontfix_label]})]

    def _handoff_rows(self, plan: HandoffPlan) -> list[OutboxRow]:
        key = plan.handoff.key
        rows = [OutboxRow(key=f"assign:{key}:{r.issue.thread_id}", kind="assign",
                          thread_id=r.issue.thread_id, message_key=None,
                          payload={"login": r.login}) for r in plan.reassign]
        rows += [self._comment(f"{key}:{c.issue.thread_id}", c.issue, c.template, c.context)
                 for c in plan.comments]
        for notice in plan.customer_notices:
            subject, body = self.ctx.renderer.render(
                "handoff_customer.txt", subject=notice.issue.title, customer_name="",
                **_without(notice.context, "subject", "customer_name"))
            to = tuple(("", addr) for addr in notice.issue.customers)
            mail = OutboundMail(
                kind="handoff_customer", to=to, cc=(), subject=subject, body=body,
                in_reply_to=notice.issue.root_message_id,
                references=(notice.issue.root_message_id,) if notice.issue.root_message_id
                else (), auto_submitted="auto-generated", thread_id=notice.issue.thread_id)
            rows.append(OutboxRow(key=f"mail:{key}:{notice.issue.thread_id}", kind="send_mail",
                                  thread_id=notice.issue.thread_id, message_key=None,
                                  payload=mail.as_payload()))
        if plan.team_summary is not None and plan.team_summary.to:
            rows.append(self._team_mail(f"{key}:team", None, "handoff_team.txt",
                                        plan.team_summary.context, to=plan.team_summary.to,
                                        cc=plan.team_summary.cc))
        return rows

    def _comment(self, key: str, issue: OpenIssue, template: str,
                 context: Any) -> OutboxRow:
        body = self.ctx.renderer.render_comment(template, **dict(context))
        return OutboxRow(key=f"comment:{key}", kind="add_comment", thread_id=issue.thread_id,
                         message_key=None, payload={"body": body})

    def _team_mail(self, key: str, thread_id: str | None, template: str, context: Any, *,
                   to: Sequence[Person], cc: Sequence[Person]) -> OutboxRow:
        subject, body = self.ctx.renderer.render(template, **dict(context))
        mail = OutboundMail(kind=template.split(".")[0], to=tuple((p.name, p.email) for p in to),
                            cc=tuple((p.name, p.email) for p in cc), subject=subject,
                            body=body, auto_submitted="auto-generated", thread_id=thread_id)
        return OutboxRow(key=f"mail:{key}", kind="send_mail", thread_id=thread_id,
                         message_key=None, payload=mail.as_payload())

    # -- reading ----------------------------------------------------------------------------

    def _issues(self, tx: Tx) -> list[OpenIssue]:
        # A discussion moved out of the category (state "moved") is no inquiry any more.
        rows = tx.conn.execute(sa.select(threads).where(
            threads.c.issue_number.is_not(None), threads.c.state.in_(("open", "closed"))))
        found: list[OpenIssue] = []
        for row in rows:
            customers = tuple(tx.customers(row.thread_id))
            root_id = None
            if row.root_key and row.root_key.startswith("mid:"):
                root_id = row.root_key.removeprefix("mid:")
            found.append(OpenIssue(
                thread_id=row.thread_id, issue_number=row.issue_number,
                title=issue_title(row.title, self.ctx.list_prefix),
                url=self.ctx.url(row.issue_number, row.target), target=row.target,
                arrived_at=row.arrived_at or row.created_at, assignee=row.assignee,
                first_response_at=row.first_response_at,
                first_response_by=row.first_response_by,
                labels=tuple(json.loads(row.labels or "[]")), customers=customers,
                root_message_id=root_id, state=row.state, resolved_at=row.resolved_at,
                last_team_at=row.last_team_at, last_team_comment=row.last_team_comment,
                last_customer_at=row.last_customer_at, closed_as=row.closed_as))
        return found

    def _person(self, login: str | None) -> Person | None:
        if login is None or self.ctx.schedule is None:
            return None
        for person in self.ctx.schedule.people:
            if person.github.casefold() == login.casefold():
                return person
        return None


_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SPEND_LINE = re.compile(r"^[ \t]*/spend\b.*$\n?", re.MULTILINE | re.IGNORECASE)


def relay_text(body: str) -> str | None:
    """The part of a GitHub comment to mail to customers, or None when there is none: the
    comment's first line is `/internal` (a note for the team), or nothing is left once HTML
    comments (hidden markers) and `/spend` lines (effort records) are taken out."""
    text = _HTML_COMMENT.sub("", body.replace("\r\n", "\n"))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.lower().split(" ", 1)[0] == "/internal":
        return None
    text = _SPEND_LINE.sub("", text).strip("\n")
    return text if text.strip() else None


def _kind(target: str) -> str:
    return "discussion" if target == "discussions" else "issue"


def _without(context: Any, *names: str) -> dict[str, Any]:
    return {k: v for k, v in dict(context).items() if k not in names}
