"""The mail sender's group commit (issue 18) on both engines: a batch of rows is marked
`sending` in one transaction, each send's outcome is committed right after it (counted with a
SQLAlchemy commit event), a crash after a send re-sends only that one message, a relay that
fails stops the batch and puts the rest back as they were, and the guard is asked before every
send."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.errors import TransientError
from gateway.outbound.mail import OutboundMail
from gateway.outbound.outbox import Outbox
from gateway.outbound.sender import MailSender
from gateway.outbound.smtp import MemoryMailer
from gateway.store.db import Store, queue_rows
from gateway.store.schema import message_ids, threads
from gateway.store.values import OutboxRow

from .test_smtp import IDENTITY, JANE

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)


class Crash(BaseException):
    """The process dying."""


def notice(n: int) -> OutboundMail:
    return OutboundMail(
        kind="handoff_customer", to=(("Jane Roe", JANE),), cc=(),
        subject=f"Re: [visit-users] Question {n}", body=f"Hello Jane, about {n}.\n",
        in_reply_to=f"<q{n}@univ.edu>", references=(f"<q{n}@univ.edu>",),
        auto_submitted="auto-generated", thread_id=f"th-{n}")


def queue(store: Store, count: int, now: dt.datetime) -> None:
    with store.tx() as tx:
        for n in range(count):
            tx.conn.execute(threads.insert(), {"thread_id": f"th-{n}", "issue_number": n + 1,
                                               "title": f"Question {n}", "created_at": now})
        queue_rows(tx.conn, [OutboxRow(f"mail:{n}", "send_mail", f"th-{n}", None,
                                       notice(n).as_payload()) for n in range(count)], now)


def statuses(store: Store) -> list[str]:
    return [r["status"] for r in sorted(store.outbox_rows(), key=lambda r: r["id"])]


def counter(store: Store) -> list[int]:
    commits = [0]

    def count(_conn: Any) -> None:
        commits[0] += 1

    sa.event.listen(store.engine, "commit", count)
    return commits


def test_a_batch_is_marked_in_one_commit_and_each_send_recorded_at_once(store: Store) -> None:
    clock = ManualClock(START)
    queue(store, 10, clock.now())
    mailer = MemoryMailer()
    sender = MailSender(Outbox(store), mailer, IDENTITY, clock, seed=1)
    asked: list[int] = []
    sender.guard = lambda: asked.append(len(mailer.sent))
    commits = counter(store)
    assert sender.step() is None
    assert len(mailer.sent) == 10 and asked == list(range(10))
    assert statuses(store) == ["done"] * 10
    assert commits[0] == 1 + 10  # was 3 a row: the Message-ID, `sending`, `done`
    with store.read() as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(message_ids)).scalar() == 10


def test_a_crash_after_a_send_resends_only_that_message(store: Store) -> None:
    clock = ManualClock(START)
    queue(store, 5, clock.now())
    mailer = MemoryMailer()
    sender = MailSender(Outbox(store), mailer, IDENTITY, clock, seed=1)
    done = Outbox.done

    def dies(self: Outbox, item: Any, *args: Any, **kwargs: Any) -> None:
        if item.key == "mail:2":
            raise Crash  # the relay accepted mail:2; the process dies before recording it
        done(self, item, *args, **kwargs)

    Outbox.done = dies  # type: ignore[method-assign]
    try:
        with pytest.raises(Crash):
            sender.step()
    finally:
        Outbox.done = done  # type: ignore[method-assign]
    assert statuses(store) == ["done", "done", "sending", "sending", "sending"]
    restarted = MailSender(Outbox(store), mailer, IDENTITY, clock, seed=1)
    assert restarted.step() is None
    assert statuses(store) == ["done"] * 5
    subjects = [m.raw.split(b"Subject: ")[1].split(b"\r\n")[0] for m in mailer.sent]
    # mail:2 twice (same Message-ID: clients collapse it), every other one once.
    assert sorted(subjects).count(b"Re: [visit-users] Question 2") == 2
    assert len(subjects) == 6


def test_a_failing_relay_stops_the_batch_and_puts_the_rest_back(store: Store) -> None:
    clock = ManualClock(START)
    queue(store, 6, clock.now())
    mailer = MemoryMailer(failures=[TransientError("connection refused")])
    sender = MailSender(Outbox(store), mailer, IDENTITY, clock, seed=1, backoff_base=60.0)
    assert sender.step() is None
    rows = sorted(store.outbox_rows(), key=lambda r: r["id"])
    assert [r["status"] for r in rows] == ["pending"] * 6 and mailer.sent == []
    assert rows[0]["attempts"] == 1 and rows[0]["next_attempt_at"] is not None
    assert all(r["attempts"] == 0 for r in rows[1:])  # never tried: as they were
    assert sender.step() is None  # the relay is back: the others go, the first waits
    assert len(mailer.sent) == 5
