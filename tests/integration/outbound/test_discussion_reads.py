"""`DiscussionTracker`'s reconcile reads against the GitHub emulator over real HTTP, PyGithub as
the client: a discussion is read whole (comments and replies past the inline pages are paged),
`discussions_since` stops at its cursor, `discussions_by_id` says None for a deleted one, the
state (answer, close, labels, category, authors) is read as GitHub has it, and a fault in any
read is a `TransientError`, never a library exception."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from gateway.clock import ManualClock
from gateway.errors import GatewayError, RateLimited, TransientError
from gateway.outbound.discussion_documents import (
    COMMENT_REPLIES,
    DISCUSSIONS_SINCE,
    DOCUMENTS,
    OLDER_COMMENTS,
)
from gateway.outbound.discussions import (
    DiscussionTracker,
    RemoteDiscussionComment,
)
from gateway.testing.github_emulator import Emulator, FaultKind
from gateway.testing.github_emulator.model import Discussion, DiscussionComment

pytestmark = pytest.mark.integration

REPO, OTHER = "acme/visit-users", "acme/elsewhere"
BOT, ALICE, CAROL, DAVE = "visit-bot", "alice", "carol", "dave"
HELPER = "helper[bot]"  # a GitHub App's bot account: GraphQL names it "helper"
T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@dataclass
class World:
    emulator: Emulator
    clock: ManualClock
    tracker: DiscussionTracker
    category_id: str  # "Q&A"

    def discussion(self, title: str, *, user: str = ALICE, category: str = "Q&A",
                   repo: str = REPO) -> Discussion:
        return self.emulator.create_discussion(repo, title, f"about {title}", user=user,
                                               category=category)

    def node_id(self, d: Discussion, repo: str = REPO) -> str:
        return self.emulator.node_id(repo, d)

    def later(self, minutes: int = 1) -> None:
        self.clock.advance(minutes * MINUTE)


@pytest.fixture
def world() -> Iterator[World]:
    clock = ManualClock(T0)
    emu = Emulator(clock=clock)
    with emu.serve() as url:
        for repo in (REPO, OTHER):
            emu.add_repo(repo)
            emu.enable_discussions(repo)
            emu.add_discussion_category(repo, "Q&A", answerable=True)
            emu.add_discussion_category(repo, "General", answerable=False)
            emu.add_label(repo, "SRE")
            emu.add_label(repo, "wontfix")
        emu.add_user(HELPER, type="Bot")
        for login, role in ((BOT, "write"), (CAROL, "triage"), (ALICE, "read"),
                            (DAVE, "read"), (HELPER, "write")):
            emu.add_collaborator(REPO, login, role)
        tracker = DiscussionTracker(api_url=url, token=emu.add_token(BOT), repository=REPO,
                                    bot_login=f"{BOT}[bot]", timeout=5, secondary_wait=60)
        setup = tracker.setup("Q&A", ["SRE"])
        yield World(emu, clock, tracker, setup.category_id)
        tracker.close()
        assert emu.graphql_unimplemented() == []
        # Every document sent is one of the schema-tested constants.
        assert set(emu.graphql_documents()) <= set(DOCUMENTS.values())


def sent(world: World, document: str) -> int:
    return world.emulator.graphql_documents().count(document)


def expected_comments(world: World, number: int) -> list[RemoteDiscussionComment]:
    """The emulator's comments of `number` in reconcile's order: each top-level comment,
    oldest first, followed by its replies, oldest first."""
    stored = world.emulator.discussion_comments(REPO, number)

    def remote(c: DiscussionComment, parent: int | None) -> RemoteDiscussionComment:
        return RemoteDiscussionComment(c.id, c.user, c.created_at, c.body, parent)

    out: list[RemoteDiscussionComment] = []
    for top in (c for c in stored if c.reply_to is None):
        out.append(remote(top, None))
        out += [remote(r, top.id) for r in stored if r.reply_to == top.id]
    return out


# -- reading a discussion whole ------------------------------------------------------------


def test_a_long_discussion_is_read_whole(world: World) -> None:
    """45 top-level comments (30 inline, 15 on an older page), one older comment with 15
    replies (10 inline, 5 paged) and a recent one with 11: every comment and reply, in order."""
    emu = world.emulator
    d = world.discussion("long")
    top_ids: list[int] = []
    for i in range(45):
        world.later()
        top_ids.append(emu.discussion_comment(REPO, d.number, f"comment {i}", user=ALICE).id)
    for i in range(15):
        world.later()
        emu.discussion_comment(REPO, d.number, f"reply {i}", user=CAROL, reply_to=top_ids[2])
    for i in range(11):
        world.later()
        emu.discussion_comment(REPO, d.number, f"late reply {i}", user=CAROL,
                               reply_to=top_ids[40])

    by_id = world.tracker.discussions_by_id([world.node_id(d)])[world.node_id(d)]
    assert by_id is not None
    assert list(by_id.comments) == expected_comments(world, d.number)
    assert len(by_id.comments) == 45 + 15 + 11
    assert [c.comment_id for c in by_id.comments if c.parent_id is None] == top_ids
    assert sent(world, OLDER_COMMENTS) == 1  # 15 older comments: one page of 100
    assert sent(world, COMMENT_REPLIES) == 2  # 5 older replies of one, 1 of the other

    (since,) = world.tracker.discussions_since(T0, world.category_id)
    assert since == by_id


def test_older_comment_pages_follow_one_another(world: World) -> None:
    """More than 30 + 100 top-level comments: OlderComments pages twice."""
    emu = world.emulator
    d = world.discussion("very long")
    for i in range(135):
        emu.discussion_comment(REPO, d.number, f"c{i}", user=ALICE)
    (found,) = world.tracker.discussions_since(T0, world.category_id)
    assert [c.body for c in found.comments] == [f"c{i}" for i in range(135)]
    assert sent(world, OLDER_COMMENTS) == 2


def test_state_is_read_as_github_has_it(world: World) -> None:
    emu = world.emulator
    asked = world.discussion("answered and closed")
    world.later(5)
    wrong = emu.discussion_comment(REPO, asked.number, "try this", user=DAVE)
    answer = emu.discussion_comment(REPO, asked.number, "the fix", user=CAROL)
    thanks = emu.discussion_comment(REPO, asked.number, "thanks!", user=ALICE,
                                    reply_to=answer.id)
    bot = emu.discussion_comment(REPO, asked.number, "a bot's note", user=HELPER)
    world.later(5)
    emu.mark_answer(REPO, answer.id, user=ALICE)
    answered_at = emu.discussion(REPO, asked.number).answer_chosen_at
    world.later(5)
    emu.close_discussion(REPO, asked.number, user=CAROL, reason="RESOLVED")
    closed_at = emu.discussion(REPO, asked.number).closed_at
    emu.label_discussion(REPO, asked.number, ["SRE", "wontfix"], user=CAROL)

    plain = world.discussion("plain, by the bot", user=BOT)
    reopened = world.discussion("closed then reopened")
    emu.close_discussion(REPO, reopened.number, user=CAROL, reason="OUTDATED")
    emu.reopen_discussion(REPO, reopened.number, user=CAROL)
    general = world.discussion("no answers here", category="General")

    ids = [world.node_id(x) for x in (asked, plain, reopened, general)]
    found = world.tracker.discussions_by_id(ids)
    got = found[ids[0]]
    assert got is not None
    assert (got.number, got.title, got.author, got.url) == (
        asked.number, "answered and closed", ALICE,
        f"{emu.base_url}/{REPO}/discussions/{asked.number}")
    assert (got.created_at, got.updated_at) == (T0, emu.discussion(REPO, asked.number).updated_at)
    assert (got.answered, got.answer_id, got.answer_chosen_at) == (True, answer.id, answered_at)
    assert (got.closed, got.closed_at, got.state_reason) == (True, closed_at, "RESOLVED")
    assert got.labels == ("SRE", "wontfix")
    assert (got.category_id, got.category, got.repository) == (world.category_id, "Q&A", REPO)
    assert [(c.comment_id, c.author, c.parent_id) for c in got.comments] == [
        (wrong.id, DAVE, None), (answer.id, CAROL, None),
        (thanks.id, ALICE, answer.id), (bot.id, "helper", None)]  # no "[bot]" in GraphQL

    by_bot = found[ids[1]]
    assert by_bot is not None and by_bot.author == BOT
    assert (by_bot.answered, by_bot.closed, by_bot.labels, by_bot.comments) == (
        False, False, (), ())
    again = found[ids[2]]
    assert again is not None
    assert (again.closed, again.closed_at, again.state_reason) == (False, None, "REOPENED")
    elsewhere = found[ids[3]]
    assert elsewhere is not None and (elsewhere.category, elsewhere.answered) == ("General", False)
    assert elsewhere.category_id != world.category_id


def test_a_deleted_account_is_ghost(world: World) -> None:
    emu = world.emulator
    d = world.discussion("by someone who left", user=DAVE)
    emu.discussion_comment(REPO, d.number, "me again", user=DAVE)
    with emu.store.lock:  # the account is deleted: GraphQL answers `author: null`
        del emu.store.users[DAVE]
    (found,) = world.tracker.discussions_since(T0, world.category_id)
    assert found.author == "ghost" and [c.author for c in found.comments] == ["ghost"]


# -- discussions_since -----------------------------------------------------------------------


def test_since_stops_at_the_cursor(world: World) -> None:
    for i in range(30):
        world.discussion(f"old {i}")
    world.discussion("old, elsewhere", category="General")
    world.later(60)
    cursor = T0 + 30 * MINUTE
    new = [world.discussion(f"new {i}") for i in range(3)]
    world.later(1)
    world.emulator.discussion_comment(REPO, new[0].number, "bumps it", user=ALICE)

    found = world.tracker.discussions_since(cursor, world.category_id)
    assert [d.number for d in found] == [new[0].number, new[2].number, new[1].number]
    assert sent(world, DISCUSSIONS_SINCE) == 1  # the first page already reached the cursor

    everything = world.tracker.discussions_since(T0, world.category_id)
    assert len(everything) == 33 and sent(world, DISCUSSIONS_SINCE) == 3
    assert all(d.category == "Q&A" for d in everything)
    assert len(world.tracker.discussions_since(T0, None)) == 34  # every category
    assert world.tracker.discussions_since(T0 + 2 * MINUTE + 60 * MINUTE, None) == []
    # A naive `since` is taken as UTC, as the marker lookups take it.
    naive = cursor.replace(tzinfo=None)
    assert [d.number for d in world.tracker.discussions_since(naive, world.category_id)] == [
        d.number for d in found]


# -- discussions_by_id ---------------------------------------------------------------------


def test_by_id_says_none_for_a_deleted_one(world: World) -> None:
    emu = world.emulator
    kept = [world.discussion(f"kept {i}") for i in range(27)]  # two requests: 25 + 2
    gone = world.discussion("deleted")
    comment = emu.discussion_comment(REPO, kept[0].number, "a comment is no discussion",
                                     user=ALICE)
    ids = [world.node_id(d) for d in kept]
    gone_id, comment_id = world.node_id(gone), emu.node_id(REPO, comment)
    emu.delete_discussion(REPO, gone.number, user=ALICE)
    emu.delete_discussion(REPO, kept[-1].number, user=ALICE)

    found = world.tracker.discussions_by_id([*ids[:3], gone_id, comment_id, *ids[3:], ids[0]])
    assert list(found) == [*ids[:3], gone_id, comment_id, *ids[3:]]  # each once, in order
    assert found[gone_id] is None and found[comment_id] is None and found[ids[-1]] is None
    read = {k: v for k, v in found.items() if v is not None}
    assert sorted(d.number for d in read.values()) == [d.number for d in kept[:-1]]
    assert world.tracker.discussions_by_id([]) == {}
    assert world.tracker.discussions_by_id([gone_id]) == {gone_id: None}


def test_by_id_follows_a_discussion_moved_away(world: World) -> None:
    """A node id keeps naming the discussion wherever it goes; here only the category can
    change (the emulator has no transfer): the read shows the new one."""
    emu = world.emulator
    d = world.discussion("moving")
    node_id = world.node_id(d)
    with emu.store.lock:  # as GitHub's "Change category" does
        repo = emu.store.repo(REPO)
        assert repo is not None
        repo.discussions[d.number].category_id = next(
            c.id for c in repo.categories.values() if c.name == "General")
    found = world.tracker.discussions_by_id([node_id])[node_id]
    assert found is not None and (found.number, found.category) == (d.number, "General")
    assert found.category_id != world.category_id


# -- faults --------------------------------------------------------------------------------


Read = Callable[[World, str], object]
READS: list[tuple[str, str, Read]] = [
    ("since, first page", "DiscussionsSince",
     lambda w, _: w.tracker.discussions_since(T0, w.category_id)),
    ("by id", "TrackedDiscussions", lambda w, node_id: w.tracker.discussions_by_id([node_id])),
    ("older comments", "OlderComments", lambda w, node_id: w.tracker.discussions_by_id([node_id])),
    ("older replies", "CommentReplies",
     lambda w, _: w.tracker.discussions_since(T0, w.category_id)),
]
FAULTS = [FaultKind.ERROR_BEFORE_WRITE, FaultKind.DROP_BEFORE_WRITE,
          FaultKind.GRAPHQL_ERROR_BEFORE_WRITE, FaultKind.ERROR_AFTER_WRITE]


@pytest.fixture
def busy(world: World) -> str:
    """A discussion that needs every read: older comments, and older replies."""
    emu = world.emulator
    d = world.discussion("busy")
    first = emu.discussion_comment(REPO, d.number, "first", user=ALICE)
    for i in range(12):
        emu.discussion_comment(REPO, d.number, f"r{i}", user=CAROL, reply_to=first.id)
    for i in range(31):
        emu.discussion_comment(REPO, d.number, f"c{i}", user=ALICE)
    return world.node_id(d)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
@pytest.mark.parametrize(("operation", "read"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_a_fault_in_a_read_is_transient(world: World, busy: str, fault: FaultKind,
                                        operation: str, read: Read) -> None:
    emu = world.emulator
    emu.inject_fault(fault, path="/graphql", operation=operation)
    with pytest.raises(GatewayError) as raised:
        read(world, busy)
    assert type(raised.value) is TransientError, raised.value
    assert [f.kind for f in emu.faults_fired] == [fault]
    assert read(world, busy)  # the fault is spent: the same read works


def test_a_timeout_and_the_rate_limit(world: World, busy: str) -> None:
    emu = world.emulator
    slow = DiscussionTracker(api_url=str(emu.base_url), token=emu.add_token(BOT),
                             repository=REPO, bot_login=BOT, timeout=1, secondary_wait=60)
    emu.inject_fault(FaultKind.LATENCY, path="/graphql", operation="TrackedDiscussions", delay=2)
    with pytest.raises(TransientError) as late:
        slow.discussions_by_id([busy])
    assert type(late.value) is TransientError
    slow.close()

    emu.set_limits(graphql=1)
    emu.reset_limits()
    with pytest.raises(RateLimited):
        world.tracker.discussions_by_id([busy])

