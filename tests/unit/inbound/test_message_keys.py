"""Message keys come from the real header block only; a Message-ID reused by a different
message is kept and quarantined, never dropped as a duplicate (issue 12, "Mail lost")."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.inbound.parse import (
    MAX_MESSAGE_ID,
    body_digest,
    message_key,
    normalize_message_id,
    split_header_block,
)
from gateway.inbound.pipeline import Pipeline
from gateway.store.db import Store

from ..mail import raw

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


def _no_id(extra_headers: str, body: str, eol: str) -> bytes:
    head = (f"From: Jane <jane@univ.edu>{eol}To: visit-users@elist.ornl.gov{eol}"
            f"Subject: [visit-users] A new question{eol}{extra_headers}")
    return (head + eol + body.replace("\n", eol)).encode()


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_a_body_line_is_never_the_key_even_after_64_kb_of_headers(eol: str) -> None:
    padding = "".join(f"X-Padding-{i}: {'p' * 70}{eol}" for i in range(1000))  # ~85 KB
    message = _no_id(padding, "Message-ID: <q1@univ.edu>\nMy real question.\n", eol)
    assert len(message) > 65536
    key, message_id = message_key(message)
    assert message_id is None and key.startswith("sha256:")


def test_the_header_block_ends_at_a_line_that_is_not_a_header() -> None:
    message = b"From: a@b.org\r\nSubject: x\r\nthis is body text\r\nMessage-ID: <q1@univ.edu>\r\n"
    head, body = split_header_block(message)
    assert head == [b"From: a@b.org", b"Subject: x"]
    assert body.startswith(b"this is body text")
    assert message_key(message)[1] is None


def test_folded_and_second_message_id_fields() -> None:
    folded = raw({"Message-ID": "\r\n <q9@Univ.EDU>"})
    assert message_key(folded) == ("mid:<q9@univ.edu>", "<q9@univ.edu>")
    assert message_key(raw({"Message-ID": "not an id"}))[1] is None


def test_an_absurdly_long_message_id_is_no_id() -> None:
    long_id = f"<{'a' * 50_000}@univ.edu>"
    assert normalize_message_id(long_id) is None
    key, message_id = message_key(raw({"Message-ID": long_id}))
    assert message_id is None and key.startswith("sha256:") and len(key) == 71
    longest = f"<{'a' * (MAX_MESSAGE_ID - 11)}@univ.edu>"
    assert len(longest) == MAX_MESSAGE_ID and normalize_message_id(longest) == longest


def test_body_digest_ignores_headers_and_line_endings() -> None:
    a = raw({"Received": "from a by b"}, "Same text\n")
    b = raw({"Received": "from c by d", "X-Extra": "1"}, "Same text\n").replace(b"\r\n", b"\n")
    assert body_digest(a) == body_digest(b)
    assert body_digest(a) != body_digest(raw({}, "Other text\n"))


def test_same_id_different_body_is_quarantined_not_dropped(pipeline: Pipeline,
                                                            store: Store) -> None:
    first = raw({"Message-ID": "<q1@univ.edu>"}, "How do I plot a zonal variable?\n")
    again = raw({"Message-ID": "<q1@univ.edu>", "Received": "from mx2"},
                "How do I plot a zonal variable?\n")
    other = raw({"Message-ID": "<q1@univ.edu>", "Subject": "[visit-users] Another question"},
                "A different question entirely.\n")
    done = pipeline.ingest(first, received_at=NOW, uid=1)
    assert pipeline.process(done.key, now=NOW).verdict.reason == "new-thread"
    assert pipeline.ingest(again, received_at=NOW, uid=2).status == "duplicate"
    kept = pipeline.ingest(other, received_at=NOW, uid=3)
    assert kept.status == "new" and kept.key.startswith("sha256:")
    outcome = pipeline.process(kept.key, now=NOW)
    assert outcome.verdict.kind.value == "quarantine"
    assert outcome.verdict.reason == "duplicate-id-different-content"
    stored = store.get_message(kept.key)
    assert stored is not None and stored.raw == other and stored.verdict == "quarantine"
    # The same conflicting message delivered again is a plain duplicate of itself.
    assert pipeline.ingest(other, received_at=NOW, uid=4).status == "duplicate"


def test_same_id_different_body_within_one_batch(pipeline: Pipeline) -> None:
    from gateway.models import RawArrival

    one = raw({"Message-ID": "<b1@univ.edu>"}, "First text\n")
    two = raw({"Message-ID": "<b1@univ.edu>"}, "Second text\n")
    results = pipeline.ingest_batch([RawArrival(one, NOW, None, None, 1),
                                     RawArrival(two, NOW, None, None, 2)])
    assert [r.status for r in results] == ["new", "new"]
    assert results[0].key == "mid:<b1@univ.edu>" and results[1].key.startswith("sha256:")
    reasons = [o.verdict.reason for o in pipeline.process_batch([r.key for r in results],
                                                                 now=NOW)]
    assert reasons == ["new-thread", "duplicate-id-different-content"]
