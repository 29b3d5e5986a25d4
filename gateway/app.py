"""The composition root of `visit-gateway run`: build every component from the Config
(`gateway.components`), start them in one TaskGroup with a shared stop event, and stop them
cleanly on SIGTERM/SIGINT.

Components: the IMAP source (a thread: imapclient blocks) and the serial GitHub writer (a
thread: PyGithub blocks), joined by a wake-up event so new work is sent at once. Fatal problems
that cannot heal without an admin (a wrong IMAP password, a revoked token or a missing
repository at start) raise `FatalError` with the fix; everything else is retried with backoff
and logged. On PostgreSQL with several instances (`gateway.store.leader`) the web server and
sd_notify start first; the components start once this instance leads, and a leader that loses
the lead stops (`LeadershipLost`, exit 75) to come back as a standby. On SQLite one instance
holds the database's lock file. On stop, the write in flight finishes, the IMAP IDLE is ended,
cursors stay where the last durable commit put them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import structlog

from gateway.clock import Clock, SystemClock
from gateway.components import (
    Components,
    build,
    check_github,
    delivery_handler,
    health_probe,
    systemd_status,
    ticker,
)
from gateway.config.loader import Config
from gateway.errors import ConfigError, FatalError, PermanentError
from gateway.inbound.imap import ImapAuthError
from gateway.ops import sdnotify  # systemd sd_notify: READY/STATUS/WATCHDOG/STOPPING
from gateway.store.instance_lock import hold as instance_lock_hold
from gateway.store.leader import Leadership
from gateway.web.limits import WebLimits
from gateway.web.listen import listen_error
from gateway.web.server import make_app, serve

log = structlog.get_logger("gateway.app")


async def run(
    config: Config, *, clock: Clock | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`). Raises FatalError for what cannot heal."""
    clock = clock or SystemClock()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    target_private = await asyncio.to_thread(check_github, config)
    secret = config.require_webhook_secret().get_secret_value().encode()
    wake = threading.Event()
    mail_wake = threading.Event()
    parts = await asyncio.to_thread(lambda: build(config, clock, wake, mail_wake,
                                                  target_private=target_private))
    # After the store opened (which names what is wrong with its location): one instance
    # per SQLite file.
    database = config.database_file()
    try:
        instance_lock = instance_lock_hold(database) if database is not None else None
    except FatalError:
        parts.store.close()
        raise
    leadership = leadership_for(config, parts)
    halt = threading.Event()
    web_app = make_app(
        secret=secret,
        handle_delivery=delivery_handler(parts),
        health=health_probe(parts, config, clock, leadership),
        metrics=parts.metrics,
        max_body=config.raw.web.max_body_bytes,
        clock=clock,
        limits=WebLimits(config.raw.web.header_timeout, config.raw.web.body_timeout,
                         config.raw.web.max_connections),
        attachments=parts.attachment_links,
    )
    try:
        server = await serve(web_app, config.raw.web.listen, config.raw.web.port)
    except OSError as exc:
        parts.store.close()
        raise listen_error(config.raw.web.listen, config.raw.web.port, exc) from None
    log.info("web.listening", host=config.raw.web.listen, port=server.port)
    log.info(
        "gateway.starting",
        repository=config.github.repository,
        imap=f"{config.imap.host}:{config.imap.effective_port}/{config.imap.folder}",
        database=_safe_url(config.database_url()),
    )
    # --- systemd sd_notify (gateway/ops/sdnotify.py, docs/systemd.md): READY=1 once IMAP has
    # logged in, or once standing by (the web server already listens), STATUS= lines, WATCHDOG=1
    # pings from this event loop (a standby pings too), STOPPING=1 on stop. No-ops without
    # $NOTIFY_SOCKET. ---
    systemd = sdnotify.Notifier.from_env()
    standing_by = threading.Event()
    notify_tasks = [
        asyncio.create_task(sdnotify.report(
            systemd, stop,
            ready=lambda: parts.source_status.connected or standing_by.is_set(),
            status=lambda: ("standby: another instance leads" if standing_by.is_set()
                            and (leadership is None or not leadership.leading)
                            else systemd_status(parts, clock)))),
        asyncio.create_task(sdnotify.watchdog(systemd, stop)),
    ]
    # --- end sd_notify ---
    try:
        if leadership is not None:
            # A standby serves webhooks, /healthz and /metrics, and waits for the lead.
            if not await _lead(leadership, config.database.standby_poll, stop, standing_by):
                return
            parts.store.fence = leadership.fence
            parts.writer.guard = parts.sender.guard = leadership.guard
        async with asyncio.TaskGroup() as group:
            if leadership is not None:
                group.create_task(_renew(leadership, stop))
            group.create_task(_thread("imap", parts.source.run, halt, stop))
            group.create_task(_thread("github", parts.writer.run, halt, stop, wake))
            group.create_task(_thread("reconcile", parts.reconciler.run, halt, stop))
            if parts.discussion_reconcile is not None:
                group.create_task(_thread("reconcile-discussions", parts.discussion_reconcile,
                                          halt, stop))
            group.create_task(_thread("mail", parts.sender.run, halt, stop, mail_wake))
            group.create_task(_thread("jobs", ticker(parts, clock, wake, mail_wake), halt, stop))
            group.create_task(_stopper(stop, halt, wake, mail_wake))
    except BaseExceptionGroup as failure:
        if leadership is not None and not await asyncio.to_thread(leadership.confirm):
            raise LeadershipLost(leadership.instance) from None  # the failure was the loss
        raise one_failure(failure) from None
    finally:
        stop.set()
        await asyncio.gather(*notify_tasks, return_exceptions=True)
        await server.close()
        if leadership is not None:
            await asyncio.to_thread(leadership.release)
        parts.store.close()
        if instance_lock is not None:
            instance_lock.close()
        log.info("gateway.stopped")
    if leadership is not None and leadership.lost.is_set():
        raise LeadershipLost(leadership.instance)


