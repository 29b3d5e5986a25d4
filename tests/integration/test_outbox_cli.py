"""`visit-gateway outbox list | retry KEY | drop KEY` over a state database that `replay`
(without --dry-run) queued work into."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.mail import raw

from ..conftest import EXAMPLE_CONFIG


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_outbox_list_retry_drop(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        EXAMPLE_CONFIG.read_text()
        .replace('path = "../var/state.db"', f'path = "{tmp_path / "state.db"}"')
        .replace(
            'file = "schedule.example.toml"',
            f'file = "{EXAMPLE_CONFIG.parent}/schedule.example.toml"',
        )
    )
    (tmp_path / "q.eml").write_bytes(raw({"Message-ID": "<q@univ.edu>"}, "Question\n"))
    (tmp_path / "r.eml").write_bytes(
        raw(
            {
                "Message-ID": "<r@lab.gov>",
                "From": "b@lab.gov",
                "In-Reply-To": "<q@univ.edu>",
                "Date": "Tue, 3 Mar 2026 10:14:00 -0800",
            },
            "Reply\n",
        )
    )
    done = cli("replay", str(tmp_path / "q.eml"), str(tmp_path / "r.eml"), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "queued in the outbox" in done.stderr
    listing = cli("outbox", "list", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:4] == ["key", "kind", "status", "tries"]
    assert "issue:mid:<q@univ.edu>" in lines[1] and "pending" in lines[1]
    assert "comment:mid:<r@lab.gov>" in lines[2] and "waits for its issue" in lines[2]
    assert cli("outbox", "drop", "comment:mid:<r@lab.gov>", "--config", str(config)).returncode == 0
    assert "dropped" in cli("outbox", "list", "--config", str(config)).stdout.splitlines()[2]
    again = cli("outbox", "drop", "comment:mid:<r@lab.gov>", "--config", str(config))
    assert again.returncode == 2 and "no open or failed row" in again.stderr
    assert cli("outbox", "retry", "issue:mid:<q@univ.edu>", "--config", str(config)).returncode == 0
    recheck = cli("outbox", "recheck", "--config", str(config))
    assert recheck.returncode == 0 and "recheck: 1 pending" in recheck.stdout
    assert "sending" in cli("outbox", "list", "--config", str(config)).stdout.splitlines()[1]
    missing_key = cli("outbox", "retry", "--config", str(config))
    assert missing_key.returncode == 2 and "needs a KEY" in missing_key.stderr
