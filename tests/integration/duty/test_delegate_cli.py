"""`visit-gateway delegate` as an admin runs it, and `oncall` and `schedule check` showing it.

The example schedule's week of Monday 2026-12-07 is Kathleen Biagas (biagas) Primary and
Justin Privitera (JustinPrivitera) Backup; Kathleen hands Justin Tuesday afternoon.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.schema import delegations

from ...conftest import example_config_file
from ..cli import run_cli

NOON = "2026-12-08T12:00-08:00"
AFTERNOON = ("--from", "2026-12-08T13:00-08:00", "--until", "2026-12-08T17:00-08:00")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    database = tmp_path / "state.db"
    Store.open(f"sqlite:///{database}").close()  # the service has run
    return example_config_file(tmp_path, database)


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(config))


def recorded(config: Path) -> tuple[list[tuple[int, str, str, str]], list[tuple[str, str]]]:
    store = Store.open(f"sqlite:///{config.parent / 'state.db'}")
    try:
        with store.read() as tx:
            rows = [(r.id, r.from_login, r.to_login, r.source)
                    for r in tx.conn.execute(sa.select(delegations))]
        queued = [(r["key"], json.loads(r["payload"])["to"][0][1]) for r in store.outbox_rows()]
    finally:
        store.close()
    return rows, queued


def test_delegate_twice_records_one_and_queues_one_notice(config: Path) -> None:
    first = run(config, "delegate", "--to", "JustinPrivitera", *AFTERNOON, "--at", NOON)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "delegation #1: Justin Privitera (JustinPrivitera) is Primary for Kathleen Biagas "
        "(biagas) from Tue 2026-12-08 13:00 PST until Tue 2026-12-08 17:00 PST",
        "Justin Privitera is told by mail (queued for `visit-gateway run` to send)"]
    again = run(config, "delegate", "--to", "justin", "--by", "biagas", *AFTERNOON,
                "--at", "2026-12-08T12:05-08:00")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("(already recorded: nothing added)")
    rows, queued = recorded(config)
    assert rows == [(1, "biagas", "JustinPrivitera", "cli")]
    assert queued == [("mail:delegation:1", "privitera1@llnl.gov")]

    oncall = run(config, "oncall", "--at", "2026-12-08T14:00-08:00", "--weeks", "1")
    assert oncall.returncode == 0, oncall.stderr
    lines = oncall.stdout.splitlines()
    assert "Primary  Justin Privitera (JustinPrivitera)" in lines[1]
    assert lines[1].endswith("until Tue 2026-12-08 17:00 PST  (delegated by Kathleen Biagas, #1)")
    assert "Backup   Kathleen Biagas (biagas)" in lines[2]
    check = run(config, "schedule", "check", "--weeks", "2", "--from", NOON)
    assert check.returncode == 0, check.stdout + check.stderr
    assert ("Delegations (1):\n  Tue 2026-12-08 13:00 PST to Tue 2026-12-08 17:00 PST: "
            "Justin Privitera (JustinPrivitera) is Primary, delegated by Kathleen Biagas, #1"
            ) in check.stdout

    listed = run(config, "delegate", "--list", "--at", "2026-12-08T14:00-08:00")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:5] == ["#1", "in", "force", "biagas", "->"]
    ended = run(config, "delegate", "--cancel", "1", "--at", "2026-12-08T14:00-08:00")
    assert (ended.returncode, ended.stdout) == (0, "delegation #1 ended\n"), ended.stderr
    after = run(config, "oncall", "--at", "2026-12-08T14:30-08:00", "--weeks", "1")
    assert "Primary  Kathleen Biagas (biagas)" in after.stdout.splitlines()[1]
    twice = run(config, "delegate", "--cancel", "1", "--at", "2026-12-08T14:10-08:00")
    assert twice.returncode == 2
    assert twice.stderr == "visit-gateway: delegate: delegation #1 was cancelled already\n"


def test_the_backup_by_default_and_cut_at_the_handoff(config: Path) -> None:
    done = run(config, "delegate", "--until", "2026-12-14T12:00-08:00", "--at", NOON)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "delegation #1: Justin Privitera (JustinPrivitera) is Primary for Kathleen Biagas "
        "(biagas) from Tue 2026-12-08 12:00 PST until Mon 2026-12-14 08:00 PST (cut at the "
        "handoff: a delegation does not outlive the duty week)")


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("--to", "JustinPrivitera", "--from", "2026-12-08T17:00-08:00", "--until",
                  "2026-12-08T13:00-08:00"), "until (Tue 2026-12-08 13:00 PST) must be after "
                 "the start (Tue 2026-12-08 17:00 PST)", id="until-before-from"),
    pytest.param(("--to", "octocat", *AFTERNOON),
                 "no person 'octocat' in the roster: name a roster member", id="not-on-roster"),
    pytest.param(("--by", "cyrush", *AFTERNOON),
                 "Cyrus Harrison (cyrush) is not the Primary", id="not-the-primary"),
    pytest.param(("--until", "2026-12-08T17:00"), "has no UTC offset", id="naive-time"),
    pytest.param(("--list", "--to", "cyrush"), "--to, --from and --by go with --until",
                 id="list-with-to"),
    pytest.param(("--list", "--cancel", "1"), "not allowed with argument", id="two-actions"),
    pytest.param((), "one of the arguments --until --list --cancel is required",
                 id="no-action"),
])
def test_bad_input_is_one_line_and_exit_2(config: Path, args: tuple[str, ...],
                                          message: str) -> None:
    done = run(config, "delegate", *args, "--at", NOON)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert recorded(config) == ([], [])


def test_without_a_database_delegate_refuses_and_oncall_shows_the_file(tmp_path: Path) -> None:
    config = example_config_file(tmp_path, tmp_path / "none" / "state.db")
    done = run(config, "delegate", "--to", "JustinPrivitera", *AFTERNOON, "--at", NOON)
    assert done.returncode == 2 and "there is no state database at" in done.stderr
    oncall = run(config, "oncall", "--at", "2026-12-08T14:00-08:00", "--weeks", "1")
    assert oncall.returncode == 0 and oncall.stderr == ""
    assert "Primary  Kathleen Biagas (biagas)" in oncall.stdout
    assert not (tmp_path / "none").exists()
