"""Step 1 of the inbound pipeline: store each arriving message's raw bytes under its key.

Holds `ingest_batch` (keys, known copies, second deliveries, a reused Message-ID with another
body kept under its content key, all stored in one transaction that commits before the mailbox
may flag the mail), its result `Ingested`, and `duplicate_outcome`. It must not parse more than
the key needs, decide anything or queue outbox rows: that is step 2 (`pipeline`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from gateway.inbound.parse import body_digest, content_key, message_key
from gateway.models import Kind, Outcome, RawArrival, Verdict
from gateway.store.db import Store, Tx
from gateway.store.values import NewRaw

log = structlog.get_logger("gateway.inbound.ingest")


@dataclass(frozen=True, slots=True)
class Ingested:
    key: str
    message_id: str | None
    status: Literal["new", "known", "duplicate"]


def ingest_batch(store: Store, arrivals: Sequence[RawArrival]) -> list[Ingested]:
    """Step 1: durably store every message not stored yet, in one transaction.

    A key already stored is `known` when it is the same mailbox copy (same UID) or was never
    decided (a crash left it), and a `duplicate` when it is a second delivery.
    """
    keyed = [(arrival, *message_key(arrival.raw)) for arrival in arrivals]
    with store.tx() as tx:
        states = tx.message_states([key for _, key, _ in keyed])
        fresh: list[NewRaw] = []
        result: list[Ingested] = []
        for arrival, key, message_id in keyed:
            state = states.get(key)
            if state is not None and not ((arrival.uid is not None and state[1] == arrival.uid)
                                          or state[0] == "stored"):
                # A second delivery under a known key. Same body: a duplicate. A different
                # body under the same Message-ID is another message (a broken or hostile
                # client reusing ids): keep it under its content key, to be quarantined.
                rekeyed = _other_message(tx, key, arrival.raw, fresh)
                if rekeyed is not None:
                    tx.after_commit(log.warning, "mail.duplicate_id_different_content",
                                    key=key, stored_as=rekeyed, uid=arrival.uid)
                    key = rekeyed
                    state = states.get(key) or tx.message_states([key]).get(key)
            if state is None:
                states[key] = ("batch", arrival.uid)
                fresh.append(NewRaw(key, message_id, arrival))
                result.append(Ingested(key, message_id, "new"))
                continue
            status, uid = state
            if (arrival.uid is not None and uid == arrival.uid) or status == "stored":
                result.append(Ingested(key, message_id, "known"))
            else:
                tx.after_commit(log.info, "mail.duplicate", key=key, uid=arrival.uid,
                                first_uid=uid)
                result.append(Ingested(key, message_id, "duplicate"))
        tx.insert_raw_many(fresh)
    return result


def _other_message(tx: Tx, key: str, raw: bytes, fresh: Sequence[NewRaw]) -> str | None:
    """The content key for `raw` when the message stored (or batched) under `key` has a
    different body; None when it is the same message delivered again."""
    if not key.startswith("mid:"):
        return None  # a content key: equal keys mean equal content
    first = next((r.arrival.raw for r in fresh if r.key == key), None)
    if first is None:
        stored = tx.get_message(key)
        first = stored.raw if stored is not None else None
    if first is None or body_digest(first) == body_digest(raw):
        return None
    return content_key(raw)


def duplicate_outcome(store: Store, ingested: Ingested) -> Outcome:
    """The outcome reported for a second delivery: ignored, in the thread of the first."""
    stored = store.get_message(ingested.key)
    thread = stored.thread_id if stored else None
    return Outcome(
        ingested.key, ingested.message_id, Verdict(Kind.IGNORE, "duplicate"), thread, ()
    )
