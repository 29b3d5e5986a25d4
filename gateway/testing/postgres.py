"""A private, real PostgreSQL server for tests.

``PostgresServer`` runs ``initdb`` into a temporary directory and starts ``postgres`` on it as a
child process. Nothing of the system installation is used except the binaries of Debian's
``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, the newest one found): the data
directory, the socket directory and the log live under the temporary directory, which
``close()`` removes.

    with PostgresServer() as server:              # started; stopped and cleaned on exit
        name = server.create_database()           # a new, empty database
        url = server.url(name)                    # postgresql+psycopg://postgres@127.0.0.1:P/name
        server.create_database("copy", template=name)   # a clone (file level)
        server.empty(name)                        # its rows gone, its tables kept

Listening: 127.0.0.1 on a free port below the ephemeral range (``dovecot.free_port``), and a
unix socket in ``socket_dir``. The superuser ``postgres`` logs in without a password
(``trust``), which only loopback and the private socket can reach. Durability is left
realistic (``fsync``, ``synchronous_commit`` and ``full_page_writes`` on), so what the store
pays for a commit here is what it pays in production; ``fsync=False`` is there for a test that
wants speed over that.

Privileges: PostgreSQL refuses to run as root. As root the server runs as the ``postgres``
system user that the package creates (the temporary directory is given to it); as an ordinary
user it runs as that user.

Clock: the server runs on the real clock even when the tests run under libfaketime
(scripts/test-clock): its environment is given without it.

Processes: the postmaster runs in a session of its own with ``PR_SET_PDEATHSIG`` set, so a
killed test process takes it down (its backends follow their postmaster); ``close()``, a
garbage-collected server and interpreter exit stop it (a fast shutdown, then SIGKILL).

PostgreSQL missing: ``PostgresNotInstalledError`` names ``scripts/install-test-servers`` and
the apt-get command. Tests must fail with it, never skip.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import psycopg
from psycopg import sql

from gateway.testing.dovecot import die_with_parent, free_port

__all__ = [
    "INSTALL_HINT",
    "PostgresError",
    "PostgresNotInstalledError",
    "PostgresServer",
    "PostgresStartError",
    "find_postgres",
]

INSTALL_HINT = (
    "Install it with: scripts/install-test-servers   (or: sudo apt-get update && "
    "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
    "postgresql)"
)
_HOST = "127.0.0.1"
_BASE = Path("/usr/lib/postgresql")
_SUPERUSER = "postgres"


class PostgresError(RuntimeError):
    """The test PostgreSQL could not do what was asked; the message includes the log tail."""


class PostgresNotInstalledError(PostgresError):
    """Debian's ``postgresql`` package is not installed; the message says how to install it."""


class PostgresStartError(PostgresError):
    """PostgreSQL did not come up (initdb failed, port taken, ...); the message has the log."""


