"""The daemon's logs never contain secrets, message bodies or full addresses: run it through
mail, webhooks and a failing SMTP relay, then grep everything it printed; and provoke a bug
in parsing, in an IMAP round and in webhook handling, and an undecodable header, in process."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

import gateway.inbound.pipeline
from gateway.clock import SystemClock
from gateway.config.loader import Config
from gateway.inbound.pipeline import Pipeline
from gateway.inbound.source import MailSource, SourceStatus
from gateway.log import configure
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from gateway.testing.memory_mailbox import MemoryMailbox
from gateway.web.server import Delivery, DeliveryResult
from tests.conftest import NOW
from tests.unit.mail import raw

from ..daemon import REPO, WEBHOOK_SECRET, Daemon, free_port, setup_github, wait_for, write_config
from ..web.test_web import WEBHOOKS, Server, github_headers

pytestmark = pytest.mark.integration

BODY = "Secret project numbers: 4471-ALPHA"
CUSTOMER = "jane.roe.private@univ.edu"
WEBHOOK_BODY = (WEBHOOKS / "issue_comment.created.0.json").read_bytes()


def test_logs_hold_no_secrets_bodies_or_addresses(tmp_path: Path,
                                                  dovecot: DovecotServer) -> None:
    emu = Emulator(seed=9)
    token = setup_github(emu)
    port = free_port()
    with emu.serve() as url:
        emu.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
        config = write_config(tmp_path, dovecot, url, web_port=port)
        daemon = Daemon(config, token=token, password=dovecot.password,
                        log=tmp_path / "daemon.log")
        daemon.start()
        try:
            dovecot.append("INBOX", raw({"Message-ID": "<hyg@univ.edu>",
                                         "From": f"Jane Roe <{CUSTOMER}>",
                                         "Subject": "[visit-users] Hygiene"}, BODY + "\n"))
            wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the issue", daemon)
            [issue] = emu.issues(REPO)
            emu.comment(REPO, issue.number, "Looking at it.\n/spend 10m", user="cyrush")
            wait_for(lambda: '"webhook.received"' in daemon.output(), 20, "a webhook", daemon)
            # The acknowledgement to the customer is retried against an SMTP relay that is
            # not there: its failures are logged too.
            wait_for(lambda: '"mail.send_retry"' in daemon.output(), 20, "an SMTP retry",
                     daemon)
            time.sleep(0.5)
            assert daemon.stop() == 0
        finally:
            daemon.close()
    out = daemon.output()
    assert out.count("\n") > 10  # it did log
    for secret in (token, dovecot.password, WEBHOOK_SECRET, BODY, CUSTOMER, "4471-ALPHA"):
        assert secret not in out, f"{secret!r} appears in the logs"
    assert "Traceback" not in out


# -- a bug anywhere logs where it happened, never the mail or the body it was holding ------------
# In process, with the daemon's JSON logging: each path's function is replaced by one that
# fails while its local variables hold a customer's address and text.

SECRETS = (CUSTOMER, "jane.roe.private", BODY, "4471-ALPHA")


@pytest.fixture
def json_log(capfd: pytest.CaptureFixture[str]) -> Iterator[io.StringIO]:
    """The daemon's logging (JSON) into a buffer; afterwards stderr must have stayed empty."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure("info", "json", stream=stream)
    yield stream
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    assert capfd.readouterr().err == "", "something wrote to stderr outside the JSON log"


def assert_clean(stream: io.StringIO, *events: str) -> list[dict[str, Any]]:
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    for event in events:
        assert event in [line["event"] for line in lines], f"{event} not logged:\n{text}"
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} appears in the log:\n{text}"
    return lines


def buggy(*_args: object, **_kwargs: object) -> Any:
    raw = f"From: Jane Roe <{CUSTOMER}>\r\n\r\n{BODY}\r\n"  # what a traceback's locals showed
    sender = CUSTOMER
    raise KeyError(sender if raw else None)


def mail_from_customer(subject: str = "[visit-users] Hygiene") -> bytes:
    return raw({"Message-ID": "<hyg@univ.edu>", "From": f"Jane Roe <{CUSTOMER}>",
                "Subject": subject}, BODY + "\n")


def test_a_bug_in_parsing_logs_no_mail(json_log: io.StringIO, pipeline: Pipeline,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway.inbound.pipeline, "parse_email", buggy)
    outcome = pipeline.process(pipeline.ingest(mail_from_customer(), received_at=NOW).key,
                               now=NOW)
    assert outcome.verdict.reason == "unparseable"
    lines = assert_clean(json_log, "mail.parse_failed", "mail.quarantined")
    [failed] = [line for line in lines if line["event"] == "mail.parse_failed"]
    assert failed["exception"][0]["exc_type"] == "KeyError"
    assert failed["exception"][0]["frames"][-1]["name"] == "buggy"


def test_an_undecodable_header_leaves_stderr_empty_and_the_header_out(
        json_log: io.StringIO, pipeline: Pipeline) -> None:
    # mail-parser logs "Failed decoding header part: <the header>" through stdlib logging.
    subject = f"Re: {CUSTOMER} =?utf-8?b?a?="
    pipeline.process(pipeline.ingest(mail_from_customer(subject), received_at=NOW).key,
                     now=NOW)
    lines = assert_clean(json_log, "mail.parser_warning")
    assert {line["logger"] for line in lines if line["event"] == "mail.parser_warning"} == {
        "mailparser.utils"}


def test_a_bug_in_an_imap_round_logs_no_mail(json_log: io.StringIO, pipeline: Pipeline,
                                             example_config: Config,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_ingest(*_args: object, **_kwargs: object) -> Any:
        fetched = f"From: Jane Roe <{CUSTOMER}>\r\n\r\n{BODY}\r\n"  # locals a traceback showed
        raise RuntimeError("a bug in the round" if fetched else "")

    mailbox = MemoryMailbox()
    mailbox.append(mail_from_customer())
    monkeypatch.setattr(pipeline, "ingest_batch", failing_ingest)
    stop = threading.Event()
    source = MailSource(lambda: mailbox, pipeline, example_config.imap, clock=SystemClock(),
                        on_new_work=lambda: None, status=SourceStatus())
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while '"imap.round_failed"' not in json_log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    lines = assert_clean(json_log, "imap.round_failed")
    [failed] = [line for line in lines if line["event"] == "imap.round_failed"]
    assert failed["exception"][0]["frames"][-1]["name"] == "failing_ingest"


def test_a_bug_in_webhook_handling_logs_no_body(json_log: io.StringIO) -> None:
    server = Server()
    comment = json.loads(WEBHOOK_BODY)

    async def failing(delivery: Delivery) -> DeliveryResult:
        payload = delivery.payload
        payload["comment"]["body"] = f"{BODY} from {CUSTOMER}"  # what a traceback's locals showed
        raise KeyError(payload["comment"]["body"])

    server.handler.delegate = failing
    try:
        reply = server.post(WEBHOOK_BODY, github_headers("issue_comment", WEBHOOK_BODY))
    finally:
        server.close()
    assert reply.status == 500
    lines = assert_clean(json_log, "webhook.failed")
    [failed] = [line for line in lines if line["event"] == "webhook.failed"]
    assert failed["exception"][0]["frames"][-1]["name"] == "failing"
    assert comment["comment"]["body"] not in json_log.getvalue()
