"""The acknowledgement of a logged call (issue 16): none unless the team member asked for it
with --ack; the label decides nothing on mail from the mailbox."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.config.loader import Config
from gateway.inbound.hotline import Logged, hotline_message
from gateway.inbound.log_inquiry import log_inquiry
from gateway.inbound.pipeline import Pipeline
from gateway.models import RawArrival
from gateway.store.db import Store
from gateway.wiring import assignee_function, pipeline_settings

from ..inbound.test_log_inquiry import DOMAIN, FRIDAY_EVENING, NOW, call
from .test_comment_relay import notifier


@pytest.fixture
def pipeline_(store: Store, example_config: Config) -> Pipeline:
    return Pipeline(store, pipeline_settings(example_config), assignee_function(example_config))


@pytest.mark.parametrize(("ack", "acknowledged"), [(False, False), (True, True)])
def test_a_logged_call_is_acknowledged_only_with_ack(
        pipeline_: Pipeline, store: Store, example_config: Config, ack: bool,
        acknowledged: bool) -> None:
    record = call(logged=Logged("walk-in", "biagas", "Kathleen Biagas", ack=ack))
    result = log_inquiry(pipeline_, record, message_id_domain=DOMAIN, now=NOW)
    with store.tx() as tx:
        row = notifier(store, example_config).ack_row(tx, result.thread_id or "", 12)
    assert (row is not None) is acknowledged
    if row is not None:
        assert row.payload["to"] == [["Jane Roe", "jane.roe@univ.edu"]]
        assert row.payload["in_reply_to"] == result.key.removeprefix("mid:")


def test_mail_with_the_label_is_acknowledged_as_mail(
        pipeline_: Pipeline, store: Store, example_config: Config) -> None:
    raw = hotline_message(dataclasses.replace(call(), logged=Logged("phone", "cyrush")), DOMAIN)
    [stored] = pipeline_.ingest_batch([RawArrival(raw, FRIDAY_EVENING, "INBOX", 7, 9)])
    outcome = pipeline_.process(stored.key, now=NOW)
    with store.tx() as tx:
        assert notifier(store, example_config).ack_row(tx, outcome.thread_id or "", 12)
