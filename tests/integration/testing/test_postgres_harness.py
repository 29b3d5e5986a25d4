"""The private PostgreSQL harness: realistic durability, databases made, cloned, emptied and
dropped, and no server left behind by a closed harness or a test process that was killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from gateway.testing.postgres import PostgresServer


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_the_session_server_is_durable_and_not_root(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.dsn()) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses')").fetchall())
        user = conn.execute("SELECT current_user").fetchone()
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                        "listen_addresses": "127.0.0.1"}
    assert user == ("postgres",)
    assert postgres.pid is not None
    assert os.stat(f"/proc/{postgres.pid}").st_uid != 0


def test_databases_are_made_cloned_emptied_and_dropped(postgres: PostgresServer) -> None:
    name = postgres.create_database()
    with psycopg.connect(postgres.dsn(name)) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
    clone = postgres.create_database(template=name)
    postgres.empty(name)
    with psycopg.connect(postgres.dsn(name)) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert conn.execute("INSERT INTO t (v) VALUES ('c') RETURNING id").fetchone() == (1,)
    with psycopg.connect(postgres.dsn(clone)) as conn:
        assert conn.execute("SELECT v FROM t ORDER BY id").fetchall() == [("a",), ("b",)]
    for database in (name, clone):
        postgres.drop_database(database)


def test_close_stops_the_server_and_removes_its_directory() -> None:
    server = PostgresServer(fsync=False).start()
    pid, root = server.pid, server.root_dir
    assert pid is not None and _alive(pid)
    server.close()
    assert not _alive(pid) and not root.exists()


def test_a_killed_test_process_leaves_no_server(tmp_path: Path) -> None:
    script = ("from gateway.testing.postgres import PostgresServer\n"
              "import sys, time\n"
              "s = PostgresServer(fsync=False).start()\n"
              "print(s.pid, s.root_dir, flush=True)\n"
              "time.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[3]) as child:
        assert child.stdout is not None
        pid_text, root = child.stdout.readline().split()
        pid = int(pid_text)
        assert _alive(pid)
        child.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(root, ignore_errors=True)  # what a killed process cannot clean up
    assert not _alive(pid)
