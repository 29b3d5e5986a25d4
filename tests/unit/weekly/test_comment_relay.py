"""notify.relay_comments: a team member's new GitHub comment is queued as one mail to the
inquiry's customers (the list in Cc), threaded under their original message, in the same
transaction that remembers the comment, so redeliveries and the reconcile loop never mail
it twice. What is not for customers (/internal notes, /spend-only comments, the bot's own
comments, customers' comments, edits, old comments found late) is never queued."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.config.loader import Config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.load import business_calendar, duty_schedule
from gateway.inbound.classify import is_own_mail
from gateway.inbound.parse import parse_email
from gateway.inbound.pipeline import Pipeline
from gateway.outbound.mail import MailIdentity, OutboundMail, compose, message_id_for
from gateway.outbound.render import Renderer
from gateway.store.db import Store
from gateway.store.schema import outbox, threads
from gateway.tracking.events import CommentEvent
from gateway.tracking.rules import Rules
from gateway.tracking.service import TrackingService
from gateway.weekly.notify import RELAY_MAX_AGE, Notifier, NotifyContext, relay_text
from gateway.wiring import pipeline_settings
from tests.unit.mail import raw

from ..tracking.test_tracking_service import REPO, comment_payload

T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # Monday 09:00 in Los Angeles
NUMBER = 5


@pytest.mark.parametrize(("body", "expected"), [
    ("Which version?\r\n\r\n/spend 15m\r\n", "Which version?"),
    ("  /SPEND 1h\nTry this:\n\n    visit -nowin\n", "Try this:\n\n    visit -nowin"),
    ("/spend 30m\n/spend 10m 2026-03-01\n", None),
    ("/internal Bob, can you look at the Silo reader?\nIt smells like #4211.", None),
    ("\n\n/Internal\nteam only", None),
    ("/internalize is not a command\nbut this is for the customer", (
        "/internalize is not a command\nbut this is for the customer")),
    ("<!-- visit-gateway:x -->\nAnswer\n", "Answer"),
    ("<!-- only a marker -->", None),
    ("   \n\t\n", None),
])
def test_relay_text(body: str, expected: str | None) -> None:
    assert relay_text(body) == expected


def notifier(store: Store, config: Config, *, relay: bool = True) -> Notifier:
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    assert schedule is not None
    settings = config.raw.notify.model_copy(update={"relay_comments": relay})
    return Notifier(store, NotifyContext(
        settings=settings, calendar=calendar, schedule=schedule, renderer=Renderer(calendar),
        list_address=config.list.address, list_prefix=config.list.subject_prefix,
        issue_url="https://github.com/" + REPO + "/issues/{number}",
        team_emails=frozenset(p.email for p in schedule.people)))


def service(store: Store, config: Config, *, relay: bool = True,
            woken: list[int] | None = None) -> TrackingService:
    rules = Rules(bot_login="visit-users-bot", team=frozenset({"cyrush", "biagas"}))
    wake = woken if woken is not None else []
    return TrackingService(store, rules, BusinessCalendar(), REPO,
                           relay=notifier(store, config, relay=relay).relay_row,
                           on_queued=lambda: wake.append(1))


def with_mail_thread(store: Store, config: Config) -> None:
    """An inquiry from Jane (Ana in Cc) whose issue is #5."""
    pipeline = Pipeline(store, pipeline_settings(config), lambda _t: "biagas")
    question = raw({"Message-ID": "<rq@univ.edu>", "Subject": "[visit-users] Silo crash",
                    "Cc": "Ana Lima <ana@univ.edu>", "Date": "Mon, 2 Mar 2026 08:50:00 -0800"},
                   "VisIt crashes opening my Silo file.\n")
    pipeline.process(pipeline.ingest(question, received_at=T0).key, now=T0)
    with store.tx() as tx:
        tx.conn.execute(threads.update().values(issue_number=NUMBER))


def relay_rows(store: Store) -> list[Any]:
    with store.read() as tx:
        return list(tx.conn.execute(sa.select(outbox).where(
            outbox.c.key.like("mail:relay:%")).order_by(outbox.c.id)))


def comment(comment_id: int, author: str, body: str, at: dt.datetime = T0,
            action: str = "created") -> dict[str, Any]:
    payload = comment_payload(action, comment_id, author, body, at)
    payload["issue"]["number"] = NUMBER
    return payload


