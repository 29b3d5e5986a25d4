"""The IMAP adapter and the mail source against a real Dovecot, with a real pipeline and store.

Shows: every login mode and how failures surface; the exactly-once protocol as it looks from
the mailbox (stored, then flagged or moved, never \\Seen; cursor advanced; one outbox row per
new thread); IDLE and polling delivery; UIDVALIDITY changes, disconnects, a server crash and a
gateway crash between ingest and flag, none of which lose or duplicate anything; and that the
in-memory twin keeps the same contract. Each test runs the source in a thread and joins it.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.clock import SystemClock
from gateway.config.loader import Config, ImapSection
from gateway.errors import PermanentError, TransientError
from gateway.inbound.imap import (
    FetchedMessage,
    ImapAuthError,
    ImapMailbox,
    Mailbox,
)
from gateway.inbound.pipeline import Pipeline
from gateway.inbound.source import MailSource, SourceStatus
from gateway.models import RawArrival
from gateway.store.db import Store
from gateway.testing.dovecot import DovecotServer
from gateway.testing.memory_mailbox import MemoryMailbox
from tests.unit.mail import raw

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: these tests are about the mailbox, and the store is incidental (its
    queries run on both engines in tests/unit/store and the daemon's end-to-end tests)."""
    return f"sqlite:///{tmp_path / 'state.db'}"

FLAG = "$Gatewayed"
MakeServer = Callable[..., DovecotServer]


Q1, Q2, Q3 = (f"mid:<q{n}@univ.edu>" for n in (1, 2, 3))  # message keys


def question(n: int) -> bytes:
    return raw({"Message-ID": f"<q{n}@univ.edu>", "Subject": f"[visit-users] Question {n}"},
               f"How do I make plot {n}?\n")


def reply_to(n: int) -> bytes:
    return raw({"Message-ID": f"<r{n}@lab.gov>", "From": "Bob <bob@lab.gov>",
                "In-Reply-To": f"<q{n}@univ.edu>", "Subject": f"Re: [visit-users] Question {n}"},
               "Use the Elevate operator.\n")


def settings_for(config: Config, server: DovecotServer, **update: Any) -> ImapSection:
    base: dict[str, Any] = {"host": server.host, "port": server.port, "security": "plain",
                            "username": server.username, "timeout": 5.0, "poll_interval": 30.0}
    return config.imap.model_copy(update=base | update)


