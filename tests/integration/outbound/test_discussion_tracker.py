"""`DiscussionTracker` against the GitHub emulator over real HTTP, PyGithub as the client: each
operation works, setup errors name their config key, GitHub's refusals and limits become the
gateway's errors, and a fault injected into every call in turn yields the right error class and
never a library exception. After an unclear create or comment, the marker finds the write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from gateway.clock import ManualClock
from gateway.errors import ConfigError, GatewayError, RateLimited, TransientError
from gateway.inbound.thread import marker
from gateway.outbound.discussion_documents import DOCUMENTS
from gateway.outbound.discussions import CreatedDiscussion, DiscussionTracker
from gateway.outbound.github import (
    GitHubAuthError,
    OutcomeUnknown,
    RepositoryNotFound,
    WriteRejected,
)
from gateway.testing.github_emulator import Emulator, FaultKind

pytestmark = pytest.mark.integration

REPO = "acme/visit-users"
BOT, ALICE, CAROL, BOB, MALLORY = "visit-bot", "alice", "carol", "bob", "mallory"
LABELS = ["SRE", "wontfix"]


@dataclass
class World:
    emulator: Emulator
    tokens: dict[str, str]
    trackers: list[DiscussionTracker] = field(default_factory=list)

    def tracker(self, login: str = BOT, *, timeout: float = 5,
                repository: str = REPO) -> DiscussionTracker:
        assert self.emulator.base_url is not None
        tracker = DiscussionTracker(api_url=self.emulator.base_url, token=self.tokens[login],
                                    repository=repository, bot_login=f"{BOT}[bot]",
                                    timeout=timeout, secondary_wait=60)
        self.trackers.append(tracker)
        return tracker

    def ready(self, login: str = BOT, **kwargs: float) -> DiscussionTracker:
        tracker = self.tracker(login, **kwargs)  # type: ignore[arg-type]
        tracker.setup("Q&A", LABELS)
        return tracker


# The emulator's clock: every discussion and comment is created at T0, so the marker lookups'
# `since` is fixed too, whatever day the suite runs on.
T0 = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def world() -> Iterator[World]:
    emu = Emulator(clock=ManualClock(T0))
    with emu.serve():
        yield from _world(emu)


def _world(emu: Emulator) -> Iterator[World]:
    emu.add_repo(REPO)
    for login, role in ((BOT, "write"), (CAROL, "triage"), (BOB, "read"), (ALICE, "write")):
        emu.add_collaborator(REPO, login, role)
    emu.enable_discussions(REPO)
    emu.add_discussion_category(REPO, "Q&A", answerable=True)
    emu.add_discussion_category(REPO, "General", answerable=False)
    for name in LABELS:
        emu.add_label(REPO, name)
    tokens = {login: emu.add_token(login) for login in (BOT, ALICE, CAROL, BOB, MALLORY)}
    w = World(emu, tokens)
    yield w
    assert emu.graphql_unimplemented() == []
    # Every document the tracker sent is one of the schema-tested constants.
    assert set(emu.graphql_documents()) <= set(DOCUMENTS.values())
    for tracker in w.trackers:
        tracker.close()


def since() -> dt.datetime:
    """The earliest creation time a lookup considers: before every write of these tests."""
    return T0 - dt.timedelta(minutes=10)


# -- every operation ------------------------------------------------------------------------


def test_each_operation_succeeds(world: World) -> None:
    emu = world.emulator
    tracker = world.tracker()
    ids = tracker.setup("Q&A", [*LABELS, "SRE"])
    assert ids.category_name == "Q&A" and ids.answerable is True
    assert len(ids.label_ids) == 2 and ids.viewer_permission == "WRITE"
    assert ids.repository_id == emu.node_id(REPO, emu.store.repos[REPO])

    mark = marker("msg-1")
    created = tracker.create_discussion("Visit crashes", f"hello\n\n{mark}")
    assert created.url.endswith(f"/{REPO}/discussions/{created.number}")
    assert tracker.add_labels(created.node_id, ids.label_ids) == tuple(LABELS)
    assert tracker.add_labels(created.node_id, ids.label_ids) == tuple(LABELS)  # idempotent
    assert emu.discussion(REPO, created.number).labels == LABELS

    comment_mark, reply_mark = marker("msg-2"), marker("notice:1")
    comment = tracker.add_comment(created.node_id, f"mail two\n\n{comment_mark}")
    assert comment.url.endswith(f"#discussioncomment-{comment.comment_id}")
    reply = tracker.add_comment(created.node_id, f"a reply\n\n{reply_mark}",
                                reply_to=comment.node_id)
    stored = emu.discussion_comments(REPO, created.number)
    assert [(c.id, c.reply_to) for c in stored] == [
        (comment.comment_id, None), (reply.comment_id, comment.comment_id)]

    assert tracker.find_discussion(mark, since()) == created
    assert tracker.find_discussion(marker("msg-9"), since()) is None
    assert tracker.find_comment(created.number, comment_mark, since()) == comment
    assert tracker.find_comment(created.number, reply_mark, since()) == reply
    assert tracker.find_comment(created.number, reply_mark, since(),
                                reply_to=comment.node_id) == reply
    assert tracker.find_comment(created.number, marker("msg-9"), since()) is None
    later = T0 + dt.timedelta(minutes=5)
    assert tracker.find_discussion(mark, later) is None  # older than `since`: not looked at


def test_markers_count_only_in_the_bots_own_writes(world: World) -> None:
    emu = world.emulator
    mark = marker("msg-1")
    quoted = emu.create_discussion(REPO, "a copy", f"quoting {mark}", user=ALICE, category="Q&A")
    emu.discussion_comment(REPO, quoted.number, f"again {mark}", user=ALICE)
    tracker = world.ready()
    assert tracker.find_discussion(mark, since()) is None
    assert tracker.find_comment(quoted.number, mark, since()) is None


def test_finding_pages_past_the_first_page(world: World) -> None:
    emu = world.emulator
    tracker = world.ready()
    mark, reply_mark = marker("first"), marker("old-reply")
    first = tracker.create_discussion("first", mark)
    for i in range(30):
        emu.create_discussion(REPO, f"d{i}", "b", user=ALICE, category="Q&A")
    top = tracker.add_comment(first.node_id, "top")
    reply = tracker.add_comment(first.node_id, reply_mark, reply_to=top.node_id)
    for i in range(55):
        emu.discussion_comment(REPO, first.number, f"r{i}", user=ALICE, reply_to=top.comment_id)
    for i in range(55):
        emu.discussion_comment(REPO, first.number, f"c{i}", user=ALICE)
    assert tracker.find_discussion(mark, since()) == first
    assert tracker.find_comment(first.number, reply_mark, since()) == reply
    assert tracker.find_comment(first.number, reply_mark, since(), reply_to=top.node_id) == reply


# -- setup errors ---------------------------------------------------------------------------


def test_setup_errors_name_their_key(world: World) -> None:
    emu = world.emulator
    tracker = world.tracker()
    with pytest.raises(ConfigError) as missing:
        tracker.setup("Support", LABELS)
    assert missing.value.key == "github.discussion_category"
    assert "'Q&A'" in str(missing.value) and "'General'" in str(missing.value)
    assert tracker.setup("q&a", LABELS).category_name == "Q&A"  # case-insensitive fallback

    with pytest.raises(ConfigError) as label:
        tracker.setup("Q&A", ["SRE", "triage-me"])
    assert label.value.key == "github.discussion_labels" and "triage-me" in str(label.value)

    emu.enable_discussions(REPO, False)
    with pytest.raises(ConfigError) as disabled:
        tracker.setup("Q&A", LABELS)
    assert disabled.value.key == "github.discussion_repository"
    emu.enable_discussions(REPO)

    with pytest.raises(RepositoryNotFound):
        world.tracker(MALLORY).setup("Q&A", LABELS)
    with pytest.raises(RepositoryNotFound):
        world.tracker(repository="acme/nope").setup("Q&A", LABELS)
    world.tokens["bad"] = "ghp_revoked"
    with pytest.raises(GitHubAuthError):
        world.tracker("bad").setup("Q&A", LABELS)


# -- refusals and limits ----------------------------------------------------------------------


def test_refusals_become_the_gateways_errors(world: World) -> None:
    emu = world.emulator
    bot = world.ready()
    created = bot.create_discussion("t", "b")
    ids = bot.setup_ids
    assert ids is not None

    # Labels need triage: with read access it is the token, not this discussion.
    with pytest.raises(GitHubAuthError) as forbidden:
        world.ready(BOB).add_labels(created.node_id, ids.label_ids)
    assert not isinstance(forbidden.value, WriteRejected)
    # A locked discussion refuses a triage token's comment: only this row fails.
    emu.lock_discussion(REPO, created.number)
    with pytest.raises(WriteRejected) as locked:
        world.ready(CAROL).add_comment(created.node_id, "x")
    assert locked.value.status == 403
    bot.add_comment(created.node_id, "write access still may")
    emu.lock_discussion(REPO, created.number, False)

    top = bot.add_comment(created.node_id, "top")
    reply = bot.add_comment(created.node_id, "reply", reply_to=top.node_id)
    with pytest.raises(WriteRejected) as nested:
        bot.add_comment(created.node_id, "nested", reply_to=reply.node_id)
    assert nested.value.status == 422 and "already in a thread" in str(nested.value)
    with pytest.raises(WriteRejected) as gone:
        bot.add_labels(created.node_id, ["LA_kwDOAAAAAAAAAAAAAA"])
    assert gone.value.status == 404
    with pytest.raises(WriteRejected) as no_discussion:
        bot.find_comment(999, marker("x"), since())
    assert no_discussion.value.status == 404


@pytest.mark.parametrize("style", ["200", "403"])
def test_primary_limit_is_rate_limited(world: World, style: str) -> None:
    emu = world.emulator
    tracker = world.ready()
    emu.set_limits(graphql=1, graphql_primary_style=style)
    emu.reset_limits()
    tracker.find_discussion(marker("x"), since())  # spends the last point
    with pytest.raises(RateLimited) as limited:
        tracker.create_discussion("t", "b")
    assert 1 <= limited.value.retry_after <= 3600
    assert emu.discussions(REPO) == []


def test_secondary_limit_is_rate_limited(world: World) -> None:
    emu = world.emulator
    tracker = world.ready()
    emu.set_limits(secondary=True, content_per_minute=1)
    created = tracker.create_discussion("a", "b")
    with pytest.raises(RateLimited) as limited:
        tracker.add_comment(created.node_id, "c")
    assert 1 <= limited.value.retry_after <= 60
    assert emu.discussion_comments(REPO) == []


def test_a_timeout_is_an_unclear_write_or_a_failed_read(world: World) -> None:
    emu = world.emulator
    tracker = world.ready(timeout=1)
    emu.inject_fault(FaultKind.LATENCY, path="/graphql", operation="CreateDiscussion", delay=2)
    with pytest.raises(OutcomeUnknown):
        tracker.create_discussion("t", "b")
    emu.inject_fault(FaultKind.LATENCY, path="/graphql", operation="RecentDiscussions", delay=2)
    with pytest.raises(TransientError) as read:
        tracker.find_discussion(marker("x"), since())
    assert type(read.value) is TransientError


# -- a fault in every call ------------------------------------------------------------------


@dataclass
class Scene:
    """A tracker after setup, with every call's target in place."""

    bot: DiscussionTracker
    carol: DiscussionTracker
    discussion: CreatedDiscussion
    locked: CreatedDiscussion
    top_id: str
    reply_mark: str
    disc_mark: str
    reply_id: int = 0  # databaseId of the bot's reply, past the inline page of replies


