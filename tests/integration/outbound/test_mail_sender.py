"""MailSender over a real store and a real aiosmtpd server: recipients refused one by one.

Shows: a recipient refused with a temporary reply (451, greylisting) while the others accept
gets the same message later — same Message-ID, same Date, the same bytes — through a follow-up
row queued with the send's own record, and only that recipient; a permanent refusal (550) is
recorded and never retried; the follow-up survives a restart (a new sender on the same store
sends it); follow-ups stop after `RESEND_LIMIT` generations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from gateway.clock import ManualClock
from gateway.outbound.mail import OutboundMail, message_id_for
from gateway.outbound.outbox import Outbox
from gateway.outbound.sender import RESEND_LIMIT, MailSender
from gateway.outbound.smtp import MemoryMailer, SmtpMailer
from gateway.store.db import Store, queue_rows
from gateway.store.schema import threads
from gateway.store.values import OutboxRow

from .test_smtp import HOST, IDENTITY, JANE, Serve, serve  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

BOB, CAROL = "bob@lab.gov", "carol@gone.example"
START = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)
KEY = "mail:handoff:th-1"


def handoff_notice(*cc: str) -> OutboundMail:
    return OutboundMail(
        kind="handoff_customer", to=(("Jane Roe", JANE),), cc=tuple(("", a) for a in cc),
        subject="Re: [visit-users] Crash opening a Silo file",
        body="Hello Jane,\n\nCyrus Harrison now looks after your question.\n",
        in_reply_to="<q1@univ.edu>", references=("<q1@univ.edu>",),
        auto_submitted="auto-generated", thread_id="th-1")


def queue(store: Store, mail: OutboundMail, now: dt.datetime) -> None:
    """The row as `notify` queues it, on a thread whose issue exists (mail waits for it)."""
    with store.tx() as tx:
        tx.conn.execute(threads.insert(), {"thread_id": "th-1", "issue_number": 7,
                                           "title": "Crash opening a Silo file",
                                           "created_at": now})
        queue_rows(tx.conn, [OutboxRow(KEY, "send_mail", "th-1", None, mail.as_payload())], now)


def rows(store: Store) -> dict[str, dict[str, object]]:
    return {r["key"]: r for r in store.outbox_rows()}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}", synchronous="normal")
    yield s  # type: ignore[misc]
    s.close()


def test_temporarily_refused_recipient_gets_the_same_message_later(
        store: Store, serve: Serve) -> None:  # noqa: F811
    controller, recorder = serve()
    recorder.rcpt_replies = {BOB: "451 4.7.1 Greylisted, try again later",
                             CAROL: "550 5.1.1 No such user"}
    clock = ManualClock(START)
    queue(store, handoff_notice(BOB, CAROL), clock.now())

    def sender() -> MailSender:  # a new one each time: as after a restart
        mailer = SmtpMailer(HOST, controller.port, "plain", "", None, 5, None)
        return MailSender(Outbox(store), mailer, IDENTITY, clock, backoff_base=60.0, seed=1)

    assert sender().step() is None
    [first] = recorder.received
    assert first.rcpt_tos == (JANE,)
    table = rows(store)
    assert table[KEY]["status"] == "done"
    result = json.loads(str(table[KEY]["result"]))
    assert result["resend"] == f"{KEY}#resend-1" and len(result["refused"]) == 2
    follow = table[f"{KEY}#resend-1"]
    assert follow["status"] == "pending" and follow["kind"] == "send_mail"
    assert json.loads(str(follow["payload"]))["envelope"] == [BOB]

    # Still greylisted on the immediate try: the row waits with backoff, nothing is sent.
    clock.advance(dt.timedelta(seconds=1))
    assert sender().step() is None
    assert len(recorder.received) == 1
    assert rows(store)[f"{KEY}#resend-1"]["status"] in ("pending", "sending")
    waiting = sender().step()
    assert waiting is not None and waiting > 0

    recorder.rcpt_replies = {CAROL: "550 5.1.1 No such user"}
    clock.advance(dt.timedelta(hours=1))
    assert sender().step() is None
    assert [r.rcpt_tos for r in recorder.received] == [(JANE,), (BOB,)]
    assert recorder.received[1].content == first.content  # same Message-ID, Date, body
    mid = message_id_for(KEY, IDENTITY.message_id_domain)
    assert f"Message-ID: {mid}".encode() in first.content

    # Carol's 550 is permanent: no follow-up for her, and nothing else is queued.
    clock.advance(dt.timedelta(hours=1))
    assert sender().step() is not None
    table = rows(store)
    assert sorted(table) == [KEY, f"{KEY}#resend-1"]
    assert {r["status"] for r in table.values()} == {"done"}
    assert "resend" not in json.loads(str(table[f"{KEY}#resend-1"]["result"]))


def test_follow_ups_stop_after_the_limit(store: Store) -> None:
    others = [f"colleague{i}@lab.gov" for i in range(RESEND_LIMIT + 2)]
    clock = ManualClock(START)
    queue(store, handoff_notice(*others), clock.now())
    mailer = MemoryMailer()
    sender = MailSender(Outbox(store), mailer, IDENTITY, clock, seed=1)
    # Each try the server takes one more address and greylists the rest.
    everyone = [JANE, *others]
    for accepted in everyone[:RESEND_LIMIT + 1]:
        mailer.refuse = {a: (451, "4.7.1 try later") for a in everyone if a != accepted}
        assert sender.step() is None
        clock.advance(dt.timedelta(seconds=1))
    assert [m.recipients for m in mailer.sent] == [(a,) for a in everyone[:RESEND_LIMIT + 1]]
    assert len({m.raw for m in mailer.sent}) == 1
    table = rows(store)
    assert sorted(table) == sorted([KEY] + [f"{KEY}#resend-{n}"
                                            for n in range(1, RESEND_LIMIT + 1)])
    last = json.loads(str(table[f"{KEY}#resend-{RESEND_LIMIT}"]["result"]))
    assert len(last["refused"]) == len(everyone) - RESEND_LIMIT - 1 and "resend" not in last
    assert sender.step() is not None  # nothing more to send


def test_a_batch_goes_over_one_connection_and_a_relay_failure_ends_it(
        store: Store, serve: Serve) -> None:  # noqa: F811
    controller, recorder = serve()
    clock = ManualClock(START)
    with store.tx() as tx:
        for n in range(6):
            tx.conn.execute(threads.insert(), {"thread_id": f"th-{n}", "issue_number": n + 1,
                                               "title": f"Question {n}", "created_at": START})
        mails = [dataclasses.replace(handoff_notice(), thread_id=f"th-{n}",
                                     subject=f"Re: [visit-users] Question {n}")
                 for n in range(6)]
        queue_rows(tx.conn, [OutboxRow(f"mail:{n}", "send_mail", f"th-{n}", None,
                                       mail.as_payload()) for n, mail in enumerate(mails)],
                   START)
    mailer = SmtpMailer(HOST, controller.port, "plain", "", None, 5, None)
    sender = MailSender(Outbox(store), mailer, IDENTITY, clock, backoff_base=60.0, seed=1)

    async def fail_the_fourth(server: object, session: object, envelope: object) -> str:
        if len(recorder.received) == 3:
            return "451 4.3.0 Try again later"
        return await original(server, session, envelope)

    original = recorder.handle_DATA
    recorder.handle_DATA = fail_the_fourth  # type: ignore[method-assign,assignment]
    assert sender.step() is None
    assert len(recorder.received) == 3 and len({id(c) for c in recorder.carriers}) == 1
    table = rows(store)
    assert [table[f"mail:{n}"]["status"] for n in range(6)] == [
        "done", "done", "done", "pending", "pending", "pending"]

    recorder.handle_DATA = original  # type: ignore[method-assign]
    clock.advance(dt.timedelta(hours=1))
    assert sender.step() is None
    assert len(recorder.received) == 6
    assert len({id(c) for c in recorder.carriers[3:]}) == 1  # the next batch: a new one
    assert recorder.carriers[3] is not recorder.carriers[0]
    assert sorted(r.content.split(b"Subject: ")[1].split(b"\r\n")[0] for r in
                  recorder.received) == [f"Re: [visit-users] Question {n}".encode()
                                         for n in range(6)]