def test_a_team_comment_becomes_one_threaded_mail_to_the_customers(
        store: Store, example_config: Config) -> None:
    with_mail_thread(store, example_config)
    woken: list[int] = []
    svc = service(store, example_config, woken=woken)
    payload = comment(71, "cyrush", "Which version of VisIt is this?\n\n/spend 15m")
    assert svc.handle_delivery("g1", "issue_comment", payload, T0) == "applied"
    [row] = relay_rows(store)
    assert (row.key, row.kind, row.status) == ("mail:relay:71", "send_mail", "pending")
    assert woken == [1]  # the mail sender is woken after the commit
    mail = OutboundMail.from_payload(json.loads(row.payload))
    assert mail.to == (("", "jane.roe@univ.edu"),)  # who wrote in; Ana in Cc reads the list
    assert mail.cc == (("", example_config.list.address),)
    assert (mail.in_reply_to, mail.references) == ("<rq@univ.edu>", ("<rq@univ.edu>",))
    assert mail.subject == "Re: [visit-users] Silo crash"
    assert mail.on_behalf_of == "Cyrus Harrison"
    assert mail.body.startswith("Which version of VisIt is this?\n\n-- \n")
    assert "/spend" not in mail.body
    assert f"Cyrus Harrison wrote this on issue #{NUMBER}:" in mail.body
    assert f"https://github.com/{REPO}/issues/{NUMBER}" in mail.body

    # The same comment again: a redelivery (new GUID), the reconcile loop, an edit.
    assert svc.handle_delivery("g2", "issue_comment", payload, T0) == "duplicate"
    event = CommentEvent(action="created", number=NUMBER, comment_id=71, author="cyrush",
                         at=T0, body=payload["comment"]["body"], issue_author="customer1",
                         repository=REPO)
    assert svc.apply_event(event, T0) == "duplicate"
    edited = comment(71, "cyrush", "Which version of VisIt is this? (edited)", action="edited")
    assert svc.handle_delivery("g3", "issue_comment", edited, T0) == "applied"
    assert [r.key for r in relay_rows(store)] == ["mail:relay:71"] and woken == [1]

    # The mail as sent: From names the team member, and it reads back as our own mail.
    identity = MailIdentity(
        from_address=example_config.mail.from_address, from_name=example_config.mail.from_name,
        reply_to=example_config.list.address, loop_header=example_config.mail.loop_header,
        loop_id=example_config.loop_id,
        message_id_domain=example_config.mail.message_id_domain)
    data = compose(mail, identity, message_id_for(row.key, identity.message_id_domain), T0)
    sent = email.message_from_bytes(data, policy=email.policy.default)
    assert sent["From"].addresses[0].display_name == (
        f"Cyrus Harrison via {example_config.mail.from_name}")
    assert sent["From"].addresses[0].addr_spec == example_config.mail.from_address
    parsed = parse_email(data, list_address=example_config.list.address, key="relayed")
    assert is_own_mail(parsed, pipeline_settings(example_config).classify)


@pytest.mark.parametrize(("author", "body", "at_offset"), [
    ("visit-users-bot", "A reply that came by mail", dt.timedelta(0)),  # the bot's own
    ("customer1", "Thanks, that fixed it", dt.timedelta(0)),  # a customer on GitHub
    ("cyrush", "/internal Kathleen, is this the Silo bug?", dt.timedelta(0)),
    ("cyrush", "/spend 20m", dt.timedelta(0)),
    ("biagas", "An answer nobody relayed in time", -RELAY_MAX_AGE - dt.timedelta(minutes=1)),
])
def test_comments_not_for_the_customer_are_not_mailed(
        store: Store, example_config: Config, author: str, body: str,
        at_offset: dt.timedelta) -> None:
    with_mail_thread(store, example_config)
    woken: list[int] = []
    svc = service(store, example_config, woken=woken)
    assert svc.handle_delivery("g1", "issue_comment", comment(72, author, body, T0 + at_offset),
                               T0) == "applied"
    assert relay_rows(store) == [] and woken == []


def test_off_by_default_and_no_mail_thread_means_no_mail(
        store: Store, example_config: Config) -> None:
    assert example_config.raw.notify.relay_comments is False
    with_mail_thread(store, example_config)
    svc = service(store, example_config, relay=False)
    svc.handle_delivery("g1", "issue_comment", comment(73, "cyrush", "Answer"), T0)
    assert relay_rows(store) == []
    # An issue opened on GitHub (no customer mail to thread under): nothing to mail.
    on_github = service(store, example_config)
    payload = comment(74, "cyrush", "Answer")
    payload["issue"]["number"] = 99
    assert on_github.handle_delivery("g2", "issue_comment", payload, T0) == "applied"
    assert relay_rows(store) == []
