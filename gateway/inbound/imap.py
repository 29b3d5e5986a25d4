"""The IMAP edge: one blocking imapclient connection to the list's mailbox, behind `Mailbox`.

`ImapMailbox` connects (implicit TLS, STARTTLS or plain; password or XOAUTH2), selects the folder
read-write, lists messages above a UID cursor and fetches them with `BODY.PEEK[]` (never
`RFC822`/`BODY[]`, which set \\Seen), marks them processed (a keyword, or a move), and waits for
new mail with IDLE or by sleeping for the poll interval. Its in-memory twin for tests is
`gateway.testing.memory_mailbox.MemoryMailbox`.

Library exceptions are translated here, once: a refused login becomes `ImapAuthError`; network
trouble, timeouts, TLS failures and BYE become `TransientError`; a missing folder or a command
the server refuses becomes `PermanentError`. This module must not store, parse or decide mail,
keep a cursor, retry, or log message contents: `gateway.inbound.source` drives it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import imapclient
from imapclient.exceptions import (
    IMAPClientAbortError,
    IMAPClientError,
    IMAPClientReadOnlyError,
    LoginError,
)

from gateway.config.loader import ImapSection
from gateway.errors import ConfigError, GatewayError, PermanentError, TransientError
from gateway.tls import client_context

IDLE_SLICE = 0.5  # seconds per idle_check: how quickly a set stop event is noticed
CLOSE_TIMEOUT = 5.0  # seconds LOGOUT may take before the socket is just closed
TOKEN_COMMAND_TIMEOUT = 30.0


class ImapAuthError(PermanentError):
    """The server refused the login (wrong password or token); an admin must fix a setting."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internal_date: dt.datetime  # aware, UTC


class Mailbox(Protocol):
    """What the mail source needs from a mailbox; every method may raise a GatewayError."""

    @property
    def uidvalidity(self) -> int: ...
    @property
    def uses_idle(self) -> bool: ...
    def connect(self) -> None: ...
    def fetch_after(self, last_uid: int, limit: int) -> list[FetchedMessage]: ...
    def unprocessed_uids(self) -> list[int]: ...
    def mark_processed(self, uids: Sequence[int]) -> None: ...
    def wait(self, timeout: float, stop: threading.Event) -> bool: ...
    def close(self) -> None: ...


def oauth2_token_reader(settings: ImapSection, base_dir: Path) -> Callable[[], str]:
    """A callable that reads a fresh XOAUTH2 access token (file or command) on every call."""
    if settings.oauth2_token_file:
        path = Path(settings.oauth2_token_file).expanduser()
        path = path if path.is_absolute() else base_dir / path

        def from_file() -> str:
            try:
                return _token(path.read_text(encoding="utf-8"), "imap.oauth2_token_file")
            except OSError as exc:
                raise ImapAuthError(
                    f"imap.oauth2_token_file: cannot read {path}: {exc.strerror}"
                ) from None

        return from_file
    if settings.oauth2_token_command:
        argv = shlex.split(settings.oauth2_token_command)

        def from_command() -> str:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, cwd=base_dir,
                                      timeout=TOKEN_COMMAND_TIMEOUT, check=False)
            except FileNotFoundError:
                raise ImapAuthError(
                    f"imap.oauth2_token_command: {argv[0]!r} not found") from None
            except subprocess.TimeoutExpired:
                raise TransientError("imap.oauth2_token_command timed out") from None
            if done.returncode != 0:
                said = (done.stderr.strip().splitlines() or [""])[-1][:200]
                raise TransientError(
                    f"imap.oauth2_token_command exited {done.returncode}: {said}")
            return _token(done.stdout, "imap.oauth2_token_command")

        return from_command
    raise ConfigError("imap.oauth2_token_file", "imap.auth is xoauth2 but no token source is set",
                      "set imap.oauth2_token_file or imap.oauth2_token_command")


def _token(text: str, setting: str) -> str:
    token = text.strip()
    if not token:
        raise ImapAuthError(f"{setting} gave an empty token")
    return token


