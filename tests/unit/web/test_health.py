"""/healthz facts that are not the web edge's: mail piling up behind a dead SMTP relay, and how
long IMAP waits between reconnects (issue 12, "Start-up and health")."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.inbound.source import MAX_BACKOFF, MailSource, SourceStatus
from gateway.outbound.outbox import MAIL_KINDS, Outbox
from gateway.outbound.writer import WriterStatus
from gateway.store.db import Store, queue_rows
from gateway.store.values import OutboxRow
from gateway.web.health import MailHealth, assess_health

NOW = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)


def _health(mail: MailHealth | None) -> tuple[bool, dict[str, object]]:
    source = SourceStatus(connected=True, last_poll=NOW)
    health = assess_health(now=NOW, source=source, writer=WriterStatus(), outbox=(0, 0.0),
                           database_ok=True, poll_stale_after=dt.timedelta(minutes=15),
                           mail=mail)
    return health.ok, health.checks


@pytest.mark.parametrize(("pending", "age", "ok"), [
    (0, 0.0, True), (3, 60.0, True), (1, 1800.0, True), (1, 1800.5, False), (40, 7200.0, False)])
def test_mail_piling_up_is_unhealthy(pending: int, age: float, ok: bool) -> None:
    healthy, checks = _health(MailHealth(pending, age, dt.timedelta(minutes=30),
                                         last_error="SMTP relay refused the connection"))
    assert healthy is ok
    assert checks["mail"] == {"ok": ok, "pending": pending, "oldest_pending_seconds": age,
                              "last_success": None,
                              "last_error": "SMTP relay refused the connection"}


def test_outbox_depth_counts_one_kind(store: Store) -> None:
    with store.tx() as tx:
        queue_rows(tx.conn, [
            OutboxRow(key="mail:a", kind="send_mail", thread_id="t", message_key=None,
                      payload={}),
            OutboxRow(key="issue:b", kind="create_issue", thread_id="u", message_key=None,
                      payload={})], NOW - dt.timedelta(hours=2))
    box = Outbox(store)
    assert box.depth(NOW) == (2, 7200.0)
    assert box.depth(NOW, MAIL_KINDS) == (1, 7200.0)
    assert box.depth(NOW, frozenset({"assign"})) == (0, 0.0)


def test_imap_reconnects_at_least_once_a_minute() -> None:
    source = MailSource(lambda: None, None, None, clock=None,  # type: ignore[arg-type]
                        on_new_work=lambda: None, status=SourceStatus())
    delays = [source._delay(attempt) for attempt in range(1, 30)]
    assert MAX_BACKOFF == 60.0 and max(delays) <= MAX_BACKOFF
    assert delays[0] <= 2.0 and delays[-1] >= 30.0  # still backs off


def test_an_imap_round_failure_never_shows_mail_text_in_health() -> None:
    from gateway.inbound.source import _reason

    assert _reason(KeyError("jane.roe@univ.edu")) == "KeyError"
    assert "jane" not in _reason(ValueError("bad header: Jane Roe <jane.roe@univ.edu>"))
    assert _reason(TimeoutError("timed out")) == "TimeoutError: timed out"
