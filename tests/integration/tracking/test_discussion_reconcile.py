"""Discussion reconcile against the emulator over HTTP, with a real `TrackingService` on SQLite:
missed comments and replies, labels, a close and a reopen reach the thread; a second round with
nothing new applies nothing; a deleted or recategorised tracked discussion is reported once per
round; a fault in a read leaves the cursor where it was.

The service does not know discussions yet (someone is making it target-aware), so these tests
assert only what it already does with issue events: first response, state, labels, reopen
count. `threads.target`/`node_id` (migration 0003, built in parallel) are added here when
absent, and tracked threads are inserted as the writer will."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from gateway.clock import ManualClock
from gateway.duty.businesstime import BusinessCalendar
from gateway.errors import TransientError
from gateway.outbound.discussions import DiscussionTracker
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.testing.github_emulator import Emulator, FaultKind
from gateway.testing.github_emulator.model import Discussion
from gateway.tracking.discussion_reconcile import CURSOR, DiscussionReconciler
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, TrackingService

pytestmark = pytest.mark.integration

REPO = "acme/visit-users"
BOT, ALICE, CAROL, CYRUS = "visit-bot", "alice", "carol", "cyrush"
T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)


@dataclass
class Parts:
    emulator: Emulator
    clock: ManualClock
    store: Store
    reconciler: DiscussionReconciler

    def later(self, minutes: int) -> None:
        self.clock.advance(dt.timedelta(minutes=minutes))

    def track(self, d: Discussion) -> None:
        """A thread for `d`, as the writer records a discussion it created."""
        with self.store.tx() as tx:
            tx.conn.execute(threads.insert().values(
                thread_id=f"ghd-{d.number}", issue_number=d.number, title=d.title,
                created_at=d.created_at, arrived_at=d.created_at, issue_author=d.user))
            tx.conn.execute(sa.text("UPDATE threads SET target = 'discussions', "
                                    "node_id = :node_id WHERE issue_number = :number"),
                            {"node_id": self.emulator.node_id(REPO, d), "number": d.number})

    def row(self, number: int) -> Any:
        with self.store.read() as tx:
            return tx.conn.execute(
                sa.select(threads).where(threads.c.issue_number == number)).one()


@pytest.fixture
def parts(store: Store) -> Iterator[Parts]:
    clock = ManualClock(T0)
    emu = Emulator(clock=clock)
    with emu.serve() as url:
        emu.add_repo(REPO)
        emu.enable_discussions(REPO)
        emu.add_discussion_category(REPO, "Q&A", answerable=True)
        emu.add_discussion_category(REPO, "General", answerable=False)
        emu.add_label(REPO, "SRE")
        for login, role in ((BOT, "write"), (CAROL, "triage"), (CYRUS, "write"),
                            (ALICE, "read")):
            emu.add_collaborator(REPO, login, role)
        tracker = DiscussionTracker(api_url=url, token=emu.add_token(BOT), repository=REPO,
                                    bot_login=f"{BOT}[bot]", timeout=5, secondary_wait=60)
        setup = tracker.setup("Q&A", ["SRE"])
        service = TrackingService(store, Rules(BOT, frozenset({CAROL, CYRUS})),
                                  BusinessCalendar(), REPO,
                                  discussions=DiscussionScope(REPO, "Q&A"))
        yield Parts(emu, clock, store, DiscussionReconciler(
            service, tracker, clock, repository=REPO, category_id=setup.category_id,
            category=setup.category_name, interval=60, first_lookback=dt.timedelta(days=3)))
        tracker.close()
        assert emu.graphql_unimplemented() == []


def test_missed_comments_labels_close_and_reopen(parts: Parts) -> None:
    emu, reconciler = parts.emulator, parts.reconciler
    d = emu.create_discussion(REPO, "Visit crashes on launch", "trace attached", user=ALICE,
                              category="Q&A")
    parts.track(d)
    parts.later(30)
    first = emu.discussion_comment(REPO, d.number, "Which version?", user=CYRUS)
    parts.later(10)
    emu.discussion_comment(REPO, d.number, "3.4.1", user=ALICE, reply_to=first.id)
    emu.discussion_comment(REPO, d.number, "a reply, later", user=CAROL, reply_to=first.id)
    assert reconciler.once() == {"comments": 3, "discussions": 0}
    row = parts.row(d.number)
    assert (row.state, row.first_response_by, row.first_response_at) == (
        "open", CYRUS, T0 + dt.timedelta(minutes=30))
    assert reconciler.once() == {"comments": 0, "discussions": 0}  # nothing twice

    parts.later(5)
    emu.label_discussion(REPO, d.number, ["SRE"], user=CAROL)
    emu.close_discussion(REPO, d.number, user=CAROL, reason="RESOLVED")
    assert reconciler.once() == {"comments": 0, "discussions": 2}  # closed, labeled
    row = parts.row(d.number)
    assert (row.state, json.loads(row.labels)) == ("closed", ["SRE"])
    assert row.resolved_at == T0 + dt.timedelta(minutes=45)
    assert reconciler.once() == {"comments": 0, "discussions": 0}

    parts.later(5)
    emu.reopen_discussion(REPO, d.number, user=ALICE)
    assert reconciler.once() == {"comments": 0, "discussions": 1}
    row = parts.row(d.number)
    assert (row.state, row.reopened_count, row.resolved_at) == ("open", 1, None)
    assert reconciler.once() == {"comments": 0, "discussions": 0}


def test_a_discussion_opened_on_github_gets_a_thread(parts: Parts) -> None:
    emu = parts.emulator
    d = emu.create_discussion(REPO, "Phone call: plugin build", "written up", user=ALICE,
                              category="Q&A")
    emu.create_discussion(REPO, "Not ours", "elsewhere", user=ALICE, category="General")
    parts.later(20)
    emu.discussion_comment(REPO, d.number, "Called back.", user=CAROL)
    assert parts.reconciler.once() == {"comments": 1, "discussions": 2}  # opened, labeled
    row = parts.row(d.number)
    assert (row.issue_author, row.first_response_by) == (ALICE, CAROL)
    with parts.store.read() as tx:  # the other category's discussion was not read
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(threads)).scalar() == 1


def test_tracked_discussions_that_left(parts: Parts) -> None:
    emu, reconciler = parts.emulator, parts.reconciler
    gone, moved, stays = (emu.create_discussion(REPO, f"d{i}", "b", user=ALICE, category="Q&A")
                          for i in range(3))
    for d in (gone, moved, stays):
        parts.track(d)
    assert reconciler.once() == {"comments": 0, "discussions": 0}
    emu.delete_discussion(REPO, gone.number, user=ALICE)
    with emu.store.lock:  # "Change category" (the emulator has no mutation for it)
        repo = emu.store.repo(REPO)
        assert repo is not None
        repo.discussions[moved.number].category_id = next(
            c.id for c in repo.categories.values() if c.name == "General")
    parts.later(10)
    with capture_logs() as logs:
        assert reconciler.once() == {"comments": 0, "discussions": 2}
    assert [(x["event"], x["discussion"]) for x in logs
            if x["event"] in ("reconcile.discussion_gone", "reconcile.discussion_moved")] == [
        ("reconcile.discussion_gone", gone.number), ("reconcile.discussion_moved", moved.number)]
    moved_log = next(x for x in logs if x["event"] == "reconcile.discussion_moved")
    assert (moved_log["how"], moved_log["category"]) == ("category_changed", "General")


def test_a_fault_leaves_the_cursor(parts: Parts) -> None:
    emu, reconciler = parts.emulator, parts.reconciler
    d = emu.create_discussion(REPO, "t", "b", user=ALICE, category="Q&A")
    parts.track(d)
    reconciler.once()
    cursor = reconciler.service.cursor(CURSOR)
    parts.later(10)
    emu.discussion_comment(REPO, d.number, "new", user=CAROL)
    emu.inject_fault(FaultKind.DROP_BEFORE_WRITE, path="/graphql", operation="DiscussionsSince")
    with pytest.raises(TransientError):
        reconciler.once()
    assert reconciler.service.cursor(CURSOR) == cursor
    assert reconciler.once() == {"comments": 1, "discussions": 0}
    assert reconciler.service.cursor(CURSOR) != cursor
