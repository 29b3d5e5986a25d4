"""Benchmark of `POST /webhook`: requests/s and latency, beside a bare aiohttp handler.

Three servers in this process, measured one after the other in the same run on loopback:

  bare      an aiohttp handler that answers 200 without reading the request
  verify    gateway.web.server.make_app: size limit, HMAC-SHA256, JSON, headers; a handler that does
            nothing
  sqlite    the same, with a handler that inserts the delivery into a small SQLite table (WAL,
            synchronous=FULL, one transaction per delivery) through asyncio.to_thread (the
            first figures of issue 18 were taken with it)
  store     the same, with the daemon's own handler (`gateway.components.delivery_handler`:
            the tracking service records the delivery by its GUID and applies it) on the
            gateway's store: SQLite (WAL, synchronous=FULL) and/or PostgreSQL (a private
            server, fsync on; `gateway.testing.postgres`), chosen with --engine

The load comes from a second process (this file with --load): an aiohttp client holding
--concurrency connections that posts a real issue_comment payload, signed, with a fresh GUID
each time, until --requests requests or --seconds seconds, after a short warm-up. With
--payload same (the default) it is the same comment every time, so after the first the store
finds a comment it has seen: claimed, read, recorded, nothing else written. With --payload
mix every delivery is a new comment (its own id) on one of 50 issues, by a customer or,
every third, by a team member (a first response on a new issue; `/spend 15m` every sixth),
so each writes its comment, the thread's activity and sometimes the thread and effort.

    .venv/bin/python bench/webhook.py [--concurrency 32] [--requests 20000] [--seconds 10]
                                      [--engine sqlite|postgresql|both] [--payload same|mix]

Prints figures; never pass/fail. The gateway logs its usual JSON line per delivery, to
/dev/null. The database goes to a fresh directory in --db-dir (default: the temp directory),
removed afterwards; its filesystem is printed, since fsync on tmpfs costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.components import delivery_handler  # noqa: E402
from gateway.duty.businesstime import BusinessCalendar  # noqa: E402
from gateway.log import configure as configure_logging  # noqa: E402
from gateway.store.db import Store  # noqa: E402
from gateway.testing.postgres import PostgresServer  # noqa: E402
from gateway.tracking.rules import Rules  # noqa: E402
from gateway.tracking.service import TrackingService  # noqa: E402
from gateway.web.health import Health  # noqa: E402
from gateway.web.limits import WebLimits  # noqa: E402
from gateway.web.metrics import GatewayMetrics  # noqa: E402
from gateway.web.server import LIMITS_KEY, Delivery, DeliveryResult, make_app, serve  # noqa: E402

SECRET = b"bench secret"
_REFERENCE = Path(os.environ.get(
    "GITHUB_REFERENCE_DIR", str(ROOT.parent / "shared" / "reference" / "github")))
PAYLOAD = _REFERENCE / "webhooks" / "issue_comment.created.0.json"
WARMUP = 300  # requests per scenario, not counted
ENGINES = {"sqlite": ("sqlite",), "postgresql": ("postgresql",),
           "both": ("sqlite", "postgresql")}


# -- the servers ----------------------------------------------------------------------------------


class SqliteDeliveries:
    """A delivery log as the wiring might keep one: INSERT OR IGNORE on the GUID, one commit."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS deliveries (guid TEXT PRIMARY KEY, "
                         "event TEXT NOT NULL, action TEXT, received_at TEXT NOT NULL)")
        self._lock = threading.Lock()  # one writer at a time, as SQLite wants

    def apply(self, delivery: Delivery) -> DeliveryResult:
        action = delivery.payload.get("action")
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?)",
                (delivery.guid, delivery.event, action if isinstance(action, str) else None,
                 delivery.received_at.isoformat()))
        return DeliveryResult.APPLIED if cursor.rowcount else DeliveryResult.DUPLICATE

    async def __call__(self, delivery: Delivery) -> DeliveryResult:
        return await asyncio.to_thread(self.apply, delivery)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM deliveries").fetchone()[0])

    def close(self) -> None:
        self._db.close()