@pytest.fixture
def scene(world: World) -> Scene:
    emu = world.emulator
    bot = world.ready()
    disc_mark, reply_mark = marker("first"), marker("old-reply")
    discussion = bot.create_discussion("first", disc_mark)
    locked = bot.create_discussion("locked", "b")
    emu.lock_discussion(REPO, locked.number)
    for i in range(30):  # a second page of discussions
        emu.create_discussion(REPO, f"d{i}", "b", user=ALICE, category="Q&A")
    top = bot.add_comment(discussion.node_id, "top")
    reply = bot.add_comment(discussion.node_id, reply_mark, reply_to=top.node_id)
    for i in range(55):  # the marked reply is past the inline page of replies
        emu.discussion_comment(REPO, discussion.number, f"r{i}", user=ALICE,
                               reply_to=top.comment_id)
    return Scene(bot, world.ready(CAROL), discussion, locked, top.node_id, reply_mark,
                 disc_mark, reply.comment_id)


Call = Callable[[Scene], object]
CALLS: list[tuple[str, str, int, bool, Call]] = [
    ("setup: target", "DiscussionTarget", 0, False, lambda s: s.bot.setup("Q&A", LABELS)),
    ("setup: second label", "LabelByName", 1, False, lambda s: s.bot.setup("Q&A", LABELS)),
    ("create", "CreateDiscussion", 0, True, lambda s: s.bot.create_discussion("t", "b")),
    ("labels", "AddLabels", 0, True,
     lambda s: s.bot.add_labels(s.discussion.node_id, label_ids(s))),
    ("comment", "AddDiscussionComment", 0, True,
     lambda s: s.bot.add_comment(s.discussion.node_id, "c")),
    ("forbidden probe", "ViewerPermission", 0, False,
     lambda s: s.carol.add_comment(s.locked.node_id, "c")),
    ("find discussion, page 2", "RecentDiscussions", 1, False,
     lambda s: s.bot.find_discussion(s.disc_mark, since())),
    ("find comment", "DiscussionComments", 0, False,
     lambda s: s.bot.find_comment(s.discussion.number, s.reply_mark, since())),
    ("find reply, older page", "CommentReplies", 0, False,
     lambda s: s.bot.find_comment(s.discussion.number, s.reply_mark, since())),
    # issue 16
    ("mark answer", "MarkAnswer", 0, True, lambda s: s.bot.mark_answer(s.top_id)),
    ("unmark answer", "UnmarkAnswer", 0, True, lambda s: s.bot.unmark_answer(s.top_id)),
    ("close", "CloseDiscussion", 0, True,
     lambda s: s.bot.close_discussion(s.discussion.node_id, "OUTDATED")),
    ("reopen", "ReopenDiscussion", 0, True,
     lambda s: s.bot.reopen_discussion(s.discussion.node_id)),
    ("reaction", "AddReaction", 0, True, lambda s: s.bot.add_reaction(s.top_id, "HEART")),
    ("labels off", "RemoveLabels", 0, True,
     lambda s: s.bot.remove_labels(s.discussion.node_id, label_ids(s))),
    ("comment node id", "DiscussionComments", 0, False,
     lambda s: s.bot.comment_node_id(s.discussion.number, s.reply_id)),
    ("comment node id, older replies", "CommentReplies", 0, False,
     lambda s: s.bot.comment_node_id(s.discussion.number, s.reply_id)),
]


