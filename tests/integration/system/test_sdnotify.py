"""systemd's sd_notify protocol: the client (`gateway.ops.sdnotify`) against real unix datagram
sockets, and `visit-gateway run` as a subprocess under a fake `$NOTIFY_SOCKET`: READY=1 only
after the IMAP login, STATUS= lines, WATCHDOG=1 pings at half of `$WATCHDOG_USEC`, STOPPING=1 on
SIGTERM."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.ops.sdnotify import Notifier, report, watchdog
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.unit.mail import raw

from ..daemon import Daemon, setup_github, wait_for, write_config


class Listener:
    """A bound unix datagram socket collecting (monotonic time, message) in a thread."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def texts(self) -> list[str]:
        with self._lock:
            return [text for _, text in self.messages]

    def with_field(self, field: str) -> list[tuple[float, str]]:
        with self._lock:
            return [(at, text) for at, text in self.messages if field in text.split("\n")]

    def statuses(self) -> list[str]:
        return [line.removeprefix("STATUS=") for text in self.texts()
                for line in text.split("\n") if line.startswith("STATUS=")]


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[Listener, str]]:
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # sun_path holds 108 bytes
        pytest.fail(f"socket path too long for AF_UNIX: {path}")
    receiver = Listener(str(path))
    yield receiver, str(path)
    receiver.close()


@pytest.fixture
def abstract_listener() -> Iterator[tuple[Listener, str]]:
    name = f"visit-gateway-test-{uuid.uuid4().hex}"
    receiver = Listener(b"\0" + name.encode())
    yield receiver, "@" + name
    receiver.close()


# --- the client ------------------------------------------------------------------------------


def test_without_notify_socket_everything_is_a_noop() -> None:
    notifier = Notifier.from_env({}, pid=1234)
    assert not notifier.enabled
    assert notifier.watchdog_interval() is None
    assert notifier.ready("x") is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.failures == 0
    # a watchdog without a socket to ping is no watchdog
    assert Notifier.from_env({"WATCHDOG_USEC": "2000000"}, pid=1).watchdog_interval() is None


def test_messages_reach_a_path_socket(listener: tuple[Listener, str]) -> None:
    receiver, path = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path}, pid=1)
    assert notifier.enabled
    assert notifier.ready("idle,\n0 pending")
    assert notifier.status("3 pending")
    assert notifier.watchdog()
    assert notifier.stopping()
    wait_for(lambda: len(receiver.texts()) == 4, 5, "four datagrams")
    assert receiver.texts() == ["READY=1\nSTATUS=idle, 0 pending", "STATUS=3 pending",
                                "WATCHDOG=1", "STOPPING=1"]


def test_abstract_socket_names(abstract_listener: tuple[Listener, str]) -> None:
    receiver, name = abstract_listener
    assert name.startswith("@")
    notifier = Notifier.from_env({"NOTIFY_SOCKET": name}, pid=1)
    assert notifier.watchdog()
    wait_for(lambda: receiver.texts() == ["WATCHDOG=1"], 5, "the ping on the abstract socket")


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_pid_only() -> None:
    sock = {"NOTIFY_SOCKET": "@nobody"}
    assert Notifier.from_env({**sock, "WATCHDOG_USEC": "60000000"}, pid=7).watchdog_interval() \
        == 30.0
    assert Notifier.from_env({**sock, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"},
                             pid=7).watchdog_interval() == 1.0
    # WATCHDOG_PID names another process (e.g. inherited from a parent): no watchdog here
    assert Notifier.from_env({**sock, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "8"},
                             pid=7).watchdog_interval() is None
    for bad in ("", "0", "-5", "soon"):
        assert Notifier.from_env({**sock, "WATCHDOG_USEC": bad}, pid=7).watchdog_interval() \
            is None
    assert Notifier.from_env({**sock, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "x"},
                             pid=7).watchdog_interval() is None


def test_send_errors_are_logged_once_and_never_raised(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "missing.sock"))
    with capture_logs() as logs:
        for _ in range(5):
            assert notifier.watchdog() is False
    assert notifier.failures == 5
    assert [entry["event"] for entry in logs] == ["sdnotify.send_failed"]
    assert "missing.sock" in logs[0]["socket"]


def test_report_waits_for_ready_and_stops_with_stopping(listener: tuple[Listener, str]) -> None:
    receiver, path = listener
    notifier = Notifier(path, watchdog_usec=200_000)
    state = {"ready": False, "pending": 0}

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(report(notifier, stop, ready=lambda: bool(state["ready"]),
                                            status=lambda: f"{state['pending']} pending",
                                            status_seconds=0.1)),
                 asyncio.create_task(watchdog(notifier, stop))]
        await asyncio.sleep(0.5)
        assert not receiver.with_field("READY=1")
        state["ready"] = True
        await asyncio.sleep(0.3)
        state["pending"] = 2
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    asyncio.run(scenario())
    wait_for(lambda: bool(receiver.with_field("STOPPING=1")), 5, "STOPPING=1")
    texts = receiver.texts()
    assert "READY=1\nSTATUS=0 pending" in texts
    assert "STATUS=2 pending" in texts
    assert texts.count("READY=1\nSTATUS=0 pending") == 1
    assert len(receiver.with_field("WATCHDOG=1")) >= 8  # every 0.1 s for ~1.1 s
    assert texts[-1] == "STOPPING=1\nSTATUS=stopping"


