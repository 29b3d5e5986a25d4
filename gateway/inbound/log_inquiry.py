"""`visit-gateway log-inquiry`: a call or visit into the pipeline, exactly once.

`log_inquiry` stores the record's message (`gateway.inbound.hotline`) as the mailbox stores mail
(step 1, committed, in folder `HOTLINE_FOLDER`) and decides it (step 2): its verdict, thread and
outbox rows in one transaction, as `replay` does. The daemon's writer then creates the issue or
discussion. Killed between the steps, the record is decided when the daemon next starts. Logged
again (the same customer, time, subject and way), it is found by its key and nothing more is
queued. Must not build the record's text or talk to GitHub.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog

from gateway.inbound.hotline import HOTLINE_FOLDER, HotlineCall, hotline_message
from gateway.inbound.parse import message_key
from gateway.inbound.pipeline import Pipeline
from gateway.models import CreateIssue, Outcome, RawArrival

log = structlog.get_logger("gateway.inbound.log_inquiry")


@dataclass(frozen=True, slots=True)
class LoggedInquiry:
    """What became of a logged call: its message key and thread; the outcome when this run
    decided it (None: an earlier run had); the issue or discussion number once it exists."""

    key: str
    thread_id: str | None
    outcome: Outcome | None
    number: int | None = None
    target: str = "issues"

    @property
    def created(self) -> CreateIssue | None:
        """The issue or discussion this run queued, if any."""
        actions = self.outcome.actions if self.outcome is not None else ()
        return next((a for a in actions if isinstance(a, CreateIssue)), None)


def log_inquiry(pipeline: Pipeline, call: HotlineCall, *, message_id_domain: str,
                now: dt.datetime) -> LoggedInquiry:
    """Store and decide `call`, unless it was logged before (then report what it became)."""
    raw = hotline_message(call, message_id_domain)
    key, _ = message_key(raw)
    stored = pipeline.store.get_message(key)
    if stored is not None and stored.status != "stored":
        # Logged before: the same inputs give the same key. Storing it again would not add an
        # inquiry, but other notes under the same id would be quarantined as a different message.
        thread = pipeline.store.thread(stored.thread_id) if stored.thread_id else None
        return LoggedInquiry(key, stored.thread_id, None,
                             thread["issue_number"] if thread else None,
                             thread["target"] if thread else "issues")
    if stored is None:
        key = pipeline.ingest_batch([RawArrival(raw, call.at, HOTLINE_FOLDER)])[0].key
    outcome = pipeline.process(key, now=now)
    log.info("hotline.logged", key=key, thread=outcome.thread_id, via=call.logged.via,
             by=call.logged.login, verdict=outcome.verdict.kind.value,
             reason=outcome.verdict.reason)
    created = next((a for a in outcome.actions if isinstance(a, CreateIssue)), None)
    return LoggedInquiry(key, outcome.thread_id, outcome, None,
                         created.target if created else "issues")


def describe(result: LoggedInquiry, call: HotlineCall, tz: dt.tzinfo) -> list[str]:
    """What `log-inquiry` prints: what was queued (or found), and when GitHub will have it."""
    local = call.at.astimezone(tz)
    when = f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"
    kind = "discussion" if result.target == "discussions" else "issue"
    if result.outcome is None and result.thread_id is None:
        return [f"already logged, and kept without an inquiry: see `visit-gateway quarantine "
                f"list` (key {result.key})"]
    if result.outcome is None:
        where = (f"{kind} #{result.number}" if result.number is not None
                 else "not on GitHub yet: it waits in the outbox for `visit-gateway run`")
        return [f"already logged (the same customer, time, subject and --via): thread "
                f"{result.thread_id}, {where}; nothing more was queued"]
    created = result.created
    if created is None:
        verdict = result.outcome.verdict
        return [f"not logged: {verdict.kind.value} ({verdict.reason}"
                f"{': ' + verdict.detail if verdict.detail else ''}); key {result.key}"]
    who = f" for @{created.assignee}" if created.assignee else " (nobody on duty: unassigned)"
    mail = ("an acknowledgement goes to the customer once it exists" if call.logged.ack
            else "no mail goes to the customer (--ack sends the acknowledgement)")
    return [
        f'logged: new {kind} "{created.title}"{who}, arrived {when} (thread {result.thread_id})',
        f"queued: the running daemon (`visit-gateway run`) creates it within a minute; if it "
        f"is not running, it is created when it starts; {mail}",
    ]
