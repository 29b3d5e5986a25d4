"""SmtpMailer against a real aiosmtpd server on 127.0.0.1 (a port the OS picks).

Shows: a composed message arrives byte for byte with its envelope; STARTTLS and implicit TLS
against a certificate made here (and refused without its CA); AUTH LOGIN and PLAIN; how every
failure surfaces (wrong password, no STARTTLS, server down, silent, hanging up, 4xx, 5xx); one
refused recipient of two does not stop the other's copy; sends inside a session share one
connection, and a dropped or failed one is never used again; the in-memory twin keeps the
contract.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.errors import PermanentError, TransientError
from gateway.outbound.mail import MailIdentity, OutboundMail, compose, message_id_for
from gateway.outbound.smtp import MailerSetupError, MemoryMailer, Refusal, SmtpMailer

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
USER, PASSWORD = "gateway", "s3cret-Pa55"
FROM = "visit-gateway@llnl.gov"
JANE, BOB = "jane.roe@univ.edu", "bob@lab.gov"
IDENTITY = MailIdentity(FROM, "VisIt Customer Response", "visit-users@elist.ornl.gov",
                        "X-Visit-Gateway", "visit-dav/live-customer-response",
                        "visit-gateway.llnl.gov")


def composed() -> bytes:
    mail = OutboundMail(
        kind="ack", to=(("Jane Roe", JANE),), cc=(("Bob", BOB),),
        subject="Re: [visit-users] Crash opening a Silo file",
        body="Hello Jane,\n\nWe have your message; ünïcode included.\n.leading dot line\n",
        in_reply_to="<q1@univ.edu>", references=("<q1@univ.edu>",),
        auto_submitted="auto-replied", thread_id="th-1",
    )
    mid = message_id_for("mail:ack:th-1", IDENTITY.message_id_domain)
    return compose(mail, IDENTITY, mid, dt.datetime(2026, 11, 30, 17, 12, tzinfo=dt.UTC))


# -- the server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every accepted envelope; replies can be scripted."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    carriers: list[Any] = field(default_factory=list)  # the connection each message came on

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        login = session.auth_data.decode() if session.authenticated else None
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      envelope.original_content, login))
        self.carriers.append(server)
        return "250 2.0.0 Accepted"


@dataclass
class Accounts:
    """aiosmtpd authenticator: one account; remembers the mechanisms clients used."""

    mechanisms: list[str] = field(default_factory=list)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        return AuthResult(success=ok, handled=False, auth_data=USER.encode() if ok else None)


class LoopbackController(Controller):
    """aiosmtpd's Controller on 127.0.0.1 with an OS-chosen port (no free-port race)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=0, server_hostname="smtp.test", **kwargs)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


Serve = Callable[..., tuple[LoopbackController, Recorder]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start servers with aiosmtpd SMTP keyword arguments; all are stopped afterwards."""
    started: list[LoopbackController] = []

    def start(**kwargs: Any) -> tuple[LoopbackController, Recorder]:
        recorder = Recorder()
        controller = LoopbackController(recorder, **kwargs)
        controller.start()
        started.append(controller)
        return controller, recorder

    yield start
    for controller in started:
        controller.stop()


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and a server certificate for 127.0.0.1 signed by it (EC keys: fast)."""
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey,
                    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None) -> x509.Certificate:
        issuer_name, signer = issuer or (subject, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None),
                           critical=True)
        )
        if issuer is None:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), critical=True)
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
                critical=False,
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = certificate("visit-gateway test CA", ca_key, None)
    leaf = certificate(HOST, server_key, ("visit-gateway test CA", ca_key))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "server.pem", folder / "server.key")
    return Pki(folder / "ca.pem", server)


def mailer(port: int, security: str = "plain", *, username: str = "",
           password: str | None = None, ca_file: Path | None = None,
           timeout: float = 5.0) -> SmtpMailer:
    return SmtpMailer(HOST, port, security, username, password, timeout,  # type: ignore[arg-type]
                      ca_file, local_hostname="gateway.test")


# -- delivery ---------------------------------------------------------------------------------


