"""The daemon's logs never contain secrets, message bodies or full addresses: run it through
mail, webhooks and a failing SMTP relay, then grep everything it printed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from .daemon import REPO, WEBHOOK_SECRET, Daemon, free_port, setup_github, wait_for, write_config

pytestmark = pytest.mark.integration

BODY = "Secret project numbers: 4471-ALPHA"
CUSTOMER = "jane.roe.private@univ.edu"


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
