"""check-config's checks of this host: the `Check` value every check returns, where the
database will live, and whether the installed unit's dynamic user can read the files the
daemon opens (run as root, every file is readable, so this reads mode bits).

Reads the file system and asks `systemctl show` about the unit; changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.config.loader import Config
from gateway.errors import ConfigError
from gateway.store.engine import create_engine
from gateway.store.errors import location_problem


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: `name` says what was checked; `detail` is the reason on failure
    (or a note on success); `fix` says what to change."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok   {self.name}" + (f" ({self.detail})" if self.detail else "")
        text = f"FAIL {self.name}: {self.detail or 'failed'}"
        return text + (f" (fix: {self.fix})" if self.fix else "")


def passed(name: str, detail: str = "") -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, False, detail, fix)


def from_config_error(name: str, exc: ConfigError) -> Check:
    where = f"{exc.source}: " if exc.source else ""
    return failed(name, f"{where}{exc.key}: {exc.problem}", exc.fix)


def check_database(config: Config) -> Check:
    """The database's directory exists and is writable (SQLite also writes a journal there).
    The database itself is not created."""
    try:
        return _check_database(config)
    except PermissionError as exc:
        return failed("database directory is writable",
                      f"no permission to look at {exc.filename}",
                      "run check-config as root (sudo): the service's state directory is "
                      "root's")


def _check_database(config: Config) -> Check:
    setting = config.database_setting()
    path = config.database_file()
    if path is None:
        return _check_database_url(config.database_url(), setting)
    path = Path(os.path.abspath(path))
    directory = path.parent
    name = f"database directory {directory} is writable"
    problem = location_problem(path, setting)  # what opening it at start would hit
    if problem is not None:
        return failed(name, problem.problem, problem.fix)
    if not directory.is_dir():  # the daemon creates missing directories, systemd StateDirectory=
        return passed(name, f"{directory} will be created on first start")
    return passed(name, f"{path.name} exists" if path.exists() else f"{path.name} not created yet")


def _check_database_url(url: str, setting: str) -> Check:
    """A database server: its driver is installed (connecting is left to the daemon)."""
    scheme = url.split(":", 1)[0]
    name = f"{scheme} database driver is installed"
    try:
        create_engine(url, setting=setting).dispose()
    except ConfigError as exc:
        return from_config_error(name, exc)
    return passed(name, "the server itself is not checked offline")


def _service_reads(config: Config) -> tuple[list[Path], list[tuple[str, Path]]]:
    """The files the daemon itself opens: (settings files, (key, secret file))."""
    raw = config.raw
    files = [Path(config.source)]
    if raw.schedule.file:
        schedule = config.resolve(raw.schedule.file)
        files.append(schedule)
        with contextlib.suppress(OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            ics = tomllib.loads(schedule.read_text(encoding="utf-8")).get("calendar", {})
            location = ics.get("ics") if isinstance(ics, dict) else None
            if isinstance(location, str) and location and "://" not in location:
                files.append(schedule.parent / location)
    holidays_file = raw.business.get("holidays_file")
    if isinstance(holidays_file, str) and holidays_file:
        files.append(config.base_dir / holidays_file)
    if raw.notify.templates_dir:
        templates = config.resolve(raw.notify.templates_dir)
        with contextlib.suppress(OSError):
            files.extend(sorted(p for p in templates.iterdir() if p.is_file()))
    files.extend(config.resolve(ca) for ca in (raw.imap.ca_file, raw.smtp.ca_file) if ca)
    secrets = [(key, config.resolve(value)) for key, value in (
        ("github.token_file", raw.github.token_file),
        ("github.private_key_file", raw.github.private_key_file),
        ("imap.password_file", raw.imap.password_file),
        ("imap.oauth2_token_file", raw.imap.oauth2_token_file),
        ("smtp.password_file", raw.smtp.password_file),
        ("web.webhook_secret_file", raw.web.webhook_secret_file),
    ) if value]
    return files, secrets


def _closed_to_others(path: Path) -> Path | None:
    """The first of `path`'s directories that others may not enter, or `path` itself if others
    may not read it; None when an unprivileged user can read it."""
    for directory in reversed(path.absolute().parents):
        with contextlib.suppress(OSError):
            if not directory.stat().st_mode & stat.S_IXOTH:
                return directory
    try:
        return None if path.stat().st_mode & stat.S_IROTH else path
    except OSError:
        return None  # missing: the loaders report that


UNIT = "visit-gateway.service"


def parse_unit_properties(text: str) -> dict[str, str]:
    """`systemctl show -p A,B` output: KEY=value lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def installed_unit_uses_dynamic_user() -> bool:
    """Whether systemd has the gateway's unit loaded, running as a dynamic user."""
    try:
        shown = subprocess.run(["systemctl", "show", UNIT, "-p", "LoadState,DynamicUser"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    props = parse_unit_properties(shown.stdout)
    return props.get("LoadState") == "loaded" and props.get("DynamicUser") == "yes"


def check_service_can_read(config: Config) -> Check:
    """Run as root, every check above passes even for files only root may read, while the
    installed unit runs as a dynamic user (DynamicUser=) that reads them as "others". So then,
    the files the daemon opens must be readable by others."""
    name = "the service's user can read its files"
    files, secrets = _service_reads(config)
    for path in files:
        closed = _closed_to_others(path)
        if closed is not None:
            what = "directory" if closed != path else "file"
            return failed(name, f"{what} {closed} is closed to other users, and the unit runs "
                          f"as a dynamic user, so it could not read {path}",
                          f"chmod o+{'x' if what == 'directory' else 'r'} {closed}")
    for key, path in secrets:
        if _closed_to_others(path) is not None:
            return failed(name, f"{key} {path} is root-only, and the unit runs as a dynamic "
                          "user, so it could not read it",
                          f"remove {key} and hand the secret over with LoadCredential= "
                          "(docs/systemd.md)")
    return passed(name, f"{len(files) + len(secrets)} files, checked for the unit's dynamic "
                  "user because this ran as root")
