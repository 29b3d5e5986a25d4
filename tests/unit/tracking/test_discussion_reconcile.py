"""Discussion reconcile: the pure parts over tables of remote discussions (the events that bring
a thread to a discussion's state, what a stored thread lacks, a discussion that left), and one
`DiscussionReconciler.once()` over a fake tracker and a service that records what it is given
(the service's discussion rules are not built yet), with a real SQLite store for the threads."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import cast

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from gateway.clock import ManualClock
from gateway.outbound.discussions import (
    DiscussionTracker,
    RemoteDiscussion,
    RemoteDiscussionComment,
)
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.tracking.discussion_reconcile import (
    CURSOR,
    DiscussionReconciler,
    StoredDiscussion,
    departure,
    discussion_events,
    missing_events,
)
from gateway.tracking.events import CommentEvent, Event, IssueEvent
from gateway.tracking.reconcile import OVERLAP
from gateway.tracking.service import TrackingService

REPO = "acme/visit-users"
QA, GENERAL = "DIC_qa", "DIC_general"
T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def comment(cid: int, author: str, minutes: int, parent: int | None = None
            ) -> RemoteDiscussionComment:
    return RemoteDiscussionComment(cid, author, at(minutes), f"body {cid}", parent)


def remote(number: int = 7, **changes: object) -> RemoteDiscussion:
    base = RemoteDiscussion(
        node_id=f"D_{number}", number=number, url=f"https://github.com/{REPO}/discussions/{number}",
        title="Visit crashes", author="alice", created_at=T0, updated_at=at(90), closed=False,
        closed_at=None, state_reason=None, answered=False, answer_chosen_at=None,
        category_id=QA, category="Q&A", repository=REPO, labels=(), comments=())
    return replace(base, **changes)  # type: ignore[arg-type]


def summary(events: list[Event]) -> list[tuple[str, ...]]:
    """(kind, action, minutes after T0, author or labels, repository, category) of each."""
    out: list[tuple[str, ...]] = []
    for e in events:
        minutes = str(int((e.at - T0).total_seconds() // 60))
        if isinstance(e, CommentEvent):
            out.append(("comment", str(e.comment_id), minutes, e.author, e.repository,
                        str(e.category)))
        else:
            out.append((e.action, e.state, minutes, ",".join(e.labels), e.repository,
                        str(e.category)))
    return out


# -- discussion_events ---------------------------------------------------------------------

ANSWER = comment(11, "carol", 30)
THREAD = (comment(10, "dave", 20), ANSWER, comment(12, "alice", 40, parent=11),
          comment(13, "visit-gateway", 41, parent=11), comment(14, "ghost", 50))

EVENTS: list[tuple[str, RemoteDiscussion, list[tuple[str, ...]]]] = [
    ("just opened", remote(), [
        ("opened", "open", "0", "", REPO, "Q&A"),
        ("labeled", "open", "90", "", REPO, "Q&A")]),
    ("answered, with replies", remote(comments=THREAD, answered=True, answer_id=11,
                                      answer_chosen_at=at(60), labels=("SRE",)), [
        ("opened", "open", "0", "SRE", REPO, "Q&A"),
        ("comment", "10", "20", "dave", REPO, "Q&A"),
        ("comment", "11", "30", "carol", REPO, "Q&A"),
        ("comment", "12", "40", "alice", REPO, "Q&A"),
        ("comment", "13", "41", "visit-gateway", REPO, "Q&A"),  # GraphQL's login, kept
        ("comment", "14", "50", "ghost", REPO, "Q&A"),
        ("answered", "open", "60", "SRE", REPO, "Q&A"),
        ("labeled", "open", "90", "SRE", REPO, "Q&A")]),
    ("closed as outdated", remote(closed=True, closed_at=at(80), state_reason="OUTDATED",
                                  labels=("SRE", "wontfix")), [
        ("opened", "open", "0", "SRE,wontfix", REPO, "Q&A"),
        ("closed", "closed", "80", "SRE,wontfix", REPO, "Q&A"),
        ("labeled", "closed", "90", "SRE,wontfix", REPO, "Q&A")]),
    ("answered, then closed", remote(comments=(ANSWER,), answered=True, answer_chosen_at=at(60),
                                     closed=True, closed_at=at(70), state_reason="RESOLVED"), [
        ("opened", "open", "0", "", REPO, "Q&A"),
        ("comment", "11", "30", "carol", REPO, "Q&A"),
        ("answered", "closed", "60", "", REPO, "Q&A"),
        ("closed", "closed", "70", "", REPO, "Q&A"),
        ("labeled", "closed", "90", "", REPO, "Q&A")]),
    ("moved to another category", remote(category_id=GENERAL, category="General",
                                         comments=(ANSWER,)), [
        ("opened", "open", "0", "", REPO, "General"),
        ("comment", "11", "30", "carol", REPO, "General"),
        ("labeled", "open", "90", "", REPO, "General")]),
    ("transferred: named by where it is now", remote(repository="acme/elsewhere",
                                                     comments=(ANSWER,)), [
        ("opened", "open", "0", "", "acme/elsewhere", "Q&A"),
        ("comment", "11", "30", "carol", "acme/elsewhere", "Q&A"),
        ("labeled", "open", "90", "", "acme/elsewhere", "Q&A")]),
    ("GitHub's spelling of this repository: the configured one", remote(
        repository="Acme/Visit-Users"), [
        ("opened", "open", "0", "", REPO, "Q&A"),
        ("labeled", "open", "90", "", REPO, "Q&A")]),
]


@pytest.mark.parametrize(("d", "expected"), [c[1:] for c in EVENTS], ids=[c[0] for c in EVENTS])
def test_discussion_events(d: RemoteDiscussion, expected: list[tuple[str, ...]]) -> None:
    events = discussion_events(d, REPO)
    assert summary(events) == expected
    assert all(e.target == "discussions" and e.number == d.number for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_discussion_events_carry_the_whole_story() -> None:
    d = remote(comments=(comment(12, "alice", 40, parent=11),), labels=("SRE",))
    opened, reply, labeled = discussion_events(d, REPO)
    assert opened == IssueEvent(
        action="opened", number=7, actor="alice", at=T0, issue_author="alice",
        issue_created_at=T0, state="open", assignees=(), labels=("SRE",), repository=REPO,
        target="discussions", category="Q&A")
    assert reply == CommentEvent(
        action="created", number=7, comment_id=12, author="alice", at=at(40), body="body 12",
        issue_author="alice", repository=REPO, target="discussions", category="Q&A",
        parent_id=11)  # a reply names its top-level comment
    assert labeled == replace(opened, action="labeled", actor="", at=at(90))


# -- missing_events ------------------------------------------------------------------------


def stored(state: str = "open", labels: tuple[str, ...] = ()) -> StoredDiscussion:
    return StoredDiscussion(7, "D_7", "closed" if state == "closed" else "open", labels,
                            "alice", T0)


MISSING: list[tuple[str, RemoteDiscussion, StoredDiscussion | None, list[str]]] = [
    ("no thread yet: everything", remote(comments=(ANSWER,)), None,
     ["opened", "comment", "labeled"]),
    ("tracked, nothing new: its comments only (the store drops known ids)",
     remote(comments=(ANSWER,), labels=("SRE",)), stored(labels=("sre",)), ["comment"]),
    ("labels changed", remote(labels=("SRE",)), stored(labels=("wontfix",)), ["labeled"]),
    ("labels removed", remote(), stored(labels=("SRE",)), ["labeled"]),
    ("missed answer and close", remote(comments=(ANSWER,), answered=True,
                                       answer_chosen_at=at(60), closed=True, closed_at=at(70)),
     stored(), ["comment", "answered", "closed"]),
    ("closed here and there", remote(closed=True, closed_at=at(70)), stored("closed"), []),
    ("answered here and there", remote(answered=True, answer_chosen_at=at(60)),
     stored("closed"), []),
    ("missed reopen", remote(state_reason="REOPENED"), stored("closed"), ["reopened"]),
]


@pytest.mark.parametrize(("d", "thread", "expected"), [c[1:] for c in MISSING],
                         ids=[c[0] for c in MISSING])
def test_missing_events(d: RemoteDiscussion, thread: StoredDiscussion | None,
                        expected: list[str]) -> None:
    events = missing_events(d, thread, REPO)
    assert [e.action if isinstance(e, IssueEvent) else "comment" for e in events] == expected
    reopened = [e for e in events if isinstance(e, IssueEvent) and e.action == "reopened"]
    assert all(e.at == d.updated_at and e.state == "open" for e in reopened)


# -- departure -----------------------------------------------------------------------------


def test_departure() -> None:
    thread = stored(labels=("SRE",))
    now = at(500)

    def left(d: RemoteDiscussion | None) -> IssueEvent | None:
        return departure(thread, d, repository=REPO, category_id=QA, category="Q&A", now=now)

    assert left(remote()) is None
    assert left(remote(repository="ACME/visit-users")) is None  # GitHub's spelling
    assert left(None) == IssueEvent(
        action="deleted", number=7, actor="", at=now, issue_author="alice", issue_created_at=T0,
        state="open", assignees=(), labels=("SRE",), repository=REPO, target="discussions",
        category="Q&A")
    assert left(remote(category_id=GENERAL, category="General")) == IssueEvent(
        action="category_changed", number=7, actor="", at=at(90), issue_author="alice",
        issue_created_at=T0, state="open", assignees=(), labels=(), repository=REPO,
        target="discussions", category="General")
    moved = left(remote(number=3, repository="acme/elsewhere", category_id="DIC_x"))
    assert moved is not None
    assert (moved.action, moved.number, moved.repository, moved.new_repository,
            moved.new_number) == ("transferred", 7, REPO, "acme/elsewhere", 3)
    ghost = departure(replace(thread, author=None), None, repository=REPO, category_id=QA,
                      category="Q&A", now=now)
    assert ghost is not None and ghost.issue_author == "ghost"


# -- DiscussionReconciler.once over fakes ----------------------------------------------------


def track(store: Store, number: int, node_id: str | None, *, state: str = "open",
          labels: tuple[str, ...] = (), target: str = "discussions") -> None:
    with store.tx() as tx:
        tx.conn.execute(threads.insert().values(
            thread_id=f"th-{number}", issue_number=number, title="", created_at=T0,
            arrived_at=T0, issue_author="alice", state=state, labels=json.dumps(list(labels))))
        tx.conn.execute(sa.text("UPDATE threads SET target = :target, node_id = :node_id "
                                "WHERE issue_number = :number"),
                        {"target": target, "node_id": node_id, "number": number})


class RecordingService:
    """What `DiscussionReconciler` uses of a `TrackingService`, recording the events."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events: list[Event] = []
        self.values: dict[str, str] = {}

    def apply_event(self, event: Event, now: dt.datetime) -> str:
        self.events.append(event)
        return "applied"

    def cursor(self, name: str) -> str | None:
        return self.values.get(name)

    def set_cursor(self, name: str, value: str, now: dt.datetime) -> None:
        self.values[name] = value


