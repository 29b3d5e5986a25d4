"""The acknowledgement made from what the intake kept of its parse (`RecentReplyables`) is the
one made by parsing the stored message again: over every fixture email and logged calls with
and without --ack, in the same store, the two rows are equal; with the kept values, the
message is not parsed again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import gateway.weekly.notify
from gateway.config.loader import Config
from gateway.inbound.hotline import HOTLINE_FOLDER, Logged, hotline_message
from gateway.inbound.pipeline import Pipeline
from gateway.inbound.replyable import RecentReplyables
from gateway.models import Address, RawArrival
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.store.values import OutboxRow
from gateway.wiring import assignee_function, pipeline_settings

from ..inbound.test_log_inquiry import DOMAIN, FRIDAY_EVENING, NOW, call
from .test_comment_relay import notifier

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "emails"


def arrivals() -> list[RawArrival]:
    mail = [RawArrival(path.read_bytes(), FRIDAY_EVENING, "INBOX", 7, n)
            for n, path in enumerate(sorted(FIXTURES.glob("*.eml")), start=1)]
    calls = [RawArrival(hotline_message(dataclasses.replace(
        call(customer=Address(f"Caller {n}", f"caller{n}@univ.edu")),
        logged=Logged("phone", "cyrush", ack=ack)), DOMAIN), FRIDAY_EVENING, HOTLINE_FOLDER,
        None, None) for n, ack in enumerate((True, False), start=1)]
    return mail + calls


def acks(store: Store, config: Config, replyables: RecentReplyables | None,
         thread_ids: list[str]) -> list[OutboxRow | None]:
    made = notifier(store, config)
    made.replyables = replyables
    with store.tx() as tx:
        return [made.ack_row(tx, thread_id, 12) for thread_id in thread_ids]


def test_the_kept_values_make_the_acknowledgement_parsing_makes(
        store: Store, example_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    replyables = RecentReplyables()
    pipeline = Pipeline(store, pipeline_settings(example_config),
                        assignee_function(example_config), replyables=replyables)
    stored = pipeline.ingest_batch(arrivals())
    outcomes = pipeline.process_batch([s.key for s in stored], now=NOW)
    thread_ids = sorted({o.thread_id for o in outcomes if o.thread_id})
    assert len(thread_ids) > 40 and len(replyables) > 90

    parsed = acks(store, example_config, None, thread_ids)
    assert sum(row is not None for row in parsed) > 30  # most fixtures are acknowledged
    called = {row.payload["to"][0][1] for row in parsed if row is not None} & {
        "caller1@univ.edu", "caller2@univ.edu"}
    assert called == {"caller1@univ.edu"}  # the call logged with --ack, not the other

    def no_parse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed again although the intake kept what is needed")

    monkeypatch.setattr(gateway.weekly.notify, "parse_email", no_parse)
    assert acks(store, example_config, replyables, thread_ids) == parsed


def test_a_key_the_cache_lost_is_parsed_again(store: Store, example_config: Config) -> None:
    replyables = RecentReplyables(size=1)
    pipeline = Pipeline(store, pipeline_settings(example_config),
                        assignee_function(example_config), replyables=replyables)
    stored = pipeline.ingest_batch(arrivals()[:3])
    outcomes = pipeline.process_batch([s.key for s in stored], now=NOW)
    thread_ids = [o.thread_id for o in outcomes if o.thread_id]
    assert len(replyables) == 1
    assert acks(store, example_config, replyables, thread_ids) == acks(
        store, example_config, None, thread_ids)


def test_a_thread_whose_first_message_is_not_stored_gets_no_acknowledgement(
        store: Store, example_config: Config) -> None:
    """The thread and its first message are read in one statement (an outer join); a root
    key with no stored message behind it is nobody to answer, not an error."""
    with store.tx() as tx:
        tx.conn.execute(threads.insert().values(
            thread_id="th-gone", root_key="mid:<gone@univ.edu>", title="x", created_at=NOW))
    assert acks(store, example_config, RecentReplyables(), ["th-gone"]) == [None]
    assert acks(store, example_config, None, ["th-gone"]) == [None]