def label_ids(s: Scene) -> tuple[str, ...]:
    assert s.bot.setup_ids is not None
    return s.bot.setup_ids.label_ids


FAULTS = [FaultKind.ERROR_BEFORE_WRITE, FaultKind.ERROR_AFTER_WRITE, FaultKind.DROP_BEFORE_WRITE,
          FaultKind.DROP_AFTER_WRITE, FaultKind.GRAPHQL_ERROR_BEFORE_WRITE,
          FaultKind.GRAPHQL_ERROR_AFTER_WRITE]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
@pytest.mark.parametrize(("operation", "skip", "write", "call"), [c[1:] for c in CALLS],
                         ids=[c[0] for c in CALLS])
def test_a_fault_in_every_call(world: World, scene: Scene, fault: FaultKind, operation: str,
                               skip: int, write: bool, call: Call) -> None:
    emu = world.emulator
    emu.inject_fault(fault, path="/graphql", operation=operation, skip=skip)
    with pytest.raises(GatewayError) as raised:
        call(scene)
    assert type(raised.value) is (OutcomeUnknown if write else TransientError), raised.value
    assert [f.kind for f in emu.faults_fired] == [fault]
    if operation == "ViewerPermission":  # the fault is spent: the same call now works
        with pytest.raises(WriteRejected):  # (here: the locked discussion refuses it)
            call(scene)
    else:
        call(scene)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