# --- the daemon ------------------------------------------------------------------------------


@pytest.mark.integration
def test_daemon_is_ready_only_after_imap_login_pings_and_reports(
        tmp_path: Path, dovecot: DovecotServer, listener: tuple[Listener, str]) -> None:
    receiver, path = listener
    emulator = Emulator(seed=3)
    token = setup_github(emulator)
    dovecot.stop()  # IMAP is down when the daemon starts
    with emulator.serve() as url:
        config = write_config(tmp_path, dovecot, url)
        daemon = Daemon(config, token=token, password=dovecot.password,
                        log=tmp_path / "daemon.log")
        daemon.env.update({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        daemon.env.pop("WATCHDOG_PID", None)
        daemon.start()
        try:
            wait_for(lambda: bool(receiver.with_field("WATCHDOG=1")), 30, "a first WATCHDOG=1",
                     daemon)
            first = receiver.with_field("WATCHDOG=1")[0][0]
            wait_for(lambda: time.monotonic() - first > 3.5, 10, "3.5 s of pings", daemon)
            pings = [at for at, _ in receiver.with_field("WATCHDOG=1") if at - first <= 4.0]
            assert len(pings) >= 3, receiver.texts()
            assert not receiver.with_field("READY=1"), "READY=1 before the IMAP login"
            assert "imap.connected" not in daemon.output()

            dovecot.start()
            wait_for(lambda: bool(receiver.with_field("READY=1")), 30, "READY=1", daemon)
            [(_, ready)] = receiver.with_field("READY=1")
            assert "imap.connected" in daemon.output()
            # the outbox may already hold a job's mail (no SMTP server here): idle or N pending
            status = ready.split("\n")[1]
            assert re.fullmatch(r"STATUS=(idle, 0 pending|\d+ pending \(oldest \d+ s\)), "
                                r"no mail yet", status), ready
            assert all("pending" in status for status in receiver.statuses())

            count = len(receiver.with_field("WATCHDOG=1"))
            wait_for(lambda: len(receiver.with_field("WATCHDOG=1")) >= count + 2, 10,
                     "pings after READY", daemon)
            dovecot.append("INBOX", raw({"Message-ID": "<status@univ.edu>"}, "A question\n"))
            wait_for(lambda: any("last mail at" in s for s in receiver.statuses()), 30,
                     "STATUS=... last mail at", daemon)
            assert daemon.stop() == 0
            wait_for(lambda: bool(receiver.with_field("STOPPING=1")), 5, "STOPPING=1")
            assert len(receiver.with_field("READY=1")) == 1
        finally:
            daemon.close()
        # After a restart the last mail's time comes from the database, not "no mail yet".
        receiver.clear()
        again = Daemon(config, token=token, password=dovecot.password,
                       log=tmp_path / "daemon2.log")
        again.env.update({"NOTIFY_SOCKET": path})
        again.start()
        try:
            wait_for(lambda: bool(receiver.with_field("READY=1")), 30, "READY=1 again", again)
            [(_, ready)] = receiver.with_field("READY=1")
            assert re.search(r"last mail at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", ready), ready
            assert again.stop() == 0
        finally:
            again.close()


def test_a_standby_is_ready_and_pings_the_watchdog_while_another_instance_leads(
        tmp_path: Path, dovecot: DovecotServer, listener: tuple[Listener, str],
        postgres_database) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: a standby never logs in to IMAP; under Type=notify and WatchdogSec= it must
    still say READY=1 and ping, or systemd would kill it."""
    receiver, path = listener
    emulator = Emulator(seed=4)
    token = setup_github(emulator)
    database = postgres_database()
    with emulator.serve() as url:
        daemons = []
        for name in ("leader", "standby"):
            directory = tmp_path / name
            directory.mkdir()
            config = write_config(directory, dovecot, url,
                                  database=f'url = "{database}"\ninstance_name = "{name}"')
            daemons.append(Daemon(config, token=token, password=dovecot.password,
                                  log=directory / "daemon.log"))
        leader, standby = daemons
        try:
            leader.start()
            wait_for(lambda: '"leader.acquired"' in leader.output(), 30, "the leader", leader)
            standby.env.update({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
            standby.env.pop("WATCHDOG_PID", None)
            standby.start()
            wait_for(lambda: bool(receiver.with_field("READY=1")), 30, "READY=1", standby)
            [(_, ready)] = receiver.with_field("READY=1")
            assert "STATUS=standby: another instance leads" in ready.split("\n")
            assert '"leader.standby"' in standby.output()
            count = len(receiver.with_field("WATCHDOG=1"))
            wait_for(lambda: len(receiver.with_field("WATCHDOG=1")) >= count + 2, 10,
                     "pings from the standby", standby)
            assert standby.stop() == 0 and leader.stop() == 0
        finally:
            for daemon in daemons:
                daemon.close()
