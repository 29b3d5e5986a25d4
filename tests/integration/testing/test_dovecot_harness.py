"""The Dovecot test harness works, against a real Dovecot, with the client the gateway uses.

Everything the gateway relies on is checked here once, so a failure in a gateway test can be
trusted to be about the gateway: login, IDLE, BODY.PEEK[] not setting \\Seen, keywords,
UIDVALIDITY changes, server-side disconnects, TLS, crash/restart.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import imapclient
import pytest
from imapclient.exceptions import IMAPClientAbortError, LoginError

from gateway.testing import dovecot as dovecot_module
from gateway.testing.dovecot import DovecotNotInstalledError, DovecotServer

pytestmark = pytest.mark.integration

RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: visits@example.org\r\n"
    b"Subject: Visit request\r\n"
    b"Message-ID: <visit-1@example.org>\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    b"\r\n"
    b"Can we visit on Friday?\r\n"
)
KEYWORD = "$Gatewayed"


def _message(n: int) -> bytes:
    return RAW.replace(b"visit-1@", f"visit-{n}@".encode())


def test_starts_fast_and_speaks_imap_with_idle(dovecot: DovecotServer) -> None:
    print(f"dovecot start-up: {dovecot.last_startup_seconds * 1000:.0f} ms ({dovecot.describe()})")
    assert dovecot.last_startup_seconds < 2.0
    assert dovecot.host == "127.0.0.1"
    with dovecot.client() as imap:
        caps = set(imap.capabilities())
        assert {b"IDLE", b"UIDPLUS", b"MOVE"} <= caps, caps
        assert imap.folder_exists("INBOX")


def test_body_peek_leaves_message_unseen_and_body_intact(dovecot: DovecotServer) -> None:
    uid = dovecot.append("INBOX", RAW)
    with dovecot.client() as imap:
        imap.select_folder("INBOX")  # read-write, as the gateway does
        data = imap.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
        assert data[uid][b"BODY[]"] == RAW
    assert "\\Seen" not in dovecot.flags("INBOX", uid)

    # The check above can fail: a plain BODY[] does set \Seen on this server.
    with dovecot.client() as imap:
        imap.select_folder("INBOX")
        imap.fetch([uid], ["BODY[]"])
    assert "\\Seen" in dovecot.flags("INBOX", uid)


def test_custom_keyword_is_permanent_and_persists(dovecot: DovecotServer) -> None:
    uid = dovecot.append("INBOX", RAW, flags=["\\Flagged"])
    with dovecot.client() as imap:
        selected = imap.select_folder("INBOX")
        assert b"\\*" in selected[b"PERMANENTFLAGS"], selected
        imap.add_flags([uid], [KEYWORD], silent=True)
    assert dovecot.flags("INBOX", uid) == {"\\Flagged", KEYWORD}

    dovecot.restart()
    assert dovecot.flags("INBOX", uid) == {"\\Flagged", KEYWORD}
    with dovecot.client() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert imap.search(["KEYWORD", KEYWORD]) == [uid]
        assert imap.search(["UNKEYWORD", KEYWORD]) == []


def test_append_helpers_folders_and_uids(dovecot: DovecotServer) -> None:
    dovecot.create_folder("Processed")
    dovecot.create_folder("Processed")  # idempotent
    assert set(dovecot.folders()) == {"INBOX", "Processed"}
    first = dovecot.append("INBOX", _message(1))
    second = dovecot.append("INBOX", _message(2), flags=["\\Seen"])
    moved = dovecot.append("Processed", _message(3))
    assert second > first
    assert dovecot.uids("INBOX") == [first, second]
    assert dovecot.uids("Processed") == [moved]
    assert dovecot.flags("INBOX", second) == {"\\Seen"}
    assert dovecot.fetch("Processed", moved) == _message(3)

    dovecot.add_user("other", "other-password")
    assert dovecot.uids("INBOX", user="other") == []
    with dovecot.client("other") as imap:
        assert imap.select_folder("INBOX")[b"EXISTS"] == 0


def test_reset_uidvalidity_changes_it_and_keeps_the_mail(dovecot: DovecotServer) -> None:
    dovecot.create_folder("Lists/visits")
    for folder in ("INBOX", "Lists/visits"):
        uids = [dovecot.append(folder, _message(n)) for n in range(3)]
        before = dovecot.uidvalidity(folder)
        after = dovecot.reset_uidvalidity(folder)
        assert after != before
        with dovecot.client() as imap:
            selected = imap.select_folder(folder)
            assert selected[b"UIDVALIDITY"] == after
            assert imap.search("ALL") == uids
    with pytest.raises(ValueError):
        dovecot.reset_uidvalidity("INBOX", uidvalidity=dovecot.uidvalidity("INBOX"))


def test_reset_uidvalidity_can_renumber_the_messages(dovecot: DovecotServer) -> None:
    old_uids = [dovecot.append("INBOX", _message(n), flags=[KEYWORD] if n else []) for n in (0, 1)]
    selected = dovecot.client()
    try:
        selected.select_folder("INBOX")
        before = dovecot.uidvalidity()
        after = dovecot.reset_uidvalidity("INBOX", renumber=True)
        with pytest.raises((IMAPClientAbortError, OSError)):  # * BYE ... please relogin
            selected.noop()
    finally:
        selected.shutdown()
    assert after != before
    new_uids = dovecot.uids("INBOX")
    assert len(new_uids) == 2
    assert min(new_uids) > max(old_uids)
    assert [dovecot.fetch("INBOX", uid) for uid in new_uids] == [_message(0), _message(1)]
    assert dovecot.flags("INBOX", new_uids[0]) == set()
    assert dovecot.flags("INBOX", new_uids[1]) == {KEYWORD}


def test_idle_client_hears_of_new_mail(dovecot: DovecotServer) -> None:
    with dovecot.client() as idler:
        idler.select_folder("INBOX")
        idler.idle()
        started = time.monotonic()
        uid = dovecot.append("INBOX", RAW)  # another connection
        appended = time.monotonic()
        responses: list[object] = []
        while time.monotonic() - appended < 10 and (1, b"EXISTS") not in responses:
            responses += idler.idle_check(timeout=1)
        delay = time.monotonic() - appended
        idler.idle_done()
        print(f"IDLE EXISTS arrived {delay * 1000:.0f} ms after the APPEND completed")
        assert (1, b"EXISTS") in responses, responses
        assert delay < 5, delay
        assert idler.search("ALL") == [uid]
        assert started <= appended


def test_idle_keepalive_interval_is_configurable(dovecot: DovecotServer) -> None:
    dovecot.configure(imap_idle_notify_interval="1 secs")
    with dovecot.client() as idler:
        idler.select_folder("INBOX")
        idler.idle()
        responses: list[object] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            isinstance(r, tuple) and r and r[0] == b"OK" for r in responses
        ):
            responses += idler.idle_check(timeout=1)
        idler.idle_done()
    assert any(isinstance(r, tuple) and r and r[0] == b"OK" for r in responses), responses


def test_idle_can_be_hidden_for_the_polling_fallback(
    dovecot_factory: Callable[..., DovecotServer],
) -> None:
    server = dovecot_factory(disable_capabilities=("IDLE", "MOVE"))
    with server.client() as imap:
        caps = set(imap.capabilities())
        assert b"IDLE" not in caps
        assert b"MOVE" not in caps
        assert b"UIDPLUS" in caps


def test_disconnect_all_clients_then_log_in_again(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", RAW)
    victim = dovecot.client()
    try:
        victim.select_folder("INBOX")
        assert dovecot.disconnect_all_clients() == 1
        with pytest.raises((IMAPClientAbortError, OSError)):
            victim.noop()
    finally:
        victim.shutdown()

    with dovecot.client() as again:
        assert again.select_folder("INBOX")[b"EXISTS"] == 1

    brutal = dovecot.client()
    try:
        brutal.select_folder("INBOX")
        assert dovecot.disconnect_all_clients(graceful=False) >= 1
        with pytest.raises((IMAPClientAbortError, OSError)):
            brutal.noop()
    finally:
        brutal.shutdown()
    assert dovecot.uids("INBOX") == [1]


def test_tls_implicit_and_starttls(dovecot_tls: DovecotServer) -> None:
    server = dovecot_tls
    assert server.tls_port != server.port
    assert Path(server.ca_path).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    uid = server.append("INBOX", RAW)

    context = ssl.create_default_context(cafile=str(server.ca_path))
    with imapclient.IMAPClient(
        server.host, port=server.tls_port, ssl=True, ssl_context=context, timeout=10
    ) as imap:
        imap.login(server.username, server.password)
        imap.select_folder("INBOX", readonly=True)
        assert imap.search("ALL") == [uid]

    with imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as imap:
        assert b"STARTTLS" in imap.capabilities()
        imap.starttls(ssl_context=server.ssl_context())
        imap.login(server.username, server.password)
        assert imap.folder_exists("INBOX")

    modes: tuple[Literal["starttls", "implicit"], ...] = ("starttls", "implicit")
    for mode in modes:
        with server.client(tls=mode) as imap:
            assert imap.folder_exists("INBOX")

    # The CA really is what makes the certificate trusted.
    with (
        socket.create_connection((server.host, server.tls_port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname=server.host)


def test_tls_certificates_from_openssl_when_cryptography_is_missing(
    dovecot_factory: Callable[..., DovecotServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_cryptography(self: DovecotServer) -> None:
        raise ImportError("cryptography")

    monkeypatch.setattr(DovecotServer, "_make_certificates_cryptography", no_cryptography)
    server = dovecot_factory(tls=True)
    with server.client(tls="implicit") as imap:
        assert imap.folder_exists("INBOX")


def test_wrong_password_is_a_login_error(dovecot: DovecotServer) -> None:
    # Answered at once: the server runs with no failure delay (Dovecot's own is 2 s), as its
    # configuration tool reads the file it was started with.
    delay = subprocess.run(["doveconf", "-c", str(dovecot.config_path), "-h",
                            "auth_failure_delay"], capture_output=True, text=True, check=True)
    assert delay.stdout.strip() == "0"
    with pytest.raises(LoginError):
        dovecot.client(password="not-the-password")
    with dovecot.client() as imap:  # the right one still works: no penalty for the failure
        assert imap.folder_exists("INBOX")


def test_kill_then_start_keeps_the_mail_and_the_port(dovecot: DovecotServer) -> None:
    uid = dovecot.append("INBOX", RAW)
    with dovecot.client() as imap:
        imap.select_folder("INBOX")
        imap.add_flags([uid], [KEYWORD])
    validity, port = dovecot.uidvalidity("INBOX"), dovecot.port

    connected = dovecot.client()
    try:
        dovecot.kill()
        assert not dovecot.running
        with pytest.raises((IMAPClientAbortError, OSError)):
            connected.noop()
    finally:
        connected.shutdown()
    with pytest.raises(OSError), socket.create_connection((dovecot.host, port), timeout=2):
        pass

    dovecot.start()
    assert dovecot.port == port
    assert dovecot.uids("INBOX") == [uid]
    assert dovecot.flags("INBOX", uid) == {KEYWORD}
    assert dovecot.uidvalidity("INBOX") == validity
    assert dovecot.fetch("INBOX", uid) == RAW


def test_missing_dovecot_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dovecot_module, "_SBIN_DIRS", ())
    with pytest.raises(DovecotNotInstalledError) as excinfo:
        DovecotServer()
    message = str(excinfo.value)
    assert "scripts/install-test-servers" in message
    assert "apt-get install -y --no-install-recommends dovecot-imapd" in message


def test_ports_are_below_the_ephemeral_range() -> None:
    """A port an outgoing connection can be given may be taken by a client's self-connect
    while the server is down (see `free_port`)."""
    from gateway.testing.dovecot import _ephemeral_low, free_port

    ports = {free_port() for _ in range(50)}
    assert all(1024 <= port < _ephemeral_low() for port in ports)
    assert len(ports) > 1


def test_the_ports_of_one_server_differ_even_when_the_same_one_comes_up_twice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A TLS server needs two ports; drawn one after the other, both draws once gave the same
    port and Dovecot refused the configuration ("duplicate listener"). The first stays bound
    while the second is chosen, so a second draw of it is refused like any port in use."""
    import random

    from gateway.testing.dovecot import free_port, free_ports

    first = free_port()
    repeats = [first, first, first]  # drawn three times, then the real draws
    original = random.SystemRandom.randint
    monkeypatch.setattr(random.SystemRandom, "randint",
                        lambda self, a, b: repeats.pop() if repeats else original(self, a, b))
    ports = free_ports(2)
    assert ports[0] == first
    assert ports[1] != first