def test_after_an_unclear_write_the_marker_decides(world: World, fault: FaultKind) -> None:
    emu = world.emulator
    tracker = world.ready()
    mark = marker("msg-1")
    emu.inject_fault(fault, path="/graphql", operation="CreateDiscussion")
    with pytest.raises(OutcomeUnknown):
        tracker.create_discussion("t", f"body\n\n{mark}")
    found = tracker.find_discussion(mark, since())
    if fault.after_write:
        (only,) = emu.discussions(REPO)
        assert found is not None and found.number == only.number
        assert found.node_id == emu.node_id(REPO, only)
    else:
        assert found is None and emu.discussions(REPO) == []
        found = tracker.create_discussion("t", f"body\n\n{mark}")  # safe to send again

    comment_mark = marker("msg-2")
    emu.inject_fault(fault, path="/graphql", operation="AddDiscussionComment")
    with pytest.raises(OutcomeUnknown):
        tracker.add_comment(found.node_id, f"mail two\n\n{comment_mark}")
    comment = tracker.find_comment(found.number, comment_mark, since())
    stored = emu.discussion_comments(REPO, found.number)
    if fault.after_write:
        assert comment is not None and [c.id for c in stored] == [comment.comment_id]
    else:
        assert comment is None and stored == []


# -- issue 16: answers, closing, reactions, labels off ----------------------------------------


