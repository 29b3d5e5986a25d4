"""A simulated week of outbound mail with a manual clock: a real store, the GitHub emulator
with the real writer, a real SMTP server (aiosmtpd) with the real mail sender.

Thursday and Friday-evening/Saturday inquiries are acknowledged to their senders; the Monday
08:00 handoff reassigns the outgoing Primary's issue with a comment, notices its customer and
sends one team summary; reminders at 75% of the goal and escalations at the goal fire at the
right business instants; nothing fires twice across a "restart"; SMTP down for an hour delays
mail without losing or duplicating it; every mail we send is classified as our own, and a
customer's reply to one threads into the right issue."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from gateway.clock import ManualClock
from gateway.config.loader import Config
from gateway.duty.load import business_calendar, duty_schedule
from gateway.inbound.classify import classify
from gateway.inbound.parse import parse_email
from gateway.inbound.pipeline import Pipeline
from gateway.outbound.github import GitHubTracker
from gateway.outbound.mail import MailIdentity
from gateway.outbound.outbox import Outbox
from gateway.outbound.pacing import WriteBudget
from gateway.outbound.render import Renderer
from gateway.outbound.sender import MailSender
from gateway.outbound.smtp import SmtpMailer
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.testing.github_emulator import Emulator
from gateway.weekly.notify import Notifier, NotifyContext
from gateway.wiring import assignee_function, pipeline_settings
from tests.unit.mail import raw

from ..daemon import BOT, REPO, setup_github

pytestmark = pytest.mark.integration
LA = ZoneInfo("America/Los_Angeles")


@dataclass
class Inbox:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Week:
    clock: ManualClock
    pipeline: Pipeline
    writer: GitHubWriter
    sender: MailSender
    notifier: Notifier
    emulator: Emulator
    inbox: Inbox
    smtp_port: int
    store: Store
    context: NotifyContext
    controller: Controller | None = None

    def mail(self, headers: dict[str, str], body: str, at: dt.datetime) -> None:
        self.clock.set(at)
        message = raw({**headers, "Date": email.utils.format_datetime(at)}, body)
        self.pipeline.process(self.pipeline.ingest(message, received_at=at).key, now=at)

    def drain(self) -> None:
        for _ in range(200):
            github = self.writer.step()
            mail = self.sender.step()
            if github is not None and mail is not None:
                return
        raise AssertionError("the outbox did not drain")

    def at(self, when: dt.datetime) -> list[str]:
        self.clock.set(when)
        fired = self.notifier.tick(when)
        self.drain()
        return fired

    def smtp_up(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.smtp_port)
        self.controller.start()

    def smtp_down(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None

    def sent(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[misc]
                for _rcpt, data in self.inbox.messages]


@pytest.fixture
def week(tmp_path: Path, example_config: Config, store: Store) -> Iterator[Week]:
    clock = ManualClock(dt.datetime(2026, 3, 5, 9, 0, tzinfo=LA))
    emulator = Emulator(seed=4, clock=clock)
    token = setup_github(emulator)
    calendar = business_calendar(example_config)
    schedule = duty_schedule(example_config, calendar)
    context = NotifyContext(
        settings=example_config.raw.notify, calendar=calendar, schedule=schedule,
        renderer=Renderer(calendar), list_address=example_config.list.address,
        list_prefix=example_config.list.subject_prefix,
        issue_url="https://github.example/" + REPO + "/issues/{number}",
        team_emails=frozenset(p.email for p in schedule.people) if schedule else frozenset())
    notifier = Notifier(store, context)
    pipeline = Pipeline(store, pipeline_settings(example_config),
                        assignee_function(example_config))
    inbox = Inbox()
    port = free_port()
    with emulator.serve() as url:
        def tracker() -> GitHubTracker:
            return GitHubTracker(api_url=url, token=token, repository=REPO, bot_login=BOT,
                                 timeout=5, secondary_wait=60)

        outbox = Outbox(store)
        budget = WriteBudget(dt.timedelta(0), 10_000, 10_000)
        writer = GitHubWriter(outbox, tracker, budget, clock, backoff_base=0.01,
                              on_issue_created=notifier.ack_row)
        identity = MailIdentity(
            from_address=example_config.mail.from_address,
            from_name=example_config.mail.from_name, reply_to=example_config.list.address,
            loop_header=example_config.mail.loop_header, loop_id=example_config.loop_id,
            message_id_domain=example_config.mail.message_id_domain)
        sender = MailSender(outbox, SmtpMailer("127.0.0.1", port, "plain", "", None, 5, None),
                            identity, clock, backoff_base=60.0, seed=1)
        state = Week(clock, pipeline, writer, sender, notifier, emulator, inbox, port, store,
                     context)
        state.smtp_up()
        try:
            yield state
        finally:
            if state.controller is not None:
                state.smtp_down()


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=LA)


def test_a_simulated_week(week: Week, example_config: Config) -> None:
    # Thursday 2026-03-05 10:00: an inquiry during cyrush's week (an explicit week in the
    # example schedule; Justin Privitera is Primary from Monday 03-09, cyrush his Backup).
    week.mail({"Message-ID": "<thu@univ.edu>", "Subject": "[visit-users] Thursday question",
               "From": "Thu Customer <thu@univ.edu>"}, "Question on Thursday\n", local(5, 10))
    week.drain()
    # Somebody answered it on GitHub, so it gets no nudges; it stays open over the weekend.
    [thursday] = week.emulator.issues(REPO)
    assert thursday.assignees == ["cyrush"]
    with week.store.tx() as tx:
        tx.conn.execute(threads.update().where(threads.c.issue_number == thursday.number)
                        .values(first_response_at=local(5, 11), first_response_by="cyrush"))
    # Friday 18:00 and Saturday 10:00: weekend mail belongs to the coming week's Primary.
    week.mail({"Message-ID": "<fri@univ.edu>", "Subject": "[visit-users] Friday evening",
               "From": "Fri Customer <fri@univ.edu>"}, "Question on Friday evening\n",
              local(6, 18))
    week.mail({"Message-ID": "<sat@lab.gov>", "Subject": "[visit-users] Saturday",
               "From": "Sat Customer <sat@lab.gov>"}, "Question on Saturday\n", local(7, 10))
    week.drain()
    issues = {i.title: i for i in week.emulator.issues(REPO)}
    assert issues["Friday evening"].assignees == ["JustinPrivitera"]
    assert issues["Saturday"].assignees == ["JustinPrivitera"]
    acks = week.sent()
    assert [m["To"] for m in acks] == ["Thu Customer <thu@univ.edu>",
                                       "Fri Customer <fri@univ.edu>",
                                       "Sat Customer <sat@lab.gov>"]
    assert all(m["Auto-Submitted"] == "auto-replied" for m in acks)
    assert acks[1]["In-Reply-To"] == "<fri@univ.edu>"
    assert f"/issues/{issues['Friday evening'].number}" in acks[1].get_content()
    assert "Justin Privitera" in acks[1].get_content()  # Monday's Primary is named

    # Monday 2026-03-09 08:00 PDT: handoff cyrush -> JustinPrivitera.
    fired = week.at(local(9, 8))
    assert [k for k in fired if k.startswith("handoff:")] == ["handoff:2026-03-09T15:00Z"]
    assert week.emulator.issue(REPO, thursday.number).assignees == ["JustinPrivitera"]
    assert any("JustinPrivitera" in c.body or "Justin Privitera" in c.body
               for c in week.emulator.comments(REPO, thursday.number))
    after_handoff = week.sent()[3:]
    notice = [m for m in after_handoff if m["To"] == "thu@univ.edu"]
    assert len(notice) == 1 and notice[0]["In-Reply-To"] == "<thu@univ.edu>"
    summary = [m for m in after_handoff if "handoff" in str(m["Subject"]).lower()
               and m["To"] != "thu@univ.edu"]
    assert len(summary) == 1 and "privitera1@llnl.gov" in str(summary[0]["To"])
    assert "cyrush@llnl.gov" in str(summary[0]["To"])  # the incoming Backup

    # Reminders at 11:00 (75% of 4 business hours from the 08:00 opening), not before.
    assert [k for k in week.at(local(9, 10, 59)) if k.startswith("reminder")] == []
    reminders = week.at(local(9, 11))
    assert sorted(k.split(":")[0] for k in reminders) == ["reminder", "reminder"]
    friday = issues["Friday evening"].number
    assert any("@JustinPrivitera" in c.body for c in week.emulator.comments(REPO, friday))
    # Escalation at 12:00: a comment to the Backup and a mail to both.
    before = len(week.sent())
    escalations = week.at(local(9, 12))
    assert sorted(k.split(":")[0] for k in escalations) == ["escalation", "escalation"]
    escalation_mail = week.sent()[before:]
    assert len(escalation_mail) == 2
    assert all("privitera1@llnl.gov" in str(m["To"]) and "cyrush@llnl.gov" in str(m["To"])
               for m in escalation_mail)

    # A "restart": a new notifier over the same store fires nothing again.
    again = Notifier(week.store, week.context)
    assert again.tick(local(9, 12, 5)) == []

    # SMTP down for an hour: a new inquiry's ack waits, then goes out once, after.
    week.smtp_down()
    week.mail({"Message-ID": "<mon@univ.edu>", "Subject": "[visit-users] Monday",
               "From": "Mon Customer <mon@univ.edu>"}, "Question on Monday\n", local(9, 13))
    count = len(week.inbox.messages)
    week.drain()
    assert len(week.inbox.messages) == count
    [waiting] = [i for i in week.sender.outbox.open_items() if i.kind == "send_mail"]
    assert waiting.last_error
    week.smtp_up()
    week.clock.set(local(9, 14, 5))
    week.drain()
    monday = [m for m in week.sent() if m["To"] == "Mon Customer <mon@univ.edu>"]
    assert len(monday) == 1

    # Everything we sent is our own mail to the classifier: no loops.
    rules = pipeline_settings(example_config).classify
    for _rcpt, data in week.inbox.messages:
        parsed = parse_email(data, list_address=example_config.list.address)
        verdict = classify(parsed, rules)
        assert verdict is not None and verdict.reason == "own-mail", parsed.subject

    # A customer's reply to the acknowledgement threads into the Friday issue.
    ack = acks[1]
    week.mail({"Message-ID": "<fri-2@univ.edu>", "From": "Fri Customer <fri@univ.edu>",
               "Subject": f"Re: {ack['Subject']}", "In-Reply-To": ack["Message-ID"],
               "References": f"<fri@univ.edu> {ack['Message-ID']}"}, "More details\n",
              local(9, 15))
    week.drain()
    assert any("More details" in c.body for c in week.emulator.comments(REPO, friday))
    # ...and a reply to the handoff notice threads into the Thursday issue.
    week.mail({"Message-ID": "<thu-2@univ.edu>", "From": "Thu Customer <thu@univ.edu>",
               "Subject": f"Re: {notice[0]['Subject']}",
               "In-Reply-To": notice[0]["Message-ID"]}, "Thanks for the note\n", local(9, 16))
    week.drain()
    assert any("Thanks for the note" in c.body
               for c in week.emulator.comments(REPO, thursday.number))
    time.sleep(0)  # keep the event loop of the SMTP controller happy on slow machines