def test_processes_say_what_each_session_does(dovecot: DovecotServer) -> None:
    with dovecot.client() as idler:
        idler.select_folder("INBOX")
        idler.idle()
        try:
            deadline = time.monotonic() + 10
            while not any("IDLE" in line for line in dovecot.processes()):
                assert time.monotonic() < deadline, dovecot.processes()
                time.sleep(0.05)
        finally:
            idler.idle_done()
        titles = dovecot.processes()
        assert any(f"/imap [{dovecot.username} 127.0.0.1" in line for line in titles), titles
    dovecot.stop()
    assert dovecot.processes() == []


def test_a_stuck_harness_session_reports_every_dovecot_process(dovecot: DovecotServer) -> None:
    import os
    import signal

    assert dovecot._proc is not None
    group = dovecot._proc.pid
    dovecot.session_timeout = 0.5
    os.killpg(group, signal.SIGSTOP)  # the greeting never comes
    try:
        with pytest.raises(dovecot_module.DovecotError) as raised:
            dovecot.append("INBOX", RAW)
    finally:
        os.killpg(group, signal.SIGCONT)
    message = str(raised.value)
    assert "the harness's IMAP login timed out" in message
    listed = [line.split() for line in message.splitlines() if line[:1].isdigit()]
    assert any(line[2].endswith("/auth") for line in listed), message
    assert all(line[1] == "T" for line in listed), message  # stopped, as they were
    dovecot.session_timeout = 10.0
    assert dovecot.append("INBOX", RAW) == 1
