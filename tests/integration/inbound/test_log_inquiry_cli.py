"""`visit-gateway log-inquiry` as a team member runs it (issue 16): a call logged at T gets a
thread that arrived at T, assigned to the Primary of T, and one queued create; the same call
logged twice is queued once; bad input is one line and exit 2, with nothing stored.

The times are before 2026-03-08: scripts/test-clock runs this file with the clock set as early
as that, and a call may not be logged in the future."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store.db import Store
from gateway.store.schema import messages, thread_customers, threads

from ...conftest import example_config_file
from ..cli import run_cli

T = "2026-03-05T10:00-08:00"  # Thursday: cyrush is Primary (the example schedule)
T_UTC = dt.datetime(2026, 3, 5, 18, 0, tzinfo=dt.UTC)
CALL = ("log-inquiry", "--customer", "Jane Roe <jane.roe@univ.edu>", "--at", T,
        "--subject", "[visit-users] Silo reader crashes", "--via", "phone", "--by", "cyrush")


def cli(*args: str, config: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(config), stdin=stdin)


def configured(tmp_path: Path, *, database: bool = True) -> Path:
    config = example_config_file(tmp_path, tmp_path / "state.db")
    if database:
        done = cli("db", "upgrade", config=config)
        assert done.returncode == 0, done.stderr
    return config


def state(tmp_path: Path) -> tuple[list[sa.Row[tuple[object, ...]]], list[dict[str, object]],
                                   list[str]]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", migrate=False)
    try:
        with store.read() as tx:
            found = list(tx.conn.execute(sa.select(threads)))
            customers = [row.address for row in tx.conn.execute(sa.select(thread_customers))]
        return found, store.outbox_rows(), customers
    finally:
        store.close()


def test_a_logged_call_arrives_at_its_time_for_its_primary_once(tmp_path: Path) -> None:
    config = configured(tmp_path)
    (tmp_path / "notes.txt").write_text("She cannot open a Silo file; ask @biagas? See #12.\n")
    done = cli(*CALL, "--body-file", str(tmp_path / "notes.txt"), config=config)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith('logged: new issue "Silo reader crashes" for @cyrush, arrived '
                               "Thu 2026-03-05 10:00 PST (thread th-")
    assert "if it is not running, it is created when it starts" in lines[1]
    assert "no mail goes to the customer" in lines[1]
    [thread], [row], customers = state(tmp_path)
    assert (thread.arrived_at, thread.assignee, thread.target, thread.title) == (
        T_UTC, "cyrush", "issues", "[visit-users] Silo reader crashes")
    assert (row["kind"], row["status"], row["thread_id"]) == (
        "create_issue", "pending", thread.thread_id)
    payload = json.loads(str(row["payload"]))
    assert payload["assignee"] == "cyrush" and payload["title"] == "Silo reader crashes"
    assert payload["body"].startswith(
        "Logged by Cyrus Harrison (`cyrush`) from a phone call with **Jane Roe** "
        "(`j…@univ.edu`) on Thu 2026-03-05 10:00 PST.\n\n"
        "She cannot open a Silo file; ask `@biagas`? See `#12`.")
    assert customers == []

    # The same call again (the instant in another offset, the address in capitals):
    # nothing more is queued.
    args = _replaced("--at", "2026-03-05T18:00Z")
    args[args.index("--customer") + 1] = "Jane Roe <Jane.Roe@UNIV.edu>"
    again = cli(*args, config=config)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("already logged (the same customer, time, subject and --via)")
    assert "nothing more was queued" in again.stdout
    found, rows, _ = state(tmp_path)
    assert len(found) == 1 and len(rows) == 1


def test_a_walk_in_from_stdin_with_ack(tmp_path: Path) -> None:
    config = configured(tmp_path)
    done = cli("log-inquiry", "--customer", "ana@lab.gov", "--at", "2026-03-06T17:30-08:00",
               "--subject", "Mesh reader question", "--via", "Walk-In", "--by", "Kathleen",
               "--body-file", "-", "--ack", config=config, stdin="Came by with a laptop.\n")
    assert done.returncode == 0, done.stderr
    # Friday after the close: the coming week's Primary.
    assert "for @JustinPrivitera" in done.stdout and "acknowledgement goes" in done.stdout
    [_thread], [row], customers = state(tmp_path)
    assert customers == ["ana@lab.gov"]
    assert json.loads(str(row["payload"]))["body"].startswith(
        "Logged by Kathleen Biagas (`biagas`) from a visit in person by `a…@lab.gov` on "
        "Fri 2026-03-06 17:30 PST.\n\nCame by with a laptop.")


def _replaced(option: str, value: str | None) -> list[str]:
    args = list(CALL)
    index = args.index(option)
    if value is None:
        del args[index:index + 2]
    else:
        args[index + 1] = value
    return args


@pytest.mark.parametrize(("args", "says"), [
    (_replaced("--customer", "Jane Roe"), "--customer 'Jane Roe' has no email address"),
    (_replaced("--customer", "Jane <jane@univ.edu>, Ana <ana@lab.gov>"), "is not one address"),
    (_replaced("--at", "2026-03-05T10:00"), "has no UTC offset"),
    (_replaced("--at", "yesterday"), "is not an ISO 8601 time"),
    (_replaced("--at", "2099-03-05T10:00-08:00"), "is in the future"),
    (_replaced("--via", "fax"), "--via 'fax': write phone or walk-in"),
    ([*CALL, "--body-file", "/nonexistent/notes.txt"], "--body-file /nonexistent/notes.txt: No "
                                                       "such file"),
    (_replaced("--by", None), "--by is required: the GitHub login of the roster member who "
                              "took the call; the Primary at that time is cyrush"),
    (_replaced("--by", "nobody"), "--by: no person 'nobody' in the roster"),
    (_replaced("--customer", "visit-users@elist.ornl.gov"), "is the list's or the gateway's"),
    (_replaced("--subject", " "), "--subject must be one line"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    config = configured(tmp_path)
    done = cli(*args, config=config)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("visit-gateway: log-inquiry: ") and says in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", migrate=False)
    try:
        with store.read() as tx:
            assert tx.conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar() == 0
    finally:
        store.close()


def test_without_the_database_it_says_where_it_looked(tmp_path: Path) -> None:
    config = configured(tmp_path, database=False)
    done = cli(*CALL, config=config)
    assert done.returncode == 2 and "there is no state database at" in done.stderr
    assert not (tmp_path / "state.db").exists()
