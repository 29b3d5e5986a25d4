"""A private, real Dovecot IMAP server for tests.

``DovecotServer`` writes a self-contained Dovecot 2.3 configuration into a temporary directory
and runs ``dovecot -F -c <conf>`` as a child process. Nothing of the system installation is
used except the binaries: the config does not include ``/etc/dovecot``; ``base_dir``,
``state_dir``, the log, the ``passwd-file`` with the test users, the TLS certificate and the
mail (``maildir:``) all live under the temporary directory, which ``close()`` removes.

    with DovecotServer() as server:               # started; stopped and cleaned on exit
        uid = server.append("INBOX", b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
        with server.client() as imap:             # a logged-in imapclient.IMAPClient
            imap.select_folder("INBOX")

Listening: 127.0.0.1 only, on free ephemeral ports picked at construction; the ports stay the
same across ``stop()``/``start()``/``kill()``/``restart()`` so a daemon under test can
reconnect to the same address. With ``tls=True`` there is an implicit-TLS (imaps) port too,
and STARTTLS is offered on the plain port; the certificate is signed by a throw-away CA whose
PEM is ``ca_path`` (``ssl_context()`` returns a client context that trusts it). Plaintext
login stays allowed on the plain port either way.

Privileges: as root, Dovecot runs with its usual privilege separation (the ``dovecot`` and
``dovenull`` users that the Debian package creates) and the mail is owned by the ``dovecot``
user (Dovecot refuses mail access as root). As an ordinary user everything runs as that user.

Dovecot missing: ``DovecotNotInstalledError`` names ``scripts/install-test-servers`` and the
apt-get command. Tests must fail with it, never skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import grp
import ipaddress
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import imapclient

__all__ = [
    "DOVECOT_CAPABILITIES",
    "INSTALL_HINT",
    "DovecotError",
    "DovecotNotInstalledError",
    "DovecotServer",
    "DovecotStartError",
    "find_dovecot",
]

INSTALL_HINT = (
    "Install it with: scripts/install-test-servers   (or: sudo apt-get update && "
    "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
    "dovecot-imapd)"
)

# Dovecot 2.3's post-login capability list, used to build ``imap_capability`` when
# ``disable_capabilities`` removes some. (Dovecot appends LITERAL+ itself only while
# imap_capability is unset; SPECIAL-USE appears only with special-use mailboxes configured.)
DOVECOT_CAPABILITIES: tuple[str, ...] = (
    "IMAP4rev1",
    "SASL-IR",
    "LOGIN-REFERRALS",
    "ID",
    "ENABLE",
    "IDLE",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=REFERENCES",
    "THREAD=REFS",
    "THREAD=ORDEREDSUBJECT",
    "MULTIAPPEND",
    "URL-PARTIAL",
    "CATENATE",
    "UNSELECT",
    "CHILDREN",
    "NAMESPACE",
    "UIDPLUS",
    "LIST-EXTENDED",
    "I18NLEVEL=1",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "ESORT",
    "SEARCHRES",
    "WITHIN",
    "CONTEXT=SEARCH",
    "LIST-STATUS",
    "BINARY",
    "MOVE",
    "SNIPPET=FUZZY",
    "PREVIEW=FUZZY",
    "PREVIEW",
    "STATUS=SIZE",
    "SAVEDATE",
    "NOTIFY",
    "LITERAL+",
)

_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_HOST = "127.0.0.1"
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_SettingValue = str | int | bool | None


class DovecotError(RuntimeError):
    """The test Dovecot could not do what was asked; the message includes the log tail."""


class DovecotNotInstalledError(DovecotError):
    """``dovecot``/``doveadm`` are not installed; the message says how to install them."""


class DovecotStartError(DovecotError):
    """Dovecot did not come up (bad config, port taken, ...); the message has the log."""


def find_dovecot() -> tuple[str, str]:
    """Return the paths of ``dovecot`` and ``doveadm`` or raise DovecotNotInstalledError.

    Looks on PATH and in the sbin directories (an ordinary user's PATH often lacks them).
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    found = [shutil.which(name, path=search) for name in ("dovecot", "doveadm")]
    dovecot, doveadm = found
    if dovecot is None or doveadm is None:
        raise DovecotNotInstalledError(
            "Dovecot is not installed (no `dovecot`/`doveadm` on PATH or in "
            f"{', '.join(_SBIN_DIRS)}); the IMAP integration tests need a real server. "
            + INSTALL_HINT
        )
    return dovecot, doveadm


def _ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (Linux; else IANA's 49152)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def free_port() -> int:
    """A free port BELOW the ephemeral range. A port inside it can be handed to a client's
    outgoing connection: a gateway reconnecting to a stopped server on 127.0.0.1:P may be given
    P itself as its source port, and Linux then connects the socket to itself (TCP simultaneous
    open). The client waits for a greeting on it until its timeout, and Dovecot restarting on P
    meanwhile fails with "Address already in use" (seen once in CI in test_sdnotify)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports, as `free_port` chooses them. Each stays bound until all
    are chosen: two calls of `free_port` in a row may return the same port, and Dovecot then
    refuses its configuration ("duplicate listener", seen once in a full run)."""
    high = min(_ephemeral_low(), 65536) - 1
    low = max(1024, min(20000, high - 2000))
    rng = random.SystemRandom()
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for _ in range(200 * count):
            port = rng.randint(low, high)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((_HOST, port))
            except OSError:
                sock.close()
                continue
            held.enter_context(sock)
            ports.append(port)
            if len(ports) == count:
                return ports
    raise DovecotError(f"no {count} free ports between {low} and {high} on {_HOST}")


def _render(value: _SettingValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _secs(value: float | str) -> str:
    """Dovecot time setting: numbers are seconds, strings are passed through ("2 mins")."""
    if isinstance(value, str):
        return value
    if value != int(value):
        return f"{round(value * 1000)} msecs"
    return f"{int(value)} secs"


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel SIGKILL the child (Dovecot's master, the postmaster) if the test
    process dies. Popen runs it after any user switch, which would clear the setting."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _group_pids(pgid: int) -> list[tuple[int, str, str]]:
    """(pid, comm, state) of the live (non-zombie) processes in process group ``pgid``."""
    found: list[tuple[int, str, str]] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        if len(fields) < 3 or fields[0] in ("Z", "X"):
            continue
        if int(fields[2]) == pgid:
            found.append((int(entry.name), head.partition("(")[2], fields[0]))
    return found


class DovecotServer:
    """A private Dovecot IMAP server in a temporary directory (see the module docstring).

    Options (all keyword-only):

    ``users``
        ``{username: password}``; default ``{"gateway": "gateway-password"}``. The first user
        is the default for ``username``/``password``/``client()``. More can be added at any
        time with ``add_user`` (Dovecot re-reads the passwd-file when it changes).
    ``tls``
        Generate a CA + server certificate, set ``ssl = yes``, listen for implicit TLS on
        ``tls_port`` and offer STARTTLS on ``port``.
    ``disable_capabilities``
        Capabilities to hide from the post-login CAPABILITY, e.g. ``("IDLE",)`` to test the
        polling fallback or ``("MOVE",)`` for COPY+EXPUNGE. (Dovecot still accepts the command
        if a client sends it anyway.)
    ``idle_notify_interval``
        ``imap_idle_notify_interval``: how often an idling client gets ``* OK Still here``
        (Dovecot's default is 2 minutes). Seconds or a Dovecot time string.
    ``mailbox_idle_check_interval``
        How often IDLE re-checks the mailbox when no inotify event came (default here: 1 s,
        Dovecot's is 30 s); new mail normally arrives through inotify within ~0.5 s anyway.
    ``settings``
        Extra top-level settings, e.g. ``{"mailbox_list_index": False,
        "mail_max_userip_connections": 5}``; booleans become yes/no, ``None`` an empty value.
        Later ``configure()`` calls add to them.
    ``extra_config``
        Raw text appended to the config (for blocks such as ``protocol imap { ... }``).
    ``separator``
        Hierarchy separator of the INBOX namespace (default ``/``).
    ``auth_failure_delay``
        Seconds Dovecot waits before answering a failed login (default 0 here, 2 in Dovecot).
    ``auth_penalty``
        Dovecot normally delays every login from an IP for 2-15 s after a failed one from it
        (anvil "auth penalty"), which makes wrong-password tests slow and the next tests'
        logins too; off by default here. ``True`` restores it.
    ``verbose``
        ``auth_debug``/``mail_debug`` into the log.
    ``root_dir``
        Use this (existing or creatable) directory instead of a fresh temporary one; it is not
        removed by ``close()``.
    ``startup_timeout``
        Seconds to wait for the greeting before ``DovecotStartError``.
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: bool = False,
        disable_capabilities: Iterable[str] = (),
        idle_notify_interval: float | str | None = None,
        mailbox_idle_check_interval: float | str = 1,
        settings: Mapping[str, _SettingValue] | None = None,
        extra_config: str = "",
        separator: str = "/",
        auth_failure_delay: float = 0,
        auth_penalty: bool = False,
        verbose: bool = False,
        root_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self._dovecot_bin, self._doveadm_bin = find_dovecot()
        if root_dir is None:
            self._root = Path(tempfile.mkdtemp(prefix="gw-dovecot-"))
            self._owns_root = True
        else:
            self._root = Path(root_dir)
            self._root.mkdir(parents=True, exist_ok=True)
            self._owns_root = False
        # Dovecot's unprivileged processes (auth as `dovecot`, login as `dovenull`) must be able
        # to traverse into the directory; mkdtemp makes it 0700.
        self._root.chmod(0o755)
        self._tls = tls
        self._separator = separator
        self._startup_timeout = startup_timeout
        #: the client timeout of the helpers' own sessions (append, uids, flags, ...)
        self.session_timeout = 10.0
        self._users: dict[str, str] = dict(users or {"gateway": "gateway-password"})
        if not self._users:
            raise ValueError("DovecotServer needs at least one user")
        self._disabled_caps = tuple(c.upper() for c in disable_capabilities)
        self._settings: dict[str, _SettingValue] = {
            "mailbox_idle_check_interval": _secs(mailbox_idle_check_interval),
            "auth_failure_delay": _secs(auth_failure_delay),
        }
        if idle_notify_interval is not None:
            self._settings["imap_idle_notify_interval"] = _secs(idle_notify_interval)
        if verbose:
            self._settings.update(auth_debug=True, mail_debug=True, auth_verbose=True)
        self._settings.update(settings or {})
        self._extra_config = extra_config
        self._auth_penalty = auth_penalty
        self._instance = f"gwtest-{secrets.token_hex(4)}"

        self._mail_uid, self._mail_gid = self._pick_mail_owner()
        for sub in ("run", "state", "home"):
            (self._root / sub).mkdir(exist_ok=True)
        self._chown(self._root / "home")
        ports = free_ports(2 if tls else 1)
        self._port, self._tls_port = ports[0], (ports[1] if tls else 0)
        self._ca_path = self._root / "tls" / "ca.pem"
        self._cert_path = self._root / "tls" / "server.pem"
        self._key_path = self._root / "tls" / "server.key"
        if tls:
            self._make_certificates()
        self._write_passwd()
        self._write_config()

        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._closed = False
        # Safety net: if a test forgets close(), kill the process group at garbage collection
        # or interpreter exit (PR_SET_PDEATHSIG covers a killed test process).
        self._finalizer = weakref.finalize(self, DovecotServer._reap, None, None)
        self._ever_started = False
        self.last_startup_seconds: float = 0.0

    # ----------------------------------------------------------------- properties
    @property
    def host(self) -> str:
        return _HOST

    @property
    def port(self) -> int:
        """The plain IMAP port (STARTTLS is offered on it when ``tls=True``)."""
        return self._port

    @property
    def tls_port(self) -> int:
        """The implicit-TLS (imaps) port; only with ``tls=True``."""
        if not self._tls:
            raise DovecotError("this DovecotServer was made without tls=True: no imaps port")
        return self._tls_port

    @property
    def tls(self) -> bool:
        return self._tls

    @property
    def username(self) -> str:
        return next(iter(self._users))

    @property
    def password(self) -> str:
        return self._users[self.username]

    @property
    def users(self) -> dict[str, str]:
        return dict(self._users)

    @property
    def root_dir(self) -> Path:
        return self._root

    @property
    def config_path(self) -> Path:
        return self._root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        """Dovecot's log (logins, errors); ``log_tail()`` reads its end for failure messages."""
        return self._root / "dovecot.log"

    @property
    def stderr_path(self) -> Path:
        """What the master process printed itself (fatal config errors before logging)."""
        return self._root / "dovecot.stderr"

    @property
    def ca_path(self) -> Path:
        """PEM of the CA that signed the server certificate: what clients should trust."""
        self._need_tls()
        return self._ca_path

    @property
    def cert_path(self) -> Path:
        """PEM of the server certificate (SAN: 127.0.0.1, localhost)."""
        self._need_tls()
        return self._cert_path

    @property
    def pid(self) -> int | None:
        """PID of the Dovecot master process while running."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def maildir(self, user: str | None = None) -> Path:
        """The user's Maildir root (INBOX); other folders are ``.Name`` inside it."""
        return self._root / "home" / (user or self.username) / "Maildir"

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Start Dovecot and wait for the IMAP greeting (and the TLS handshake with ``tls``).

        Retries a few times when a port is briefly still held (e.g. right after ``kill()``).
        """
        if self._closed:
            raise DovecotError("this DovecotServer was closed")
        if self.running:
            return self
        self._reap_proc()
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            self._launch()
            try:
                self._wait_ready(started + self._startup_timeout)
            except DovecotStartError as exc:
                self._kill_group()
                in_use = "Address already in use" in self.log_tail(40)
                if in_use and attempts < 20 and time.monotonic() - started < self._startup_timeout:
                    if not self._ever_started:
                        # Someone took a port between our probe and Dovecot's bind: new ports.
                        ports = free_ports(2 if self._tls else 1)
                        self._port, self._tls_port = ports[0], (ports[1] if self._tls else 0)
                        self._write_config()
                    time.sleep(0.1)
                    continue
                raise exc from None
            break
        self._ever_started = True
        self.last_startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop "gracefully": every connected client gets ``* BYE Server shutting down.``.

        Dovecot's own SIGTERM shutdown takes over a second and closes client connections
        without a BYE, so instead the client processes (``imap``, ``imap-login``) are sent
        SIGTERM, and once they are gone the rest (master and helpers) is SIGKILLed. The mail
        is safe: only the client processes write it.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(DovecotError):
                self._end_client_processes({"imap", "imap-login"}, signal.SIGTERM, timeout)
        self._kill_group()

    def kill(self) -> None:
        """Crash it: SIGKILL the master and all its children at once (no BYE, no cleanup)."""
        if self._proc is None:
            return
        self._kill_group()

    def restart(self) -> Self:
        """``stop()`` then ``start()``; same ports, same mail, config re-read."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory (unless ``root_dir`` was given)."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            if self._owns_root:
                shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DovecotServer {self.host}:{self.port} {state} root={self._root}>"

    # ----------------------------------------------------------------- configuration
    def configure(
        self, settings: Mapping[str, _SettingValue] | None = None, /, **more: _SettingValue
    ) -> None:
        """Add/override top-level settings and apply them by restarting (if running).

        E.g. ``server.configure(imap_idle_notify_interval="1 secs")``. A restart disconnects
        every client; mail, users and ports are kept.
        """
        self._settings.update(settings or {})
        self._settings.update(more)
        self._write_config()
        if self.running:
            self.restart()

    def add_user(self, username: str, password: str, *, timeout: float = 5.0) -> None:
        """Add (or change the password of) a user, without a restart.

        Dovecot re-reads the passwd-file when it changes, but looks at most once a second, so
        while running this waits (``doveadm auth test``) until the new password works.
        """
        self._users[username] = password
        self._write_passwd()
        if not self.running:
            return
        deadline = time.monotonic() + timeout
        while True:
            result = self.doveadm("auth", "test", username, password, check=False)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise DovecotError(
                    f"user {username!r} still cannot log in after {timeout}s: "
                    f"{result.stdout.strip()} {result.stderr.strip()}\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def describe(self) -> str:
        """One line for failure messages: address, user, log path."""
        return (
            f"dovecot at {self.host}:{self.port}"
            + (f" (imaps {self._tls_port})" if self._tls else "")
            + f" user={self.username!r} log={self.log_path}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log and of the master's stderr, for assertion messages."""
        parts = []
        for path in (self.stderr_path, self.log_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()
                if text:
                    parts.append(f"--- {path.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts) or "(no dovecot log yet)"

    # ----------------------------------------------------------------- clients
    def ssl_context(self) -> ssl.SSLContext:
        """A client SSLContext that trusts this server's CA (hostname checks stay on)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def client(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        timeout: float = 10.0,
    ) -> imapclient.IMAPClient:
        """A logged-in ``imapclient.IMAPClient``; use it as a context manager (logs out).

        ``tls="starttls"`` upgrades the plain port, ``tls="implicit"`` uses ``tls_port``;
        both trust ``ca_path``.
        """
        user = username or self.username
        secret = password if password is not None else self._users[user]
        if tls == "implicit":
            client = imapclient.IMAPClient(
                self.host,
                port=self.tls_port,
                ssl=True,
                ssl_context=self.ssl_context(),
                timeout=timeout,
            )
        else:
            client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        try:
            if tls == "starttls":
                client.starttls(ssl_context=self.ssl_context())
            client.login(user, secret)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def processes(self) -> list[str]:
        """What each of Dovecot's processes is doing: its title (``verbose_proctitle``) and
        state, e.g. ``"4242 S dovecot/imap [bob 127.0.0.1 IDLE]"``. Empty when stopped."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        found = []
        for pid, comm, state in _group_pids(self._proc.pid):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                text = title.decode(errors="replace").strip() or comm
            except OSError:
                text = comm
            found.append(f"{pid} {state} {text}")
        return found

    @contextlib.contextmanager
    def _session(self, user: str | None) -> Iterator[Any]:
        try:
            client = self.client(user, timeout=self.session_timeout)
        except TimeoutError as exc:
            raise self._stuck("login", exc) from exc
        try:
            yield client
        except TimeoutError as exc:
            raise self._stuck("a command", exc) from exc
        finally:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    def _stuck(self, what: str, exc: BaseException) -> DovecotError:
        """A harness session that timed out, with what every Dovecot process was doing then
        (a lock held by another session shows as that session's command)."""
        listing = "\n".join(self.processes()) or "(no dovecot process)"
        return DovecotError(f"the harness's IMAP {what} timed out ({exc}); dovecot's "
                            f"processes:\n{listing}\n{self.log_tail()}")

    # ----------------------------------------------------------------- mailbox helpers
    def create_folder(self, name: str, *, user: str | None = None) -> None:
        """Create a mailbox (no error if it exists) and subscribe to it."""
        with self._session(user) as imap:
            if not imap.folder_exists(name):
                imap.create_folder(name)
            imap.subscribe_folder(name)

    def folders(self, *, user: str | None = None) -> list[str]:
        with self._session(user) as imap:
            return [str(name) for _flags, _sep, name in imap.list_folders()]

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Iterable[str | bytes] = (),
        msg_time: dt.datetime | None = None,
        *,
        user: str | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder`` and return its UID (from UIDPLUS ``APPENDUID``)."""
        with self._session(user) as imap:
            response = imap.append(folder, raw, flags=tuple(flags), msg_time=msg_time)
        text = response if isinstance(response, bytes) else str(response).encode()
        match = _APPENDUID.search(text)
        if match is None:
            raise DovecotError(f"APPEND to {folder!r} gave no APPENDUID: {response!r}")
        return int(match.group(2))

    def uids(self, folder: str = "INBOX", *, user: str | None = None) -> list[int]:
        """All UIDs in ``folder``, ascending (read-only EXAMINE: changes no flags)."""
        with self._session(user) as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in imap.search("ALL"))

    def flags(self, folder: str, uid: int, *, user: str | None = None) -> frozenset[str]:
        """The flags of one message as strings, e.g. ``{"\\\\Seen", "$Gatewayed"}``.

        ``\\Recent`` is left out: it depends on which session looked first.
        """
        with self._session(user) as imap:
            imap.select_folder(folder, readonly=True)
            data = imap.get_flags([uid])
        if uid not in data:
            raise DovecotError(f"no message with UID {uid} in {folder!r}")
        names = (f.decode() if isinstance(f, bytes) else str(f) for f in data[uid])
        return frozenset(name for name in names if name != "\\Recent")

    def fetch(self, folder: str, uid: int, *, user: str | None = None) -> bytes:
        """The raw message (``BODY.PEEK[]``: does not set ``\\Seen``)."""
        with self._session(user) as imap:
            imap.select_folder(folder, readonly=True)
            data = imap.fetch([uid], ["BODY.PEEK[]"])
        if uid not in data:
            raise DovecotError(f"no message with UID {uid} in {folder!r}")
        body: bytes = data[uid][b"BODY[]"]
        return body

    def uidvalidity(self, folder: str = "INBOX", *, user: str | None = None) -> int:
        with self._session(user) as imap:
            status = imap.folder_status(folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def reset_uidvalidity(
        self,
        folder: str = "INBOX",
        *,
        uidvalidity: int | None = None,
        renumber: bool = False,
        user: str | None = None,
    ) -> int:
        """Give ``folder`` a new UIDVALIDITY and return it. Works for INBOX too.

        How: ``doveadm mailbox update --uid-validity N`` (default N = old + 1), which Dovecot
        applies in place. By default the messages stay with their UIDs and flags: only
        UIDVALIDITY changes, as after an index rebuild or a restore, where a client's cached
        UIDs must be treated as meaningless even though they still exist.

        ``renumber=True`` additionally re-APPENDs every message (same bytes, flags and
        INTERNALDATE, in the same order) and expunges the originals, so every message gets a
        new UID above all old ones: a client that ignored UIDVALIDITY would take them all for
        new mail.

        A client that has the folder selected gets ``* BYE IMAP session state is
        inconsistent, please relogin.`` on its next command (Dovecot also logs an Error line
        about the index reset; expected).
        """
        old = self.uidvalidity(folder, user=user)
        new = uidvalidity if uidvalidity is not None else old + 1
        if new == old or not 0 < new < 2**32:
            raise ValueError(f"new UIDVALIDITY must differ from {old} and fit in 32 bits")
        saved: list[tuple[bytes, tuple[bytes, ...], Any]] = []
        if renumber:
            with self._session(user) as imap:
                imap.select_folder(folder, readonly=True)
                uids = sorted(imap.search("ALL"))
                data = imap.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
            for uid in uids:
                flags = tuple(f for f in data[uid][b"FLAGS"] if f != b"\\Recent")
                saved.append((data[uid][b"BODY[]"], flags, data[uid][b"INTERNALDATE"]))
        self.doveadm(
            "mailbox", "update", "-u", user or self.username, "--uid-validity", str(new), folder
        )
        if renumber and saved:
            with self._session(user) as imap:
                imap.select_folder(folder)
                old_uids = imap.search("ALL")
                for body, flags, when in saved:
                    imap.append(folder, body, flags=flags, msg_time=when)
                imap.delete_messages(old_uids)
                imap.uid_expunge(old_uids)
        got = self.uidvalidity(folder, user=user)
        if got != new:
            raise DovecotError(f"UIDVALIDITY of {folder!r} is {got} after setting {new}")
        return new

    def disconnect_all_clients(self, *, graceful: bool = True, timeout: float = 5.0) -> int:
        """Drop every IMAP connection; return how many processes were ended.

        ``graceful=True`` SIGTERMs the mail (``imap``) processes, which makes each client get
        ``* BYE Server shutting down.`` before the socket closes, like ``doveadm kick``; clients
        still in the login phase (``imap-login``) are left alone. ``graceful=False`` SIGKILLs
        ``imap`` and ``imap-login`` processes: the connection just resets. The server keeps
        running and accepts new logins at once.
        """
        if not self.running:
            raise DovecotError("disconnect_all_clients: dovecot is not running")
        names = {"imap"} if graceful else {"imap", "imap-login"}
        return self._end_client_processes(
            names, signal.SIGTERM if graceful else signal.SIGKILL, timeout
        )

    def _end_client_processes(self, names: set[str], sig: signal.Signals, timeout: float) -> int:
        assert self._proc is not None
        pgid = self._proc.pid
        victims = [pid for pid, comm, _ in _group_pids(pgid) if comm in names]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = {pid for pid, _, _ in _group_pids(pgid)}
            if not alive.intersection(victims):
                return len(victims)
            time.sleep(0.01)
        raise DovecotError(f"IMAP processes {victims} did not exit\n{self.log_tail()}")

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c <this config> ARGS...``; raise DovecotError on failure."""
        result = subprocess.run(
            [self._doveadm_bin, "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check and result.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} exited {result.returncode}: "
                f"{result.stderr.strip() or result.stdout.strip()}\n{self.log_tail()}"
            )
        return result

    # ----------------------------------------------------------------- internals
    def _need_tls(self) -> None:
        if not self._tls:
            raise DovecotError("this DovecotServer was made without tls=True")

    @staticmethod
    def _pick_mail_owner() -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.geteuid(), os.getegid()
        # Dovecot refuses mail access as root: use its own system user.
        try:
            entry = pwd.getpwnam("dovecot")
        except KeyError:
            raise DovecotNotInstalledError(
                "running as root but there is no `dovecot` system user (the Debian package "
                "creates it). " + INSTALL_HINT
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self._mail_uid, self._mail_gid)

    def _write_passwd(self) -> None:
        lines = []
        for user, password in self._users.items():
            if any(c in user + password for c in ":\n\r") or not user:
                raise ValueError(f"user/password must not contain ':' or newlines: {user!r}")
            home = self._root / "home" / user
            home.mkdir(exist_ok=True)
            self._chown(home)
            lines.append(f"{user}:{{PLAIN}}{password}::::::\n")
        path = self._root / "passwd"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.chmod(0o644)  # read by the auth process (user `dovecot` when run as root)
        tmp.replace(path)

    def _make_certificates(self) -> None:
        tls_dir = self._root / "tls"
        tls_dir.mkdir(exist_ok=True)
        try:
            self._make_certificates_cryptography()
        except ImportError:
            self._make_certificates_openssl()
        self._key_path.chmod(0o600)

    def _make_certificates_cryptography(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.UTC)
        validity = (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "visit-gateway test CA")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ca_ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(_HOST))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self._ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self._cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def _make_certificates_openssl(self) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise DovecotError(
                "tls=True needs the `cryptography` package or the `openssl` command. "
                + INSTALL_HINT
            )
        tls_dir = self._root / "tls"
        ca_key = tls_dir / "ca.key"
        csr = tls_dir / "server.csr"
        ext = tls_dir / "server.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            f"subjectAltName=DNS:localhost,IP:{_HOST}\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
        )
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        commands = [
            [openssl, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(self._ca_path),
             "-days", "30", "-subj", "/CN=visit-gateway test CA",
             "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"],
            [openssl, "req", "-new", *ec, "-keyout", str(self._key_path), "-out", str(csr),
             "-subj", "/CN=localhost"],
            [openssl, "x509", "-req", "-in", str(csr), "-CA", str(self._ca_path),
             "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(self._cert_path),
             "-days", "30", "-extfile", str(ext)],
        ]  # fmt: skip
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise DovecotError(f"{' '.join(command)} failed: {result.stderr.strip()}")

    def _write_config(self) -> None:
        root = self._root
        is_root = os.geteuid() == 0
        run_as = pwd.getpwuid(os.geteuid()).pw_name
        settings: dict[str, _SettingValue] = {
            "instance_name": self._instance,
            "base_dir": str(root / "run"),
            "state_dir": str(root / "state"),
            "protocols": "imap",
            "listen": _HOST,
            "log_path": str(self.log_path),
            "info_log_path": str(self.log_path),
            "debug_log_path": str(self.log_path),
            "mail_location": "maildir:~/Maildir",
            "mail_home": str(root / "home" / "%u"),
            "mail_uid": self._mail_uid,
            "mail_gid": self._mail_gid,
            "first_valid_uid": min(self._mail_uid, 1) if self._mail_uid else 0,
            "first_valid_gid": min(self._mail_gid, 1) if self._mail_gid else 0,
            "disable_plaintext_auth": False,
            "auth_mechanisms": "plain login",
            "ssl": self._tls,
            "mail_max_userip_connections": 100,
            "login_greeting": "Dovecot ready.",
            # process titles say what each one is doing ("imap: [user 127.0.0.1 APPEND]"):
            # processes() reports them when a harness session times out
            "verbose_proctitle": True,
        }
        if not is_root:
            # Rootless Dovecot: every process runs as us; no chroot, no chown to other users.
            settings["default_internal_user"] = run_as
            settings["default_login_user"] = run_as
            settings["default_internal_group"] = grp.getgrgid(os.getegid()).gr_name
        if self._tls:
            settings["ssl_cert"] = f"<{self._cert_path}"
            settings["ssl_key"] = f"<{self._key_path}"
            settings["ssl_min_protocol"] = "TLSv1.2"
        if self._disabled_caps:
            kept = [c for c in DOVECOT_CAPABILITIES if c not in self._disabled_caps]
            settings["imap_capability"] = " ".join(kept)
        settings.update(self._settings)

        lines = ["# generated by gateway.testing.dovecot; do not edit"]
        lines += [f"{key} = {_render(value)}" for key, value in settings.items()]
        passwd = root / "passwd"
        imaps_port = self._tls_port if self._tls else 0
        # An auth process that cannot connect to anvil-auth-penalty disables the penalty.
        penalty_listener = (
            ""
            if self._auth_penalty
            else "\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }"
        )
        lines.append(
            f"""
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
namespace inbox {{
  inbox = yes
  separator = {self._separator}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {_HOST}
    port = {self._port}
  }}
  inet_listener imaps {{
    address = {_HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot ={penalty_listener}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{self._extra_config}
"""
        )
        path = self.config_path
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines))
        tmp.chmod(0o644)
        tmp.replace(path)

    def _launch(self) -> None:
        self._reap_proc()
        if self._stderr is None:
            self._stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - closed by _reap_proc
        # A fresh session: Dovecot's children share the master's process group, so kill()
        # can SIGKILL exactly this server, children included, and nothing else.
        self._proc = subprocess.Popen(
            [self._dovecot_bin, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
            start_new_session=True,
            preexec_fn=die_with_parent,
            close_fds=True,
        )
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, DovecotServer._reap, self._proc, self._stderr)

    def _wait_ready(self, deadline: float) -> None:
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise DovecotStartError(
                    f"dovecot exited with status {code} while starting "
                    f"({self.config_path})\n{self.log_tail()}"
                )
            try:
                self._probe(self._port, tls=False)
                if self._tls:
                    self._probe(self._tls_port, tls=True)
                return
            except (OSError, ssl.SSLError) as exc:
                if time.monotonic() > deadline:
                    raise DovecotStartError(
                        f"dovecot did not greet on {self.host}:{self.port} within "
                        f"{self._startup_timeout}s ({exc})\n{self.log_tail()}"
                    ) from None
                time.sleep(0.01)

    def _probe(self, port: int, *, tls: bool) -> None:
        with socket.create_connection((self.host, port), timeout=2) as raw:
            sock: socket.socket = raw
            if tls:
                sock = self.ssl_context().wrap_socket(raw, server_hostname=self.host)
            try:
                greeting = b""
                while not greeting.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise ConnectionError(errno.ECONNRESET, "closed before greeting")
                    greeting += chunk
                if not greeting.startswith(b"* OK"):
                    raise ConnectionError(errno.EPROTO, f"unexpected greeting {greeting!r}")
                sock.sendall(b"z LOGOUT\r\n")
            finally:
                if sock is not raw:
                    sock.close()

    def _master_exited(self) -> bool:
        """True once the master has exited, without reaping it (keeps its PID/PGID reserved)."""
        if self._proc is None or self._proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _kill_group(self) -> None:
        """SIGKILL the whole process group, wait until its members are gone, reap the master."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            # The master is alive or an unreaped zombie: its PID (= our PGID) cannot be reused.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _group_pids(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._reap_proc()

    def _reap_proc(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
        if self._proc is None and self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes] | None, stderr: Any) -> None:
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
        if stderr is not None:
            stderr.close()
