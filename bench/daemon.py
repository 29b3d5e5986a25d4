"""Benchmarks of `visit-gateway run` against a real Dovecot and the GitHub emulator.

  latency   APPEND -> issue exists, p50/p99 over --messages messages appended --spacing s
            apart, beside Dovecot's own IDLE notification delay measured by a second client in
            the same run.
  backlog   --backlog messages waiting before the daemon starts: drain rate with the emulator's
            limits off (from the daemon's start, and from its first issue on), beside raw
            PyGithub create-issue calls/s against the same emulator; the daemon's CPU time and
            peak RSS. Acknowledgements go to an SMTP sink, reconcile runs at its default
            interval: the daemon does what it does in a deployment.
  limits    --limited messages waiting, GitHub's limits on in the emulator (80/min, 500/h) and
            the gateway's default pacing (1 s apart): limit errors provoked, and the drain rate
            as a fraction of what the limits allow.

    .venv/bin/python bench/daemon.py latency|backlog|limits|all [--target discussions]
                                     [--engine sqlite|postgresql|both]

--engine picks the store for `backlog`: SQLite (the default: a file in the temporary directory,
synchronous=FULL) or PostgreSQL (a private server, fsync on: `gateway.testing.postgres`), or
both one after the other.

With --target discussions the gateway runs in discussions mode (GraphQL): "issue exists" reads
"discussion exists", and each message is three writes (createDiscussion, its labels, the
notice naming the Primary), all counted in the drain rate.

Prints figures; never pass/fail. Needs Dovecot (scripts/install-test-servers).
"""

from __future__ import annotations

import argparse
import compileall
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import github  # noqa: E402
from github import Auth  # noqa: E402

from gateway.testing.dovecot import DovecotServer  # noqa: E402
from gateway.testing.github_emulator import Emulator  # noqa: E402
from gateway.testing.postgres import PostgresServer  # noqa: E402
from tests.integration.daemon import (  # noqa: E402
    DISCUSSIONS,
    REPO,
    Daemon,
    free_port,
    setup_discussions,
    setup_github,
    wait_for,
    write_config,
)

TARGET = "issues"  # or "discussions" (--target)


def github_world(emu: Emulator) -> str:
    """The repository, its people and, in discussions mode, its category and label."""
    token = setup_github(emu)
    if TARGET == "discussions":
        setup_discussions(emu)
    return token


def threads_made(emu: Emulator) -> int:
    return len(emu.discussions(REPO)) if TARGET == "discussions" else len(emu.issues(REPO))


def writes_made(emu: Emulator) -> int:
    """GitHub writes so far: issues, or discussions with their labels and comments."""
    if TARGET == "discussions":
        return 2 * len(emu.discussions(REPO)) + len(emu.discussion_comments(REPO))
    return len(emu.issues(REPO)) + len(emu.comments(REPO))


def config_for(directory: Path, dovecot: DovecotServer, url: str, database: str = "",
               **options: float) -> Path:
    return write_config(directory, dovecot, url,  # type: ignore[arg-type]
                        github_extra=DISCUSSIONS if TARGET == "discussions" else "",
                        database=database, **options)


ENGINES = {"sqlite": ("sqlite",), "postgresql": ("postgresql",),
           "both": ("sqlite", "postgresql")}


@contextmanager
def database_lines(engine: str) -> Iterator[str]:
    """The [database] lines for `engine`: none for SQLite (the config's file), the URL of a
    fresh database on a private PostgreSQL server otherwise."""
    if engine == "sqlite":
        yield ""
        return
    with PostgresServer() as server:
        yield f'url = "{server.url(server.create_database())}"'