@contextmanager
def gateway_store(engine: str, db_dir: Path) -> Iterator[Store]:
    """The gateway's store on `engine`, migrated, in `db_dir` or a private PostgreSQL."""
    if engine == "sqlite":
        store = Store.open(f"sqlite:///{db_dir / 'state.db'}", synchronous="full")
        try:
            yield store
        finally:
            store.close()
        return
    with PostgresServer() as server:
        store = Store.open(server.url(server.create_database()))
        try:
            yield store
        finally:
            store.close()


def store_handler(store: Store) -> Callable[[Delivery], Awaitable[DeliveryResult]]:
    """The daemon's webhook handler over `store`, for the payload's repository."""
    repository = json.loads(PAYLOAD.read_bytes())["repository"]["full_name"]
    service = TrackingService(store, Rules("visit-users-bot", frozenset({"cyrush"})),
                              BusinessCalendar(), repository)
    parts = SimpleNamespace(tracking=service, store=store)
    return delivery_handler(parts)  # type: ignore[arg-type]


def stored_deliveries(store: Store) -> int:
    with store.read() as tx:
        return int(tx.conn.exec_driver_sql("SELECT count(*) FROM deliveries").scalar() or 0)


async def _healthy() -> Health:
    return Health(True, {})


async def _noop(delivery: Delivery) -> DeliveryResult:
    return DeliveryResult.APPLIED


def bare_app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook", ok)
    app[LIMITS_KEY] = WebLimits()  # `serve` applies the gateway's connection limits to any app
    return app


def gateway_app(handler: Callable[[Delivery], Awaitable[DeliveryResult]]) -> web.Application:
    return make_app(secret=SECRET, handle_delivery=handler, health=_healthy,
                    metrics=GatewayMetrics())


async def measure(app: web.Application, args: argparse.Namespace) -> dict[str, float]:
    handle = await serve(app, "127.0.0.1", 0)
    try:
        load = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--load", f"http://127.0.0.1:{handle.port}/webhook",
            "--concurrency", str(args.concurrency), "--requests", str(args.requests),
            "--payload", args.payload,
            "--seconds", str(args.seconds), stdout=asyncio.subprocess.PIPE)
        out, _ = await load.communicate()
    finally:
        await handle.close()
    if load.returncode != 0:
        raise SystemExit(f"the load process failed ({load.returncode})")
    result: dict[str, float] = json.loads(out)
    return result


# -- the load (second process) --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def mixed(n: int, template: dict[str, object]) -> bytes:
    """The n-th delivery of --payload mix: a new comment on one of 50 issues."""
    team = n % 3 == 0
    comment = dict(template["comment"])  # type: ignore[call-overload]
    comment.update(id=10_000_000 + n, user={**comment["user"], "login": "cyrush" if team
                                            else f"customer{n % 7}"},
                   body=("Thanks, looking.\n/spend 15m" if n % 6 == 0 else "Thanks, looking.")
                   if team else f"More detail, message {n}.")
    issue = {**template["issue"], "number": 1 + n % 50}  # type: ignore[dict-item]
    return json.dumps({**template, "issue": issue, "comment": comment}).encode()


