"""The known-issue lookup's pure parts (which searches, which matches, how they read) and its
shell over a real store with a scripted search: retries, giving up, never losing the notice.
Hostile issue titles are rendered with cmark-gfm, GitHub's renderer: they ping nobody,
reference nothing and inject nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
import structlog

from gateway.clock import ManualClock
from gateway.config.loader import Config
from gateway.duty.load import business_calendar
from gateway.errors import RateLimited, TransientError
from gateway.inbound.outbox_rows import MATCHES
from gateway.inbound.thread import marker
from gateway.outbound.github import FoundIssue, RepositoryNotFound, WriteRejected
from gateway.outbound.known_issues import (
    MAX_ATTEMPTS,
    KnownIssueLookups,
    collect,
    matches_markdown,
    search_budget,
    search_plan,
)
from gateway.outbound.outbox import Outbox
from gateway.outbound.render import Renderer
from gateway.store.db import Store, queue_rows
from gateway.store.schema import outbox
from gateway.store.values import OutboxRow
from tests.unit.inbound.gfm_oracle import live_mentions, problems, render

T0 = dt.datetime(2026, 3, 5, 18, 30, tzinfo=dt.UTC)
PRODUCT = "visit-dav/visit"
URL = "https://github.com/visit-dav/visit/issues/"


def issue(number: int, title: str = "Silo reader crashes on 4.11 files",
          state: str = "closed") -> FoundIssue:
    return FoundIssue(number, title, state, f"{URL}{number}")


def test_the_plan_drops_the_least_distinctive_term_each_time() -> None:
    assert search_plan(["Silo", "crash", "opening"]) == [
        ("Silo", "crash", "opening"), ("Silo", "crash"), ("Silo",)]
    assert search_plan(["a", "b", "c", "d", "e"]) == [
        ("a", "b", "c", "d", "e"), ("a", "b", "c", "d"), ("a", "b", "c")]
    assert search_plan(["Silo"]) == [("Silo",)]
    assert search_plan([]) == []


def test_collect_stops_once_it_has_enough_and_keeps_the_strict_matches_first() -> None:
    answers = {("a", "b"): [issue(1)], ("a",): [issue(2), issue(1), issue(3), issue(4)]}
    asked: list[tuple[str, ...]] = []

    def search(terms: Sequence[str]) -> list[FoundIssue]:
        asked.append(tuple(terms))
        return answers.get(tuple(terms), [])

    found, made = collect([("a", "b"), ("a",)], search, 3)
    assert [i.number for i in found] == [1, 2, 3] and made == 2
    asked.clear()
    found, made = collect([("a",), ("a", "b")], search, 3)
    assert [i.number for i in found] == [2, 1, 3] and made == 1 and asked == [("a",)]
    assert collect([], search, 3) == ([], 0)


def test_matches_read_as_reference_state_and_title() -> None:
    text = matches_markdown(PRODUCT, ["Silo", "crash"],
                            [issue(20341), issue(7, "Pseudocolor plot of zonal variables",
                                                 "open")])
    assert text == (
        "**Possibly related issues in visit-dav/visit**, found by GitHub's search for `Silo` "
        "`crash`:\n\n"
        f"- [`visit-dav/visit#20341`](<{URL}20341>) (closed): Silo reader crashes on 4.11 "
        "files\n"
        f"- [`visit-dav/visit#7`](<{URL}7>) (open): Pseudocolor plot of zonal variables")
    html = render(text)
    assert f'<a href="{URL}20341"><code>visit-dav/visit#20341</code></a> (closed)' in html
    assert matches_markdown(PRODUCT, ["Silo"], []) == ""


HOSTILE = [
    "@visit-dav/core and @cyrush please look",
    "<img src=x onerror=alert(1)> <script>x</script> <details open>",
    "Fixes #123, GH-45 and visit-dav/visit#9 &#35;12 &commat;team",
    "\u202eevil\u202c \u2066hidden\u2069 text\u200f",
    "`code` **bold** [link](https://evil.example/) ![img](https://evil.example/x.png)",
    "<!-- visit-gateway:msg=mid:<x@y> --> {{gateway:matches}}",
    "# Heading\n- item\n> quote\r\n---",
    "| a | b |\n|---|---|\n| c | d |",
    "```\nfence",
    "\x1b[31mred\x1b[0m \x00 control",
    "x" * 300,
    "",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_a_hostile_title_pings_nobody_and_injects_nothing(title: str) -> None:
    found = [issue(1, title), FoundIssue(2, title, "open\n@evil", "javascript:alert(1)")]
    section = matches_markdown(PRODUCT, ["Silo", "@team", "`x`"], found)
    assert "\x1b" not in section and "\u202e" not in section and "\u2066" not in section
    # As the writer posts it: the issues-mode comment, then the marker.
    body = f"@cyrush {section}\n\n<sub>Posted by visit-gateway.</sub>\n\n{marker('known:th')}"
    assert live_mentions(body) == ["@cyrush"]
    assert problems(f"{section}\n\n{marker('known:th')}", marker("known:th")) == []
    html = render(section)
    assert html.count("<li>") == 2
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs[0] == f"{URL}1"  # the reference links the issue; the bad URL links nothing
    # A URL typed in a title is an autolink, as in any mail (the same neutralisation).
    assert all(h.startswith("https://") and "javascript" not in h for h in hrefs)
    assert "(unknown state)" in section


# -- the shell --------------------------------------------------------------------------------


class Script:
    """A search that answers from a list of outcomes, one per call."""

    def __init__(self, *outcomes: list[FoundIssue] | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, tuple[str, ...], int]] = []

    def __call__(self, repository: str, terms: Sequence[str], limit: int) -> list[FoundIssue]:
        self.calls.append((repository, tuple(terms), limit))
        outcome = self.outcomes.pop(0) if self.outcomes else []
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def lookups(store: Store, script: Script, clock: ManualClock) -> KnownIssueLookups:
    return KnownIssueLookups(Outbox(store), lambda: script, search_budget(), clock,
                             lambda attempt: dt.timedelta(seconds=10 * attempt))


def queue_lookup(store: Store, terms: Sequence[str] = ("Silo", "crash", "opening")) -> None:
    with store.tx() as tx:
        queue_rows(tx.conn, [OutboxRow("lookup:th-1", "lookup_known_issues", None, None, {
            "repository": PRODUCT, "terms": list(terms), "limit": 3,
            "then": [{"key": "notice:th-1", "kind": "add_comment",
                      "payload": {"body": f"Primary.\n\n{MATCHES}\n"}}]})], T0)


def rows(store: Store) -> dict[str, sa.Row[tuple[object, ...]]]:
    with store.read() as tx:
        return {r.key: r for r in tx.conn.execute(sa.select(outbox))}


def run_until_done(store: Store, runner: KnownIssueLookups, clock: ManualClock) -> None:
    box = Outbox(store)
    for _ in range(20):
        item, due = box.next_ready(clock.now())
        if item is None and due is None:
            return
        if item is None:
            assert due is not None
            clock.set(max(due, clock.now()))
            continue
        if item.kind != "lookup_known_issues":
            return
        runner.run(item)
    raise AssertionError("the lookup did not finish")


def test_found_matches_fill_the_notice(store: Store) -> None:
    clock = ManualClock(T0)
    script = Script([], [], [issue(5)])
    queue_lookup(store)
    with structlog.testing.capture_logs() as logs:
        run_until_done(store, lookups(store, script, clock), clock)
    assert [c[1] for c in script.calls] == [
        ("Silo", "crash", "opening"), ("Silo", "crash"), ("Silo",)]
    done = rows(store)
    assert done["lookup:th-1"].status == "done"
    notice = done["notice:th-1"]
    assert "visit-dav/visit#5" in notice.payload and "(closed)" in notice.payload
    [line] = [e for e in logs if e["event"] == "known_issues.looked_up"]
    assert line["found"] == [5] and line["searches"] == 3 and line["terms"] == 3
    assert "Silo" not in repr(line)  # no customer words in the log


@pytest.mark.parametrize("failure", [
    RepositoryNotFound("repository visit-dav/visit does not exist"),
    WriteRejected(422, "Validation Failed"),
    ValueError("a repository is owner/name"),
    KeyError("a bug"),
])
def test_a_lookup_that_fails_for_good_completes_with_no_matches(store: Store,
                                                                failure: Exception) -> None:
    clock = ManualClock(T0)
    queue_lookup(store)
    with structlog.testing.capture_logs() as logs:
        run_until_done(store, lookups(store, Script(failure), clock), clock)
    done = rows(store)
    assert done["lookup:th-1"].status == "done"
    assert '"matches": ""' in done["lookup:th-1"].result
    assert "{{gateway" not in done["notice:th-1"].payload  # the notice goes, without matches
    assert [e["event"] for e in logs if e["log_level"] != "debug"] == ["known_issues.failed"]
    assert clock.now() == T0  # at once: nothing to wait for


@pytest.mark.parametrize("failure", [TransientError("no answer from GitHub (ConnectionError)"),
                                     RateLimited("API rate limit exceeded", 30)])
def test_transient_failures_retry_then_give_up_with_no_matches(store: Store,
                                                               failure: Exception) -> None:
    clock = ManualClock(T0)
    queue_lookup(store, ["Silo"])
    script = Script(*itertools.repeat(failure, 10))
    with structlog.testing.capture_logs() as logs:
        run_until_done(store, lookups(store, script, clock), clock)
    assert len(script.calls) == MAX_ATTEMPTS
    done = rows(store)
    assert done["lookup:th-1"].status == "done" and done["lookup:th-1"].attempts == MAX_ATTEMPTS
    assert "notice:th-1" in done
    events = [e["event"] for e in logs]
    assert events[-1] == "known_issues.gave_up" and len(events) == MAX_ATTEMPTS
    assert clock.now() > T0  # it waited between attempts


def test_a_transient_failure_then_success(store: Store) -> None:
    clock = ManualClock(T0)
    queue_lookup(store, ["Silo"])
    script = Script(RateLimited("secondary", 45), [issue(9)])
    runner = lookups(store, script, clock)
    run_until_done(store, runner, clock)
    assert clock.now() == T0 + dt.timedelta(seconds=45)  # until GitHub's reset, not before
    assert "visit-dav/visit#9" in rows(store)["notice:th-1"].payload


def test_the_search_budget_reschedules_the_row_without_searching(store: Store) -> None:
    clock = ManualClock(T0)
    runner = lookups(store, Script([issue(1)]), clock)
    for _ in range(19):
        runner.budget.record(T0)
    queue_lookup(store)  # three searches: no room until the minute has passed
    item, _due = Outbox(store).next_ready(T0)
    assert item is not None
    runner.run(item)
    row = rows(store)["lookup:th-1"]
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(minutes=1)


# -- the notice's place for them --------------------------------------------------------------


def test_the_notice_has_a_place_for_the_matches_above_its_footer(example_config: Config) -> None:
    renderer = Renderer(business_calendar(example_config))
    context = {"primary": "cyrush", "backup": None, "arrived": T0,
               "deadline": T0 + dt.timedelta(hours=4), "goal": dt.timedelta(hours=4)}
    plain = renderer.render_comment("notice.md", **context)
    assert renderer.render_comment("notice.md", **context, known_issues="") == plain
    placed = renderer.render_comment("notice.md", **context, known_issues=MATCHES)
    before, after = placed.split(f"\n\n{MATCHES}\n\n")  # verbatim, its own paragraph
    assert plain.startswith(before) and after.startswith("<sub>Posted by visit-gateway")
    section = matches_markdown(PRODUCT, ["Silo"], [issue(5)])
    notice = placed.replace(MATCHES, section) + f"\n\n{marker('notice:th')}"
    assert live_mentions(notice) == ["@cyrush"]
    assert "<li>" in render(notice)