def find_postgres() -> Path:
    """The ``bin`` directory of the newest installed PostgreSQL (one with ``initdb`` and
    ``postgres``), or PostgresNotInstalledError."""
    found = []
    for bin_dir in _BASE.glob("*/bin"):
        version = bin_dir.parent.name
        if version.isdigit() and all((bin_dir / n).is_file() for n in ("initdb", "postgres")):
            found.append((int(version), bin_dir))
    if not found:
        raise PostgresNotInstalledError(
            f"PostgreSQL is not installed (no {_BASE}/<version>/bin/initdb); the store tests "
            "run against a real server. " + INSTALL_HINT)
    return max(found)[1]


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory (see the module docstring).

    ``fsync``: False turns off fsync, synchronous_commit and full_page_writes (fast, not
    crash-safe). ``settings``: more ``postgres -c name=value`` settings. ``root_dir``: use (and
    keep) this directory instead of a temporary one.
    """

    def __init__(self, *, fsync: bool = True, settings: dict[str, str] | None = None,
                 root_dir: Path | None = None, startup_timeout: float = 60.0) -> None:
        self._bin = find_postgres()
        self._owns_root = root_dir is None
        self._root = Path(root_dir) if root_dir else Path(
            tempfile.mkdtemp(prefix="visit-gateway-pg-"))
        self._root.mkdir(parents=True, exist_ok=True)
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(_SUPERUSER)
            except KeyError:
                raise PostgresNotInstalledError(
                    "there is no `postgres` system user to run PostgreSQL as (it refuses root); "
                    + INSTALL_HINT) from None
            os.chown(self._root, self._user.pw_uid, self._user.pw_gid)
        self._settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
        if not fsync:
            self._settings |= {"fsync": "off", "synchronous_commit": "off",
                               "full_page_writes": "off"}
        self._settings |= dict(settings or {})
        self._startup_timeout = startup_timeout
        self._port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._names = itertools.count(1)
        self._initialized = False
        self._closed = False
        self._finalizer = weakref.finalize(self, PostgresServer._reap, None, None)

    # ----------------------------------------------------------------- properties
    @property
    def host(self) -> str:
        return _HOST

    @property
    def port(self) -> int:
        return self._port

    @property
    def user(self) -> str:
        return _SUPERUSER

    @property
    def root_dir(self) -> Path:
        return self._root

    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root

    @property
    def log_path(self) -> Path:
        return self._root / "postgres.log"

    @property
    def version(self) -> int:
        return int(self._bin.parent.name)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for `database` over TCP as the superuser."""
        return f"{driver}://{_SUPERUSER}@{_HOST}:{self._port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for `database` (for psycopg.connect)."""
        return f"host={_HOST} port={self._port} user={_SUPERUSER} dbname={database}"

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Initialize the cluster (first time only), start the server and wait until it
        accepts connections. A port taken meanwhile by someone else: new port, retried."""
        if self._closed:
            raise PostgresError("this PostgresServer was closed")
        if self.running:
            return self
        if not self._initialized:
            self._initdb()
        started = time.monotonic()
        for attempt in itertools.count(1):
            self._launch()
            try:
                self._wait_ready(started + self._startup_timeout)
                return self
            except PostgresStartError:
                self._kill()
                if "already in use" not in self.log_tail(20) or attempt >= 10:
                    raise
                self._port = free_port()
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """A fast shutdown (SIGINT: sessions ended, a checkpoint written), SIGKILL after
        `timeout`."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._proc = None
        self._close_log()

    def kill(self) -> None:
        """Crash it: SIGKILL the postmaster (its backends exit when they notice)."""
        self._kill()

    def close(self) -> None:
        """Stop and remove the temporary directory (unless ``root_dir`` was given)."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            self._finalizer.detach()
            if self._owns_root:
                shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PostgresServer {_HOST}:{self._port} {state} root={self._root}>"

    # ----------------------------------------------------------------- databases
    def create_database(self, name: str | None = None, *, template: str = "template0") -> str:
        """Create a database (a fresh name when none is given) as a copy of `template`;
        returns its name. Nobody may be connected to the template meanwhile."""
        name = name or f"test_{os.getpid()}_{next(self._names)}"
        self.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any session still connected to it."""
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))

    def empty(self, database: str, *, keep: tuple[str, ...] = ("alembic_version",)) -> None:
        """Make `database` as new, schema kept: every session on it ended, every row of its
        public tables but those in `keep` deleted, every sequence restarted at 1. Cheaper than
        a clone (~20 ms against ~300 ms: a new database copies the whole catalog)."""
        self.terminate_backends(database)
        with psycopg.connect(self.dsn(database)) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for table in sorted(set(tables) - set(keep)):
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            conn.execute("SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
                         "FROM pg_sequences WHERE schemaname = 'public'")

    def terminate_backends(self, database: str) -> int:
        """End every session connected to `database` (as a crashed network would)."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchone()
        return int(row[0]) if row else 0

    def execute(self, statement: str | sql.Composed, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(statement)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no postgres log)"
        return "\n".join(text.splitlines()[-lines:])

    # ----------------------------------------------------------------- internals
    def _run_as(self) -> dict[str, Any]:
        """Popen's arguments: the server's user, and an environment without libfaketime
        (scripts/test-clock fakes the tests' clock; the server keeps the real one)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
        preload = [p for p in env.pop("LD_PRELOAD", "").split() if "faketime" not in p]
        if preload:
            env["LD_PRELOAD"] = " ".join(preload)
        if self._user is None:
            return {"env": env}
        return {"env": env, "user": self._user.pw_uid, "group": self._user.pw_gid,
                "extra_groups": []}

    def _initdb(self) -> None:
        # --no-sync: initdb's own final fsync only; a test cluster that does not survive a
        # host crash loses nothing. The server's settings stay realistic.
        result = subprocess.run(
            [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", _SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, cwd=self._root, check=False, **self._run_as())
        if result.returncode != 0:
            raise PostgresStartError(f"initdb failed ({result.returncode}):\n"
                                     f"{result.stdout}\n{result.stderr}")
        self._initialized = True

    def _launch(self) -> None:
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()/_reap
        if self._user is not None:
            os.chown(self.log_path, self._user.pw_uid, self._user.pw_gid)
        settings = {"listen_addresses": _HOST, "port": str(self._port),
                    "unix_socket_directories": str(self.socket_dir),
                    "logging_collector": "off", **self._settings}
        args = [str(self._bin / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        # A session of its own: a ^C at the terminal reaches pytest, not the server.
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            cwd=self._root, start_new_session=True, preexec_fn=die_with_parent,
            close_fds=True, **self._run_as())
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, PostgresServer._reap, self._proc, self._log)

    def _wait_ready(self, deadline: float) -> None:
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise PostgresStartError(f"postgres exited with status {code} while starting "
                                         f"({self.data_dir})\n{self.log_tail()}")
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresStartError(
                        f"postgres did not accept connections on {_HOST}:{self._port} within "
                        f"{self._startup_timeout}s ({exc})\n{self.log_tail()}") from None
                time.sleep(0.02)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)
        self._proc = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes] | None, log: IO[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    proc.wait(timeout=5)
        if log is not None:
            log.close()
