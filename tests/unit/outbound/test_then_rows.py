"""Follow-up rows: what a done outbox row asked to queue next, with its result filled in, queued
in the same transaction as the row's success, once however often the success is recorded."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gateway.outbound.outbox import FILL_END, FILL_START, Outbox, OutboxItem, then_rows
from gateway.store.db import Store, queue_rows
from gateway.store.schema import outbox
from gateway.store.values import OutboxRow

NOW = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC)


def fill(name: str) -> str:
    return f"{FILL_START}{name}{FILL_END}"


def item(payload: dict[str, object]) -> OutboxItem:
    return OutboxItem(id=1, key="promote:1", kind="create_issue", thread_id="th-1",
                      message_key=None, payload=payload, status="sending", attempts=1,
                      next_attempt_at=None, created_at=NOW, last_error=None, issue_number=7)


def test_then_rows_fill_the_result_into_text_at_any_depth() -> None:
    rows = then_rows(item({"title": "t", "then": [
        {"key": "comment:promoted:1", "kind": "add_comment",
         "payload": {"body": f"Now {fill('url')} (#{fill('number')}); {{not a fill}}",
                     "then": [{"key": "answer:1", "kind": "mark_answer",
                               "payload": {"of": fill("comment_id")}}]}},
        {"key": "other", "kind": "assign", "thread_id": "th-2", "payload": {"n": 3}},
    ]}), {"url": "https://github.com/visit-dav/visit/issues/9", "number": 9})
    assert rows == [
        OutboxRow("comment:promoted:1", "add_comment", "th-1", None, {
            "body": "Now https://github.com/visit-dav/visit/issues/9 (#9); {not a fill}",
            # A fill this result does not have waits for the row that will have it.
            "then": [{"key": "answer:1", "kind": "mark_answer",
                      "payload": {"of": fill("comment_id")}}]}),
        OutboxRow("other", "assign", "th-2", None, {"n": 3}),
    ]


def test_a_row_without_then_queues_nothing() -> None:
    assert then_rows(item({"body": fill("url")}), {"url": "x"}) == []


def test_done_queues_the_follow_ups_once(store: Store) -> None:
    box = Outbox(store)
    with store.tx() as tx:
        queue_rows(tx.conn, [OutboxRow("promote:1", "create_issue", None, None, {
            "title": "t", "then": [{"key": "comment:promoted:1", "kind": "add_comment",
                                    "payload": {"body": f"see {fill('url')}"}}]})], NOW)
    [first] = box.open_items()
    box.done(first, NOW, {"url": "u1", "number": 9})
    box.done(first, NOW, {"url": "u2", "number": 9})  # recorded again: nothing new
    with store.read() as tx:
        rows = tx.conn.execute(sa.select(outbox.c.key, outbox.c.payload, outbox.c.status)
                               .order_by(outbox.c.id)).all()
    assert [(r.key, r.status) for r in rows] == [("promote:1", "done"),
                                                 ("comment:promoted:1", "pending")]
    assert '"see u1"' in rows[1].payload


def test_unless_empty_leaves_an_entry_out_when_that_result_is_empty() -> None:
    lookup = item({"then": [
        {"key": "known:th-1", "kind": "add_comment", "unless_empty": "matches",
         "payload": {"body": f"@cyrush {fill('matches')}"}},
        {"key": "notice:th-1", "kind": "add_comment", "payload": {"body": fill("matches")}}]})
    assert [r.key for r in then_rows(lookup, {"matches": "", "numbers": []})] == ["notice:th-1"]
    assert [r.key for r in then_rows(lookup, {"numbers": []})] == ["notice:th-1"]
    shown = then_rows(lookup, {"matches": "- #1 x", "numbers": [1]})
    assert [r.payload["body"] for r in shown] == ["@cyrush - #1 x", "- #1 x"]
    assert "unless_empty" not in shown[0].payload


def test_text_filled_in_is_not_read_again_for_fills() -> None:
    """A title a stranger wrote may contain a fill: it stays the text it is."""
    rows = then_rows(item({"then": [{"key": "k", "kind": "add_comment", "payload": {
        "body": f"{fill('matches')} / {fill('url')}"}}]}),
        {"matches": f"Title {fill('url')} {fill('matches')}", "url": "https://x/1"})
    assert rows[0].payload["body"] == (
        f"Title {fill('url')} {fill('matches')} / https://x/1")


def test_rows_left_sending_by_a_dead_process_wait_before_their_lookup(store: Store) -> None:
    """A request of the killed process may still be applied at GitHub: the rows it left
    `sending` wait until then; others (pending, or of kinds without a marker) do not."""
    box = Outbox(store)
    with store.tx() as tx:
        queue_rows(tx.conn, [OutboxRow("issue:a", "create_issue", None, "a", {}),
                             OutboxRow("comment:b", "add_comment", None, "b", {}),
                             OutboxRow("react:c", "react", None, None, {})], NOW)
    items = {i.key: i for i in box.open_items()}
    box.mark_sending(items["issue:a"], NOW)
    box.mark_sending(items["react:c"], NOW)
    later = NOW + dt.timedelta(seconds=60)
    assert box.settle_sending(later, frozenset({"create_issue", "add_comment"})) == 1
    due = {i.key: i.next_attempt_at for i in box.open_items()}
    assert due["issue:a"] == later and due["comment:b"] == NOW and due["react:c"] == NOW
    assert box.next_ready(NOW + dt.timedelta(seconds=59))[0].key == "comment:b"  # type: ignore[union-attr]