def test_issue_16_operations_succeed_and_are_idempotent(world: World) -> None:
    emu = world.emulator
    bot = world.ready()
    ids = bot.setup_ids
    assert ids is not None
    created = bot.create_discussion("Visit crashes", "hello")
    bot.add_labels(created.node_id, ids.label_ids)
    first = bot.add_comment(created.node_id, "an answer")
    second = emu.discussion_comment(REPO, created.number, "a better one", user=ALICE)
    reply = bot.add_comment(created.node_id, "a reply", reply_to=first.node_id)

    assert bot.comment_node_id(created.number, first.comment_id) == (first.node_id, None)
    second_id = emu.node_id(REPO, second)
    assert bot.comment_node_id(created.number, second.id) == (second_id, None)
    assert bot.comment_node_id(created.number, reply.comment_id) == (reply.node_id,
                                                                     first.node_id)

    bot.mark_answer(first.node_id)
    bot.mark_answer(first.node_id)
    assert emu.discussion(REPO, created.number).answer_id == first.comment_id
    bot.mark_answer(second_id)  # another answer replaces it
    assert emu.discussion(REPO, created.number).answer_id == second.id
    bot.unmark_answer(first.node_id)  # not the answer: nothing changes
    assert emu.discussion(REPO, created.number).answer_id == second.id
    bot.unmark_answer(second_id)
    bot.unmark_answer(second_id)
    assert emu.discussion(REPO, created.number).answer_id is None

    bot.close_discussion(created.node_id, "OUTDATED")
    bot.close_discussion(created.node_id, "OUTDATED")
    closed = emu.discussion(REPO, created.number)
    assert (closed.closed, closed.state_reason) == (True, "OUTDATED")
    (remote,) = bot.discussions_by_id([created.node_id]).values()
    assert remote is not None and (remote.closed, remote.state_reason) == (True, "OUTDATED")
    bot.reopen_discussion(created.node_id)
    bot.reopen_discussion(created.node_id)
    reopened = emu.discussion(REPO, created.number)
    assert (reopened.closed, reopened.state_reason) == (False, "REOPENED")

    bot.add_reaction(first.node_id)
    bot.add_reaction(first.node_id)
    bot.add_reaction(reply.node_id, "EYES")
    bot.add_reaction(created.node_id, "HOORAY")
    assert [(r.content, r.user) for r in
            emu.discussion_reactions(REPO, created.number, first.comment_id)] == [("+1", BOT)]
    assert [r.content for r in
            emu.discussion_reactions(REPO, created.number, reply.comment_id)] == ["eyes"]
    assert [r.content for r in emu.discussion_reactions(REPO, created.number)] == ["hooray"]

    assert bot.remove_labels(created.node_id, ids.label_ids[:1]) == (LABELS[1],)
    assert bot.remove_labels(created.node_id, ids.label_ids) == ()
    assert bot.remove_labels(created.node_id, ids.label_ids) == ()
    assert emu.discussion(REPO, created.number).labels == []


