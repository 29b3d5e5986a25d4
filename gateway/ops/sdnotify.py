"""A tiny `sd_notify(3)` client: tell systemd (``Type=notify``) how the daemon is doing.

The protocol is one datagram per message on the unix socket named by ``$NOTIFY_SOCKET`` (a path,
or ``@name`` for the abstract namespace), holding newline-separated ``KEY=value`` fields:
``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``. Without ``$NOTIFY_SOCKET`` (not run
by systemd, or not ``Type=notify``) every call is a no-op. Only the standard library is used for
the protocol; structlog (already a dependency) for the one warning.

Sending never raises: the first failure is logged, later ones are counted silently, and a
success after a failure is logged again so the journal shows the gap.

The watchdog: systemd sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``) when the unit has
``WatchdogSec=``; `watchdog_interval()` is half of it in seconds (systemd's advice), or None when
there is no watchdog or it is meant for another process.

`report()` and `watchdog()` are the two asyncio tasks the composition root runs; they end when
the stop event is set.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger("gateway.ops.sdnotify")

STATUS_SECONDS = 5.0  # how often STATUS= is recomputed (sent only when it changed)
READY_POLL_SECONDS = 0.1  # how often the READY condition is checked before it holds
MAX_STATUS = 400  # characters of STATUS= text; systemd shows one line of it


class Notifier:
    """Send sd_notify messages to `address` (None: do nothing)."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self._target: str | bytes | None = _target(self.address)
        self._watchdog_usec = watchdog_usec
        self._failing = False
        self.failures = 0
        self.sent = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, pid: int | None = None) -> Notifier:
        """From ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID`` (`env`: os.environ)."""
        env = os.environ if env is None else env
        pid = os.getpid() if pid is None else pid
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=_watchdog_usec(env, pid))

    @property
    def enabled(self) -> bool:
        return self._target is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None: no watchdog."""
        if not self.enabled or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def notify(self, *fields: str) -> bool:
        """Send one datagram of `fields` (``KEY=value``). True when sent; never raises."""
        if self._target is None:
            return False
        payload = "\n".join(fields).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a full queue must not block the event loop
                sock.sendto(payload, self._target)
        except OSError as exc:
            self.failures += 1
            if not self._failing:
                self._failing = True
                log.warning("sdnotify.send_failed", socket=self.address,
                            reason=f"{type(exc).__name__}: {exc}")
            return False
        if self._failing:
            self._failing = False
            log.info("sdnotify.send_recovered", socket=self.address, failures=self.failures)
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))


def _target(address: str | None) -> str | bytes | None:
    if not address:
        return None
    if address.startswith("@"):  # abstract namespace: a leading NUL byte instead of the "@"
        return b"\0" + address[1:].encode()
    return address


def _watchdog_usec(env: Mapping[str, str], pid: int) -> int | None:
    raw_pid = env.get("WATCHDOG_PID", "").strip()
    if raw_pid:
        try:
            if int(raw_pid) != pid:
                return None  # the watchdog is meant for another process
        except ValueError:
            return None
    try:
        usec = int(env.get("WATCHDOG_USEC", "").strip())
    except ValueError:
        return None
    return usec if usec > 0 else None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_STATUS]


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True as soon as `stop` is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def report(notifier: Notifier, stop: asyncio.Event, *, ready: Callable[[], bool],
                 status: Callable[[], str], status_seconds: float = STATUS_SECONDS) -> None:
    """READY=1 (with STATUS=) once `ready()` holds, then STATUS= when it changes; STOPPING=1.

    `ready` is polled on the event loop every 0.1 s and must be cheap; `status` runs in a
    thread (it may query the database). Ends when `stop` is set (or the task is cancelled),
    sending STOPPING=1 either way.
    """
    if not notifier.enabled:
        return
    try:
        while not ready():
            if await _stopped_within(stop, READY_POLL_SECONDS):
                return
        last = await _status_text(status)
        notifier.ready(last)
        log.info("sdnotify.ready", status=last)
        while not await _stopped_within(stop, status_seconds):
            text = await _status_text(status)
            if text != last:
                notifier.status(text)
                last = text
    finally:
        notifier.stopping("stopping")


async def _status_text(status: Callable[[], str]) -> str:
    try:
        return await asyncio.to_thread(status)
    except Exception as exc:  # a status line must never stop the daemon
        return f"status unavailable: {type(exc).__name__}"


async def watchdog(notifier: Notifier, stop: asyncio.Event) -> None:
    """WATCHDOG=1 every `watchdog_interval()` seconds from the event loop, until `stop`.

    The pings come from the loop itself, so a blocked loop stops them and systemd restarts
    the daemon after ``WatchdogSec=``.
    """
    interval = notifier.watchdog_interval()
    if interval is None:
        return
    log.info("sdnotify.watchdog", interval=interval)
    while True:
        notifier.watchdog()
        if await _stopped_within(stop, interval):
            return
