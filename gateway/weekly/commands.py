"""Running the commands a team member writes in a GitHub comment on an inquiry.

`CommandHandler.rows` is called by the tracking service, in the transaction that records a new
comment (so a redelivered webhook or a reconcile read never runs a command twice), for a
comment created by a roster member who is not the bot, on a tracked thread. It returns the
outbox rows that carry each command out, keyed by the comment's id:

- `/answer` (discussions): marks the comment it is written in as the answer; written in a
  reply, or given a link to a comment (`/answer https://…#discussioncomment-N`), it adds a
  top-level comment linking that one and marks the new comment, since GitHub can mark only
  top-level comments (VisIt's convention).
- `/promote [owner/repo]`: opens an issue in the product repository with the inquiry's title,
  the text below the command (or the first message's text) and a link back; then comments the
  product issue's link on the inquiry; then resolves it (an issue: closed as completed with
  `process.promoted_label`; a discussion: that comment marked as the answer). The three are
  one chain of outbox rows (`then`), each queued when the one before is done.
- `/delegate until T [to LOGIN]`: the Primary hands their role to the Backup (or LOGIN) until
  T, as `visit-gateway delegate` does (`weekly.delegation`), the delegate told once by mail.
- `/publish <file name or link>`: copies one of the inquiry's stored attachments (private to
  the team) to `attachments.publish_repository` (else the inquiry's repository), on
  `attachments.publish_branch`, where anyone who can read that repository can open it; then
  a comment links it and names who published it. The process asks for the customer's
  agreement first: that is the team member's to get. Two rows, one chain (`then`).

Accepted commands get one 👍 reaction on the comment; a refused one gets a short reply saying
why. A command older than `process.command_max_age_hours` when first seen is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog

from gateway.config.sections import AttachmentsSection, ProcessSection
from gateway.duty.delegation import Refusal
from gateway.duty.schedule import Schedule
from gateway.inbound.attachments import INLINE_TYPES, STORE_KIND
from gateway.inbound.clean import clean_body, issue_title
from gateway.inbound.parse import parse_email
from gateway.inbound.safe_markdown import code_span
from gateway.outbound.outbox import FILL_END, FILL_START, THEN
from gateway.outbound.render import Renderer
from gateway.store.db import Tx
from gateway.store.schema import messages, outbox, threads
from gateway.store.values import OutboxRow
from gateway.tracking.commands import (
    Command,
    answer_target,
    parse_commands,
    promote_repository,
    publish_choice,
)
from gateway.tracking.events import CommentEvent
from gateway.weekly.delegation import delegate_in

log = structlog.get_logger("gateway.weekly.commands")

PROMOTE_TEXT_MAX = 8_000  # characters of the first message's text in a product issue


def parse_delegate_args(args: str, tz: dt.tzinfo) -> tuple[dt.datetime, str | None] | str:
    """(until, delegate's login or None) from `until 2026-12-08T17:00 [to LOGIN]`, or what is
    wrong with it."""
    words = args.split()
    usage = "write /delegate until 2026-12-08T17:00 (and, to name someone, to LOGIN)"
    if words[:1] and words[0].lower() == "until":
        words = words[1:]
    to_login = None
    if len(words) == 3 and words[1].lower() == "to":
        to_login = words[2].lstrip("@")
        words = words[:1]
    if len(words) != 1:
        return usage
    try:
        until = dt.datetime.fromisoformat(words[0])
    except ValueError:
        return f"the time is not ISO 8601: {usage}"
    if until.tzinfo is None:
        until = until.replace(tzinfo=tz)
    return until, to_login


def fill(name: str) -> str:
    """A placeholder the writer fills with the done row's result (`outbox.then_rows`)."""
    return f"{FILL_START}{name}{FILL_END}"


@dataclass(frozen=True, slots=True)
class CommandContext:
    settings: ProcessSection
    url: Callable[[int, str], str]  # (number, target) -> the thread's web URL
    list_address: str
    list_prefix: str
    footer_markers: tuple[str, ...]
    schedule: Schedule | None = None  # the schedule file's, for /delegate
    renderer: Renderer | None = None  # the delegate's notice mail
    tz: dt.tzinfo = dt.UTC  # the business time zone: a /delegate time without one is local
    attachments: AttachmentsSection = field(default_factory=AttachmentsSection)
    # Where each target's threads are (owner/name): where /publish copies a file by default.
    repositories: tuple[tuple[str, str], ...] = ()


class CommandHandler:
    def __init__(self, context: CommandContext) -> None:
        self.ctx = context

    def rows(self, tx: Tx, event: CommentEvent, thread_id: str,
             now: dt.datetime) -> list[OutboxRow]:
        """The rows that carry out the commands in a roster member's new comment."""
        if event.action != "created":
            return []
        commands = parse_commands(event.body)
        if not commands:
            return []
        if now - event.at > dt.timedelta(hours=self.ctx.settings.command_max_age_hours):
            tx.after_commit(log.info, "command.skipped", issue=event.number,
                            comment=event.comment_id, reason="too-old",
                            commands=[c.name for c in commands])
            return []
        thread = tx.conn.execute(sa.select(threads).where(
            threads.c.thread_id == thread_id)).first()
        if thread is None:
            return []
        rows: list[OutboxRow] = []
        accepted = False
        for n, command in enumerate(commands):
            key = f"{event.target}:{event.comment_id}:{n}"
            planned = self._plan(tx, event, thread, command, key)
            if isinstance(planned, str):
                rows.append(self._refusal(event, thread_id, command, key, planned))
                tx.after_commit(log.info, "command.refused", issue=event.number,
                                comment=event.comment_id, command=command.name,
                                by=event.author, reason=planned)
            else:
                rows += planned
                accepted = True
                tx.after_commit(log.info, "command.accepted", issue=event.number,
                                comment=event.comment_id, command=command.name,
                                by=event.author)
        if accepted:
            rows.append(OutboxRow(
                key=f"react:{event.target}:{event.comment_id}", kind="react",
                thread_id=thread_id, message_key=None,
                payload={"comment_id": event.comment_id, "content": "+1"}))
        return rows

    # -- one command ------------------------------------------------------------------------

    def _plan(self, tx: Tx, event: CommentEvent, thread: Any, command: Command,
              key: str) -> list[OutboxRow] | str:
        """The rows for one command, or why it is refused."""
        if command.name == "answer":
            return self._answer(event, thread, command, key)
        if command.name == "promote":
            return self._promote(tx, event, thread, command, key)
        if command.name == "publish":
            return self._publish(tx, event, thread, command, key)
        return self._delegate(tx, event, command)

    def _delegate(self, tx: Tx, event: CommentEvent, command: Command) -> list[OutboxRow] | str:
        """`/delegate until T [to LOGIN]`: the Primary hands their role over until T (local
        business time when T has no zone). Recorded with its notice to the delegate in this
        transaction (`weekly.delegation.delegate_in`); the rows are already queued."""
        ctx = self.ctx
        if ctx.schedule is None or ctx.renderer is None:
            return "there is no duty schedule to delegate in"
        parsed = parse_delegate_args(command.args, ctx.tz)
        if isinstance(parsed, str):
            return parsed
        until, to_login = parsed
        outcome = delegate_in(tx, ctx.schedule, ctx.renderer, event.author, until, event.at,
                              "command", to_login=to_login, created_by=event.author)
        if isinstance(outcome, Refusal):
            return outcome.reason
        return []

    def _answer(self, event: CommentEvent, thread: Any, command: Command,
                key: str) -> list[OutboxRow] | str:
        if thread.target != "discussions":
            return ("issues have no answers: close the issue when the inquiry is resolved "
                    "(/answer is for discussions)")
        number = int(thread.issue_number)
        here = self.ctx.url(number, "discussions")
        if command.args:
            link = answer_target(command.args)
            if link is None:
                return ("/answer takes a link to a comment of this discussion, such as "
                        f"{here}#discussioncomment-123")
            if link.number != number:
                return f"the link points to discussion #{link.number}, not this one (#{number})"
            return self._linked_answer(event, thread.thread_id,
                                       f"{here}#discussioncomment-{link.comment_id}", key)
        if event.parent_id is not None:  # a reply cannot be the answer: link it
            return self._linked_answer(event, thread.thread_id,
                                       f"{here}#discussioncomment-{event.comment_id}", key)
        return [OutboxRow(key=f"answer:{key}", kind="mark_answer", thread_id=thread.thread_id,
                          message_key=None, payload={"comment_id": event.comment_id})]

    @staticmethod
    def _linked_answer(event: CommentEvent, thread_id: str, link: str,
                       key: str) -> list[OutboxRow]:
        body = (f"The answer to this inquiry, as `{event.author}` marked it: [this "
                f"comment]({link}).")
        return [OutboxRow(
            key=f"comment:answer:{key}", kind="add_comment", thread_id=thread_id,
            message_key=None, payload={"body": body, THEN: [
                {"key": f"answer:{key}", "kind": "mark_answer",
                 "payload": {"comment_id": fill("comment_id")}}]})]

    def _promote(self, tx: Tx, event: CommentEvent, thread: Any, command: Command,
                 key: str) -> list[OutboxRow] | str:
        try:
            repository = promote_repository(command.args) or self.ctx.settings.product_repository
        except ValueError:
            return "its argument is not a repository: write /promote owner/name"
        if not repository:
            return ("no product repository: write /promote owner/name, or set "
                    "process.product_repository")
        number, target = int(thread.issue_number), str(thread.target)
        inquiry = self.ctx.url(number, target)
        title = issue_title(thread.title, self.ctx.list_prefix) if thread.title else ""
        if not title or title == "(no subject)":
            title = f"Customer inquiry #{number}"
        text = command.text or self._first_text(tx, thread)
        body = (f"{text}\n\n---\nPromoted from customer inquiry {inquiry} by "
                f"`{event.author}`.")
        if target == "discussions":
            resolve: dict[str, Any] = {"key": f"answer:{key}", "kind": "mark_answer",
                                       "payload": {"comment_id": fill("comment_id")}}
        else:
            resolve = {"key": f"close:{key}", "kind": "close_issue",
                       "payload": {"state_reason": "completed",
                                   "labels": [self.ctx.settings.promoted_label]}}
        link = {"key": f"comment:promoted:{key}", "kind": "add_comment",
                "payload": {"body": "Promoted to product development: "
                                    f"{fill('url')}", THEN: [resolve]}}
        return [OutboxRow(
            key=f"promote:{key}", kind="promote", thread_id=thread.thread_id, message_key=None,
            payload={"repository": repository, "title": title, "body": body,
                     "labels": list(self.ctx.settings.promote_labels),
                     "inquiry": inquiry, THEN: [link]})]

    def _publish(self, tx: Tx, event: CommentEvent, thread: Any, command: Command,
                 key: str) -> list[OutboxRow] | str:
        """`/publish <file name or link>`: one stored attachment of this inquiry, copied to
        a public place and linked. Refused when the argument names none, or several."""
        stored: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for row in tx.conn.execute(sa.select(outbox.c.payload).where(
                outbox.c.thread_id == thread.thread_id, outbox.c.kind == STORE_KIND,
                outbox.c.status.in_(("pending", "sending", "done"))).order_by(outbox.c.id)):
            payload = json.loads(row.payload)
            for file in payload.get("files") or ():
                stored[str(file["path"])] = (payload, file)
        if not stored:
            return "this inquiry has no stored attachments"
        choice = publish_choice(command.args, [(path, str(file.get("name", "")))
                                               for path, (_, file) in stored.items()])
        if isinstance(choice, str):
            return choice
        if not choice:
            return "no stored attachment of this inquiry has that name or link"
        if len(choice) > 1:
            return (f"{len(choice)} stored attachments have that name: give the link of the "
                    "one to publish")
        source, file = stored[choice[0]]
        section = self.ctx.attachments
        repository = (section.publish_repository
                      or dict(self.ctx.repositories).get(str(thread.target), ""))
        if not repository:
            return "there is no repository to publish to: set attachments.publish_repository"
        name = code_span(str(file.get("name") or choice[0].rsplit("/", 1)[-1]))
        body = (f"Published by `{event.author}`, with the customer's agreement: "
                f"[{name}]({fill('url')}). Anyone who can read `{repository}` can open it.")
        if str(file.get("content_type", "")).lower() in INLINE_TYPES:
            body += f"\n\n![published attachment]({fill('raw_url')})"
        announce = {"key": f"comment:published:{key}", "kind": "add_comment",
                    "payload": {"body": body}}
        return [OutboxRow(
            key=f"publish:{key}", kind="publish_attachment", thread_id=thread.thread_id,
            message_key=None,
            payload={"store": source.get("store", ""), "path": choice[0],
                     "source_repository": source.get("repository", ""),
                     "source_branch": source.get("branch", "main"),
                     "name": file.get("name", ""), "content_type": file.get("content_type", ""),
                     "repository": repository, "branch": section.publish_branch,
                     "by": event.author, THEN: [announce]})]

    def _first_text(self, tx: Tx, thread: Any) -> str:
        """The first message's visible text (already neutral Markdown), or a pointer."""
        if thread.root_key:
            row = tx.conn.execute(sa.select(messages.c.raw).where(
                messages.c.key == thread.root_key)).first()
            if row is not None:
                email = parse_email(row.raw, list_address=self.ctx.list_address,
                                    key=thread.root_key)
                visible = clean_body(email, self.ctx.footer_markers).visible
                if visible.strip():
                    return visible[:PROMOTE_TEXT_MAX]
        return "*(See the inquiry linked below.)*"

    @staticmethod
    def _refusal(event: CommentEvent, thread_id: str, command: Command, key: str,
                 reason: str) -> OutboxRow:
        body = f"`/{command.name}` was not run: {reason}."
        return OutboxRow(key=f"comment:refused:{key}", kind="add_comment",
                         thread_id=thread_id, message_key=None, payload={"body": body})
