"""`visit-gateway replay`: push saved mail through the same pipeline the daemon uses.

Sources: `.eml` files, a directory of them, an mbox file, or a Maildir. Messages are replayed
in arrival order (mbox: file order; Maildir: delivery time; .eml files: Date header, then file
name) and share thread state across the run, so a reply replayed after its parent joins it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import mailbox
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from gateway.errors import UsageError
from gateway.inbound.pipeline import AssigneeFor, Pipeline, PipelineSettings
from gateway.models import AddComment, CreateIssue, Ignore, Outcome, Quarantine, RawArrival
from gateway.store.db import Store
from gateway.store.schema import metadata


@dataclass(frozen=True, slots=True)
class RawItem:
    name: str
    raw: bytes


_DATE_LINE = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def _header_date(raw: bytes) -> dt.datetime | None:
    """The Date header of a raw message, for ordering files (a regex: parsing whole header
    blocks just to sort them cost as much as a fifth of replay)."""
    head = raw[: raw.find(b"\n\n") if b"\n\n" in raw[:65536] else 65536]
    found = _DATE_LINE.search(head)
    if not found:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(found.group(1).decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def _eml_files(paths: list[Path]) -> list[RawItem]:
    items = [(RawItem(str(path), path.read_bytes())) for path in paths]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(items, key=lambda item: (_header_date(item.raw) or far, item.name))


_MAILDIR_NAME = re.compile(r"(\d+)\.(?:M(\d+))?(?:P\d+)?(?:Q(\d+))?")


def _maildir_order(key: str) -> tuple[int, int, int, str]:
    """Delivery order from a Maildir file name (`secs.M<usecs>P<pid>Q<n>.host`), compared as
    numbers: as text, "M999" would sort after "M1000"."""
    found = _MAILDIR_NAME.match(key)
    if found is None:
        return (2**62, 0, 0, key)
    return (int(found[1]), int(found[2] or 0), int(found[3] or 0), key)


def iter_source(path: Path) -> Iterator[RawItem]:
    """Yield the raw messages at `path` in arrival order."""
    if not path.exists():
        raise UsageError(
            f"replay: {path} does not exist (pass .eml files, a directory of them, an mbox "
            "file or a Maildir)"
        )
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys(), key=_maildir_order):
                yield RawItem(f"{path}:{key}", box.get_bytes(key))
            return
        yield from _eml_files(sorted(p for p in path.iterdir() if p.suffix == ".eml"))
        return
    with path.open("rb") as handle:
        head = handle.read(5)
    if head == b"From ":
        box_file = mailbox.mbox(path, factory=None, create=False)
        try:
            for index, key in enumerate(box_file.keys()):
                yield RawItem(f"{path}#{index + 1}", box_file.get_bytes(key))
        finally:
            box_file.close()
        return
    yield RawItem(str(path), path.read_bytes())


def action_json(action: CreateIssue | AddComment | Ignore | Quarantine) -> dict[str, Any]:
    if isinstance(action, CreateIssue):
        created: dict[str, Any] = {
            "kind": action.kind,
            "title": action.title,
            "body": action.body,
            "assignee": action.assignee,
            "labels": list(action.labels),
        }
        if action.lookup is not None:  # what the writer would search for (never in a dry run)
            created["known_issues"] = {"repository": action.lookup.repository,
                                       "terms": list(action.lookup.terms)}
        return created
    if isinstance(action, AddComment):
        return {"kind": action.kind, "thread": action.thread_id, "body": action.body}
    if isinstance(action, Quarantine):
        return {"kind": action.kind, "reason": action.reason, "detail": action.detail}
    return {"kind": action.kind, "reason": action.reason}


def outcome_json(source: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "source": source,
        "key": outcome.key,
        "message_id": outcome.message_id,
        "verdict": outcome.verdict.kind.value,
        "reason": outcome.verdict.reason,
        "detail": outcome.verdict.detail,
        "thread": outcome.thread_id,
        "sender": outcome.sender,
        "actions": [action_json(action) for action in outcome.actions],
    }


def outcome_text(source: str, outcome: Outcome) -> str:
    verdict = outcome.verdict
    what = ""
    for action in outcome.actions:
        if isinstance(action, CreateIssue):
            who = f" -> @{action.assignee}" if action.assignee else " (unassigned)"
            what = f'new issue "{action.title}"{who}'
        elif isinstance(action, AddComment):
            what = "comment"
        elif isinstance(action, Quarantine):
            what = f"quarantined: {action.detail or action.reason}"
    thread = outcome.thread_id or "-"
    name = Path(source.split(":")[0].split("#")[0]).name if "/" in source else source
    return f"{verdict.kind.value:<10} {verdict.reason:<22} {thread:<16} {name}  {what}".rstrip()


class Replayer:
    """Replays messages in batches: one transaction to store a batch, one to decide it."""

    def __init__(self, pipeline: Pipeline, batch_size: int = 100) -> None:
        self.pipeline = pipeline
        self.batch_size = batch_size

    def replay(
        self, items: Iterable[RawItem], now: dt.datetime
    ) -> Iterator[tuple[RawItem, Outcome]]:
        batch: list[RawItem] = []
        for item in items:
            batch.append(item)
            if len(batch) >= self.batch_size:
                yield from self._batch(batch, now)
                batch = []
        if batch:
            yield from self._batch(batch, now)

    def _batch(self, batch: list[RawItem], now: dt.datetime) -> Iterator[tuple[RawItem, Outcome]]:
        ingested = self.pipeline.ingest_batch(
            [RawArrival(item.raw, received_at=now) for item in batch]
        )
        seen: set[str] = set()
        todo: list[str] = []
        for entry in ingested:
            if entry.status != "duplicate" and entry.key not in seen:
                todo.append(entry.key)
            seen.add(entry.key)
        decided = {o.key: o for o in self.pipeline.process_batch(todo, now=now)}
        emitted: set[str] = set()
        for item, entry in zip(batch, ingested, strict=True):
            if entry.status == "duplicate" or entry.key in emitted:
                yield item, self.pipeline.duplicate_outcome(entry)
            else:
                yield item, decided[entry.key]
            emitted.add(entry.key)


def run_replay(
    paths: list[Path],
    *,
    settings: PipelineSettings,
    assignee_for: AssigneeFor,
    state_url: str | None,
    dry_run: bool,
    fmt: str,
    out: TextIO,
    now: dt.datetime,
) -> dict[str, int]:
    """Replay every message under `paths`; print one line/object each; return verdict counts."""
    for path in paths:
        if not path.exists():
            raise UsageError(
                f"replay: {path} does not exist (pass .eml files, a directory of "
                "them, an mbox file or a Maildir)"
            )
    with tempfile.TemporaryDirectory(prefix="visit-gateway-replay-") as tmp:
        url = state_url or f"sqlite:///{Path(tmp) / 'state.db'}"
        if state_url:
            store = Store.open(url, synchronous="full")
        else:
            # A throwaway database: the schema is created directly (no migration history
            # needed), and nothing in it has to survive a crash, so it is never fsynced
            # (synchronous=NORMAL still synced at every WAL checkpoint: a tenth of the run).
            store = Store.open(url, synchronous="off", migrate=False)
            metadata.create_all(store.engine)
        try:
            replayer = Replayer(Pipeline(store, settings, assignee_for))
            counts: dict[str, int] = {}
            items = (item for path in paths for item in iter_source(path))
            for item, outcome in replayer.replay(items, now):
                kind = outcome.verdict.kind.value
                counts[kind] = counts.get(kind, 0) + 1
                if fmt == "json":
                    out.write(
                        json.dumps(outcome_json(item.name, outcome), ensure_ascii=False) + "\n"
                    )
                else:
                    out.write(outcome_text(item.name, outcome) + "\n")
            return counts
        finally:
            store.close()
