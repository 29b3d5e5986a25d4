"""A logged call through the pipeline over a real store (issue 16): one inquiry arriving at
the time of the call, assigned as mail arriving then would be, queued once however often it
is logged, decided at the next start when the command died between its steps; and the label
counts only on records the command stored: the same headers on mail are just headers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from gateway.config.loader import Config
from gateway.inbound.hotline import HOTLINE_FOLDER, HotlineCall, Logged, hotline_message
from gateway.inbound.log_inquiry import describe, log_inquiry
from gateway.inbound.pipeline import Pipeline
from gateway.models import CreateIssue, RawArrival
from gateway.store.db import Store
from gateway.wiring import assignee_function, pipeline_settings

from .test_hotline import JANE

LA = ZoneInfo("America/Los_Angeles")
# Friday evening: mail arriving then belongs to the coming week's Primary (the example
# schedule hands off Monday 2026-03-09 from cyrush to JustinPrivitera).
FRIDAY_EVENING = dt.datetime(2026, 3, 6, 18, 30, tzinfo=LA)
THURSDAY = dt.datetime(2026, 3, 5, 10, 0, tzinfo=LA)
NOW = dt.datetime(2026, 3, 9, 9, 0, tzinfo=LA)
DOMAIN = "visit-gateway.llnl.gov"


@pytest.fixture
def hotline_pipeline(store: Store, example_config: Config) -> Pipeline:
    return Pipeline(store, pipeline_settings(example_config), assignee_function(example_config))


def call(at: dt.datetime = FRIDAY_EVENING, **changes: object) -> HotlineCall:
    base = HotlineCall(JANE, at, "Silo reader crashes", "She cannot open a Silo file.\n",
                       Logged("phone", "cyrush", "Cyrus Harrison"))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def rows(store: Store) -> list[dict[str, object]]:
    return store.outbox_rows()


def customers(store: Store, thread_id: str) -> list[str]:
    with store.read() as tx:
        return tx.customers(thread_id)


def test_a_call_opens_one_inquiry_from_its_time_for_the_primary_then(
        hotline_pipeline: Pipeline, store: Store) -> None:
    for at, primary in ((THURSDAY, "cyrush"), (FRIDAY_EVENING, "JustinPrivitera")):
        result = log_inquiry(hotline_pipeline, call(at), message_id_domain=DOMAIN, now=NOW)
        assert result.outcome is not None
        assert (result.outcome.verdict.kind.value, result.outcome.verdict.reason) == (
            "new", "hotline")
        created = result.created
        assert isinstance(created, CreateIssue)
        assert created.assignee == primary and created.title == "Silo reader crashes"
        assert created.body.startswith("Logged by Cyrus Harrison (`cyrush`) from a phone call")
        thread = store.thread(result.thread_id or "")
        assert thread is not None
        assert (thread["arrived_at"], thread["assignee"]) == (at.astimezone(dt.UTC), primary)
        assert customers(store, result.thread_id or "") == []  # no --ack: nobody to mail
    assert [row["kind"] for row in rows(store)] == ["create_issue", "create_issue"]


def test_logging_it_again_queues_nothing_more(hotline_pipeline: Pipeline, store: Store) -> None:
    first = log_inquiry(hotline_pipeline, call(), message_id_domain=DOMAIN, now=NOW)
    # Another team member, other notes, --ack: still the same call.
    again = log_inquiry(hotline_pipeline, call(notes="More notes", logged=Logged(
        "phone", "biagas", "Kathleen Biagas", ack=True)), message_id_domain=DOMAIN, now=NOW)
    assert again.outcome is None and again.thread_id == first.thread_id
    assert len(rows(store)) == 1
    with store.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 1
    tz = ZoneInfo("America/Los_Angeles")
    assert describe(again, call(), tz) == [
        f"already logged (the same customer, time, subject and --via): thread "
        f"{first.thread_id}, not on GitHub yet: it waits in the outbox for `visit-gateway run`; "
        "nothing more was queued"]
    with store.tx() as tx:
        tx.conn.exec_driver_sql("UPDATE threads SET issue_number = 12")
    found = log_inquiry(hotline_pipeline, call(), message_id_domain=DOMAIN, now=NOW)
    assert "issue #12" in describe(found, call(), tz)[0]


def test_stored_but_undecided_it_is_decided_at_the_next_start(
        hotline_pipeline: Pipeline, store: Store) -> None:
    raw = hotline_message(call(), DOMAIN)
    [stored] = hotline_pipeline.ingest_batch([RawArrival(raw, FRIDAY_EVENING, HOTLINE_FOLDER)])
    # The command was killed here; the daemon's start decides what is stored.
    [outcome] = hotline_pipeline.process_pending(NOW)
    assert (outcome.key, outcome.verdict.reason) == (stored.key, "hotline")
    [row] = rows(store)
    assert json.loads(str(row["payload"]))["body"].startswith("Logged by Cyrus Harrison")
    # Logged again after that: the same inquiry.
    assert log_inquiry(hotline_pipeline, call(), message_id_domain=DOMAIN,
                       now=NOW).outcome is None


def test_logged_again_before_it_was_decided_it_is_decided_once(
        hotline_pipeline: Pipeline, store: Store) -> None:
    raw = hotline_message(call(), DOMAIN)
    hotline_pipeline.ingest_batch([RawArrival(raw, FRIDAY_EVENING, HOTLINE_FOLDER)])
    result = log_inquiry(hotline_pipeline, call(), message_id_domain=DOMAIN, now=NOW)
    assert result.created is not None and len(rows(store)) == 1


def test_with_ack_the_caller_is_the_inquirys_customer(hotline_pipeline: Pipeline,
                                                     store: Store) -> None:
    result = log_inquiry(hotline_pipeline, call(logged=Logged("walk-in", "biagas", ack=True)),
                         message_id_domain=DOMAIN, now=NOW)
    assert customers(store, result.thread_id or "") == [JANE.addr]
    tz = ZoneInfo("America/Los_Angeles")
    lines = describe(result, call(), tz)
    assert lines[0] == (f'logged: new issue "Silo reader crashes" for @JustinPrivitera, arrived '
                        f"Fri 2026-03-06 18:30 PST (thread {result.thread_id})")
    assert "when it starts" in lines[1]


@pytest.mark.parametrize(("folder", "uid"), [("INBOX", 41), (None, None)])
def test_the_same_headers_on_mail_are_only_headers(hotline_pipeline: Pipeline, store: Store,
                                                   folder: str | None, uid: int | None) -> None:
    """From the mailbox (or replay), a message with the label is mail: its sender "wrote"
    (nobody on the team is named as having logged it), it is classified and threaded as mail,
    and its sender is the customer (acknowledged and notified as usual)."""
    raw = hotline_message(call(), DOMAIN)
    [stored] = hotline_pipeline.ingest_batch([RawArrival(raw, FRIDAY_EVENING, folder, 7, uid)])
    outcome = hotline_pipeline.process(stored.key, now=NOW)
    assert outcome.verdict.reason == "new-thread"
    [created] = outcome.actions
    assert isinstance(created, CreateIssue)
    assert created.body.startswith("**Jane Roe** (`j…@univ.edu`) wrote on")
    assert "Logged by" not in created.body
    assert customers(store, outcome.thread_id or "") == [JANE.addr]


def test_a_record_is_never_dropped_as_automatic_mail(hotline_pipeline: Pipeline) -> None:
    subject = "Automatic reply settings lost after the upgrade"
    record = log_inquiry(hotline_pipeline, call(subject=subject), message_id_domain=DOMAIN,
                         now=NOW)
    assert record.created is not None
    mail = hotline_message(call(FRIDAY_EVENING + dt.timedelta(minutes=1), subject=subject),
                           DOMAIN)
    [stored] = hotline_pipeline.ingest_batch([RawArrival(mail, NOW, "INBOX", 7, 42)])
    assert hotline_pipeline.process(stored.key, now=NOW).verdict.reason == (
        "out-of-office-subject")


def test_a_record_always_opens_a_new_inquiry(hotline_pipeline: Pipeline) -> None:
    """A subject token would thread mail into issue #5; a call logged is a new inquiry."""
    subject = "[live-customer-response#5] Silo reader crashes"
    record = log_inquiry(hotline_pipeline, call(subject=subject), message_id_domain=DOMAIN,
                         now=NOW)
    assert record.created is not None
    mail = hotline_message(call(FRIDAY_EVENING + dt.timedelta(minutes=1), subject=subject),
                           DOMAIN)
    [stored] = hotline_pipeline.ingest_batch([RawArrival(mail, NOW, "INBOX", 7, 43)])
    assert hotline_pipeline.process(stored.key, now=NOW).verdict.reason == "subject-token"


def test_a_record_kept_without_an_inquiry_says_where_to_look(hotline_pipeline: Pipeline,
                                                            store: Store) -> None:
    raw = hotline_message(call(), DOMAIN)
    [stored] = hotline_pipeline.ingest_batch([RawArrival(raw, FRIDAY_EVENING, HOTLINE_FOLDER)])
    with store.tx() as tx:  # as a bug while deciding it would have left it
        tx.conn.exec_driver_sql("UPDATE messages SET status = 'processed', verdict = "
                                "'quarantine', reason = 'processing-error'")
    result = log_inquiry(hotline_pipeline, call(), message_id_domain=DOMAIN, now=NOW)
    assert describe(result, call(), LA) == [
        "already logged, and kept without an inquiry: see `visit-gateway quarantine list` "
        f"(key {stored.key})"]