class FakeTracker:
    def __init__(self) -> None:
        self.listed: list[RemoteDiscussion] = []  # what the category shows
        self.nodes: dict[str, RemoteDiscussion | None] = {}  # what node ids name
        self.since_calls: list[tuple[dt.datetime, str | None]] = []
        self.id_calls: list[list[str]] = []

    def discussions_since(self, since: dt.datetime,
                          category_id: str | None) -> list[RemoteDiscussion]:
        self.since_calls.append((since, category_id))
        found = [d for d in self.listed if d.updated_at >= since
                 and category_id in (None, d.category_id)]
        return sorted(found, key=lambda d: d.updated_at, reverse=True)

    def discussions_by_id(self, node_ids: list[str]) -> dict[str, RemoteDiscussion | None]:
        self.id_calls.append(list(node_ids))
        return {node_id: self.nodes.get(node_id) for node_id in node_ids}


def reconciler(service: RecordingService, tracker: FakeTracker,
               clock: ManualClock) -> DiscussionReconciler:
    return DiscussionReconciler(
        cast(TrackingService, service), cast(DiscussionTracker, tracker), clock,
        repository=REPO, category_id=QA, category="Q&A", interval=60,
        first_lookback=dt.timedelta(days=3))


def test_once_reads_the_category_and_rereads_open_threads(store: Store) -> None:
    now = at(600)
    clock, service, tracker = ManualClock(now), RecordingService(store), FakeTracker()
    fresh = remote(1, updated_at=at(100), comments=(comment(20, "bob", 95),))
    listed_and_tracked = remote(2, updated_at=at(200), comments=(comment(21, "carol", 150),),
                                closed=True, closed_at=at(200))
    quiet = remote(3, updated_at=T0 - dt.timedelta(days=10),  # older than the look-back
                   comments=(comment(22, "carol", 5),))
    tracker.listed = [fresh, listed_and_tracked, quiet]
    tracker.nodes = {
        "D_2": listed_and_tracked, "D_3": quiet,
        "D_5": remote(5, category_id=GENERAL, category="General"),
        "D_6": remote(31, repository="acme/elsewhere"),
    }
    track(store, 2, "D_2")
    track(store, 3, "D_3")
    track(store, 4, "D_4")  # deleted: its node id names nothing
    track(store, 5, "D_5")
    track(store, 6, "D_6")
    track(store, 8, "D_8", state="closed")  # closed and not listed: not re-read
    track(store, 9, None)  # no node id yet: nothing to read it by
    track(store, 10, "I_10", target="issues")  # an issue thread: the other reconcile's

    with capture_logs() as logs:
        applied = reconciler(service, tracker, clock).once()

    assert tracker.since_calls == [(now - dt.timedelta(days=3), QA)]
    assert tracker.id_calls == [["D_3", "D_4", "D_5", "D_6"]]  # D_2 was just read
    assert summary(service.events) == [
        # tracked, listed (newest first): its comment and the close
        ("comment", "21", "150", "carol", REPO, "Q&A"),
        ("closed", "closed", "200", "", REPO, "Q&A"),
        # listed, untracked: everything
        ("opened", "open", "0", "", REPO, "Q&A"),
        ("comment", "20", "95", "bob", REPO, "Q&A"),
        ("labeled", "open", "100", "", REPO, "Q&A"),
        # tracked, quiet, read by id: its comment
        ("comment", "22", "5", "carol", REPO, "Q&A"),
        ("deleted", "open", "600", "", REPO, "Q&A"),
        ("category_changed", "open", "90", "", REPO, "General"),
        ("transferred", "open", "90", "", REPO, "Q&A"),
    ]
    assert [e.number for e in service.events[-3:]] == [4, 5, 6]
    assert applied == {"comments": 3, "discussions": 6}
    assert [(x["event"], x["discussion"]) for x in logs if x["event"].startswith("reconcile.d")
            ] == [("reconcile.discussion_gone", 4), ("reconcile.discussion_moved", 5),
                  ("reconcile.discussion_moved", 6)]
    # The cursor follows GitHub's newest updatedAt, never the clock.
    assert service.values[CURSOR] == at(200).isoformat()

    service.events.clear()
    clock.advance(dt.timedelta(minutes=5))
    reconciler(service, tracker, clock).once()
    assert tracker.since_calls[-1] == (at(200) - OVERLAP, QA)


def test_once_with_nothing_sets_the_cursor_at_the_look_back(store: Store) -> None:
    clock, service, tracker = ManualClock(T0), RecordingService(store), FakeTracker()
    assert reconciler(service, tracker, clock).once() == {"comments": 0, "discussions": 0}
    assert tracker.id_calls == []  # no open thread: nothing to re-read
    assert service.values[CURSOR] == (T0 - dt.timedelta(days=3) + OVERLAP).isoformat()
    assert service.events == []
