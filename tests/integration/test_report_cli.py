"""`visit-gateway report` as an admin runs it, over the simulated month of `tests.unit.test_report`
(numbers worked out by hand there), and the HTML page rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import EXAMPLE_CONFIG
from ..unit.test_report import build_month_db

ROOT = EXAMPLE_CONFIG.parent
MONTH = ("--since", "2026-04-13", "--until", "2026-05-10")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    build_month_db(tmp_path / "state.db")
    text = EXAMPLE_CONFIG.read_text()
    text = text.replace('path = "../var/state.db"', f'path = "{tmp_path / "state.db"}"')
    text = text.replace('file = "schedule.example.toml"',
                        f'file = "{(ROOT / "schedule.example.toml").resolve()}"')
    assert str(tmp_path) in text and str(ROOT.resolve()) in text
    (tmp_path / "gateway.toml").write_text(text)
    return tmp_path / "gateway.toml"


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STATE_DIRECTORY"}
    return subprocess.run([sys.executable, "-m", "gateway.cli", "report", *args,
                           "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False, env=env)


def test_report_json_over_the_month(config: Path) -> None:
    done = run(config, *MONTH, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    weeks = [(w["week"], w["primary"], w["arrived"], w["within_goal"], w["median_hours"],
              w["p90_hours"], w["handed_off"]) for w in data["weeks"]]
    # The report is "as of" the end of the last week (now is later): t20, unanswered since
    # Fri 05-08 10:00, is then 6 business hours old and misses too, so week 4 is 2/5.
    assert weeks == [("2026-04-13", "cyrush", 5, 1.0, 2.0, 4.0, 0),
                     ("2026-04-20", "brugger1", 5, 0.6, 1.0, 8.0, 2),
                     ("2026-04-27", "biagas", 5, 0.8, 1.5, 4.5, 2),
                     ("2026-05-04", "JustinPrivitera", 5, 0.4, 1.0, 8.0, 1)]
    assert data["totals"]["within_goal"] == 14 / 20
    assert [p["inquiries"] for p in data["people"][:5]] == [0, 5, 5, 5, 5]


def test_report_table_and_csv(config: Path) -> None:
    done = run(config, *MONTH)
    assert done.returncode == 0, done.stderr
    assert "Per rotation week:" in done.stdout and "By label:" in done.stdout
    assert "Kathleen Biagas" in done.stdout
    done = run(config, *MONTH, "--format", "csv")
    assert done.returncode == 0 and done.stdout.count("\n\n") == 2
    assert done.stdout.startswith("week,primary,backup,arrived,")


def test_report_html_to_file(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run(config, *MONTH, "--format", "html", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "report written to" in done.stderr
    page = out.read_text()
    assert page.count("<svg") == 3 and "<td>Eric Brugger</td>" in page


def test_report_refuses_bad_dates(config: Path) -> None:
    done = run(config, "--since", "2026-05-10", "--until", "2026-04-13")
    assert done.returncode == 2 and "before --since" in done.stderr
    done = run(config, "--since", "13/04/2026")
    assert done.returncode == 2 and "not an ISO date" in done.stderr


def test_report_default_range_is_twelve_weeks(config: Path) -> None:
    done = run(config, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["weeks"]) == 12
