"""check-config's file checks: where the database will be, and whether the unit's dynamic user
can read what the daemon opens (run as root, every file is readable, so permissions are read
from the mode bits). Also: a schedule the daemon's user may not read is a ConfigError, not a
traceback."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config.loader import Config, parse_config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule_file import load_schedule
from gateway.errors import ConfigError
from gateway.ops import checks
from gateway.ops.checks_host import check_database, check_service_can_read, parse_unit_properties

from ...conftest import ROOT

SCHEDULE = (ROOT / "config" / "schedule.example.toml").read_text()


@pytest.fixture
def etc() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path lives under a root-only directory)."""
    directory = Path(tempfile.mkdtemp(prefix="visit-gateway-etc-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def _config(base: Path, text: str) -> Config:
    path = base / "gateway.toml"
    path.write_text(text)
    path.chmod(0o644)
    return parse_config(text, source=str(path), base_dir=base, env={})


def _installed(etc: Path, extra: str = "") -> Config:
    (etc / "schedule.toml").write_text(SCHEDULE)
    (etc / "schedule.toml").chmod(0o644)
    return _config(etc, f'[schedule]\nfile = "schedule.toml"\n{extra}')


def test_database_in_an_existing_writable_directory(tmp_path: Path) -> None:
    check = check_database(_config(tmp_path, f'[database]\npath = "{tmp_path}/state.db"\n'))
    assert check.ok and check.detail == "state.db not created yet"


def test_database_directory_systemd_or_the_daemon_will_create(tmp_path: Path) -> None:
    target = tmp_path / "lib" / "visit-gateway" / "state.db"
    check = check_database(_config(tmp_path, f'[database]\npath = "{target}"\n'))
    assert check.ok, check.line()
    assert check.detail == f"{target.parent} will be created on first start"


def test_database_below_a_file_fails_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "lib").write_text("not a directory")
    target = tmp_path / "lib" / "visit-gateway" / "state.db"
    check = check_database(_config(tmp_path, f'[database]\npath = "{target}"\n'))
    assert not check.ok
    assert check.detail == f"{tmp_path / 'lib'} is a file, not a directory"
    assert "database.path" in check.fix


def test_files_open_to_the_dynamic_user_pass(etc: Path) -> None:
    check = check_service_can_read(_installed(etc))
    assert check.ok, check.line()
    assert check.detail.startswith("2 files")  # gateway.toml and the schedule


def test_a_root_only_schedule_fails_naming_it(etc: Path) -> None:
    config = _installed(etc)
    (etc / "schedule.toml").chmod(0o600)
    check = check_service_can_read(config)
    assert not check.ok
    assert f"file {etc / 'schedule.toml'} is closed to other users" in check.detail
    assert check.fix == f"chmod o+r {etc / 'schedule.toml'}"


def test_a_closed_directory_fails_naming_the_directory(etc: Path) -> None:
    config = _installed(etc)
    etc.chmod(0o700)
    try:
        check = check_service_can_read(config)
    finally:
        etc.chmod(0o755)
    assert not check.ok and check.fix == f"chmod o+x {etc}"
    assert f"directory {etc} is closed to other users" in check.detail


def test_the_schedules_calendar_and_templates_are_checked_too(etc: Path) -> None:
    (etc / "team.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    (etc / "team.ics").chmod(0o600)
    (etc / "templates").mkdir(mode=0o755)
    (etc / "templates" / "ack.txt").write_text("x")
    (etc / "templates" / "ack.txt").chmod(0o644)
    config = _installed(etc, '[notify]\ntemplates_dir = "templates"\n')
    (etc / "schedule.toml").write_text(
        SCHEDULE.replace('# ics = "team-calendar.example.ics"', 'ics = "team.ics"'))
    check = check_service_can_read(config)
    assert not check.ok and check.fix == f"chmod o+r {etc / 'team.ics'}"
    (etc / "team.ics").chmod(0o644)
    check = check_service_can_read(config)
    assert check.ok and check.detail.startswith("4 files"), check.line()


def test_a_root_only_secret_file_points_at_load_credential(etc: Path) -> None:
    (etc / "token").write_text("ghp_x")
    (etc / "token").chmod(0o600)
    check = check_service_can_read(_installed(etc, '[github]\ntoken_file = "token"\n'))
    assert not check.ok
    assert f"github.token_file {etc / 'token'} is root-only" in check.detail
    assert "LoadCredential=" in check.fix


def test_unit_properties_parse() -> None:
    props = parse_unit_properties("LoadState=loaded\nDynamicUser=yes\n")
    assert props == {"LoadState": "loaded", "DynamicUser": "yes"}
    assert parse_unit_properties("") == {}


def test_a_schedule_behind_a_closed_directory_is_a_config_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the daemon's unprivileged user, Path.is_file raises PermissionError for a file in a
    directory it may not enter (this test runs as root, so the refusal is simulated)."""
    path = tmp_path / "closed" / "schedule.toml"

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "stat", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ConfigError) as info:
        load_schedule(path, calendar=BusinessCalendar())
    assert info.value.key == "schedule.file"
    assert f"schedule file {path}: permission denied" in str(info.value)
    assert f"chmod o+r {path}" in str(info.value)


def test_a_missing_secret_points_at_the_units_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sudo visit-gateway check-config` by hand does not see what LoadCredential= hands the
    service: when the documented directory exists, the fix says how to check with it."""
    config = parse_config("", source="gateway.toml", base_dir=tmp_path, env={})
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("VISIT_GATEWAY_WEBHOOK_SECRET", raising=False)
    monkeypatch.setattr(checks, "UNIT_CREDENTIALS", tmp_path / "credentials")
    plain = checks.check_webhook_secret(config)
    assert not plain.ok and "CREDENTIALS_DIRECTORY" not in plain.fix
    (tmp_path / "credentials").mkdir()
    hinted = checks.check_webhook_secret(config)
    assert hinted.fix.startswith(
        f"the service's secrets are in {tmp_path / 'credentials'}, which this run did not read: "
        f"sudo env CREDENTIALS_DIRECTORY={tmp_path / 'credentials'} visit-gateway check-config")
    assert hinted.fix.endswith(plain.fix)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "credentials"))
    assert checks.check_webhook_secret(config).fix == plain.fix
