"""The SMTP edge: hand composed bytes to the lab's mail server, and nothing else.

Holds the `Mailer` interface, `SmtpMailer` (smtplib: implicit TLS, STARTTLS or plain, optional
AUTH; one connection per call, or per `session()` when the caller has several messages to send)
and `MemoryMailer`, its in-memory twin for tests. smtplib blocks: call these from a worker
thread (`asyncio.to_thread`), never on the event loop.

Errors are translated once, here (README "errors"): no connection, a timeout, a dropped
connection and any 4xx reply are `TransientError` (retry later); 5xx for the message or for
every recipient is `PermanentError` with the server's reply. `MailerSetupError` (a
PermanentError) means the server refused *us* (login, TLS certificate, STARTTLS or AUTH missing,
sender address, greeting): every message will fail the same way until an admin fixes `[smtp]`,
so the caller should pause mail and alert rather than give up on each message. Recipients refused
one by one while others are accepted do not raise: the message is delivered to the accepted
ones and the refused ones are *returned* (and logged with masked addresses), because retrying
the message would deliver it twice to the others. The password never appears in an error, a
log line or a repr. This module must not compose, render or decide what to send.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import structlog

from gateway.errors import ConfigError, GatewayError, PermanentError, TransientError
from gateway.inbound.body import mask_address
from gateway.tls import client_context

log = structlog.get_logger("gateway.outbound.smtp")

Security = Literal["tls", "starttls", "plain"]
_REPLY_LIMIT = 300


class MailerSetupError(PermanentError):
    """The server refused the gateway itself, not one message; an admin must fix `[smtp]`."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A recipient the server refused while it accepted the message for others."""

    address: str
    code: int  # 4xx: may be accepted later; 5xx: will not be
    reply: str


class Mailer(Protocol):
    """Sends one message. `send` returns the recipients refused individually (empty: all
    accepted); it raises TransientError or PermanentError when nobody got the message."""

    def send(
        self, raw: bytes, envelope_from: str, recipients: Sequence[str]
    ) -> tuple[Refusal, ...]: ...

    def check(self) -> None: ...

    def session(self) -> contextlib.AbstractContextManager[None]:
        """Sends made inside it may share one connection; it is closed at the end."""
        ...