async def load(url: str, concurrency: int, requests: int, seconds: float,
               payload: str = "same") -> dict[str, float]:
    body = PAYLOAD.read_bytes()
    template = json.loads(body)
    signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    sent = [0]
    base = {"X-GitHub-Event": "issue_comment", "X-Hub-Signature-256": signature,
            "X-GitHub-Hook-ID": "1", "User-Agent": "GitHub-Hookshot/bench",
            "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    budget = {"warmup": WARMUP, "left": requests}

    async def worker(session: aiohttp.ClientSession, deadline: list[float]) -> None:
        nonlocal errors
        while True:
            counted = budget["warmup"] <= 0
            if counted:
                if budget["left"] <= 0 or time.perf_counter() > deadline[0]:
                    return
                budget["left"] -= 1
            else:
                budget["warmup"] -= 1
            headers = base | {"X-GitHub-Delivery": str(uuid.uuid4())}
            data = body
            if payload == "mix":
                sent[0] += 1
                data = mixed(sent[0], template)
                headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
                    SECRET, data, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            async with session.post(url, data=data, headers=headers) as response:
                await response.read()
                ok = response.status == 200
            if counted:
                latencies.append(time.perf_counter() - started)
                errors += not ok

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = [float("inf")]
        warm = [asyncio.create_task(worker(session, deadline)) for _ in range(concurrency)]
        while budget["warmup"] > 0:
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        deadline[0] = started + seconds
        await asyncio.gather(*warm)
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "seconds": elapsed, "errors": errors,
            "rps": len(latencies) / elapsed, "p50": percentile(latencies, 0.50) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "bytes": len(body)}


# -- the report -----------------------------------------------------------------------------------


def filesystem(path: Path) -> str:
    best = ("?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, kind, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) >= len(best[1]):
            best = (kind, mount)
    return best[0]


async def run(args: argparse.Namespace, db_dir: Path) -> None:
    deliveries = SqliteDeliveries(db_dir / "deliveries.db")
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        for name, app in [("bare aiohttp, body unread", bare_app()),
                          ("webhook, no-op handler", gateway_app(_noop)),
                          ("webhook + SQLite FULL write", gateway_app(deliveries))]:
            rows.append((name, await measure(app, args)))
        stored = deliveries.count()
    finally:
        deliveries.close()
    kept: list[tuple[str, int]] = []
    for engine in ENGINES[args.engine]:
        with gateway_store(engine, db_dir) as store:
            rows.append((f"webhook + store, {engine}", await measure(
                gateway_app(store_handler(store)), args)))
            kept.append((engine, stored_deliveries(store)))
    size = int(rows[0][1]["bytes"])
    print(f"POST /webhook on loopback: {size} B issue_comment payload ({args.payload}), "
          f"{args.concurrency} "
          f"connections, one load process; {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, aiohttp {aiohttp.__version__}; SQLite in {db_dir} "
          f"({filesystem(db_dir)})")
    print(f"{'scenario':30} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-200':>8}")
    for name, row in rows:
        print(f"{name:30} {int(row['requests']):9d} {row['rps']:8.0f} {row['p50']:8.2f} "
              f"{row['p99']:8.2f} {int(row['errors']):8d}")
    print(f"rows in the SQLite table afterwards: {stored} (warm-up included)")
    for engine, count in kept:
        print(f"deliveries recorded by the store on {engine}: {count} (warm-up included)")
    bare = dict(rows)["webhook, no-op handler"]["rps"]
    for name, row in rows[2:]:
        print(f"{name}: {row['rps'] / bare:.2f}x the no-op handler")
    print(f"peak RSS of this process (server and stores): {peak_rss_mb():.0f} MB")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--payload", choices=["same", "mix"], default="same")
    parser.add_argument("--requests", type=int, default=20000, help="per scenario, at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario, at most")
    parser.add_argument("--db-dir", default=None)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="both")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        figures = asyncio.run(load(args.load, args.concurrency, args.requests, args.seconds,
                                   args.payload))
        print(json.dumps(figures))
    else:
        # The daemon's log format (one JSON line per delivery), rendered but not displayed.
        with open(os.devnull, "w") as sink, tempfile.TemporaryDirectory(
                prefix="bench-webhook-", dir=args.db_dir) as db_dir:
            configure_logging("info", "json", sink)
            asyncio.run(run(args, Path(db_dir)))


if __name__ == "__main__":
    main()
