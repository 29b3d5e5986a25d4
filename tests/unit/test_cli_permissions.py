"""An admin who forgets sudo gets one line with the fix, never a traceback: the service's state
directory (/var/lib/private/visit-gateway under DynamicUser=) is root's. These tests run as
root, so the kernel's refusal is simulated where the code meets it (Path.exists and stat
raise PermissionError for a file behind a directory the user may not enter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config.loader import parse_config
from gateway.ops.checks_host import check_database

from ..conftest import example_config_file

pytestmark = pytest.mark.usefixtures("restored_logging")  # `main` points structlog at capsys


def refuse_under(monkeypatch: pytest.MonkeyPatch, closed: Path) -> None:
    real_stat = Path.stat

    def stat(self: Path, *args: object, **kwargs: object) -> object:
        if self.is_relative_to(closed) and self != closed:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "stat", stat)


@pytest.mark.parametrize("command", [["outbox", "list"], ["outbox", "recheck"], ["report"],
                                     ["db", "current"]])
def test_admin_commands_without_sudo_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            command: list[str]) -> None:
    closed = tmp_path / "private"
    closed.mkdir()
    config = example_config_file(tmp_path, closed / "state.db")
    refuse_under(monkeypatch, closed)
    assert main([*command, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"no permission to look at {closed / 'state.db'}" in err
    assert "sudo visit-gateway" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_check_config_database_line_without_sudo(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    closed = tmp_path / "private"
    closed.mkdir()
    config = parse_config(f'[database]\npath = "{closed / "lib" / "state.db"}"\n',
                          source="gateway.toml", base_dir=tmp_path, env={})
    refuse_under(monkeypatch, closed)
    check = check_database(config)
    assert not check.ok
    assert check.detail.startswith("no permission to look at")
    assert "run check-config as root" in check.fix


def test_db_upgrade_without_sudo_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    closed = tmp_path / "private"
    closed.mkdir()
    config = example_config_file(tmp_path, closed / "lib" / "state.db")
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.is_relative_to(closed):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert main(["db", "upgrade", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"db upgrade: no permission to create {closed / 'lib'}" in err
    assert "sudo visit-gateway db upgrade" in err and len(err.strip().splitlines()) == 1
