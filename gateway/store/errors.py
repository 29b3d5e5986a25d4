"""Why the state database cannot be opened, in words an admin can act on.

The store's open path translates its library errors here, once: a SQLite location that cannot
be created or written (a read-only file system, a path under a regular file, a directory the
user may not write), a driver that is not installed, and a database server that does not
answer. `location_problem` only looks (stat, access, statvfs), so `check-config` reports the
same problem without creating anything. Nothing here opens a database.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from gateway.errors import ConfigError, TransientError


class DatabaseUnavailable(ConfigError):
    """The state database cannot be opened or created until an admin acts. `denied` is set
    when the OS refused permission, which for an admin command usually means a missing sudo."""

    def __init__(self, key: str, problem: str, fix: str = "", *, denied: bool = False) -> None:
        super().__init__(key, problem, fix)
        self.denied = denied


@dataclass(frozen=True, slots=True)
class LocationProblem:
    problem: str
    fix: str
    denied: bool = False


# Pip names of the drivers people pick in a database URL, where they differ from the module.
_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "PyMySQL",
             "MySQLdb": "mysqlclient", "pg8000": "pg8000", "asyncpg": "asyncpg"}


def location_problem(path: Path, setting: str) -> LocationProblem | None:
    """Why a SQLite database at `path` could not be created and written by this process, or
    None when the file system shows nothing wrong (a missing directory is created on open).
    Raises PermissionError when a directory on the way may not even be looked into."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        return LocationProblem(f"{path} is a directory", f"make {setting} name the database "
                               f"file, e.g. {path / 'state.db'}")
    existing = next(p for p in (path.parent, *path.parents) if p.exists())
    if not existing.is_dir():
        return LocationProblem(f"{existing} is a file, not a directory",
                               f"set {setting} to a file in a directory, e.g. "
                               "/var/lib/visit-gateway/state.db")
    if _read_only(existing):
        return LocationProblem(
            f"{existing} is on a read-only file system",
            f"point {setting} at a writable directory; under the shipped unit only the "
            "state directory is writable (ProtectSystem=strict): leave database.url empty "
            "to use /var/lib/visit-gateway, or add the directory to ReadWritePaths= in a "
            "drop-in")
    if not os.access(existing, os.W_OK | os.X_OK):
        return LocationProblem(
            f"no permission to create files in {existing}",
            f"give the gateway's user write access to {existing}, or set {setting} to a "
            "directory it may write (admin commands: run them with sudo)", denied=True)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return LocationProblem(f"{path} exists but is not readable and writable",
                               f"give the gateway's user read and write access to {path}",
                               denied=True)
    return None


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _looked_up(path: Path, setting: str) -> LocationProblem | None:
    try:
        return location_problem(path, setting)
    except PermissionError as exc:
        return LocationProblem(f"no permission to look at {exc.filename}",
                               "run it as the gateway's user or root (admin commands: sudo)",
                               denied=True)


def location_error(path: Path, setting: str, exc: OSError) -> DatabaseUnavailable:
    """Creating the database's directory failed with `exc`."""
    found = _looked_up(path, setting)
    if found is not None:
        return DatabaseUnavailable(setting, found.problem, found.fix, denied=found.denied)
    if isinstance(exc, PermissionError):
        return DatabaseUnavailable(setting, f"no permission to create {exc.filename}",
                                   f"give the gateway's user write access, or set {setting}",
                                   denied=True)
    return DatabaseUnavailable(setting, f"cannot create {exc.filename or path.parent}: "
                               f"{exc.strerror or exc}", f"set {setting} to a writable place")


def driver_missing(url: str, setting: str, exc: ImportError) -> DatabaseUnavailable:
    """The URL names a dialect whose Python driver is not installed."""
    drivername = sa.engine.make_url(url).drivername
    module = exc.name or "its driver"
    package = _PACKAGES.get(module, module)
    return DatabaseUnavailable(
        setting, f"the {drivername} driver (Python module {module}) is not installed",
        f"install it beside the gateway: {sys.executable} -m pip install '{package}'; or use "
        "a sqlite:/// URL")


def connect_error(url: str, setting: str, exc: sa.exc.OperationalError) -> Exception:
    """Connecting (or the first migration) failed. For SQLite the file system usually says why
    better than "unable to open database file"; a database server may come back by itself."""
    reason = str(exc.orig) if exc.orig is not None else str(exc).splitlines()[0]
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
        found = _looked_up(Path(path), setting) if path and path != ":memory:" else None
        if found is not None:
            return DatabaseUnavailable(setting, found.problem, found.fix, denied=found.denied)
        return DatabaseUnavailable(setting, f"cannot open {path or url}: {reason}",
                                   f"check {setting} and the file's permissions")
    return TransientError(f"the database server did not answer: {reason}")
