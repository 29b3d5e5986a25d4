"""Logging in with a password that is not ASCII, against a real Dovecot.

imaplib sends LOGIN's arguments as ASCII, so such a password used to end the daemon with a
UnicodeEncodeError traceback (exit 1, restarted every 10 s). It now goes by AUTHENTICATE PLAIN,
whose SASL message is UTF-8 (RFC 4616); a server that does not offer PLAIN is a refused login
with the fix (exit 78 at start), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.loader import Config
from gateway.inbound.imap import ImapAuthError, ImapMailbox
from gateway.testing.dovecot import DovecotServer

pytestmark = pytest.mark.integration

PASSWORD = "Pässwörd-ü€ 日本"  # UTF-8, with a space: both are legal in a password


def mailbox(config: Config, server: DovecotServer, password: str) -> ImapMailbox:
    settings = config.imap.model_copy(update={
        "host": server.host, "port": server.port, "security": "plain",
        "username": server.username, "timeout": 5.0})
    return ImapMailbox(settings, password=password, token_provider=None, base_dir=Path(),
                       password_source="$VISIT_GATEWAY_IMAP_PASSWORD")


def test_a_non_ascii_password_logs_in(example_config: Config,
                                      dovecot_factory: Callable[..., DovecotServer]) -> None:
    server = dovecot_factory(users={"gateway": PASSWORD})
    box = mailbox(example_config, server, PASSWORD)
    box.connect()  # logged in and INBOX selected read-write
    try:
        assert box.uidvalidity > 0
        assert box.unprocessed_uids() == []
    finally:
        box.close()
    wrong = mailbox(example_config, server, PASSWORD.replace("€", "$"))
    with pytest.raises(ImapAuthError, match="refused"):
        wrong.connect()


def test_a_server_without_plain_refuses_with_the_fix(
        example_config: Config, dovecot_factory: Callable[..., DovecotServer]) -> None:
    server = dovecot_factory(users={"gateway": PASSWORD}, settings={"auth_mechanisms": "login"})
    with pytest.raises(ImapAuthError) as info:
        mailbox(example_config, server, PASSWORD).connect()
    assert "non-ASCII" in info.value.problem and "does not offer it" in info.value.problem
    assert "$VISIT_GATEWAY_IMAP_PASSWORD" in info.value.fix