def _reason(exc: BaseException) -> str:
    """One short line for logs: the exception type and message, never a traceback."""
    text = str(exc) or "no details"
    return f"{type(exc).__name__}: {text}"[:300]


FETCH_BUDGET = 32 * 1024 * 1024  # bytes of message bodies fetched in one round trip


class ImapMailbox:
    """One connection to `settings.folder`; call `connect()` again after any error."""

    def __init__(
        self,
        settings: ImapSection,
        *,
        password: str | None,
        token_provider: Callable[[], str] | None,
        base_dir: Path,
        password_source: str = "imap.password (or its file or credential)",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`monotonic`: the clock `wait` measures its timeout, IDLE renewal and slices by
        (seconds; tests give their own)."""
        self._settings = settings
        self._monotonic = monotonic
        self._password = password
        self._password_source = password_source  # named in the fix for a refused login
        self._where = f"{settings.host}:{settings.effective_port}"
        if settings.auth == "xoauth2" and token_provider is None:
            token_provider = oauth2_token_reader(settings, base_dir)
        self._token_provider = token_provider
        self._context = self._ssl_context(base_dir) if settings.security != "plain" else None
        self._client: Any = None
        self._broken = False
        self._uidvalidity = 0
        self._idle = self._move = self._uidplus = False

    @property
    def uidvalidity(self) -> int:
        return self._uidvalidity

    @property
    def uses_idle(self) -> bool:
        return self._idle

    def _ssl_context(self, base_dir: Path) -> ssl.SSLContext:
        ca_file = None
        if self._settings.ca_file:
            ca_file = Path(self._settings.ca_file).expanduser()
            ca_file = ca_file if ca_file.is_absolute() else base_dir / ca_file
        return client_context(ca_file, setting="imap.ca_file")

    @contextlib.contextmanager
    def _boundary(self, doing: str) -> Iterator[None]:
        """Translate library exceptions raised while `doing` something (see module docstring)."""
        try:
            yield
        except GatewayError:
            self._broken = True
            raise
        except IMAPClientReadOnlyError as exc:  # a subclass of the abort error: check it first
            self._broken = True
            raise PermanentError(f"imap.folder: {self._settings.folder!r} can only be opened "
                                 "read-only; the account needs write access to flag mail"
                                 ) from exc
        except (OSError, IMAPClientError) as exc:
            # OSError: refused, reset, timeouts, DNS, ssl.SSLError. imaplib's abort error: EOF,
            # BYE. Any other IMAPClientError is a NO/BAD answer to a command.
            self._broken = True
            if isinstance(exc, OSError | IMAPClientAbortError):
                raise TransientError(f"{doing} {self._where}: {_reason(exc)}") from exc
            raise PermanentError(f"{doing} {self._where}: server said {exc}") from exc

    def connect(self) -> None:
        settings = self._settings
        if self._client is not None:
            self.close()
        self._broken = False
        with self._boundary("connecting to"):
            self._client = imapclient.IMAPClient(
                settings.host, port=settings.effective_port, ssl=settings.security == "tls",
                ssl_context=self._context, timeout=settings.timeout)
        try:
            with self._boundary("logging in to"):
                self._client.normalise_times = False  # keep INTERNALDATE's zone: aware datetimes
                if settings.security == "starttls":
                    if not self._client.has_capability("STARTTLS"):
                        raise PermanentError(f"imap.security: {self._where} does not offer "
                                             "STARTTLS; use tls (port 993) or plain")
                    self._client.starttls(ssl_context=self._context)
                self._login()
            with self._boundary("selecting the folder on"):
                self._select()
        except BaseException:
            self.close()
            raise

    def _login(self) -> None:
        settings = self._settings
        account = f"{settings.username!r} at {self._where}"
        if settings.auth == "xoauth2":
            assert self._token_provider is not None
            token, setting = self._token_provider(), "imap.oauth2_token_file or _command"
        else:
            token, setting = self._password or "", f"the password in {self._password_source}"
            if self._password is None:
                raise ImapAuthError(f"no IMAP password for {account}",
                                    "set imap.password_file or the imap-password credential")
        try:
            if settings.auth == "xoauth2":
                self._client.oauth2_login(settings.username, token)
            elif (settings.username + token).isascii():
                self._client.login(settings.username, token)
            else:
                self._plain_login(settings.username, token, account, setting)
        except LoginError as exc:
            text = str(exc)
            if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:  # imaplib hands us a bytes repr
                text = text[2:-1]
            if "[UNAVAILABLE]" in text.upper():  # RFC 5530: the auth backend is down
                raise TransientError(f"login to {self._where}: {text}") from None
            raise ImapAuthError(f"IMAP login as {account} was refused ({text})",
                                f"check imap.username and {setting}") from None

    def _plain_login(self, username: str, password: str, account: str, setting: str) -> None:
        """LOGIN sends its arguments as ASCII (imaplib cannot send anything else before
        RFC 6855's ENABLE UTF8=ACCEPT, which needs a login first), so a user name or password
        with other characters goes by AUTHENTICATE PLAIN, whose SASL message is UTF-8
        (RFC 4616 section 2)."""
        if not self._client.has_capability("AUTH=PLAIN"):
            raise ImapAuthError(
                f"IMAP login as {account}: the password (or user name) has non-ASCII "
                "characters, which need AUTHENTICATE PLAIN, and the server does not offer it",
                f"use an ASCII password for the account ({setting}), or enable the PLAIN "
                "mechanism on the server")
        self._client.plain_login(username, password)

    def _select(self) -> None:
        settings, client = self._settings, self._client
        if settings.processed == "move" and settings.processed_folder == settings.folder:
            raise PermanentError("imap.processed_folder must differ from imap.folder")
        try:
            selected = client.select_folder(settings.folder)  # read-write: we set flags
        except IMAPClientError as exc:
            if not isinstance(exc, IMAPClientAbortError) and not client.folder_exists(
                settings.folder
            ):
                raise PermanentError(f"imap.folder: no folder {settings.folder!r} on "
                                     f"{self._where} for {settings.username!r}") from None
            raise
        self._uidvalidity = int(selected[b"UIDVALIDITY"])
        keeps = selected.get(b"PERMANENTFLAGS")  # RFC 3501 7.1: "\\*" allows new keywords
        if settings.processed == "flag" and keeps is not None and not {
            b"\\*", settings.processed_flag.encode()} & set(keeps):
            raise PermanentError(f"imap.processed: {self._where} does not keep the keyword "
                                 f"{settings.processed_flag!r}; set imap.processed = \"move\"")
        self._idle = settings.idle and client.has_capability("IDLE")
        self._move = client.has_capability("MOVE")  # RFC 6851
        self._uidplus = client.has_capability("UIDPLUS")  # RFC 4315: UID EXPUNGE
        if settings.processed == "move" and not client.folder_exists(settings.processed_folder):
            client.create_folder(settings.processed_folder)
        self._take_news()

    def _take_news(self) -> bool:
        """Forget the untagged responses earlier commands left behind; True if mail came.

        imaplib files every untagged response it reads under its name and keeps it. A message
        that arrives while we FETCH or STORE is announced (RFC 3501 7.3.1 EXISTS) inside that
        command's response, and the server will not repeat it once we IDLE.
        """
        stash: dict[str, list[bytes]] = self._client._imap.untagged_responses
        exists = stash.pop("EXISTS", None)
        recent = stash.pop("RECENT", None)
        stash.clear()  # EXPUNGE/FETCH lines would pile up for the whole session otherwise
        return bool(exists) or any(int(n) > 0 for n in recent or ())

    def _need_client(self) -> Any:
        if self._client is None or self._broken:
            raise TransientError(f"not connected to {self._where}")
        return self._client

    def fetch_after(self, last_uid: int, limit: int) -> list[FetchedMessage]:
        client = self._need_client()
        with self._boundary("fetching from"):
            self._take_news()  # the SEARCH below sees everything announced so far
            # "n:*" always matches the highest UID, even when it is below n (RFC 3501 6.4.8).
            found = client.search(["UID", f"{last_uid + 1}:*"])
            uids = sorted(uid for uid in found if uid > last_uid)[:limit]
            if not uids:
                return []
            uids = self._within_budget(client, uids)
            data = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        fetched = []
        for uid in uids:
            item = data.get(uid)
            if item is None:  # expunged by someone else between SEARCH and FETCH
                continue
            when: dt.datetime = item[b"INTERNALDATE"]
            when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
            raw: bytes = item.get(b"BODY[]") or b""  # NIL body: stored, then quarantined
            fetched.append(FetchedMessage(uid, raw, when.astimezone(dt.UTC)))
        return fetched

    @staticmethod
    def _within_budget(client: Any, uids: list[int]) -> list[int]:
        """The first UIDs whose bodies fit FETCH_BUDGET together (at least one): a batch of
        messages near the 25 MB limit must not be held in memory all at once."""
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        chosen: list[int] = []
        total = 0
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if chosen and total + size > FETCH_BUDGET:
                break
            chosen.append(uid)
            total += size
        return chosen

    def unprocessed_uids(self) -> list[int]:
        client = self._need_client()
        with self._boundary("searching on"):
            if self._settings.processed == "flag":
                return sorted(client.search(["UNKEYWORD", self._settings.processed_flag]))
            return sorted(client.search("ALL"))  # move mode: whatever is still here

    def mark_processed(self, uids: Sequence[int]) -> None:
        if not uids:
            return
        client, settings = self._need_client(), self._settings
        with self._boundary("marking mail processed on"):
            if settings.processed == "flag":
                client.add_flags(list(uids), [settings.processed_flag], silent=True)
            elif self._move:
                client.move(list(uids), settings.processed_folder)
            else:  # no MOVE: COPY, \Deleted, then expunge only these (UIDPLUS) or all \Deleted
                client.copy(list(uids), settings.processed_folder)
                client.delete_messages(list(uids), silent=True)
                if self._uidplus:
                    client.uid_expunge(list(uids))
                else:
                    client.expunge()

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Block until new mail may be there (True), or `timeout`/`stop` (False with IDLE)."""
        if not self._idle:
            return not stop.wait(timeout)
        client = self._need_client()
        deadline = self._monotonic() + timeout
        with self._boundary("waiting in IDLE on"):
            if self._take_news():
                return True
            while True:
                client.idle()
                # RFC 2177: servers may drop a client idle for 30 minutes; re-issue IDLE before.
                renew = self._monotonic() + self._settings.idle_renew_seconds
                news = self._idle_until(min(deadline, renew), stop)
                client.idle_done()  # on a dead connection this raises: that is the check
                news = self._take_news() or news  # EXISTS may come with the answer to DONE
                if news or stop.is_set() or self._monotonic() >= deadline:
                    return news

    def _idle_until(self, until: float, stop: threading.Event) -> bool:
        while not stop.is_set():
            left = until - self._monotonic()
            if left <= 0:
                return False
            window = min(left, IDLE_SLICE)
            started = self._monotonic()
            responses = self._client.idle_check(timeout=window)
            for response in responses:
                if response and response[0] == b"BYE":
                    raise TransientError(f"{self._where} closed the connection: "
                                         f"{b' '.join(map(bytes, response[1:])).decode()}")
                if len(response) >= 2 and (
                    response[1] == b"EXISTS" or (response[1] == b"RECENT" and response[0])
                ):
                    return True
            if not responses and self._monotonic() - started < window / 2:
                # The socket became readable but no whole line came: EOF or reset. Leave IDLE
                # and let idle_done() find out; on a live connection we just fetch once more.
                return True
        return False

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if not self._broken:
            with contextlib.suppress(Exception):
                client.socket().settimeout(CLOSE_TIMEOUT)
                client.logout()
                return
        with contextlib.suppress(Exception):
            client.shutdown()