class LeadershipLost(Exception):
    """This instance led and lost the lease (another took over): it stops, and comes back as a
    standby when systemd restarts it (exit 75, EX_TEMPFAIL)."""


def leadership_for(config: Config, parts: Components) -> Leadership | None:
    """The leader election of a PostgreSQL deployment; None on SQLite (one instance)."""
    if parts.store.engine.dialect.name != "postgresql":
        return None
    section = config.database
    leadership = Leadership(parts.store.engine,
                            instance=section.instance_name or socket.gethostname(),
                            lease=dt.timedelta(seconds=section.lease_seconds))
    parts.metrics.set_role_probe(lambda: leadership.leading, leadership.lease_age_seconds)
    return leadership


async def _lead(leadership: Leadership, poll: float, stop: asyncio.Event,
                standing_by: threading.Event) -> bool:
    """Wait (as a standby) until this instance leads; False when stopped first."""
    while not stop.is_set():
        try:
            if await asyncio.to_thread(leadership.try_acquire):
                return True
        except Exception as exc:  # the database is away: a standby waits for it
            log.warning("leader.poll_failed", reason=type(exc).__name__)
        if not standing_by.is_set():
            log.info("leader.standby", instance=leadership.instance)
            standing_by.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
    return False


async def _renew(leadership: Leadership, stop: asyncio.Event) -> None:
    """Renew the lease every third of it; stop the daemon when it is lost."""
    every = leadership.lease.total_seconds() / 3
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
            return
        renewed = await asyncio.to_thread(leadership.renew)
        if not renewed or not leadership.still_leader():
            stop.set()
            return


def one_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error to stop with when components failed together (one `except*` per kind
    could raise several, and the daemon would die with a traceback): a config error first,
    then a refused IMAP login, then any other permanent error, as a `FatalError` with its fix;
    anything else is re-raised as the group it came in."""
    leaves = list(_leaves(group))
    for exc in leaves:
        if isinstance(exc, ConfigError):
            return exc
    for exc in leaves:
        if isinstance(exc, ImapAuthError):
            fix = exc.fix or "check imap.username and the IMAP password or OAuth2 token"
            return FatalError(f"{exc.problem} (fix: {fix})")
    for exc in leaves:
        if isinstance(exc, PermanentError):
            return FatalError(str(exc))
    return group


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


async def _thread(
    name: str, target: object, halt: threading.Event, stop: asyncio.Event, *args: object
) -> None:
    """Run a blocking loop in a thread; if it dies, stop the whole daemon."""
    try:
        await asyncio.to_thread(target, halt, *args)  # type: ignore[arg-type]
    finally:
        if not stop.is_set():
            log.error("gateway.component_stopped", component=name)
            stop.set()


async def _stopper(
    stop: asyncio.Event, halt: threading.Event, wake: threading.Event, mail_wake: threading.Event
) -> None:
    await stop.wait()
    log.info("gateway.stopping")
    halt.set()
    wake.set()
    mail_wake.set()


def _safe_url(url: str) -> str:
    """A database URL without its password, for the logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url if url.startswith("sqlite") else str(Path(url).name)
