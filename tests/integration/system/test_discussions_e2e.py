"""Discussions mode end to end: `visit-gateway run` as a process, a real Dovecot, the GitHub
emulator over HTTP (GraphQL, signed webhooks) and aiosmtpd catching the gateway's mail.

A new mail becomes a labelled discussion in the category, whose first comment names the Primary
(the one @mention of the whole conversation); replies from the customer, a CC'd colleague and a
reply-all become comments in order; automatic mail creates nothing; the acknowledgement links
the discussion. On GitHub a team member's reply records the first response, marking an answer
resolves and unmarking reopens. A discussion opened on GitHub in the category is an inquiry
from its creation; one in another category is not."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from gateway.clock import ManualClock
from gateway.config.loader import load_config
from gateway.outbound.discussion_documents import DOCUMENTS
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from gateway.wiring import assignee_function
from tests.unit.inbound.gfm_oracle import live_mentions

from ..daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    WEBHOOK_SECRET,
    Daemon,
    free_port,
    setup_discussions,
    setup_github,
    wait_for,
    write_config,
)
from .test_daemon import ARRIVAL, AUTO, BOUNCE, COLLEAGUE, CUSTOMER, NOTIFICATION, REPLY_ALL, raw

pytestmark = pytest.mark.integration

# The question names two team members: neither may be pinged by it.
QUESTION = raw({"Message-ID": "<q1@univ.edu>", "Subject": "[visit-users] Pseudocolor of a zonal "
                "variable", "Cc": "Ana Lima <ana@univ.edu>"},
               "How do I plot a zonal variable? cc @cyrush and @visit-dav/developers\n")


@dataclass
class Inbox:
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(m, policy=email.policy.default)  # type: ignore[misc]
                for m in list(self.messages)]


@dataclass
class World:
    emulator: Emulator
    daemon: Daemon
    dovecot: DovecotServer
    inbox: Inbox
    db: Path

    def thread(self, number: int) -> sqlite3.Row | None:
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM threads WHERE target = 'discussions' AND issue_number = ?",
                (number,)).fetchone()
            return row


@pytest.fixture
def world(tmp_path: Path, dovecot: DovecotServer) -> Iterator[World]:
    emulator = Emulator(seed=15)  # the real clock: webhooks and comments are "just written"
    token = setup_github(emulator)
    setup_discussions(emulator)
    emulator.add_user("jane-roe")
    emulator.add_collaborator(REPO, "jane-roe", "read")  # may take part in Discussions
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    try:
        with emulator.serve() as url:
            emulator.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
            extra = f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "plain"\n'
            config = write_config(tmp_path, dovecot, url, web_port=port, extra=extra,
                                  github_extra=DISCUSSIONS)
            daemon = Daemon(config, token=token, password=dovecot.password,
                            log=tmp_path / "daemon.log")
            daemon.start()
            try:
                wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server",
                         daemon)
                yield World(emulator, daemon, dovecot, inbox, tmp_path / "state.db")
                assert daemon.stop() == 0
            finally:
                daemon.close()
            assert "Traceback" not in daemon.output()
            assert emulator.graphql_unimplemented() == []
            # Every document the daemon sent is one of the schema-validated constants
            # (tests/unit/outbound/test_discussion_documents.py): nothing was made up ad hoc.
            sent = {" ".join(d.split()) for d in emulator.graphql_documents()}
            known = {" ".join(d.split()) for d in DOCUMENTS.values()}
            assert sent and sent <= known, sent - known
    finally:
        smtp.stop()


def test_mail_becomes_a_labelled_discussion_and_github_tracks_it(world: World) -> None:
    emu, daemon = world.emulator, world.daemon
    for message in (QUESTION, CUSTOMER, COLLEAGUE, REPLY_ALL, AUTO, NOTIFICATION, BOUNCE):
        world.dovecot.append("INBOX", message, msg_time=ARRIVAL)
    wait_for(lambda: len(emu.discussions(REPO)) == 1
             and len(emu.discussion_comments(REPO)) >= 4, 30,
             "the discussion, the notice and three comments", daemon)
    time.sleep(1.0)  # anything else would show up now
    [discussion] = emu.discussions(REPO)
    assert emu.issues(REPO) == []  # nothing went to issues
    assert discussion.title == "Pseudocolor of a zonal variable"
    assert discussion.user == BOT and discussion.labels == ["SRE"]
    [category] = [c for c in emu.discussion_categories(REPO) if c.id == discussion.category_id]
    assert category.name == "Q&A"
    primary = assignee_function(load_config(daemon.config, env={}))(ARRIVAL)
    assert primary is not None
    comments = emu.discussion_comments(REPO, discussion.number)
    assert len(comments) == 4  # auto-reply, notification and bounce made nothing
    assert all(c.reply_to is None and c.user == BOT for c in comments)  # top-level, by the bot
    notice, *replies = comments
    assert f"**Primary:** @{primary}" in notice.body
    assert "it is a Silo file" in replies[0].body
    assert "Same problem here" in replies[1].body
    assert "Try the zonal setting" in replies[2].body
    # The Primary is the one person pinged, once: not the Backup, not those the mail names.
    mentions = [m for body in [discussion.body, *(c.body for c in comments)]
                for m in live_mentions(body)]
    assert mentions == [f"@{primary}"]
    row = world.thread(discussion.number)
    assert row is not None and row["assignee"] == primary and row["node_id"]

    # The acknowledgement links the discussion and calls it one.
    def acks() -> list[EmailMessage]:
        return [m for m in world.inbox.parsed() if "jane.roe@univ.edu" in str(m["To"])]

    wait_for(lambda: len(acks()) == 1, 30, "the acknowledgement", daemon)
    [ack] = acks()
    text = ack.get_content()
    assert f"/{REPO}/discussions/{discussion.number}" in text
    assert f"discussion #{discussion.number}" in text and "issue" not in text

    # A team member's reply (to the customer's comment) is the first response.
    emu.discussion_comment(REPO, discussion.number, "A colleague's thought", user="jane-roe",
                           reply_to=replies[0].id)
    answer = emu.discussion_comment(REPO, discussion.number, "Use the zonal option.",
                                    user="cyrush", reply_to=replies[0].id)
    wait_for(lambda: (world.thread(discussion.number) or {})["first_response_by"] == "cyrush",
             20, "the first response", daemon)
    # Marking an answer resolves; unmarking reopens. Only top-level comments can be answers.
    emu.mark_answer(REPO, replies[0].id, user="cyrush")
    wait_for(lambda: (world.thread(discussion.number) or {})["state"] == "closed", 20,
             "resolved by the answer", daemon)
    emu.unmark_answer(REPO, replies[0].id, user="cyrush")
    wait_for(lambda: (world.thread(discussion.number) or {})["state"] == "open", 20,
             "reopened by unanswering", daemon)
    row = world.thread(discussion.number)
    assert row is not None and row["reopened_count"] == 1 and row["resolved_at"] is None
    assert answer.id != replies[0].id

    # Someone answers GitHub's notification mail about it with the list in Cc: the reply
    # threads into the discussion by GitHub's Message-ID, it opens no new one.
    n = discussion.number
    world.dovecot.append("INBOX", raw({
        "Message-ID": "<via-notification@univ.edu>", "From": "Ana Lima <ana@univ.edu>",
        "In-Reply-To": f"<{REPO}/repo-discussions/{n}/comments/{answer.id}@github.com>",
        "Subject": f"Re: [{REPO}] Pseudocolor of a zonal variable (Discussion #{n})"},
        "Thanks, the zonal option works.\n"))
    wait_for(lambda: any("zonal option works" in c.body
                         for c in emu.discussion_comments(REPO, n)), 30,
             "the reply to the notification as a comment", daemon)
    assert len(emu.discussions(REPO)) == 1


def test_a_discussion_opened_on_github_in_the_category_is_an_inquiry(world: World) -> None:
    emu, daemon = world.emulator, world.daemon
    ours = emu.create_discussion(REPO, "Phone call: plugin build fails", "Written up after "
                                 "a call.", user="jane-roe", category="Q&A")
    other = emu.create_discussion(REPO, "Idea: dark mode", "Please", user="jane-roe",
                                  category="Ideas")
    wait_for(lambda: world.thread(ours.number) is not None, 20, "the inquiry tracked", daemon)
    row = world.thread(ours.number)
    assert row is not None
    assert (row["thread_id"], row["issue_author"], row["state"]) == (
        f"ghd-{ours.number}", "jane-roe", "open")
    assert row["arrived_at"].startswith(ours.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    time.sleep(1.0)
    assert world.thread(other.number) is None  # another category: no inquiry
    emu.discussion_comment(REPO, ours.number, "Which compiler?", user="biagas")
    wait_for(lambda: (world.thread(ours.number) or {})["first_response_by"] == "biagas", 20,
             "the first response", daemon)


LA = ZoneInfo("America/Los_Angeles")


def test_a_discussion_opened_on_github_is_reminded_and_handed_off(
        tmp_path: Path, dovecot: DovecotServer) -> None:
    """The daemon's clock runs from chosen instants (libfaketime): a customer's discussion
    opened on Friday 16:00 is adopted from its webhook, handed to the incoming Primary at the
    Monday 08:00 handoff, and reminded at Monday 10:00 (75% of 4 business hours: Friday 16-17,
    Monday 8-10), each a comment on the discussion that @mentions only its owner."""
    friday = dt.datetime(2026, 3, 6, 16, 0, tzinfo=LA)  # cyrush's week; JustinPrivitera next
    clock = ManualClock(friday - dt.timedelta(hours=1))
    emu = Emulator(seed=16, clock=clock)
    token = setup_github(emu)
    setup_discussions(emu)
    emu.add_user("jane-roe")
    emu.add_collaborator(REPO, "jane-roe", "read")
    port = free_port()
    with emu.serve() as url:
        emu.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
        config = write_config(tmp_path, dovecot, url, web_port=port, github_extra=DISCUSSIONS,
                              extra="\n[notify]\ntick_seconds = 0.5\n")
        daemon = Daemon(config, token=token, password=dovecot.password,
                        log=tmp_path / "daemon.log")
        db = tmp_path / "state.db"

        def thread(number: int) -> sqlite3.Row | None:
            with sqlite3.connect(db) as conn:
                conn.row_factory = sqlite3.Row
                row: sqlite3.Row | None = conn.execute(
                    "SELECT * FROM threads WHERE target = 'discussions' AND issue_number = ?",
                    (number,)).fetchone()
                return row

        def run_from(at: dt.datetime, until: Callable[[], bool], what: str) -> None:
            clock.set(at)
            daemon.start(clock_at=at)
            try:
                wait_for(until, 30, what, daemon)
                assert daemon.stop() == 0
            finally:
                daemon.close()

        try:
            # Friday: the daemon runs (this week's handoff is done), the customer opens it.
            def opened() -> bool:
                return bool(emu.discussions(REPO)) and thread(1) is not None

            clock.set(friday - dt.timedelta(hours=1))
            daemon.start(clock_at=friday - dt.timedelta(hours=1))
            wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server", daemon)
            clock.set(friday)
            discussion = emu.create_discussion(REPO, "Plugin build fails on macOS",
                                               "Since 3.4.1 my plugin fails to build.",
                                               user="jane-roe", category="Q&A")
            assert discussion.number == 1
            wait_for(opened, 30, "the discussion adopted from its webhook", daemon)
            assert daemon.stop() == 0
            row = thread(1)
            assert row is not None and row["issue_author"] == "jane-roe"
            assert row["arrived_at"].startswith("2026-03-07 00:00:00")  # Friday 16:00 PST

            # Monday 08:00 PDT: the handoff comments on it and records the new owner.
            def handed_off() -> bool:
                return any("@JustinPrivitera" in c.body for c in emu.discussion_comments(REPO, 1))

            run_from(dt.datetime(2026, 3, 9, 7, 59, 50, tzinfo=LA), handed_off, "the handoff")
            handoff = emu.discussion_comments(REPO, 1)[-1].body
            assert live_mentions(handoff) == ["@JustinPrivitera"]
            owner = thread(1)
            assert owner is not None and owner["assignee"] == "JustinPrivitera"

            # Monday 10:00: the reminder, to the new owner.
            def reminded() -> bool:
                return len(emu.discussion_comments(REPO, 1)) == 2

            run_from(dt.datetime(2026, 3, 9, 9, 59, 50, tzinfo=LA), reminded, "the reminder")
            reminder = emu.discussion_comments(REPO, 1)[-1]
            assert reminder.user == BOT and "response goal" in reminder.body
            assert live_mentions(reminder.body) == ["@JustinPrivitera"]
            time.sleep(0.5)
            assert len(emu.discussion_comments(REPO, 1)) == 2  # nothing twice across restarts
        finally:
            daemon.close()
    assert "Traceback" not in daemon.output()
    assert emu.issues(REPO) == []