def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> float:
    """Poll `condition` until it is true; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"after {timeout} s still not: {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def arrival(message: FetchedMessage) -> RawArrival:
    return RawArrival(message.raw, message.internal_date, "INBOX", None, message.uid)


def issues(store: Store) -> list[str]:
    return [row["message_key"] for row in store.outbox_rows() if row["kind"] == "create_issue"]


@dataclass
class Running:
    source: MailSource
    status: SourceStatus
    stop: threading.Event
    logs: list[MutableMapping[str, Any]]
    wakeups: list[float] = field(default_factory=list)

    def events(self, name: str) -> list[MutableMapping[str, Any]]:
        return [entry for entry in list(self.logs) if entry["event"] == name]


@contextlib.contextmanager
def running(
    pipeline: Pipeline, settings: ImapSection, factory: Callable[[], Mailbox]
) -> Iterator[Running]:
    """Run a MailSource in a thread; on exit stop it, join it, and re-raise what it raised."""
    with capture_logs() as logs:
        status, stop, errors = SourceStatus(), threading.Event(), list[BaseException]()
        state = Running(MailSource(factory, pipeline, settings, clock=SystemClock(),
                                   on_new_work=lambda: state.wakeups.append(time.monotonic()),
                                   status=status), status, stop, logs)

        def target() -> None:
            try:
                state.source.run(stop)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target, name="mail-source")
        thread.start()
        try:
            yield state
        finally:
            stop.set()
            thread.join(timeout=10)
            assert not thread.is_alive(), "MailSource.run did not return after stop"
        if errors:
            raise errors[0]


def imap_factory(
    settings: ImapSection, server: DovecotServer, cls: type[ImapMailbox] = ImapMailbox
) -> Callable[[], Mailbox]:
    password = server.password  # what the gateway was configured with: fixed at start
    return lambda: cls(settings, password=password, token_provider=None, base_dir=Path())


@contextlib.contextmanager
def connected(mailbox: ImapMailbox) -> Iterator[ImapMailbox]:
    mailbox.connect()
    try:
        yield mailbox
    finally:
        mailbox.close()


# -- connecting -------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_logs_in_with_each_security_and_reads_without_setting_seen(
    dovecot_tls: DovecotServer, example_config: Config, security: str
) -> None:
    server = dovecot_tls
    uid = server.append("INBOX", question(1))
    port = server.tls_port if security == "tls" else server.port
    settings = settings_for(example_config, server, security=security, port=port,
                            ca_file=str(server.ca_path))
    mailbox = ImapMailbox(settings, password=server.password, token_provider=None,
                          base_dir=Path())
    with connected(mailbox):
        assert mailbox.uidvalidity == server.uidvalidity()
        assert mailbox.uses_idle
        [message] = mailbox.fetch_after(0, 10)
    assert (message.uid, message.raw) == (uid, question(1))
    assert message.internal_date.utcoffset() is not None
    assert server.flags("INBOX", uid) == set()  # BODY.PEEK[]: no \Seen


def test_tls_without_the_ca_is_a_transient_error(
    dovecot_tls: DovecotServer, example_config: Config
) -> None:
    settings = settings_for(example_config, dovecot_tls, security="tls", port=dovecot_tls.tls_port)
    mailbox = ImapMailbox(settings, password="x", token_provider=None, base_dir=Path())
    with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        mailbox.connect()


def test_xoauth2_reads_a_fresh_token_on_every_connect(
    dovecot_factory: MakeServer, example_config: Config, tmp_path: Path
) -> None:
    # Dovecot 2.3 checks an XOAUTH2 token against the passdb like a password.
    server = dovecot_factory(users={"gateway": "token-1"},
                             settings={"auth_mechanisms": "plain login xoauth2"})
    (tmp_path / "token").write_text("token-1\n")
    for source in ({"oauth2_token_file": "token"}, {"oauth2_token_command": "cat token"}):
        settings = settings_for(example_config, server, auth="xoauth2", **source)
        mailbox = ImapMailbox(settings, password=None, token_provider=None, base_dir=tmp_path)
        with connected(mailbox):
            assert mailbox.uidvalidity > 0
    (tmp_path / "token").write_text("expired")
    with pytest.raises(ImapAuthError, match=r"imap\.oauth2_token"):
        mailbox.connect()
    server.add_user("gateway", "second-token")
    (tmp_path / "token").write_text("second-token")
    with connected(mailbox):  # the same object, re-read on connect
        assert mailbox.uidvalidity > 0


def test_wrong_password_and_missing_folder_are_permanent(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline
) -> None:
    settings = settings_for(example_config, dovecot)
    wrong = ImapMailbox(settings, password="nope", token_provider=None, base_dir=Path())
    with pytest.raises(ImapAuthError, match=r"'gateway' at .*imap\.password") as refused:
        wrong.connect()
    assert "nope" not in str(refused.value)
    missing = settings.model_copy(update={"folder": "Lists/visit"})
    with pytest.raises(PermanentError, match=r"imap\.folder: no folder 'Lists/visit'"):
        ImapMailbox(missing, password=dovecot.password, token_provider=None,
                    base_dir=Path()).connect()

    # At start nothing can heal a wrong password: run() says so instead of retrying.
    logins: list[str] = []

    class Counted(ImapMailbox):
        def connect(self) -> None:
            logins.append("attempt")
            super().connect()

    def wrong_factory() -> Mailbox:
        return Counted(settings, password="nope", token_provider=None, base_dir=Path())

    source = MailSource(wrong_factory, pipeline, settings, clock=SystemClock(),
                        on_new_work=lambda: None, status=SourceStatus())
    with pytest.raises(ImapAuthError):
        source.run(threading.Event())
    assert logins == ["attempt"]


def test_unreachable_port_is_a_quick_transient_error(example_config: Config,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = example_config.imap.model_copy(
        update={"host": "127.0.0.1", "port": port, "security": "plain", "username": "u"})
    opened: list[tuple[Any, Any]] = []
    original = socket.create_connection

    def spied(address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> socket.socket:
        opened.append((address, timeout))
        return original(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spied)
    with pytest.raises(TransientError, match="Connection refused"):
        ImapMailbox(settings, password="x", token_provider=None, base_dir=Path()).connect()
    # One attempt, with the configured timeout: retrying is MailSource's job, with backoff.
    assert opened == [(("127.0.0.1", port), settings.timeout)]


# -- the protocol as the mailbox sees it ------------------------------------------------------


def test_flag_mode_stores_flags_and_advances_the_cursor(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    auto = raw({"Message-ID": "<ooo@lab.gov>", "Auto-Submitted": "auto-replied"}, "Away.\n")
    uids = [dovecot.append("INBOX", m) for m in (question(1), reply_to(1), auto, question(2))]
    settings = settings_for(example_config, dovecot, fetch_batch=3)  # two rounds
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: store.mailbox_cursor("INBOX") == (dovecot.uidvalidity(), uids[-1]),
              "cursor at the last UID")
        until(lambda: src.status.last_mail is not None, "status updated")
        assert src.status.connected and src.status.idle
        assert src.wakeups
    assert issues(store) == [Q1, Q2]
    assert [row["kind"] for row in store.outbox_rows()] == ["create_issue", "add_comment",
                                                            "create_issue"]
    assert all(dovecot.flags("INBOX", uid) == {FLAG} for uid in uids)  # never \Seen
    received = [(e["uid"], e["status"]) for e in src.events("mail.received")]
    assert received == [(uid, "new") for uid in uids]
    assert "jane.roe" not in str(src.logs) and "Elevate" not in str(src.logs)


@pytest.mark.parametrize("without", [(), ("MOVE",), ("MOVE", "UIDPLUS")],
                         ids=["MOVE", "COPY+UID-EXPUNGE", "COPY+EXPUNGE"])
def test_move_mode_moves_processed_mail(
    dovecot_factory: MakeServer, example_config: Config, pipeline: Pipeline, store: Store,
    without: tuple[str, ...],
) -> None:
    server = dovecot_factory(disable_capabilities=without)
    uids = [server.append("INBOX", question(n)) for n in (1, 2)]
    settings = settings_for(example_config, server, processed="move")
    with running(pipeline, settings, imap_factory(settings, server)):
        until(lambda: server.uids("INBOX") == [], "INBOX emptied")
        assert len(server.uids("Gatewayed")) == 2
        until(lambda: store.mailbox_cursor("INBOX") == (server.uidvalidity(), uids[-1]),
              "cursor advanced")
    assert issues(store) == [Q1, Q2]
    assert [server.fetch("Gatewayed", uid) for uid in server.uids("Gatewayed")] == [
        question(1), question(2)]
    assert all(server.flags("Gatewayed", uid) == set() for uid in server.uids("Gatewayed"))


# -- waiting ----------------------------------------------------------------------------------


def test_idle_delivers_new_mail_within_seconds(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    settings = settings_for(example_config, dovecot, poll_interval=30.0)
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: src.status.last_poll is not None, "first round done")
        time.sleep(0.2)  # now in IDLE
        dovecot.append("INBOX", question(1))
        delay = until(lambda: issues(store) == [Q1], "delivered", timeout=10)
        print(f"IDLE: APPEND to outbox row in {delay * 1000:.0f} ms (poll interval 30 s)")
        assert delay < 5
        assert src.status.idle


def test_polling_delivers_when_the_server_has_no_idle(
    dovecot_factory: MakeServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    server = dovecot_factory(disable_capabilities=("IDLE",))
    settings = settings_for(example_config, server, poll_interval=0.3)
    with running(pipeline, settings, imap_factory(settings, server)) as src:
        until(lambda: src.status.last_poll is not None, "first round done")
        server.append("INBOX", question(1))
        until(lambda: issues(store) == [Q1], "delivered by polling")
        assert not src.status.idle
        assert src.events("imap.connected")[0]["idle"] is False


def test_idle_is_renewed_and_keepalives_are_not_mail(
    dovecot_factory: MakeServer, example_config: Config
) -> None:
    server = dovecot_factory(idle_notify_interval=1)  # "* OK Still here" every second
    # RFC 2177 renewal, shortened (the setting's floor is 60 s; model_copy skips validation).
    settings = settings_for(example_config, server, idle_renew_seconds=0.25)
    # The mailbox's clock moves only when the server has been listened to: by the whole slice
    # `idle_check` was given (the real server really is waited on, and its keepalives arrive
    # meanwhile). So what `wait` does with its time is exact, however loaded the machine.
    now = [0.0]
    mailbox = ImapMailbox(settings, password=server.password, token_provider=None,
                          base_dir=Path(), monotonic=lambda: now[0])
    with connected(mailbox):
        client = mailbox._client
        idles: list[float] = []
        slices: list[float] = []
        original_idle, original_check = client.idle, client.idle_check

        def counted_idle() -> Any:
            idles.append(now[0])
            return original_idle()

        def listened(timeout: float) -> Any:
            slices.append(timeout)
            responses = original_check(timeout=timeout)
            now[0] += timeout
            return responses

        client.idle, client.idle_check = counted_idle, listened
        assert mailbox.wait(1.25, threading.Event()) is False
        # IDLE renewed every 0.25 s, none begun at or after the timeout, which is used whole.
        assert (idles, slices, now[0]) == ([0.0, 0.25, 0.5, 0.75, 1.0], [0.25] * 5, 1.25)
        later = threading.Timer(0.5, server.append, ["INBOX", question(1)])
        later.start()
        assert mailbox.wait(10, threading.Event()) is True
        print(f"woken after {len(slices) - 5} slices, {len(idles)} IDLEs in all")
        later.join()
        assert [m.raw for m in mailbox.fetch_after(0, 10)] == [question(1)]


def test_stop_returns_promptly_while_idling(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline
) -> None:
    settings = settings_for(example_config, dovecot, poll_interval=30.0)
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: src.status.last_poll is not None, "first round done")
        time.sleep(0.3)
        src.stop.set()
        started = time.monotonic()
    stopped = time.monotonic() - started
    print(f"stop to run() returned: {stopped * 1000:.0f} ms")
    assert stopped < 2


# -- nothing lost, nothing twice ----------------------------------------------------------------


@pytest.mark.parametrize("renumber", [False, True], ids=["same-uids", "renumbered"])
def test_uidvalidity_change_rereads_without_duplicates(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store,
    renumber: bool,
) -> None:
    settings = settings_for(example_config, dovecot)
    for n in (1, 2):
        dovecot.append("INBOX", question(n))
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: len(issues(store)) == 2, "first two delivered")
        old = dovecot.uidvalidity()
        new = dovecot.reset_uidvalidity(renumber=renumber)
        last = dovecot.append("INBOX", question(3))
        until(lambda: store.mailbox_cursor("INBOX") == (new, last), "cursor in the new epoch")
        changed = src.events("imap.uidvalidity_changed")
        assert [(e["old"], e["new"]) for e in changed] == [(None, old), (old, new)]
    assert issues(store) == [Q1, Q2, Q3]
    assert all(dovecot.flags("INBOX", uid) == {FLAG} for uid in dovecot.uids("INBOX"))


@pytest.mark.parametrize("graceful", [True, False], ids=["BYE", "reset"])
def test_reconnects_after_the_server_drops_it(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store,
    graceful: bool,
) -> None:
    settings = settings_for(example_config, dovecot)
    dovecot.append("INBOX", question(1))
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: len(issues(store)) == 1, "first delivered")
        time.sleep(0.2)
        assert dovecot.disconnect_all_clients(graceful=graceful) >= 1
        until(lambda: src.events("imap.disconnected"), "disconnect noticed")
        dovecot.append("INBOX", question(2))
        until(lambda: len(issues(store)) == 2, "delivered after reconnecting")
        assert len(src.events("imap.connected")) == 2
    reconnecting = src.events("imap.reconnecting")
    assert reconnecting and "Traceback" not in str(reconnecting)


def test_survives_a_server_crash_and_a_start_while_it_is_down(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    settings = settings_for(example_config, dovecot)
    dovecot.kill()
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: src.events("imap.reconnecting"), "first connect retried")
        dovecot.start()
        dovecot.append("INBOX", question(1))
        until(lambda: len(issues(store)) == 1, "delivered once the server is up")
        dovecot.kill()
        until(lambda: src.events("imap.disconnected"), "crash noticed")
        dovecot.start()
        dovecot.append("INBOX", question(2))
        until(lambda: len(issues(store)) == 2, "delivered after the crash", timeout=15)
        assert src.status.connected
    assert src.status.last_error and "Traceback" not in src.status.last_error


def test_login_refused_after_start_is_retried(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    settings = settings_for(example_config, dovecot)
    configured = dovecot.password
    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: src.status.last_poll is not None, "connected")
        dovecot.add_user(dovecot.username, "rotated-by-someone")
        dovecot.disconnect_all_clients()
        until(lambda: src.events("imap.login_failed"), "refused login logged")
        assert not src.status.connected
        dovecot.add_user(dovecot.username, configured)  # the admin puts it right
        dovecot.append("INBOX", question(1))
        until(lambda: len(issues(store)) == 1, "delivered after the fix")
    [dropped] = src.events("imap.reconnecting")  # the kick: attempt 1, then the refusal: 2
    [failed] = src.events("imap.login_failed")
    assert (dropped["attempt"], failed["attempt"], failed["log_level"]) == (1, 2, "error")
    assert 2 <= failed["delay"] <= 3 and "rotated" not in str(src.logs)
    assert "imap.password" in failed["reason"]


def test_a_failed_flag_after_ingest_posts_nothing_twice(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    failed = threading.Event()

    class FlagFailsOnce(ImapMailbox):
        def mark_processed(self, uids: Sequence[int]) -> None:
            if not failed.is_set():
                failed.set()
                raise TransientError("connection reset while flagging (simulated)")
            super().mark_processed(uids)

    uid = dovecot.append("INBOX", question(1))
    settings = settings_for(example_config, dovecot)
    with running(pipeline, settings, imap_factory(settings, dovecot, FlagFailsOnce)) as src:
        until(lambda: dovecot.flags("INBOX", uid) == {FLAG}, "flagged on the second try")
        until(lambda: store.mailbox_cursor("INBOX") == (dovecot.uidvalidity(), uid), "cursor")
    assert failed.is_set()
    assert [e["status"] for e in src.events("mail.received")] == ["new", "known"]
    assert issues(store) == [Q1]


def test_a_crash_between_ingest_and_flag_posts_nothing_twice(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    """kill -9 after step 1 (stored, unflagged) and after step 2 (decided, unflagged)."""
    uids = [dovecot.append("INBOX", question(n)) for n in (1, 2, 3)]
    settings = settings_for(example_config, dovecot)
    with connected(ImapMailbox(settings, password=dovecot.password, token_provider=None,
                               base_dir=Path())) as mailbox:
        first, second, _ = mailbox.fetch_after(0, 10)
    stored = pipeline.ingest_batch([arrival(m) for m in (first, second)])
    pipeline.process_batch([stored[1].key], now=SystemClock().now())  # only q2 decided
    assert issues(store) == [Q2]

    with running(pipeline, settings, imap_factory(settings, dovecot)) as src:
        until(lambda: all(dovecot.flags("INBOX", u) == {FLAG} for u in uids), "all flagged")
        until(lambda: len(issues(store)) == 3, "all decided")
    assert sorted(issues(store)) == [Q1, Q2, Q3]
    assert len(store.outbox_rows()) == 3
    assert [e["count"] for e in src.events("mail.pending_processed")] == [1]


# -- the twin keeps the contract --------------------------------------------------------------


class Frozen:
    """time.monotonic, until `frozen` is set: then that instant for ever."""

    frozen: float | None = None

    def __call__(self) -> float:
        return time.monotonic() if self.frozen is None else self.frozen


@pytest.mark.parametrize("kind", ["dovecot", "memory"])
def test_memory_mailbox_behaves_like_the_real_one(
    dovecot: DovecotServer, example_config: Config, kind: str
) -> None:
    clock = Frozen()
    memory = MemoryMailbox(monotonic=clock)
    mailbox: Mailbox = memory
    if kind == "dovecot":
        mailbox = ImapMailbox(settings_for(example_config, dovecot), password=dovecot.password,
                              token_provider=None, base_dir=Path(), monotonic=clock)

    def append(message: bytes) -> int:
        return memory.append(message) if kind == "memory" else dovecot.append("INBOX", message)

    one, two = append(question(1)), append(question(2))
    stop = threading.Event()
    mailbox.connect()
    try:
        assert mailbox.uidvalidity > 0 and mailbox.uses_idle
        assert [m.uid for m in mailbox.fetch_after(0, 10)] == [one, two]
        assert [m.uid for m in mailbox.fetch_after(0, 1)] == [one]
        assert mailbox.fetch_after(two, 10) == []  # "n:*" quirk filtered
        mailbox.mark_processed([one])
        assert mailbox.unprocessed_uids() == [two]
        assert mailbox.wait(0.3, stop) is False
        later = threading.Timer(0.2, append, [question(3)])
        later.start()
        assert mailbox.wait(10, stop) is True
        later.join()
        [three] = mailbox.fetch_after(two, 10)
        assert three.raw == question(3)
        # Time stands still from here: only the stop event can end this wait.
        clock.frozen = clock()
        stop.set()
        assert mailbox.wait(30, stop) is False
    finally:
        mailbox.close()


def test_an_unexpected_error_after_start_is_logged_with_its_trace_and_retried(
    example_config: Config, pipeline: Pipeline, store: Store
) -> None:
    """A bug or a database error must not kill the source once it is serving (the twin)."""
    memory = MemoryMailbox()
    settings = example_config.imap.model_copy(update={"poll_interval": 30.0})
    with running(pipeline, settings, lambda: memory) as src:
        until(lambda: src.status.last_poll is not None, "first round done")
        memory.fail("fetch_after", sqlite3.OperationalError("database is locked"))
        memory.append(question(1))
        until(lambda: issues(store) == [Q1], "delivered after the retry")
    [failed] = src.events("imap.round_failed")
    assert failed["log_level"] == "error"
    assert isinstance(failed["exc_info"], sqlite3.OperationalError)
    assert src.status.last_error == "OperationalError: database is locked"
    assert memory.connects == 2 and memory.processed == {1}


def test_a_batch_of_large_messages_is_fetched_within_the_byte_budget(
    dovecot: DovecotServer, example_config: Config, pipeline: Pipeline, store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gateway.inbound.imap as imap_module

    big = [raw({"Message-ID": f"<big{n}@univ.edu>", "Subject": f"[visit-users] Big {n}"},
               f"Log {n}\n" + "x" * 3000 + "\n") for n in range(5)]
    uids = [dovecot.append("INBOX", message) for message in big]
    monkeypatch.setattr(imap_module, "FETCH_BUDGET", 7000)  # two of these messages per round
    settings = settings_for(example_config, dovecot, fetch_batch=50)
    with connected(ImapMailbox(settings, password=dovecot.password, token_provider=None,
                               base_dir=Path())) as mailbox:
        first = mailbox.fetch_after(0, 50)
        assert [m.uid for m in first] == uids[:2]
        assert [m.uid for m in mailbox.fetch_after(uids[1], 50)] == uids[2:4]
    # The source keeps fetching short batches until the folder is empty, without waiting for
    # the poll interval (300 s here).
    settings = settings.model_copy(update={"poll_interval": 300.0})
    with running(pipeline, settings, imap_factory(settings, dovecot)):
        until(lambda: store.mailbox_cursor("INBOX") == (dovecot.uidvalidity(), uids[-1]),
              "all five stored", timeout=10)
    assert len(issues(store)) == 5