class SmtpMailer:
    """smtplib behind `Mailer`: one connection (connect, EHLO, TLS, AUTH, send, QUIT) per call,
    or one for all the sends inside `session()`.

    A shared connection is checked with RSET before each message after the first; if the
    relay dropped it meanwhile (or refuses RSET), the message goes on a fresh one. Any error
    while sending closes it, so a connection in an unknown state never carries the next one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str | None,
        timeout: float,
        ca_file: Path | str | None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ConfigError("smtp.security", f"{security!r} is not tls, starttls or plain",
                              "use tls (port 465), starttls (port 587) or plain (tests only)")
        self._host = host
        self._port = port
        self._security: Security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._where = f"{host}:{port}"
        self._context = _ssl_context(ca_file) if security != "plain" else None
        self._sharing = False  # inside session(): keep the connection between sends
        self._held: smtplib.SMTP | None = None  # the shared connection, between two sends

    def __repr__(self) -> str:
        user = f" as {self._username!r}" if self._username else ""
        return f"SmtpMailer({self._where}, {self._security}{user})"

    def send(
        self, raw: bytes, envelope_from: str, recipients: Sequence[str]
    ) -> tuple[Refusal, ...]:
        """Deliver `raw` (CRLF line ends, as `compose` makes it) to `recipients`."""
        if not recipients:
            raise ValueError("send needs at least one recipient")
        with self._client() as client, self._boundary("sending through"):
            refused = client.sendmail(envelope_from, list(recipients), raw)
        refusals = tuple(
            Refusal(addr, code, _text(reply)) for addr, (code, reply) in refused.items()
        )
        if refusals:
            log.warning(
                "mail.recipients_refused",
                refused=[f"{mask_address(r.address)} {r.code}" for r in refusals],
                accepted=len(recipients) - len(refusals),
            )
        log.debug("smtp.accepted", server=self._where, recipients=len(recipients) - len(refusals),
                  size=len(raw))
        return refusals

    def check(self) -> None:
        """Connect, EHLO, (STARTTLS,) AUTH and QUIT: the settings work, or the error says why."""
        with self._session() as client, self._boundary("checking"):
            client.noop()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Share one connection between the sends made inside (QUIT at the end): a batch of
        acknowledgements costs one TCP and TLS handshake, EHLO and AUTH, not one each."""
        if self._sharing:  # nested: the outer one closes it
            yield
            return
        self._sharing = True
        try:
            yield
        finally:
            self._sharing = False
            client, self._held = self._held, None
            if client is not None:
                _close(client)

    # -- connection ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _client(self) -> Iterator[smtplib.SMTP]:
        """A connection for one message: its own, or the session's (checked with RSET)."""
        if not self._sharing:
            with self._session() as client:
                yield client
            return
        held, self._held = self._held, None
        if held is not None and not _still_there(held):
            _close(held)
            held = None
        client = held if held is not None else self._connect()
        try:
            yield client
        except BaseException:
            _close(client)
            raise
        if self._sharing:
            self._held = client
        else:
            _close(client)

    @contextlib.contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        client = self._connect()
        try:
            yield client
        finally:
            _close(client)

    def _connect(self) -> smtplib.SMTP:
        """Connect, EHLO, (STARTTLS, EHLO,) AUTH; errors translated, the socket closed."""
        client: smtplib.SMTP
        with self._boundary("connecting to"):
            # Connect in the constructor: only it sets the name TLS verifies the certificate
            # against (a later connect() leaves it empty). On a bad greeting it closes the
            # socket itself before raising.
            if self._security == "tls":
                client = smtplib.SMTP_SSL(self._host, self._port,
                                          local_hostname=self._local_hostname,
                                          timeout=self._timeout, context=self._context)
            else:
                client = smtplib.SMTP(self._host, self._port,
                                      local_hostname=self._local_hostname, timeout=self._timeout)
        try:
            with self._boundary("greeting"):
                client.ehlo()
            if self._security == "starttls":
                with self._boundary("starting TLS with"):
                    # Never fall back to plain text when STARTTLS is missing (a downgrade):
                    # smtplib raises SMTPNotSupportedError, a setup error below.
                    client.starttls(context=self._context)
                    client.ehlo()
            if self._username:
                with self._boundary("logging in to"):
                    _login(client, self._username, self._password or "")
        except BaseException:
            _close(client)
            raise
        return client

    @contextlib.contextmanager
    def _boundary(self, doing: str) -> Iterator[None]:
        """Translate smtplib and socket errors raised while `doing` (module docstring)."""
        where = f"{doing} {self._where}"
        try:
            yield
        except GatewayError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _reply in exc.recipients.values()]
            replies = "; ".join(
                f"{mask_address(addr)}: {code} {_text(reply)}"
                for addr, (code, reply) in exc.recipients.items()
            )
            message = f"{where}: every recipient was refused ({replies})"
            if all(500 <= code < 600 for code in codes):
                raise PermanentError(message) from exc
            raise TransientError(message) from exc
        except smtplib.SMTPAuthenticationError as exc:
            message = (f"{where}: login as {self._username!r} was refused: "
                       f"{exc.smtp_code} {_text(exc.smtp_error)}")
            if 400 <= exc.smtp_code < 500:  # RFC 4954 454: temporary authentication failure
                raise TransientError(message) from exc
            raise MailerSetupError(message + "; check smtp.username and smtp.password") from exc
        except smtplib.SMTPNotSupportedError as exc:
            fix = ("use security = tls (port 465), or a server that offers STARTTLS"
                   if "STARTTLS" in str(exc) else "leave smtp.username empty, or use a server "
                   "that offers AUTH (often only after STARTTLS)")
            raise MailerSetupError(f"{where}: {exc} ({fix})") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientError(f"{where}: the server closed the connection ({exc})") from exc
        except smtplib.SMTPResponseException as exc:
            raise _reply_error(where, exc) from exc
        except smtplib.SMTPException as exc:  # e.g. "No suitable authentication method found."
            raise MailerSetupError(f"{where}: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            raise MailerSetupError(
                f"{where}: the server's TLS certificate was not trusted ({exc.verify_message}); "
                "set smtp.ca_file to the CA that signed it, or fix smtp.host to match it"
            ) from exc
        except OSError as exc:  # refused, reset, timeout, DNS, other TLS failures
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TransientError(f"{where}: {reason}") from exc


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """`client.login`, except that credentials with non-ASCII characters are sent as UTF-8
    (RFC 4616 for PLAIN; LOGIN servers take UTF-8 in practice): smtplib encodes AUTH as ASCII
    and would raise UnicodeEncodeError, so every mail would wait for a login that never
    happens. ASCII credentials keep smtplib's own choice of mechanism."""
    if username.isascii() and password.isascii():
        client.login(username, password)
        return
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = client.esmtp_features["auth"].upper().split()
    user, secret = username.encode("utf-8"), password.encode("utf-8")
    if "PLAIN" in offered:
        code, reply = client.docmd("AUTH", "PLAIN " + _b64(b"\0" + user + b"\0" + secret))
    elif "LOGIN" in offered:
        code, reply = client.docmd("AUTH", "LOGIN " + _b64(user))
        if code == 334:
            code, reply = client.docmd(_b64(secret))
    else:
        raise smtplib.SMTPException("No suitable authentication method found (a password with "
                                    "non-ASCII characters needs AUTH PLAIN or LOGIN).")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _reply_error(where: str, exc: smtplib.SMTPResponseException) -> GatewayError:
    """A 4xx reply may heal; a 5xx will not. Greeting, HELO and MAIL FROM refusals are about
    us (every message would fail), DATA refusals about this message."""
    code, text = exc.smtp_code, _text(exc.smtp_error)
    message = f"{where}: the server replied {code} {text}"
    if not 500 <= code < 600:
        return TransientError(message)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailerSetupError(message + " to the envelope sender; check that the server lets "
                                "the gateway's account send as that address")
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return MailerSetupError(message)
    return PermanentError(message)


