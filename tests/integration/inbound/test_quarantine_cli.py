"""`visit-gateway quarantine list | show KEY`: mail kept but not posted, for an admin to see."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.unit.mail import raw

from ...conftest import example_config_file
from ..cli import run_cli


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(*args, text=False)


def test_quarantine_lists_and_shows_a_reused_message_id(tmp_path: Path) -> None:
    config = example_config_file(tmp_path, tmp_path / "state.db")
    first = raw({"Message-ID": "<q@univ.edu>"}, "The first question\n")
    other = raw({"Message-ID": "<q@univ.edu>", "Date": "Tue, 3 Mar 2026 10:14:00 -0800"},
                "A different question under the same id\n")
    (tmp_path / "a.eml").write_bytes(first)
    (tmp_path / "b.eml").write_bytes(other)
    done = cli("replay", str(tmp_path / "a.eml"), str(tmp_path / "b.eml"), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert b"duplicate-id-different-content" in done.stdout
    listing = cli("quarantine", "list", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.decode().splitlines()
    assert lines[0].split()[0] == "key" and len(lines) == 2
    key = lines[1].split()[0]
    assert key.startswith("sha256:") and "duplicate-id-different-content" in lines[1]
    shown = cli("quarantine", "show", key, "--config", str(config))
    assert shown.returncode == 0 and shown.stdout == other
    missing = cli("quarantine", "show", "sha256:nope", "--config", str(config))
    assert missing.returncode == 2 and b"no quarantined message" in missing.stderr
    assert b"Traceback" not in missing.stderr
