"""Is it a known issue? The real pipeline, notifier and GitHub writer against the emulator over
HTTP (REST search, GraphQL discussions), with a manual clock that the tests move.

The product repository holds "Silo reader crashes on 4.11 files" (closed) and "Pseudocolor
plot of zonal variables" (open). An inquiry "Crash opening a Silo file" gets the Silo issue
shown to the Primary: in the discussion's notice, or in an issue comment that mentions the
assignee. Without a match an issue gets no comment and a discussion its notice without a
matches section. Search errors, dropped connections and the search rate limit never cost the
notice, never repeat it, and never pause the writes; a hostile product-issue title pings
nobody; a lookup cut short by a crash is simply done again."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.config.loader import Config
from gateway.inbound.pipeline import Pipeline
from gateway.outbound.known_issues import search_budget
from gateway.outbound.outbox import Outbox
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.store.schema import outbox
from gateway.testing.github_emulator import Emulator, FaultKind
from gateway.weekly.notify import Notifier
from gateway.wiring import assignee_function, pipeline_settings
from tests.unit.inbound.gfm_oracle import live_mentions, render
from tests.unit.mail import raw

from ..daemon import BOT, REPO, setup_discussions, setup_github
from ..harness import github_writer, notify_context

pytestmark = pytest.mark.integration

PRODUCT = "visit-dav/visit"
SEARCH = "/search/issues"
SILO_TITLE = "Silo reader crashes on 4.11 files"
PSEUDOCOLOR_TITLE = "Pseudocolor plot of zonal variables"


@dataclass
class World:
    clock: ManualClock
    emulator: Emulator
    store: Store
    pipeline: Pipeline
    writer: GitHubWriter
    silo: int  # the product issue numbers
    pseudocolor: int
    target: str

    def mail(self, subject: str, body: str = "Please help.\n", n: int = 1) -> None:
        at = self.clock.now()
        message = raw({"Message-ID": f"<q{n}@univ.edu>", "Subject": f"[visit-users] {subject}",
                       "Date": email.utils.format_datetime(at)}, body)
        self.pipeline.process(self.pipeline.ingest(message, received_at=at).key, now=at)

    def drain(self, max_steps: int = 200) -> None:
        """Run the writer, moving the clock to whatever it waits for, until only mail is left."""
        box = Outbox(self.store)
        for _ in range(max_steps):
            if all(item.kind == "send_mail" for item in box.open_items()):
                return
            delay = self.writer.step()
            if delay is not None:
                self.clock.advance(dt.timedelta(seconds=delay))
        raise AssertionError(f"the outbox did not drain: {box.open_items()}")

    def bot_comments(self, number: int) -> list[str]:
        if self.target == "discussions":
            return [c.body for c in self.emulator.discussion_comments(REPO, number)
                    if c.user == BOT]
        return [c.body for c in self.emulator.comments(REPO, number) if c.user == BOT]

    def inquiry(self) -> int:
        if self.target == "discussions":
            [made] = self.emulator.discussions(REPO)
            return made.number
        [issue] = self.emulator.issues(REPO)
        return issue.number

    def searches(self) -> list[int]:
        return [r.status for r in self.emulator.request_log() if r.path == SEARCH]

    def rows(self) -> dict[str, sa.Row[tuple[object, ...]]]:
        with self.store.read() as tx:
            return {r.key: r for r in tx.conn.execute(sa.select(outbox))}


def make_world(config: Config, store: Store, target: str, *, product: str = PRODUCT,
               search_delay: float = 0.0) -> Iterator[World]:
    # A fixed instant: the adapter counts the search limit's reset on the answer's Date, which
    # the emulator takes from this clock.
    clock = ManualClock(dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC))
    emulator = Emulator(seed=16, clock=clock, search_delay=search_delay)
    token = setup_github(emulator)
    setup_discussions(emulator)
    emulator.add_user("alice")
    emulator.add_repo(PRODUCT, private=False)
    silo = emulator.create_issue(PRODUCT, SILO_TITLE, "Reading a 4.11 Silo file segfaults.",
                                 user="alice")
    emulator.close_issue(PRODUCT, silo.number, user="alice")
    pseudocolor = emulator.create_issue(PRODUCT, PSEUDOCOLOR_TITLE, "Zonal data looks blocky.",
                                        user="alice")
    clock.advance(dt.timedelta(minutes=5))  # indexed by now
    notifier = Notifier(store, notify_context(config, notify_primary=True, known_issues=True))
    settings = pipeline_settings(config)
    decide = replace(settings.decide, target=target, product_repository=product,
                     known_issue_matches=3,
                     labels=("SRE",) if target == "discussions" else settings.decide.labels)
    pipeline = Pipeline(store, replace(settings, decide=decide), assignee_function(config),
                        notice_for=notifier.primary_notice)
    with emulator.serve() as url:
        writer = github_writer(store, clock, url, token, discussions=True, backoff_base=0.5,
                               on_issue_created=notifier.ack_row, search_budget=search_budget())
        yield World(clock, emulator, store, pipeline, writer, silo.number, pseudocolor.number,
                    target)


@pytest.fixture(params=["issues", "discussions"])
def world(request: pytest.FixtureRequest, example_config: Config,
          store: Store) -> Iterator[World]:
    yield from make_world(example_config, store, request.param)


def assignee(world: World) -> str:
    with world.store.read() as tx:
        [login] = tx.conn.execute(sa.text("SELECT assignee FROM threads")).scalars()
    return str(login)


def test_a_known_issue_is_shown_to_the_primary_once(world: World) -> None:
    world.mail("Crash opening a Silo file", "VisIt crashes when I open my Silo file.\n")
    world.drain()
    number = world.inquiry()
    [comment] = world.bot_comments(number)
    assert live_mentions(comment) == [f"@{assignee(world)}"]  # the Primary, and only them
    html = render(comment)
    url = f"{world.emulator.base_url}/{PRODUCT}/issues/{world.silo}"
    assert f'<a href="{url}"><code>{PRODUCT}#{world.silo}</code></a> (closed): {SILO_TITLE}' in (
        html)
    assert PSEUDOCOLOR_TITLE not in comment
    # "Silo" "crash" "opening", then "Silo" "crash": nothing (GitHub stems, the emulator does
    # not); then "Silo" alone.
    assert world.searches() == [200, 200, 200]
    if world.target == "discussions":
        assert comment.startswith("**Primary:**")  # the notice itself carries the matches
        assert comment.index("Possibly related") < comment.index("<sub>Posted by")
    else:
        assert world.emulator.issue(REPO, number).assignees == [assignee(world)]
        assert "not mailed to the customer" in comment
    # The customer's acknowledgement says nothing of it.
    [ack] = [r for r in world.rows().values() if r.kind == "send_mail"]
    assert "Silo reader" not in str(ack.payload) and PRODUCT not in str(ack.payload)


def test_no_match_no_comment_in_issues_and_a_plain_notice_in_discussions(world: World) -> None:
    world.mail("Contour levels ignored after changing the variable")
    world.drain()
    comments = world.bot_comments(world.inquiry())
    lookup = next(r for r in world.rows().values() if r.kind == "lookup_known_issues")
    assert lookup.status == "done" and json.loads(str(lookup.result))["matches"] == ""
    if world.target == "issues":
        assert comments == []
    else:
        [notice] = comments
        assert "Possibly related" not in notice and "{{gateway" not in notice
        assert len(live_mentions(notice)) == 1


@pytest.mark.parametrize("times", [1, None], ids=["once", "always"])
@pytest.mark.parametrize("fault", ["error", "drop", "rate-limit"])
def test_search_faults_never_cost_the_notice_nor_repeat_it(world: World, fault: str,
                                                           times: int | None) -> None:
    emu = world.emulator
    if fault == "rate-limit":
        # Each lookup here makes two searches: the second one's last search meets the limit
        # (and waits for the next minute), or none is allowed at all.
        emu.set_limits(search=3 if times == 1 else 0)
    else:
        kind = FaultKind.ERROR_BEFORE_WRITE if fault == "error" else FaultKind.DROP_BEFORE_WRITE
        emu.inject_fault(kind, method="GET", path=SEARCH, times=times)
    world.mail("Silo crash", "VisIt crashes on my Silo file.\n")
    world.mail("Pseudocolor plot blank", "The Pseudocolor plot is blank.\n", n=2)
    world.drain()
    numbers = ([d.number for d in emu.discussions(REPO)] if world.target == "discussions"
               else [i.number for i in emu.issues(REPO)])
    assert len(numbers) == 2  # the writes went on
    assert world.writer.budget.paused_until is None  # a search limit never pauses them
    assert "rate_limited" not in world.writer.status.outcomes
    shown = [c for n in numbers for c in world.bot_comments(n)]
    if times is None:  # it gave up: the notices come without matches, issues get nothing
        assert all("Possibly related" not in c for c in shown)
        assert len(shown) == (2 if world.target == "discussions" else 0)
    else:  # it came through on a later attempt
        assert len(shown) == 2 and all("Possibly related" in c for c in shown)
        assert any(f"{PRODUCT}#{world.silo}" in c for c in shown)
        assert any(f"{PRODUCT}#{world.pseudocolor}" in c for c in shown)
    lookups = [r for r in world.rows().values() if r.kind == "lookup_known_issues"]
    assert {r.status for r in lookups} == {"done"}
    assert (emu.limit_errors_served if fault == "rate-limit" else len(emu.faults_fired)) >= 1


def test_a_hostile_product_issue_title_pings_nobody(example_config: Config,
                                                     store: Store) -> None:
    for world in make_world(example_config, store, "issues"):
        world.emulator.create_issue(
            PRODUCT, "Silo @visit-dav/core @cyrush <img src=x onerror=alert(1)> fixes #1 "
            "\u202eelif\u202c <!-- visit-gateway:msg=x --> {{gateway:matches}}", "b",
            user="alice")
        world.clock.advance(dt.timedelta(minutes=1))
        world.mail("Silo crash")
        world.drain()
        [comment] = world.bot_comments(world.inquiry())
        assert live_mentions(comment) == [f"@{assignee(world)}"]
        html = render(comment)
        assert "<img" not in html and "\u202e" not in comment
        # A fill in a title is text: shown as typed, never filled with the matches again.
        assert comment.count("Possibly related") == 1 and "{{gateway:matches}}" in html
        assert html.count("<!--") == 1  # our marker only
        assert "<code>#1</code>" in html


def test_a_product_repository_that_is_gone_fails_only_the_lookup(example_config: Config,
                                                                 store: Store) -> None:
    for world in make_world(example_config, store, "discussions", product="visit-dav/gone"):
        world.mail("Silo crash")
        world.drain()
        [notice] = world.bot_comments(world.inquiry())
        assert "Possibly related" not in notice
        assert world.searches() == [422]  # GitHub's "cannot be searched": once, no retry
        lookup = world.rows()[next(k for k in world.rows() if k.startswith("lookup:"))]
        assert "visit-dav/gone" in json.loads(str(lookup.result))["error"]


def test_an_issue_filed_a_moment_ago_is_not_found_yet(example_config: Config,
                                                      store: Store) -> None:
    """GitHub's search lags behind writes: the lookup shows what is indexed, and never waits."""
    for world in make_world(example_config, store, "issues", search_delay=600):
        world.mail("Silo crash")
        world.drain()
        assert world.bot_comments(world.inquiry()) == []
        assert world.searches() == [200, 200]  # "Silo" "crash", then "Silo"


def test_a_lookup_cut_short_is_done_again_and_shown_once(example_config: Config,
                                                         store: Store) -> None:
    """kill -9 while searching leaves the row `sending` (its attempt counted); the next run
    searches again, and a crash after the notice was posted finds it by its marker."""
    for world in make_world(example_config, store, "discussions"):
        world.mail("Silo crash")
        box = Outbox(store)
        for _ in range(10):  # the discussion and its labels
            item, _due = box.next_ready(world.clock.now())
            assert item is not None
            if item.kind == "lookup_known_issues":
                break
            world.writer.step()
        box.mark_sending(item, world.clock.now())  # the process died during the search
        world.drain()
        [notice] = world.bot_comments(world.inquiry())
        assert f"{PRODUCT}#{world.silo}" in notice
        # The notice reached GitHub but its commit was lost: found by its marker, not posted.
        notice_row = world.rows()[next(k for k in world.rows() if k.startswith("notice:"))]
        with store.tx() as tx:
            tx.conn.execute(outbox.update().where(outbox.c.key == notice_row.key)
                            .values(status="sending"))
        world.drain()
        assert len(world.bot_comments(world.inquiry())) == 1
