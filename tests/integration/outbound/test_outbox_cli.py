"""`visit-gateway outbox list | retry KEY | drop KEY` over a state database that `replay`
(without --dry-run) queued work into."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.unit.mail import raw

from ...conftest import example_config_file
from ..cli import run_cli


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


def test_outbox_list_retry_drop(tmp_path: Path) -> None:
    config = example_config_file(tmp_path, tmp_path / "state.db")
    (tmp_path / "q.eml").write_bytes(raw({"Message-ID": "<q@univ.edu>"}, "Question\n"))
    # Outlook-length Message-IDs make keys longer than any fixed column.
    reply_id = "<SA1PR09MB1234567890ABCDEF1234567890ABCDEF@SA1PR09MB1234.namprd09.lab.gov>"
    (tmp_path / "r.eml").write_bytes(
        raw(
            {
                "Message-ID": reply_id,
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
    assert "waits for its issue" in lines[2]
    key = lines[2].split()[0]  # copied from the listing, as an admin would
    local, domain = reply_id.split("@")
    assert key == f"comment:mid:{local}@{domain.lower()}"  # Message-IDs compare domain-blind
    assert cli("outbox", "drop", key, "--config", str(config)).returncode == 0
    dropped = cli("outbox", "list", "--config", str(config)).stdout.splitlines()[2]
    assert "dropped" in dropped and "waits for its issue" not in dropped
    again = cli("outbox", "drop", key, "--config", str(config))
    assert again.returncode == 2 and "no open or failed row" in again.stderr
    assert cli("outbox", "retry", "issue:mid:<q@univ.edu>", "--config", str(config)).returncode == 0
    recheck = cli("outbox", "recheck", "--config", str(config))
    assert recheck.returncode == 0 and "recheck: 1 pending" in recheck.stdout
    assert "sending" in cli("outbox", "list", "--config", str(config)).stdout.splitlines()[1]
    missing_key = cli("outbox", "retry", "--config", str(config))
    assert missing_key.returncode == 2 and "needs a KEY" in missing_key.stderr


def test_admin_commands_refuse_a_database_that_does_not_exist(tmp_path: Path) -> None:
    """Run as root outside the unit with database.path naming the wrong file, `outbox` and
    `report` would otherwise create an empty database and report that nothing is queued."""
    db = tmp_path / "nowhere" / "state.db"
    config = example_config_file(tmp_path, db)
    for command in (["outbox", "list"], ["outbox", "recheck"], ["report"]):
        done = cli(*command, "--config", str(config))
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"there is no state database at {db}" in done.stderr
        assert "database.path" in done.stderr and "Traceback" not in done.stderr
    assert not db.parent.exists()
