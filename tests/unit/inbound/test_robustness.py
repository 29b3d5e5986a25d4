"""Whatever bytes arrive, the pipeline answers with a verdict (quarantine at worst), never an
exception; oversize mail is quarantined without being parsed."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway.inbound.pipeline
from gateway.config.loader import load_config
from gateway.inbound.pipeline import Pipeline
from gateway.models import Kind
from gateway.store.db import Store
from gateway.wiring import pipeline_settings

from ...conftest import EXAMPLE_CONFIG, FIXTURES, NOW

FIXTURE_BYTES = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]


@pytest.fixture(scope="module")
def shared_pipeline() -> Iterator[Pipeline]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'state.db'}", synchronous="off")
        config = load_config(EXAMPLE_CONFIG, env={})
        yield Pipeline(store, pipeline_settings(config), lambda _t: None)
        store.close()


def _run(pipeline: Pipeline, raw: bytes) -> None:
    ingested = pipeline.ingest(raw, received_at=NOW)
    if ingested.status == "duplicate":
        return
    outcome = pipeline.process(ingested.key, now=NOW)
    assert outcome.verdict.kind in set(Kind)
    assert outcome.verdict.reason
    if outcome.verdict.kind is Kind.QUARANTINE:
        stored = pipeline.store.get_message(ingested.key)
        assert stored is not None and stored.raw == raw  # quarantined mail is kept


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=4096))
def test_arbitrary_bytes_get_a_verdict(shared_pipeline: Pipeline, raw: bytes) -> None:
    _run(shared_pipeline, raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(min_value=0), seed=st.integers(min_value=0, max_value=2**32 - 1),
       mode=st.sampled_from(["flip", "truncate", "splice", "delete-line", "nul"]))
def test_corrupted_fixtures_get_a_verdict(shared_pipeline: Pipeline, index: int, seed: int,
                                         mode: str) -> None:
    assert FIXTURE_BYTES, "fixtures/emails/ is empty"
    data = bytearray(FIXTURE_BYTES[index % len(FIXTURE_BYTES)])
    rng = random.Random(seed)
    if mode == "flip":
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif mode == "truncate":
        del data[rng.randrange(len(data)):]
    elif mode == "splice":
        other = FIXTURE_BYTES[rng.randrange(len(FIXTURE_BYTES))]
        at = rng.randrange(len(data))
        data[at:at] = other[rng.randrange(len(other)):]
    elif mode == "delete-line":
        lines = bytes(data).split(b"\n")
        del lines[rng.randrange(len(lines))]
        data = bytearray(b"\n".join(lines))
    else:
        data[rng.randrange(len(data)):rng.randrange(len(data))] = b"\x00" * 10
    _run(shared_pipeline, bytes(data))


def test_oversize_mail_is_quarantined_unparsed(pipeline: Pipeline,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an oversize message must not be parsed")

    monkeypatch.setattr(gateway.inbound.pipeline, "parse_email", refuse)
    limit = pipeline.settings.max_message_bytes
    assert limit == 64 * 1024 * 1024  # the documented default
    raw = (b"From: a@b.c\r\nMessage-ID: <big@b.c>\r\nSubject: big\r\n\r\n"
           + b"x" * (limit + 1))
    outcome = pipeline.process(pipeline.ingest(raw, received_at=NOW).key, now=NOW)
    assert (outcome.verdict.kind, outcome.verdict.reason) == (Kind.QUARANTINE, "too-large")
    stored = pipeline.store.get_message("mid:<big@b.c>")
    assert stored is not None and stored.verdict == "quarantine" and len(stored.raw) == len(raw)
