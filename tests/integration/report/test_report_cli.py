"""`visit-gateway report` as an admin runs it, over the simulated month of `tests.unit.test_report`
(numbers worked out by hand there), and the HTML page rendered by headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops

from gateway.clock import ManualClock

from ...conftest import EXAMPLE_CONFIG, example_config_file
from ...unit.report.test_report import build_month_db
from ..cli import run_cli

ROOT = EXAMPLE_CONFIG.parent
# The month of tests/unit/report/test_report.py, reported as it stood when its last week ended (the
# report's "now" is injected: the suite also runs under faketime, in March 2026 among others).
MONTH = ("--since", "2026-04-13", "--until", "2026-05-10", "--at", "2026-05-11T08:00-07:00")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    build_month_db(tmp_path / "state.db")
    return example_config_file(tmp_path, tmp_path / "state.db")


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STATE_DIRECTORY"}
    return run_cli("report", *args, "--config", str(config), env=env)


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


@pytest.mark.usefixtures("restored_logging")
def test_report_default_range_is_twelve_weeks(config: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Without --at the report asks the command's clock (injected here: a holiday morning) and
    ends with the week under way."""
    import gateway.cli

    christmas = dt.datetime(2026, 12, 25, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    monkeypatch.setattr(gateway.cli, "SystemClock", lambda: ManualClock(christmas))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert gateway.cli.main(["report", "--format", "json", "--config", str(config)]) == 0
    starts = [w["week"] for w in json.loads(capsys.readouterr().out)["weeks"]]
    assert len(starts) == 12 and starts[0] == "2026-10-05" and starts[-1] == "2026-12-21"


def test_report_default_weeks_at_an_injected_sunday_night(config: Path) -> None:
    done = run(config, "--format", "json", "--at", "2026-12-06T23:30-08:00")
    assert done.returncode == 0, done.stderr
    starts = [w["week"] for w in json.loads(done.stdout)["weeks"]]
    assert len(starts) == 12 and starts[0] == "2026-09-14" and starts[-1] == "2026-11-30"


# ---- the HTML page as a person sees it: rendered by headless Chromium ------------------------

_CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   "--force-device-scale-factor=1")
_RECT = re.compile(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="([\d.]+)" '
                   r'fill="(#[0-9a-f]{6})"')
_SERIES = {"#2f6fdb": "blue (median, weeks served)", "#f08c2e": "orange (p90, effort)",
           "#3a9d5d": "green (inquiries)"}
WIDTH, HEIGHT = 1200, 2400


@pytest.fixture
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: run scripts/install-test-servers "
                "(it installs Debian's chromium package)")


def screenshot(browser: str, page: Path, png: Path, profile: Path) -> None:
    done = subprocess.run([browser, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}",
                           page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]


def painted(image: Image.Image, colour: str, tolerance: int = 6) -> int:
    """Pixels within `tolerance` of `colour` on every channel."""
    target = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    masks = [band.point(lambda v, t=t: 255 if abs(v - t) <= tolerance else 0)
             for band, t in zip(image.convert("RGB").split(), target, strict=True)]
    both = ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2])
    return int(sum(both.histogram()[255:]))


def test_report_html_renders_in_chromium(config: Path, tmp_path: Path, chromium: str) -> None:
    """The page, drawn by a real browser: every bar the SVG declares is painted at its size.

    The painted area of each series colour is compared with the area of the SVG rectangles in
    that colour (bars plus legend swatches), so a chart that is clipped, hidden, scaled or not
    drawn at all fails; bar edges fall on fractional pixels and are anti-aliased, hence the
    lower bound of 85%."""
    page, png = tmp_path / "report.html", tmp_path / "report.png"
    done = run(config, *MONTH, "--format", "html", "--output", str(page))
    assert done.returncode == 0, done.stderr
    screenshot(chromium, page, png, tmp_path / "profile")

    with Image.open(png) as image:
        assert image.size == (WIDTH, HEIGHT)
        declared: dict[str, float] = {}
        for w, h, colour in _RECT.findall(page.read_text()):
            declared[colour] = declared.get(colour, 0.0) + float(w) * float(h)
        assert set(_SERIES) <= set(declared), declared
        for colour, what in _SERIES.items():
            drawn = painted(image, colour)
            assert 0.85 * declared[colour] <= drawn <= 1.02 * declared[colour], (
                f"{what}: {drawn} px painted, SVG declares {declared[colour]:.0f} px²")
        assert painted(image, "#d64545") > 200, "the dashed goal line is not drawn"
        # Below the last table the page is blank: the tables were laid out inside the window.
        bottom = image.convert("L").crop((0, HEIGHT - 200, WIDTH, HEIGHT))
        assert bottom.getextrema() == (255, 255), "the page is longer than the window"
