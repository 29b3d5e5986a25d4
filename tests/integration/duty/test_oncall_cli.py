"""`visit-gateway oncall` and `schedule check` as an admin runs them, against the example files,
and the assignee the pipeline gives a weekend inquiry."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from gateway.config.loader import load_config
from gateway.wiring import assignee_function

from ...conftest import EXAMPLE_CONFIG
from ..cli import run_cli

ROOT = EXAMPLE_CONFIG.parent


def run(*args: str, config: Path = EXAMPLE_CONFIG) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(config))


def test_oncall_names_primary_backup_and_weeks() -> None:
    done = run("oncall", "--at", "2026-11-27T10:00-08:00", "--weeks", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "On duty at Fri 2026-11-27 10:00 PST:"
    assert "Primary  Cyrus Harrison (cyrush)" in lines[1] and "Mon 2026-11-30 08:00" in lines[1]
    assert "Backup   Eric Brugger (brugger1)" in lines[2]
    assert sum(line.startswith("  2026-") for line in lines) == 2


def test_oncall_refuses_a_time_without_offset() -> None:
    done = run("oncall", "--at", "2026-11-27T10:00")
    assert done.returncode == 2 and "has no UTC offset" in done.stderr


def test_schedule_check_passes_on_the_example_and_fails_on_a_conflict(tmp_path: Path) -> None:
    done = run("schedule", "check", "--weeks", "12", "--from", "2026-11-23T09:00-08:00")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout and "Load over 12 weeks" in done.stdout
    schedule = (ROOT / "schedule.example.toml").read_text()
    schedule += ('\n[[override]]\nfrom = 2026-12-01\nuntil = 2026-12-02\nrole = "primary"\n'
                 'person = "biagas"\nreason = "test: Primary == Backup"\n')
    (tmp_path / "schedule.toml").write_text(schedule)
    for extra in ("team-calendar.example.ics",):
        (tmp_path / extra).write_bytes((ROOT / extra).read_bytes())
    config = EXAMPLE_CONFIG.read_text().replace('file = "schedule.example.toml"',
                                                'file = "schedule.toml"')
    (tmp_path / "gateway.toml").write_text(config)
    done = run("schedule", "check", "--weeks", "4", "--from", "2026-11-23T09:00-08:00",
               config=tmp_path / "gateway.toml")
    assert done.returncode == 1
    assert "error" in done.stdout.lower() and "Kathleen Biagas" in done.stdout


def test_bad_schedule_file_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "schedule.toml").write_text(
        '[[person]]\nname = "A"\nemail = "a@x.org"\ngithub = "a"\nfraction = 7\n')
    config = EXAMPLE_CONFIG.read_text().replace('file = "schedule.example.toml"',
                                                'file = "schedule.toml"')
    (tmp_path / "gateway.toml").write_text(config)
    done = run("oncall", config=tmp_path / "gateway.toml")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "schedule.toml" in done.stderr and "person[0].fraction" in done.stderr


def test_weekend_inquiry_goes_to_the_coming_weeks_primary() -> None:
    assignee = assignee_function(load_config(EXAMPLE_CONFIG, env={}))
    la = dt.timezone(dt.timedelta(hours=-8))
    friday_evening = dt.datetime(2026, 12, 4, 18, 30, tzinfo=la)
    thursday = dt.datetime(2026, 12, 3, 10, 0, tzinfo=la)
    # The example rotation hands off Monday 2026-12-07 08:00 from brugger1 to biagas.
    assert assignee(thursday) == "brugger1"
    assert assignee(friday_evening) == "biagas"