def test_delivers_exactly_our_bytes_and_envelope(serve: Serve) -> None:
    controller, recorder = serve()
    raw = composed()
    refused = mailer(controller.port).send(raw, FROM, [JANE, BOB])
    assert refused == ()
    assert recorder.received == [Received(FROM, (JANE, BOB), raw, None)]


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_starttls_then_auth(serve: Serve, pki: Pki, mechanism: str) -> None:
    accounts = Accounts()
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    controller, recorder = serve(tls_context=pki.server, require_starttls=True,
                                 auth_required=True, authenticator=accounts,
                                 auth_exclude_mechanism=[other])
    smtp = mailer(controller.port, "starttls", username=USER, password=PASSWORD,
                  ca_file=pki.ca_file)
    smtp.check()
    smtp.send(composed(), FROM, [JANE])
    assert [r.login for r in recorder.received] == [USER]
    assert accounts.mechanisms == [mechanism, mechanism]


def test_implicit_tls_with_auth(serve: Serve, pki: Pki) -> None:
    # aiosmtpd counts only STARTTLS as TLS for AUTH, so on implicit TLS it must be told that
    # AUTH needs no (further) TLS; the connection is encrypted from the first byte.
    controller, recorder = serve(ssl_context=pki.server, authenticator=Accounts(),
                                 auth_require_tls=False)
    smtp = mailer(controller.port, "tls", username=USER, password=PASSWORD, ca_file=pki.ca_file)
    raw = composed()
    smtp.send(raw, FROM, [JANE])
    assert recorder.received == [Received(FROM, (JANE,), raw, USER)]


def test_plain_auth_without_tls(serve: Serve) -> None:
    controller, recorder = serve(authenticator=Accounts(), auth_require_tls=False)
    mailer(controller.port, username=USER, password=PASSWORD).send(composed(), FROM, [JANE])
    assert [r.login for r in recorder.received] == [USER]


# -- refusals of the gateway itself: permanent, and said so --------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_is_a_setup_error(serve: Serve, pki: Pki, security: str) -> None:
    kwargs = {"ssl_context": pki.server} if security == "tls" else {"tls_context": pki.server}
    controller, recorder = serve(**kwargs)
    with pytest.raises(MailerSetupError, match=r"not trusted.*smtp\.ca_file"):
        mailer(controller.port, security).send(composed(), FROM, [JANE])  # system CAs only
    assert recorder.received == []


def test_missing_starttls_never_falls_back_to_plain(serve: Serve) -> None:
    controller, recorder = serve()
    with pytest.raises(MailerSetupError, match="STARTTLS"):
        mailer(controller.port, "starttls").send(composed(), FROM, [JANE])
    assert recorder.received == []


def test_wrong_password_is_permanent_and_never_shown(serve: Serve, pki: Pki) -> None:
    controller, recorder = serve(tls_context=pki.server, require_starttls=True,
                                 auth_required=True, authenticator=Accounts())
    wrong = "wrong-Pa55word"
    smtp = mailer(controller.port, "starttls", username=USER, password=wrong,
                  ca_file=pki.ca_file)
    for attempt in (lambda: smtp.send(composed(), FROM, [JANE]), smtp.check):
        with pytest.raises(PermanentError, match="535") as caught:
            attempt()
        assert isinstance(caught.value, MailerSetupError)
        assert wrong not in str(caught.value) and "smtp.password" in str(caught.value)
    assert wrong not in repr(smtp) and PASSWORD not in repr(smtp)
    assert recorder.received == []


