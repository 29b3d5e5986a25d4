"""Benchmark of failover: two `visit-gateway run` instances on one PostgreSQL, the leader
SIGKILLed --kills times; prints how long each takeover took, p50 and max.

A takeover is timed from the kill to the moment the lease row holds a newer epoch whose
holder is the other (live) instance; the killed one is started again as a standby before the
next kill. The lease is --lease seconds (the test setting of tests/integration/system/
test_chaos_failover.py: 3 s), the standby polls every --poll seconds. Mail keeps arriving
(--messages spread over the run) so the leader is writing when it dies.

    .venv/bin/python bench/failover.py [--kills 20] [--lease 3] [--poll 0.2]

Prints figures; never pass/fail. Needs Dovecot and PostgreSQL (scripts/install-test-servers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from gateway.store.db import Store  # noqa: E402
from gateway.testing.dovecot import DovecotServer  # noqa: E402
from gateway.testing.github_emulator import Emulator  # noqa: E402
from gateway.testing.postgres import PostgresServer  # noqa: E402
from tests.integration.daemon import Daemon, setup_github, wait_for, write_config  # noqa: E402
from tests.unit.mail import raw  # noqa: E402


def lease(engine: sa.Engine) -> tuple[int, str | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT epoch, holder FROM leader_lease")).one()
        conn.rollback()
    return int(row.epoch), row.holder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(kills: int, lease_seconds: float, poll: float, messages: int) -> None:
    with (tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot,
          PostgresServer() as server):
        emu = Emulator(seed=7)
        token = setup_github(emu)
        database = server.url(server.create_database())
        version = server.version
        Store.open(database).close()  # migrated: the lease row is there to watch
        engine = sa.create_engine(database)
        with emu.serve() as url:
            daemons: dict[str, Daemon] = {}
            for name in ("a", "b"):
                directory = Path(tmp) / name
                directory.mkdir()
                config = write_config(
                    directory, dovecot, url, poll_interval=1.0,
                    database=(f'url = "{database}"\ninstance_name = "{name}"\n'
                              f"lease_seconds = {lease_seconds}\nstandby_poll = {poll}"))
                daemons[name] = Daemon(config, token=token, password=dovecot.password,
                                       log=directory / "daemon.log")
            stop = threading.Event()

            def feed() -> None:
                for n in range(messages):
                    if stop.wait(0.05):
                        return
                    dovecot.append("INBOX", raw(
                        {"Message-ID": f"<failover-{n}@univ.edu>",
                         "Subject": f"[visit-users] Failover question {n}"}, f"Q {n}.\n"))

            feeder = threading.Thread(target=feed)
            times: list[float] = []
            try:
                daemons["a"].start()
                wait_for(lambda: lease(engine)[1] == "a", 30, "a to lead", daemons["a"])
                daemons["b"].start()
                time.sleep(2.0)  # b is a standby, polling
                feeder.start()
                for _ in range(kills):
                    epoch, holder = lease(engine)
                    current = daemons[str(holder)]
                    killed = time.monotonic()
                    current.kill()
                    while True:
                        now_epoch, now_holder = lease(engine)
                        if (now_epoch > epoch and now_holder in daemons
                                and daemons[str(now_holder)].alive()):
                            break
                        if time.monotonic() - killed > 60:
                            raise SystemExit("no failover within 60 s")
                        time.sleep(0.01)
                    times.append(time.monotonic() - killed)
                    current.start()
                    time.sleep(1.5)  # the restarted one settles as a standby
            finally:
                stop.set()
                if feeder.is_alive():
                    feeder.join()
                for daemon in daemons.values():
                    daemon.close()
                engine.dispose()
            issues = len(emu.issues("visit-dav/live-customer-response"))
    print(f"failover on PostgreSQL {version}: {kills} leader SIGKILLs, lease "
          f"{lease_seconds} s, standby poll {poll} s, mail arriving ({issues} issues made)")
    print(f"  takeover p50 {statistics.median(times):.2f} s   p90 {percentile(times, 0.9):.2f} s"
          f"   max {max(times):.2f} s   min {min(times):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    run(args.kills, args.lease, args.poll, args.messages)


if __name__ == "__main__":
    main()
