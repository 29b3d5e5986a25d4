"""notify.relay_comments end to end, with every part real: `visit-gateway run` as a process,
Dovecot, the GitHub emulator sending signed webhooks over HTTP, and aiosmtpd catching mail.

A customer's question becomes an issue; a team member's comment on GitHub reaches the customer
by mail (list in Cc), threaded under the question; an `/internal` note, the bot's own comment
and a customer's comment on GitHub do not; the relayed mail coming back through the list is
recognised as the gateway's own; and the customer's answer to it threads into the same issue.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import BOT, REPO, WEBHOOK_SECRET, Daemon, free_port, setup_github, wait_for
from ..daemon import write_config as write_daemon_config

pytestmark = pytest.mark.integration

LIST = "visit-users@elist.ornl.gov"


@dataclass
class Inbox:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"

    def relayed(self) -> list[tuple[list[str], EmailMessage]]:
        found = []
        for rcpt, data in list(self.messages):
            message = email.message_from_bytes(data, policy=email.policy.default)
            if " via " in str(message["From"]):
                found.append((rcpt, message))  # type: ignore[arg-type]
        return found


@dataclass
class World:
    emulator: Emulator
    daemon: Daemon
    dovecot: DovecotServer
    inbox: Inbox


@pytest.fixture
def world(tmp_path: Path, dovecot: DovecotServer) -> Iterator[World]:
    emulator = Emulator(seed=21)  # the real clock: comments are "just written"
    token = setup_github(emulator)
    emulator.add_user("jane-roe")  # the customer, who also has a GitHub account
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    try:
        with emulator.serve() as url:
            emulator.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
            extra = (f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "plain"\n'
                     "\n[notify]\nrelay_comments = true\n")
            config = write_daemon_config(tmp_path, dovecot, url, web_port=port, extra=extra)
            daemon = Daemon(config, token=token, password=dovecot.password,
                            log=tmp_path / "daemon.log")
            daemon.start()
            try:
                wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server",
                         daemon)
                yield World(emulator, daemon, dovecot, inbox)
                assert daemon.stop() == 0
            finally:
                daemon.close()
            assert "Traceback" not in daemon.output()
    finally:
        smtp.stop()


def test_a_team_comment_reaches_the_customer_and_the_answer_comes_back(world: World) -> None:
    emu, daemon, inbox = world.emulator, world.daemon, world.inbox
    world.dovecot.append("INBOX", raw({"Message-ID": "<relay-q@univ.edu>",
                                       "Subject": "[visit-users] Silo reader crash"},
                                      "VisIt 3.4 crashes opening my Silo file.\n"))
    wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", daemon)
    [issue] = emu.issues(REPO)

    # Not for the customer: a team note, the bot's own comment, the customer on GitHub.
    emu.comment(REPO, issue.number, "/internal Kathleen, is this the Silo bug?", user="cyrush")
    emu.comment(REPO, issue.number, "posted from mail", user=BOT)
    emu.comment(REPO, issue.number, "I can attach the file", user="jane-roe")
    # For the customer (with an effort line, which stays on GitHub).
    emu.comment(REPO, issue.number, "Which version of Silo wrote the file?\n\n/spend 10m",
                user="cyrush")
    wait_for(lambda: len(inbox.relayed()) >= 1, 30, "the relayed comment", daemon)
    wait_for(lambda: daemon.output().count('"notify.relay_skipped"') >= 1, 10,
             "the /internal note skipped", daemon)
    [(rcpt, mail)] = inbox.relayed()  # only one: what came before was not mailed
    assert sorted(rcpt) == ["jane.roe@univ.edu", LIST]
    assert str(mail["To"]) == "jane.roe@univ.edu" and str(mail["Cc"]) == LIST
    assert mail["From"].addresses[0].display_name.startswith("Cyrus Harrison via ")
    assert mail["In-Reply-To"] == "<relay-q@univ.edu>"
    assert mail["Subject"] == "Re: [visit-users] Silo reader crash"
    body = mail.get_content().replace("\r\n", "\n")  # CRLF as sent on the wire
    assert body.startswith("Which version of Silo wrote the file?\n")
    assert "/spend" not in body and f"/issues/{issue.number}" in body

    # The list delivers our mail back to the gateway's mailbox: it is our own, ignored.
    comments_before = len(emu.comments(REPO, issue.number))
    world.dovecot.append("INBOX", mail.as_bytes())
    echo_key = f'"mid:{mail["Message-ID"]}"'
    wait_for(lambda: echo_key in daemon.output(), 30, "the echo received", daemon)
    # The customer answers the relayed mail: it threads into the same issue.
    answer = raw({"Message-ID": "<relay-a@univ.edu>", "In-Reply-To": str(mail["Message-ID"]),
                  "References": f"<relay-q@univ.edu> {mail['Message-ID']}",
                  "Subject": "Re: [visit-users] Silo reader crash"},
                 "Silo 4.11, written by our own code.\n")
    world.dovecot.append("INBOX", answer)
    wait_for(lambda: any("Silo 4.11" in c.body for c in emu.comments(REPO, issue.number)), 30,
             "the answer as a comment", daemon)
    # The echo (before the answer in the mailbox) made no issue and no comment.
    assert len(emu.issues(REPO)) == 1
    assert len(emu.comments(REPO, issue.number)) == comments_before + 1
    assert len(inbox.relayed()) == 1  # the bot's comment carrying the answer is not mailed