def test_issue_16_refusals(world: World) -> None:
    emu = world.emulator
    bot = world.ready()
    created = bot.create_discussion("t", "b")
    top = bot.add_comment(created.node_id, "top")
    reply = bot.add_comment(created.node_id, "reply", reply_to=top.node_id)

    with pytest.raises(WriteRejected) as a_reply:
        bot.mark_answer(reply.node_id)  # only top-level comments: mark its parent instead
    assert a_reply.value.status == 422
    _, parent = bot.comment_node_id(created.number, reply.comment_id)
    assert parent == top.node_id
    bot.mark_answer(parent)

    general = emu.create_discussion(REPO, "chat", "b", user=ALICE, category="General")
    chat = emu.discussion_comment(REPO, general.number, "hi", user=ALICE)
    with pytest.raises(WriteRejected) as unanswerable:
        bot.mark_answer(emu.node_id(REPO, chat))
    assert unanswerable.value.status == 422

    with pytest.raises(GitHubAuthError) as forbidden:  # read access may not close
        world.ready(BOB).close_discussion(created.node_id, "RESOLVED")
    assert not isinstance(forbidden.value, WriteRejected)
    with pytest.raises(WriteRejected) as gone:
        bot.add_reaction("DC_kwDOAAAAAAAAAAAAAA")
    assert gone.value.status == 404
    with pytest.raises(WriteRejected) as missing:
        bot.comment_node_id(created.number, 12345)
    assert missing.value.status == 404 and "12345" in str(missing.value)
    with pytest.raises(WriteRejected) as no_discussion:
        bot.comment_node_id(999, top.comment_id)
    assert no_discussion.value.status == 404
    with pytest.raises(WriteRejected):  # a comment of another discussion is not this one's
        bot.comment_node_id(general.number, top.comment_id)

    before = len(emu.graphql_documents())
    with pytest.raises(ValueError, match="reason"):
        bot.close_discussion(created.node_id, "ANSWERED")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reaction"):
        bot.add_reaction(top.node_id, "+1")  # REST's spelling, not GraphQL's
    assert len(emu.graphql_documents()) == before  # refused before any request


def test_a_reaction_counts_against_the_content_limit(world: World) -> None:
    emu = world.emulator
    bot = world.ready()
    emu.set_limits(secondary=True, content_per_minute=1)
    created = bot.create_discussion("a", "b")  # the minute's one piece of content
    bot.close_discussion(created.node_id, "RESOLVED")  # not content
    with pytest.raises(RateLimited) as limited:
        bot.add_reaction(created.node_id)
    assert 1 <= limited.value.retry_after <= 60
    assert emu.discussion_reactions(REPO, created.number) == []


def test_comment_node_id_pages_back_through_comments_and_replies(world: World) -> None:
    emu = world.emulator
    bot = world.ready()
    created = bot.create_discussion("busy", "b")
    old = bot.add_comment(created.node_id, "the oldest comment")
    old_reply = bot.add_comment(created.node_id, "its oldest reply", reply_to=old.node_id)
    for i in range(120):
        emu.discussion_comment(REPO, created.number, f"r{i}", user=ALICE,
                               reply_to=old.comment_id)
    for i in range(120):
        emu.discussion_comment(REPO, created.number, f"c{i}", user=ALICE)
    assert bot.comment_node_id(created.number, old.comment_id) == (old.node_id, None)
    assert bot.comment_node_id(created.number, old_reply.comment_id) == (old_reply.node_id,
                                                                         old.node_id)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
def test_after_an_unclear_issue_16_write_sending_again_settles_it(world: World,
                                                                 fault: FaultKind) -> None:
    emu = world.emulator
    bot = world.ready()
    created = bot.create_discussion("t", "b")
    top = bot.add_comment(created.node_id, "top")
    writes: list[tuple[str, Callable[[], object]]] = [
        ("AddReaction", lambda: bot.add_reaction(top.node_id)),
        ("MarkAnswer", lambda: bot.mark_answer(top.node_id)),
        ("CloseDiscussion", lambda: bot.close_discussion(created.node_id, "RESOLVED")),
    ]
    for operation, write in writes:
        emu.inject_fault(fault, path="/graphql", operation=operation)
        with pytest.raises(OutcomeUnknown):
            write()
        write()  # idempotent on GitHub: sending it again is the recovery
    assert [r.content for r in emu.discussion_reactions(REPO, created.number,
                                                        top.comment_id)] == ["+1"]
    (remote,) = bot.discussions_by_id([created.node_id]).values()
    assert remote is not None
    assert (remote.answer_id, remote.closed, remote.state_reason) == (
        top.comment_id, True, "RESOLVED")