def _ssl_context(ca_file: Path | str | None) -> ssl.SSLContext:
    path = Path(ca_file).expanduser() if ca_file else None
    return client_context(path, setting="smtp.ca_file")


def _still_there(client: smtplib.SMTP) -> bool:
    """A shared connection still answers (RSET, 250): the relay may close one it finds idle
    or has carried enough messages on."""
    try:
        code, _reply = client.rset()
    except (smtplib.SMTPException, OSError):
        return False
    return code == 250


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely, then close; the outcome is already decided, so errors here are moot."""
    if client.sock is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    client.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    return text if len(text) <= _REPLY_LIMIT else text[: _REPLY_LIMIT - 1] + "…"


# -- the in-memory twin --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentMail:
    raw: bytes
    envelope_from: str
    recipients: tuple[str, ...]


@dataclass
class MemoryMailer:
    """Records what would have been sent. Queue exceptions in `failures` (raised one per call,
    in order) and per-address replies in `refuse` to rehearse the SmtpMailer's outcomes."""

    sent: list[SentMail] = field(default_factory=list)
    failures: list[GatewayError] = field(default_factory=list)
    refuse: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    checks: int = 0

    def send(
        self, raw: bytes, envelope_from: str, recipients: Sequence[str]
    ) -> tuple[Refusal, ...]:
        if not recipients:
            raise ValueError("send needs at least one recipient")
        if self.failures:
            raise self.failures.pop(0)
        refused = tuple(Refusal(a, *self.refuse[a]) for a in recipients if a in self.refuse)
        accepted = tuple(a for a in recipients if a not in self.refuse)
        if not accepted:
            message = f"every recipient was refused ({len(refused)})"
            if all(500 <= r.code < 600 for r in refused):
                raise PermanentError(message)
            raise TransientError(message)
        self.sent.append(SentMail(raw, envelope_from, accepted))
        return refused

    def check(self) -> None:
        self.checks += 1
        if self.failures:
            raise self.failures.pop(0)

    def session(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