# -- the server is unwell: transient, and quick --------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every TCP connection opened from here on, as (address, timeout): smtplib opens its
    sockets with socket.create_connection. Sleeping fails the test: the mailer never waits
    between attempts (the outbox's backoff decides when to try again)."""
    opened: list[tuple[Any, Any]] = []
    original = socket.create_connection

    def spied(address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> socket.socket:
        opened.append((address, timeout))
        return original(address, timeout, *args, **kwargs)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the mailer slept {seconds} s")

    monkeypatch.setattr(socket, "create_connection", spied)
    monkeypatch.setattr(time, "sleep", no_sleep)
    return opened


def test_server_down_is_transient_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    smtp = mailer(port)
    opened = connections(monkeypatch)
    for attempt in (lambda: smtp.send(composed(), FROM, [JANE]), smtp.check):
        with pytest.raises(TransientError, match="connecting to"):
            attempt()
    assert opened == [((HOST, port), 5.0)] * 2  # one attempt a call, no retry


def test_silent_server_times_out_as_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server((HOST, 0)) as listener:  # accepts in the kernel, never greets
        port = listener.getsockname()[1]
        opened = connections(monkeypatch)
        with pytest.raises(TransientError):
            mailer(port, timeout=0.5).send(composed(), FROM, [JANE])
        # One connection, whose socket waits for the greeting at most the configured 0.5 s
        # (a mailer that waited for ever would be stopped by pytest's timeout).
        assert opened == [((HOST, port), 0.5)]


def test_hang_up_is_transient() -> None:
    with socket.create_server((HOST, 0)) as listener:
        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        with pytest.raises(TransientError, match="closed the connection"):
            mailer(listener.getsockname()[1]).send(composed(), FROM, [JANE])
        thread.join()


@pytest.mark.parametrize("where", ["data", "every recipient"])
def test_451_is_transient(serve: Serve, where: str) -> None:
    controller, recorder = serve()
    if where == "data":
        recorder.data_reply = "451 4.3.0 Try again later"
    else:
        recorder.rcpt_replies = {JANE: "451 4.7.1 Greylisted", BOB: "451 4.7.1 Greylisted"}
    with pytest.raises(TransientError, match="451"):
        mailer(controller.port).send(composed(), FROM, [JANE, BOB])
    assert recorder.received == []


# -- the message or a recipient is refused ------------------------------------------------------


def test_one_refused_recipient_does_not_stop_the_other(serve: Serve) -> None:
    controller, recorder = serve()
    recorder.rcpt_replies = {BOB: "550 5.1.1 No such user"}
    raw = composed()
    refused = mailer(controller.port).send(raw, FROM, [JANE, BOB])
    assert refused == (Refusal(BOB, 550, "5.1.1 No such user"),)
    assert recorder.received == [Received(FROM, (JANE,), raw, None)]


def test_every_recipient_refused_is_permanent(serve: Serve) -> None:
    controller, recorder = serve()
    recorder.rcpt_replies = {JANE: "550 5.1.1 No such user", BOB: "550 5.1.1 No such user"}
    with pytest.raises(PermanentError, match=r"every recipient was refused.*5\.1\.1") as caught:
        mailer(controller.port).send(composed(), FROM, [JANE, BOB])
    assert JANE not in str(caught.value)  # addresses are masked in errors (they get logged)


def test_message_refused_at_data_is_permanent(serve: Serve) -> None:
    controller, recorder = serve()
    recorder.data_reply = "554 5.6.0 Message rejected as spam"
    with pytest.raises(PermanentError, match=r"554 5\.6\.0 Message rejected") as caught:
        mailer(controller.port).send(composed(), FROM, [JANE])
    assert not isinstance(caught.value, MailerSetupError)


# -- one connection for several messages --------------------------------------------------------


def spied_sockets(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    opened: list[socket.socket] = []
    original = socket.create_connection

    def spied(*args: Any, **kwargs: Any) -> socket.socket:
        opened.append(original(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(socket, "create_connection", spied)
    return opened


def test_sends_in_a_session_share_one_connection_closed_at_its_end(
        serve: Serve, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = Accounts()
    controller, recorder = serve(tls_context=pki.server, require_starttls=True,
                                 auth_required=True, authenticator=accounts)
    smtp = mailer(controller.port, "starttls", username=USER, password=PASSWORD,
                  ca_file=pki.ca_file)
    opened = spied_sockets(monkeypatch)
    raws = [composed().replace(b"ack", f"ack{n}".encode(), 1) for n in range(5)]
    with smtp.session():
        for raw in raws:
            assert smtp.send(raw, FROM, [JANE, BOB]) == ()
    assert [r.content for r in recorder.received] == raws  # each once, byte for byte
    # one TCP connection, one TLS handshake and one login for the five
    assert len(opened) == 1 and len(accounts.mechanisms) == 1
    assert len({id(c) for c in recorder.carriers}) == 1

    plain, _ = serve()
    smtp = mailer(plain.port)
    with smtp.session():
        smtp.send(raws[0], FROM, [JANE])
        smtp.send(raws[1], FROM, [JANE])
        assert len(opened) == 2 and opened[1].fileno() != -1
    assert opened[1].fileno() == -1  # QUIT and closed at the session's end
    smtp.send(raws[0], FROM, [JANE])  # outside a session: a connection of its own again
    smtp.send(raws[1], FROM, [JANE])
    assert len(opened) == 4 and all(sock.fileno() == -1 for sock in opened[1:])


def test_a_connection_the_relay_dropped_is_replaced_without_an_error(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    controller, recorder = serve()
    smtp = mailer(controller.port)
    opened = spied_sockets(monkeypatch)
    with smtp.session():
        smtp.send(composed(), FROM, [JANE])
        [carrier] = recorder.carriers
        dropped = threading.Event()
        controller.loop.call_soon_threadsafe(
            lambda: (carrier.transport.close(), dropped.set()))
        assert dropped.wait(5)
        time.sleep(0.1)  # the FIN reaches our socket (nothing here depends on how long)
        assert smtp.send(composed(), FROM, [BOB]) == ()
    assert len(opened) == 2
    assert [r.rcpt_tos for r in recorder.received] == [(JANE,), (BOB,)]
    assert recorder.carriers[0] is not recorder.carriers[1]


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "554 5.6.0 Rejected"])
def test_a_failed_send_closes_the_shared_connection(
        serve: Serve, monkeypatch: pytest.MonkeyPatch, reply: str) -> None:
    controller, recorder = serve()
    smtp = mailer(controller.port)
    opened = spied_sockets(monkeypatch)
    with smtp.session():
        smtp.send(composed(), FROM, [JANE])
        recorder.data_reply = reply
        with pytest.raises((TransientError, PermanentError), match=reply[:3]):
            smtp.send(composed(), FROM, [JANE])
        assert opened[0].fileno() == -1  # never carries another message
        recorder.data_reply = None
        smtp.send(composed(), FROM, [BOB])
    assert len(opened) == 2
    assert [r.rcpt_tos for r in recorder.received] == [(JANE,), (BOB,)]


# -- the twin -------------------------------------------------------------------------------


def test_memory_mailer_keeps_the_contract() -> None:
    twin = MemoryMailer(refuse={BOB: (550, "5.1.1 No such user")})
    raw = composed()
    assert twin.send(raw, FROM, [JANE, BOB]) == (Refusal(BOB, 550, "5.1.1 No such user"),)
    assert [(s.raw, s.recipients) for s in twin.sent] == [(raw, (JANE,))]
    with pytest.raises(PermanentError):
        twin.send(raw, FROM, [BOB])
    twin.failures.append(TransientError("connecting to smtp: refused"))
    with pytest.raises(TransientError):
        twin.send(raw, FROM, [JANE])
    assert len(twin.sent) == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_non_ascii_password_logs_in(serve: Serve, mechanism: str) -> None:
    """smtplib encodes AUTH as ASCII, so a password with 'ü' raised UnicodeEncodeError (and
    every mail waited forever). RFC 4616 (PLAIN) and common practice (LOGIN) send UTF-8."""
    password = "Grüße-Straße-42"
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"

    def utf8_account(server: Any, session: Any, envelope: Any, mech: str,
                     auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == password.encode("utf-8"))
        return AuthResult(success=ok, handled=False, auth_data=USER.encode() if ok else None)

    controller, recorder = serve(authenticator=utf8_account, auth_require_tls=False,
                                 auth_exclude_mechanism=[other])
    mailer(controller.port, username=USER, password=password).send(composed(), FROM, [JANE])
    assert [r.login for r in recorder.received] == [USER]


def test_a_wrong_non_ascii_password_is_refused_as_a_setup_error(serve: Serve) -> None:
    controller, recorder = serve(authenticator=Accounts(), auth_require_tls=False)
    with pytest.raises(MailerSetupError, match=r"refused.*smtp\.username and smtp\.password"):
        mailer(controller.port, username=USER, password="Grüße").send(composed(), FROM, [JANE])
    assert recorder.received == []