from tests.unit.mail import raw  # noqa: E402


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<bench-{n}-{time.time_ns()}@univ.edu>",
                "Subject": f"[visit-users] Benchmark question {n}"}, f"Question {n}.\n" * 20)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def idle_delays(dovecot: DovecotServer, stop: threading.Event, appended: list[float],
                seen: list[float]) -> None:
    """A second client IDLEs on INBOX and stamps every EXISTS it is told about."""
    client = dovecot.client()
    client.select_folder("INBOX")
    client.idle()
    try:
        while not stop.is_set():
            for response in client.idle_check(timeout=0.5):
                if len(response) > 1 and response[1] == b"EXISTS":
                    seen.append(time.monotonic())
    finally:
        client.idle_done()
        client.logout()


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def latency(count: int, spacing: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot:
        emu = Emulator()
        token = github_world(emu)
        with emu.serve() as url:
            daemon = Daemon(config_for(Path(tmp), dovecot, url, poll_interval=300.0),
                            token=token, password=dovecot.password, log=Path(tmp) / "d.log")
            daemon.start()
            wait_for(lambda: '"imap.connected"' in daemon.output(), 30, "login", daemon)
            stop = threading.Event()
            appended: list[float] = []
            seen: list[float] = []
            watcher = threading.Thread(target=idle_delays, args=(dovecot, stop, appended, seen))
            watcher.start()
            time.sleep(1.0)
            delays: list[float] = []
            for n in range(count):
                before = threads_made(emu)
                dovecot.append("INBOX", question(n))
                t0 = time.monotonic()
                appended.append(t0)
                while threads_made(emu) <= before:
                    time.sleep(0.005)
                delays.append(time.monotonic() - t0)
                time.sleep(max(spacing - delays[-1], 0))
            stop.set()
            watcher.join()
            daemon.stop()
        idle = [s - a for a, s in zip(appended, seen, strict=False) if s >= a]
        thing = "discussion" if TARGET == "discussions" else "issue"
        print(f"latency over {count} messages ({spacing}s apart, IDLE, pacing off, "
              f"{TARGET}):")
        print(f"  APPEND -> {thing}   p50 {statistics.median(delays) * 1000:7.0f} ms   "
              f"p99 {percentile(delays, 0.99) * 1000:7.0f} ms")
        if idle:
            print(f"  Dovecot IDLE EXISTS delay   p50 {statistics.median(idle) * 1000:7.0f} ms   "
                  f"p99 {percentile(idle, 0.99) * 1000:7.0f} ms")


def raw_pygithub_rate(url: str, token: str, count: int) -> float:
    gh = github.Github(base_url=url, auth=Auth.Token(token), retry=None,
                       seconds_between_requests=None, seconds_between_writes=None)
    repo = gh.get_repo(REPO)
    start = time.perf_counter()
    for n in range(count):
        repo.create_issue(title=f"raw {n}", body="x" * 400)
    gh.close()
    return count / (time.perf_counter() - start)


def raw_graphql_rate(url: str, token: str, count: int) -> float:
    """createDiscussion calls/s through the gateway's own GraphQL adapter, nothing else."""
    from gateway.outbound.discussions import DiscussionTracker

    tracker = DiscussionTracker(api_url=url, token=token, repository=REPO,
                                bot_login="visit-users-bot", timeout=30, secondary_wait=60)
    tracker.setup("Q&A", ["SRE"])
    start = time.perf_counter()
    for n in range(count):
        tracker.create_discussion(f"raw {n}", "x" * 400)
    tracker.close()
    return count / (time.perf_counter() - start)


@contextmanager
def smtp_sink() -> Iterator[str]:
    """A relay that accepts every mail and keeps none (aiosmtpd's Sink, a process of its
    own): the acknowledgements go out as in a deployment. The [smtp] lines for it."""
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Sink"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "plain"\n'
    finally:
        sink.terminate()
        sink.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backlog(count: int, engine: str = "sqlite") -> None:
    with (tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot,
          database_lines(engine) as database, smtp_sink() as smtp):
        for n in range(count):
            dovecot.append("INBOX", question(n))
        emu = Emulator()
        token = github_world(emu)
        with emu.serve() as url:
            # the gateway's pacing off, too; reconcile at its default interval
            config = config_for(Path(tmp), dovecot, url, database=database, extra=smtp,
                                reconcile_interval=300.0)
            daemon = Daemon(config, token=token, password=dovecot.password,
                            log=Path(tmp) / "d.log")
            start = time.monotonic()
            daemon.start()
            assert daemon.process is not None
            peak, first, cpu = 0.0, None, 0.0
            while (made := threads_made(emu)) < count:
                if first is None and made:
                    first = time.monotonic()
                peak = max(peak, peak_rss_mb(daemon.process.pid))
                cpu = cpu_seconds(daemon.process.pid)
                time.sleep(0.02)
            elapsed = time.monotonic() - start
            cpu = cpu_seconds(daemon.process.pid)
            daemon.stop()
            rate = raw_pygithub_rate(url, token, min(count, 500))
            graphql = (raw_graphql_rate(url, token, min(count, 300))
                       if TARGET == "discussions" else None)
        steady = elapsed - ((first or start) - start)
        print(f"backlog of {count} messages, emulator limits off, acknowledgements to an SMTP "
              f"sink, {TARGET}, store on {engine}:")
        print(f"  drained at {count / elapsed:6.1f} messages/s ({elapsed:.2f} s from the daemon's "
              f"start; its first {TARGET[:-1]} after {elapsed - steady:.2f} s)")
        print(f"  from its first {TARGET[:-1]} on: {count / steady:6.1f} messages/s")
        print(f"  raw PyGithub create_issue against the same emulator: {rate:6.1f} calls/s")
        print(f"  drain / raw: {count / elapsed / rate:.2f}x (from the first {TARGET[:-1]} on: "
              f"{count / steady / rate:.2f}x)")
        if graphql is not None:
            print(f"  raw createDiscussion (the gateway's adapter, no store): {graphql:6.1f} "
                  "calls/s")
        print(f"  daemon CPU: {cpu:.2f} s, {1000 * cpu / count:.2f} ms a message "
              "(start included)")
        print(f"  daemon peak RSS during the backlog: {peak:.0f} MB")


def limits(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot:
        for n in range(count):
            dovecot.append("INBOX", question(n))
        emu = Emulator()
        token = github_world(emu)
        emu.set_limits(secondary=True, content_per_minute=80, content_per_hour=500)
        with emu.serve() as url:
            config = config_for(Path(tmp), dovecot, url)
            text = config.read_text()  # the gateway's default pacing
            for old, new in (("min_write_interval = 0.0", "min_write_interval = 1.0"),
                             ("writes_per_minute = 100000", "writes_per_minute = 80"),
                             ("writes_per_hour = 100000", "writes_per_hour = 500")):
                text = text.replace(old, new)
            config.write_text(text)
            daemon = Daemon(config, token=token, password=dovecot.password,
                            log=Path(tmp) / "d.log")
            daemon.start()
            wait_for(lambda: writes_made(emu) >= 1, 60, "the first write", daemon)
            first = time.monotonic()
            total = count * (3 if TARGET == "discussions" else 1)
            while writes_made(emu) < total:
                time.sleep(0.1)
            elapsed = time.monotonic() - first
            daemon.stop()
            errors = emu.limit_errors_served
        writes = total - 1
        allowed = min(1.0, 80 / 60, 500 / 3600 if writes > 500 else 1.0)
        print(f"{count} messages with GitHub's limits on (80/min, 500/h, 1 s apart), "
              f"{TARGET}: {total} writes")
        print(f"  limit errors provoked: {errors}")
        print(f"  drain rate {writes / elapsed:.3f} writes/s = "
              f"{writes / elapsed / allowed:.0%} of what the limits allow ({allowed:.3f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["latency", "backlog", "limits", "all"])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=1.2)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--limited", type=int, default=120)
    parser.add_argument("--target", choices=["issues", "discussions"], default="issues")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="sqlite")
    args = parser.parse_args()
    # The daemon starts from compiled modules, as an installed package does (pip compiles them
    # at install), even where PYTHONDONTWRITEBYTECODE keeps the checkout from caching them.
    compileall.compile_dir(ROOT / "gateway", quiet=1)
    global TARGET
    TARGET = args.target
    if args.what in ("latency", "all"):
        latency(args.messages, args.spacing)
    if args.what in ("backlog", "all"):
        for engine in ENGINES[args.engine]:
            backlog(args.backlog, engine)
    if args.what in ("limits", "all"):
        limits(args.limited)


if __name__ == "__main__":
    main()
