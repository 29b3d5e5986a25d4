"""Tracking: webhook bodies to events, events to issue state, /spend lines, response metrics.

The webhook bodies are GitHub's own examples (shared/reference/github/webhooks, or `webhooks/`
under the folder GITHUB_REFERENCE_DIR names, as for every other test), adapted to this roster
and repository by editing the dicts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Person
from gateway.errors import PermanentError
from gateway.inbound.spend import Spend, parse_spend
from gateway.testing.reference import reference_dir
from gateway.tracking.events import CommentEvent, IssueEvent, parse_webhook
from gateway.tracking.payload import PayloadError
from gateway.tracking.rules import (
    Rules,
    TrackedIssue,
    apply,
    deadline,
    email_response,
    issue_opened_on_github,
    logins_by_email,
    met_goal,
    response_hours,
)

REFERENCE = reference_dir() / "webhooks"
LA = ZoneInfo("America/Los_Angeles")
UTC = dt.UTC
REPO = "visit-dav/live-customer-response"
NUMBER = 42
BOT = "markcmiller86-visit"
ALICE, BOB, CAROL = "alice-dev", "BobBuilder", "carol-w"
CUSTOMER, STRANGER = "dana-user", "eve-outsider"
PEOPLE = (Person("Alice Dev", "alice@llnl.gov", ALICE), Person("Bob Builder", "bob@llnl.gov", BOB),
          Person("Carol W", "Carol@LLNL.gov", CAROL))
RULES = Rules.from_people(BOT, PEOPLE)
LOGINS = logins_by_email(PEOPLE)
H = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # Monday 08:00 in Los Angeles
ARRIVED = TrackedIssue("t-1", NUMBER, T0, issue_author=BOT, assignee=ALICE)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Payloads

@cache
def _read(name: str) -> str:
    path = REFERENCE / name
    assert path.is_file(), (f"{path} is missing: point GITHUB_REFERENCE_DIR at GitHub's "
                            "reference data (shared/reference/github)")
    return path.read_text()


def load(name: str, **edits: Any) -> dict[str, Any]:
    """A reference body moved to our repository and roster, then `edits` (dotted path ->
    value; None deletes the key)."""
    body: dict[str, Any] = json.loads(_read(name))
    body["repository"]["full_name"] = REPO
    body["sender"]["login"] = ALICE
    issue = body.get("issue")
    if isinstance(issue, dict):
        issue["number"] = NUMBER
        issue["user"]["login"] = BOT
        for person in issue.get("assignees") or []:
            person["login"] = ALICE
        if issue.get("assignee"):
            issue["assignee"]["login"] = ALICE
    if isinstance(body.get("assignee"), dict):
        body["assignee"]["login"] = ALICE
    if "comment" in body:
        body["comment"]["user"]["login"] = ALICE
    for path, value in edits.items():
        set_path(body, path.replace("__", "."), value)
    return body


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value


def event_kind(name: str) -> str:
    return name.split(".")[0]


def comment(author: str, at: dt.datetime, action: str = "created", cid: int = 1,
            body: str = "Thanks, looking into it.") -> CommentEvent:
    return CommentEvent(action, NUMBER, cid, author, at, body, BOT, REPO)  # type: ignore[arg-type]


def issue_event(action: str, at: dt.datetime, *, author: str = BOT,
                assignees: tuple[str, ...] = (), labels: tuple[str, ...] = (),
                state: str = "open") -> IssueEvent:
    return IssueEvent(action, NUMBER, ALICE, at, author, T0, state,  # type: ignore[arg-type]
                      assignees, labels, REPO)


def test_every_reference_body_parses_or_is_ignored() -> None:
    names = sorted(p.name for p in REFERENCE.glob("*.json"))
    assert len(names) >= 40, f"expected GitHub's example bodies in {REFERENCE}"
    tracked = {"issues": IssueEvent, "issue_comment": CommentEvent}
    for name in names:
        kind, action = name.split(".")[:2]
        if kind in ("discussion", "discussion_comment"):
            continue  # test_discussion_events.py reads each of them
        event = parse_webhook(kind, load(name) if kind in tracked else json.loads(_read(name)))
        if kind not in tracked or action in ("locked", "unlocked", "pinned", "unpinned",
                                             "milestoned", "demilestoned"):
            assert event is None, name
            continue
        assert event is not None and isinstance(event, tracked[kind]), name
        assert (event.action, event.number, event.repository) == (action, NUMBER, REPO), name


CLOSED = {"action": "closed", "issue__state": "closed"}  # GitHub has no closed example
PARSED = [
    # file, edits, expected event
    ("issues.opened.15.json", {}, IssueEvent(
        "opened", NUMBER, ALICE, utc("2019-05-15T15:20:18Z"), BOT, utc("2019-05-15T15:20:18Z"),
        "open", (ALICE,), ("bug",), REPO)),
    ("issues.reopened.20.json", CLOSED, IssueEvent(
        "closed", NUMBER, ALICE, utc("2021-07-05T18:07:10Z"), BOT, utc("2021-07-05T18:05:24Z"),
        "closed", (ALICE,), ("bug",), REPO)),
    ("issues.reopened.20.json", {}, IssueEvent(
        "reopened", NUMBER, ALICE, utc("2021-10-11T16:40:56Z"), BOT,
        utc("2021-07-05T18:05:24Z"), "open", (ALICE,), ("bug",), REPO)),
    ("issues.assigned.1.json", {"assignee__login": BOB}, IssueEvent(
        "assigned", NUMBER, ALICE, utc("2019-05-15T15:20:18Z"), BOT, utc("2019-05-15T15:20:18Z"),
        "open", (ALICE, BOB), ("bug",), REPO)),
    # GitHub's example still lists the removed assignee and label: the named one is removed.
    ("issues.unassigned.22.json", {}, IssueEvent(
        "unassigned", NUMBER, ALICE, utc("2019-05-15T15:20:25Z"), BOT,
        utc("2019-05-15T15:20:18Z"), "open", (), ("bug",), REPO)),
    ("issues.labeled.9.json", {"label__name": "needs-info"}, IssueEvent(
        "labeled", NUMBER, ALICE, utc("2019-05-15T15:20:18Z"), BOT, utc("2019-05-15T15:20:18Z"),
        "open", (ALICE,), ("bug", "needs-info"), REPO)),
    ("issues.unlabeled.24.json", {}, IssueEvent(
        "unlabeled", NUMBER, ALICE, utc("2019-05-15T15:20:26Z"), BOT,
        utc("2019-05-15T15:20:18Z"), "open", (ALICE,), (), REPO)),
    ("issues.edited.0.json", {}, IssueEvent(
        "edited", NUMBER, ALICE, utc("2019-05-15T15:20:18Z"), BOT, utc("2019-05-15T15:20:18Z"),
        "open", (ALICE,), ("bug",), REPO)),
    ("issues.deleted.4.json", {}, IssueEvent(
        "deleted", NUMBER, ALICE, utc("2021-10-11T16:40:56Z"), BOT, utc("2021-07-05T18:05:24Z"),
        "closed", (ALICE,), ("bug",), REPO)),
    ("issues.transferred.21.json", {"changes__new_repository__full_name": "visit-dav/visit",
                                    "changes__new_issue__number": 19001}, IssueEvent(
        "transferred", NUMBER, ALICE, utc("2019-10-25T22:46:30Z"), BOT,
        utc("2019-10-25T22:45:54Z"), "open", (), (), REPO, 19001, "visit-dav/visit")),
    ("issue_comment.created.0.json", {}, CommentEvent(
        "created", NUMBER, 492700400, ALICE, utc("2019-05-15T15:20:21Z"),
        "You are totally right! I'll get this fixed right away.", BOT, REPO)),
    # An edit keeps the time the comment was first posted (updated_at is 15:20:22).
    ("issue_comment.edited.7.json", {}, CommentEvent(
        "edited", NUMBER, 492700400, ALICE, utc("2019-05-15T15:20:21Z"),
        "You are totally right! I'll get this fixed today.", BOT, REPO)),
    ("issue_comment.deleted.5.json", {}, CommentEvent(
        "deleted", NUMBER, 492700400, ALICE, utc("2019-05-15T15:20:21Z"),
        "You are totally right! I'll get this fixed today.", BOT, REPO)),
    ("issue_comment.created.1.json", {"comment__body": ""}, CommentEvent(
        "created", NUMBER, 492700400, ALICE, utc("2019-05-15T15:20:21Z"), "", BOT, REPO)),
    ("issue_comment.created.1.json", {"comment__created_at": "2026-03-02T08:05:00-08:00"},
     CommentEvent("created", NUMBER, 492700400, ALICE, minutes(5),
                  "You are totally right! I'll get this fixed right away.", BOT, REPO)),
]


@pytest.mark.parametrize(("name", "edits", "expected"), PARSED)
def test_parse_webhook(name: str, edits: dict[str, Any], expected: IssueEvent | CommentEvent
                       ) -> None:
    assert parse_webhook(event_kind(name), load(name, **edits)) == expected


IGNORED = [
    ("ping", json.loads(_read("ping.none.0.json"))),
    ("installation", json.loads(_read("installation.created.1.json"))),
    ("issues", load("issues.locked.11.json")),
    ("issues", load("issues.milestoned.13.json")),
    ("issues", load("issues.opened.15.json", action="typed")),
    ("issue_comment", load("issue_comment.created.0.json", action="pinned")),
    ("issue_comment", load("issue_comment.created.0.json", issue__pull_request={"url": "x"})),
    ("issues", load("issues.opened.15.json", issue__pull_request={"url": "x"})),
    ("pull_request", load("issues.opened.15.json")),
    ("push", {}),
]


@pytest.mark.parametrize(("kind", "body"), IGNORED)
def test_events_we_do_not_track_are_ignored(kind: str, body: dict[str, Any]) -> None:
    assert parse_webhook(kind, body) is None


BROKEN = [
    # file, edits, field named in the error
    ("issues.opened.15.json", {"action": None}, "action"),
    ("issues.opened.15.json", {"issue": None}, "issue"),
    ("issues.opened.15.json", {"issue": "42"}, "issue"),
    ("issues.opened.15.json", {"issue__number": None}, "issue.number"),
    ("issues.opened.15.json", {"issue__number": "42"}, "issue.number"),
    ("issues.opened.15.json", {"issue__number": True}, "issue.number"),
    ("issues.opened.15.json", {"issue__user": None}, "issue.user"),
    ("issues.opened.15.json", {"issue__user__login": ""}, "issue.user.login"),
    ("issues.opened.15.json", {"issue__created_at": None}, "issue.created_at"),
    ("issues.opened.15.json", {"issue__created_at": "yesterday"}, "issue.created_at"),
    ("issues.opened.15.json", {"issue__created_at": "2019-05-15T15:20:18"}, "issue.created_at"),
    ("issues.opened.15.json", {"issue__state": "merged"}, "issue.state"),
    ("issues.opened.15.json", {"issue__assignees": None}, "issue.assignees"),
    ("issues.opened.15.json", {"issue__assignees": "alice"}, "issue.assignees"),
    ("issues.opened.15.json", {"issue__assignees__0__login": None}, "issue.assignees.0.login"),
    ("issues.opened.15.json", {"issue__labels__0__name": None}, "issue.labels.0.name"),
    ("issues.opened.15.json", {"repository": None}, "repository"),
    ("issues.opened.15.json", {"sender__login": None}, "sender.login"),
    ("issues.reopened.20.json", {**CLOSED, "issue__closed_at": None}, "issue.closed_at"),
    ("issues.labeled.9.json", {"issue__updated_at": None}, "issue.updated_at"),
    ("issues.transferred.21.json", {"changes__new_issue": None}, "changes.new_issue"),
    ("issues.transferred.21.json", {"changes__new_repository": None}, "changes.new_repository"),
    ("issue_comment.created.0.json", {"comment": None}, "comment"),
    ("issue_comment.created.0.json", {"comment__id": None}, "comment.id"),
    ("issue_comment.created.0.json", {"comment__user": None}, "comment.user"),
    ("issue_comment.created.0.json", {"comment__created_at": "soon"}, "comment.created_at"),
    ("issue_comment.created.0.json", {"comment__body": 7}, "comment.body"),
    ("issue_comment.edited.7.json", {"issue__user__login": None}, "issue.user.login"),
]


@pytest.mark.parametrize(("name", "edits", "field"), BROKEN)
def test_missing_or_malformed_fields_raise_payload_error(name: str, edits: dict[str, Any],
                                                         field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_webhook(event_kind(name), load(name, **edits))
    assert caught.value.field == field
    assert field in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PermanentError)


def test_a_body_that_is_not_an_object_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        parse_webhook("issues", [])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# First response


def run(issue: TrackedIssue, *events: IssueEvent | CommentEvent) -> TrackedIssue:
    for event in events:
        issue = apply(issue, event, RULES)
    return issue


WITH_CUSTOMER = TrackedIssue("t-1", NUMBER, T0, issue_author=BOT,
                             customer_logins=frozenset({"Dana-User"}))
FIRST_RESPONSES = [
    # why, issue, comments (author, minutes), expected (by, minutes) or None
    ("a team member's comment", ARRIVED, [(ALICE, 30)], (ALICE, 30)),
    ("the bot never counts", ARRIVED, [(BOT, 5), (BOT.upper(), 6)], None),
    ("the bot's comment is skipped", ARRIVED, [(BOT, 5), (BOB, 50)], (BOB, 50)),
    ("a stranger is not on the team", ARRIVED, [(STRANGER, 5)], None),
    ("a customer on the team roster still does not count", TrackedIssue(
        "t-1", NUMBER, T0, issue_author=BOT, customer_logins=frozenset({ALICE})),
     [(ALICE, 5), (BOB, 70)], (BOB, 70)),
    ("customer logins compare without case", WITH_CUSTOMER, [(CUSTOMER, 5)], None),
    ("logins compare without case", ARRIVED, [(ALICE.upper(), 12)], (ALICE.upper(), 12)),
    ("earliest wins, in order", ARRIVED, [(BOB, 10), (ALICE, 20)], (BOB, 10)),
    ("earliest wins, out of order", ARRIVED, [(ALICE, 20), (BOB, 10)], (BOB, 10)),
    ("a tie goes to the smaller login", ARRIVED, [(CAROL, 10), (ALICE, 10)], (ALICE, 10)),
    ("a later reply by the same person changes nothing", ARRIVED, [(ALICE, 10), (ALICE, 90)],
     (ALICE, 10)),
]


@pytest.mark.parametrize(("why", "issue", "comments", "expected"), FIRST_RESPONSES,
                         ids=[row[0] for row in FIRST_RESPONSES])
def test_first_response(why: str, issue: TrackedIssue, comments: list[tuple[str, int]],
                        expected: tuple[str, int] | None) -> None:
    after = run(issue, *(comment(who, minutes(m), cid=i) for i, (who, m) in enumerate(comments)))
    got = (after.first_response_by, after.first_response_at)
    assert got == ((expected[0], minutes(expected[1])) if expected else (None, None))


def test_edits_and_deletes_never_undo_a_first_response() -> None:
    answered = run(ARRIVED, comment(ALICE, minutes(10), cid=7))
    for action in ("edited", "deleted"):
        assert apply(answered, comment(ALICE, minutes(10), action, cid=7), RULES) is answered
    # Reconcile may see only the edit or the deletion: the reply was still posted.
    assert run(ARRIVED, comment(ALICE, minutes(10), "deleted")).first_response_by == ALICE


def test_apply_returns_the_same_object_when_nothing_changes() -> None:
    assert apply(ARRIVED, comment(STRANGER, minutes(1)), RULES) is ARRIVED
    assert apply(ARRIVED, issue_event("edited", minutes(1)), RULES) is ARRIVED
    assert apply(ARRIVED, issue_event("opened", T0), RULES) is ARRIVED
    assert apply(ARRIVED, issue_event("assigned", T0, assignees=(ALICE,)), RULES) is ARRIVED


def test_apply_fills_in_an_unknown_issue_author() -> None:
    bare = TrackedIssue("t-1", NUMBER, T0)
    assert apply(bare, issue_event("edited", T0), RULES).issue_author == BOT
    assert apply(bare, comment(STRANGER, minutes(1)), RULES).issue_author == BOT


def test_an_event_for_another_issue_is_a_wiring_error() -> None:
    other = TrackedIssue("t-2", NUMBER + 1, T0)
    with pytest.raises(ValueError, match="#42 applied to #43"):
        apply(other, comment(ALICE, minutes(1)), RULES)


TEAM_EMAILS = ["alice@llnl.gov", "BOB@llnl.gov", "carol@llnl.gov"]
Step = tuple[str, str, int, int]  # ("comment", author, minutes, comment id) or ("email", address)
steps = st.one_of(
    st.tuples(st.just("comment"),
              st.sampled_from([ALICE, ALICE.upper(), BOB, CAROL, BOT, CUSTOMER, STRANGER]),
              st.integers(0, 600), st.integers(1, 4)),
    st.tuples(st.just("email"), st.sampled_from([*TEAM_EMAILS, "dana@example.com"]),
              st.integers(0, 600), st.just(0)),
)


def replay(issue: TrackedIssue, order: tuple[Step, ...]) -> TrackedIssue:
    for kind, who, at, cid in order:
        if kind == "comment":
            action = ("created", "edited", "deleted")[cid % 3]
            issue = apply(issue, comment(who, minutes(at), action, cid), RULES)
        else:
            issue = email_response(issue, who, minutes(at), RULES, LOGINS)
    return issue


@settings(max_examples=60, deadline=None)
@given(st.lists(steps, max_size=5))
def test_first_response_does_not_depend_on_order_or_repeats(given_steps: list[Step]) -> None:
    issue = TrackedIssue("t-1", NUMBER, T0, issue_author=BOT,
                         customer_logins=frozenset({CUSTOMER}))
    results = {replay(issue, order) for order in itertools.permutations(given_steps)}
    assert len(results) == 1
    (result,) = results
    assert replay(issue, (*given_steps, *given_steps)) == result
    # ... and it is the earliest reply from the team, ties to the smaller login.
    candidates = [(minutes(at), who.casefold(), who) for kind, who, at, _ in given_steps
                  if kind == "comment" and who.casefold() in (ALICE, BOB.casefold(), CAROL)]
    candidates += [(minutes(at), LOGINS[a.casefold()].casefold(), LOGINS[a.casefold()])
                   for kind, a, at, _ in given_steps if kind == "email" and a in TEAM_EMAILS]
    expected = min(candidates, default=None)
    assert (result.first_response_at, result.first_response_by) == (
        (expected[0], expected[2]) if expected else (None, None))


# ---------------------------------------------------------------------------------------------
# Close, reopen, assignment, labels

STATE_CHANGES = [
    # why, (action, hour) steps, expected (state, resolved hour, reopened count)
    ("close", [("closed", 3)], ("closed", 3, 0)),
    ("close, reopen, close", [("closed", 3), ("reopened", 5), ("closed", 8)], ("closed", 8, 1)),
    ("close, reopen, close, reopen", [("closed", 3), ("reopened", 5), ("closed", 8),
                                      ("reopened", 9)], ("open", None, 2)),
    ("a repeated close", [("closed", 3), ("closed", 3)], ("closed", 3, 0)),
    ("resolved is the latest close", [("closed", 3), ("closed", 6)], ("closed", 6, 0)),
    ("... whatever the order", [("closed", 6), ("closed", 3)], ("closed", 6, 0)),
    ("reopening an open issue", [("reopened", 2)], ("open", None, 0)),
    ("a repeated reopen counts once", [("closed", 3), ("reopened", 5), ("reopened", 5)],
     ("open", None, 1)),
    ("a reopen older than the close is stale", [("closed", 6), ("reopened", 5)],
     ("closed", 6, 0)),
]


@pytest.mark.parametrize(("why", "changes", "expected"), STATE_CHANGES,
                         ids=[row[0] for row in STATE_CHANGES])
def test_close_and_reopen(why: str, changes: list[tuple[str, int]],
                          expected: tuple[str, int | None, int]) -> None:
    after = run(ARRIVED, *(issue_event(a, minutes(60 * h)) for a, h in changes))
    state, resolved, reopened = expected
    assert after.state == state
    assert after.resolved_at == (None if resolved is None else minutes(60 * resolved))
    assert after.reopened_count == reopened
    assert after.first_response_at is None  # resolution is not a response


def test_close_and_reopen_from_reference_bodies() -> None:
    closed = parse_webhook("issues", load("issues.reopened.20.json", **CLOSED))
    reopened = parse_webhook("issues", load("issues.reopened.20.json"))
    assert isinstance(closed, IssueEvent) and isinstance(reopened, IssueEvent)
    assert run(ARRIVED, closed).resolved_at == utc("2021-07-05T18:07:10Z")
    after = run(ARRIVED, closed, reopened)
    assert (after.state, after.resolved_at, after.reopened_count) == ("open", None, 1)
    assert apply(after, reopened, RULES) is after  # a repeat, or reconcile came first


def test_a_late_repeat_of_a_close_recloses_so_the_store_must_deduplicate() -> None:
    """Close and reopen follow arrival order: `apply` keeps no reopen time to compare with."""
    close, reopen = issue_event("closed", minutes(60)), issue_event("reopened", minutes(90))
    after = run(ARRIVED, close, reopen, close)
    assert (after.state, after.resolved_at, after.reopened_count) == ("closed", minutes(60), 1)


BEFORE = replace(ARRIVED, assignee=CAROL, labels=("bug", "stale"))
PEOPLE_AND_LABELS = [
    # why, file, edits, expected (assignee, labels); the labels come from the event's issue
    ("assigned", "issues.assigned.1.json", {}, (ALICE, ("bug", "stale"))),
    ("the first assignee", "issues.assigned.1.json",
     {"issue__assignees": [{"login": BOB}], "assignee__login": CAROL}, (BOB, ("bug", "stale"))),
    ("unassigned", "issues.unassigned.22.json", {}, (None, ("bug", "stale"))),
    ("unassigned, another remains", "issues.unassigned.22.json",
     {"issue__assignees": [{"login": BOB}], "assignee__login": ALICE}, (BOB, ("bug", "stale"))),
    ("labeled", "issues.labeled.10.json", {"label__name": "question"},
     (CAROL, ("bug", "question"))),
    ("unlabeled", "issues.unlabeled.25.json", {}, (CAROL, ())),
]


@pytest.mark.parametrize(("why", "name", "edits", "expected"), PEOPLE_AND_LABELS,
                         ids=[row[0] for row in PEOPLE_AND_LABELS])
def test_assignment_and_labels(why: str, name: str, edits: dict[str, Any],
                               expected: tuple[str | None, tuple[str, ...]]) -> None:
    event = parse_webhook("issues", load(name, **edits))
    assert event is not None
    after = apply(BEFORE, event, RULES)
    assert (after.assignee, after.labels) == expected


def test_transfer_and_delete_leave_the_state_to_the_caller() -> None:
    for name in ("issues.transferred.21.json", "issues.deleted.4.json"):
        event = parse_webhook("issues", load(name))
        assert event is not None
        assert apply(ARRIVED, event, RULES) is ARRIVED


# ---------------------------------------------------------------------------------------------
# Replies by email, issues opened on GitHub

EMAILS = [
    # why, start, sender, minutes, expected (by, minutes) or None
    ("a team member's email", ARRIVED, "alice@llnl.gov", 20, (ALICE, 20)),
    ("addresses compare without case", ARRIVED, " Alice@LLNL.GOV ", 20, (ALICE, 20)),
    ("roster emails compare without case", ARRIVED, "carol@llnl.gov", 20, (CAROL, 20)),
    ("a customer's email", ARRIVED, "dana@example.com", 20, None),
    ("earlier than the GitHub reply", run(ARRIVED, comment(BOB, minutes(30))),
     "alice@llnl.gov", 20, (ALICE, 20)),
    ("later than the GitHub reply", run(ARRIVED, comment(BOB, minutes(30))),
     "alice@llnl.gov", 40, (BOB, 30)),
]


@pytest.mark.parametrize(("why", "issue", "sender", "at", "expected"), EMAILS,
                         ids=[row[0] for row in EMAILS])
def test_email_response(why: str, issue: TrackedIssue, sender: str, at: int,
                        expected: tuple[str, int] | None) -> None:
    after = email_response(issue, sender, minutes(at), RULES, LOGINS)
    got = (after.first_response_by, after.first_response_at)
    assert got == ((expected[0], minutes(expected[1])) if expected else (None, None))
    if expected is None:
        assert after is issue


def test_a_team_address_without_a_login_is_recorded_by_address() -> None:
    rules = Rules(BOT, frozenset({ALICE}), frozenset({"helper@llnl.gov"}))
    after = email_response(ARRIVED, "Helper@llnl.gov", minutes(5), rules, {})
    assert after.first_response_by == "helper@llnl.gov"


def opened_by(author: str, **edits: Any) -> IssueEvent:
    event = parse_webhook("issues", load("issues.opened.15.json", issue__user__login=author,
                                         issue__created_at="2026-03-02T16:00:00Z", **edits))
    assert isinstance(event, IssueEvent)
    return event


def test_an_issue_a_customer_opened_on_github() -> None:
    issue = issue_opened_on_github(opened_by(CUSTOMER), "t-9", RULES)
    assert issue == TrackedIssue("t-9", NUMBER, T0, issue_author=CUSTOMER,
                                 customer_logins=frozenset({CUSTOMER}), assignee=ALICE,
                                 labels=("bug",))
    issue = run(issue, comment(CUSTOMER, minutes(2)), comment(STRANGER, minutes(3)))
    assert issue.first_response_at is None
    assert run(issue, comment(BOB, minutes(45))).first_response_by == BOB


def test_a_call_written_up_by_a_team_member() -> None:
    """The write-up (the issue body) is not a response; the first later team comment is,
    the author's own included: they are the one talking to the customer."""
    issue = issue_opened_on_github(opened_by(BOB), "t-9", RULES)
    assert (issue.arrived_at, issue.issue_author, issue.customer_logins) == (T0, BOB, frozenset())
    assert issue.first_response_at is None
    assert run(issue, comment(BOB, minutes(30)), comment(ALICE, minutes(20))
               ).first_response_by == ALICE
    assert run(issue, comment(BOB, minutes(30))).first_response_by == BOB


def test_an_issue_first_seen_through_a_later_event() -> None:
    closed = parse_webhook("issues", load("issues.reopened.20.json", **CLOSED))
    assert isinstance(closed, IssueEvent)
    issue = issue_opened_on_github(closed, "t-9", RULES)
    assert (issue.state, issue.resolved_at) == ("closed", utc("2021-07-05T18:07:10Z"))
    assert issue.arrived_at == utc("2021-07-05T18:05:24Z")
    assert issue.customer_logins == frozenset()  # the bot opened it


# ---------------------------------------------------------------------------------------------
# /spend

AT = dt.datetime(2026, 3, 5, 6, 30, tzinfo=UTC)  # Wednesday 22:30 in Los Angeles
WED = dt.date(2026, 3, 4)
SPENDS = [
    # why, body, expected spends (minutes, day), expected problem reasons (substring)
    ("hours and minutes", "/spend 1h30m", [(90, WED)], []),
    ("minutes", "/spend 45m", [(45, WED)], []),
    ("hours", "/spend 2h", [(120, WED)], []),
    ("a day is 8 hours", "/spend 1d", [(480, WED)], []),
    ("a week is 5 days", "/spend 1w", [(2400, WED)], []),
    ("combined", "/spend 1d2h30m", [(630, WED)], []),
    ("combined with spaces", "/spend 1h 30m", [(90, WED)], []),
    ("upper case units", "/spend 1H", [(60, WED)], []),
    ("a correction", "/spend -30m", [(-30, WED)], []),
    ("with the day", "/spend 1h 2026-03-02", [(60, dt.date(2026, 3, 2))], []),
    ("the comment's own day", "/spend 1h 2026-03-04", [(60, WED)], []),
    ("the /spent alias", "/spent 20m", [(20, WED)], []),
    ("several lines", "Looked at the logs.\r\n/spend 1h\n\n  /spend 15m 2026-03-03\nbye",
     [(60, WED), (15, dt.date(2026, 3, 3))], []),
    ("not at the start of a line", "I will /spend 1h on this", [], []),
    ("another word", "/spending 1h\n/spend: 1h", [], []),
    ("an indented code block", "    /spend 1h", [], []),
    ("a fenced block", "```\n/spend 1h\n```\n/spend 5m", [(5, WED)], []),
    ("a tilde fence with an info string", "~~~ text\n/spend 1h\n~~~\n/spend 5m", [(5, WED)], []),
    ("a shorter fence does not close", "````\n/spend 1h\n```\n/spend 2h\n````\n/spend 3m",
     [(3, WED)], []),
    ("the other fence does not close", "```\n/spend 1h\n~~~\n/spend 2h\n```\n/spend 3m",
     [(3, WED)], []),
    ("an unclosed fence runs to the end", "```\n/spend 1h\n/spend 2h", [], []),
    ("quoted lines", "> /spend 1h\n>/spend 2h\n  > /spend 3h\n/spend 4m", [(4, WED)], []),
    ("no duration", "/spend", [], ["no duration"]),
    ("only a day", "/spend 2026-03-02", [], ["no duration"]),
    ("decimals", "/spend 1.5h", [], ["cannot read"]),
    ("a missing unit", "/spend 90", [], ["cannot read"]),
    ("an unknown unit", "/spend 1hr", [], ["unknown unit 'hr'"]),
    ("months are not supported", "/spend 1mo", [], ["unknown unit 'mo'"]),
    ("units out of order", "/spend 30m1h", [], ["largest first"]),
    ("a unit twice", "/spend 1h 1h", [], ["largest first"]),
    ("zero", "/spend 0h", [], ["zero"]),
    ("a double sign", "/spend --1h", [], ["cannot read"]),
    ("trailing words", "/spend 1h reading logs", [], ["cannot read"]),
    ("not a date", "/spend 1h 2026-02-30", [], ["2026-02-30 is not a date"]),
    ("a day after the comment", "/spend 1h 2026-03-05", [], ["after the day of the comment"]),
    ("good and bad lines", "/spend 1h\n/spend lots\n/spend 10m", [(60, WED), (10, WED)],
     ["cannot read"]),
]


@pytest.mark.parametrize(("why", "body", "spends", "problems"), SPENDS,
                         ids=[row[0] for row in SPENDS])
def test_parse_spend(why: str, body: str, spends: list[tuple[int, dt.date]],
                     problems: list[str]) -> None:
    got, bad = parse_spend(body, AT, LA)
    assert got == tuple(Spend(m, d) for m, d in spends)
    assert len(bad) == len(problems)
    for problem, reason in zip(bad, problems, strict=True):
        assert reason in problem.reason
        assert problem.line.startswith("/spend")


def test_spend_problems_quote_the_line() -> None:
    _, (problem,) = parse_spend("ok\n   /spend 1.5h  \n", AT, LA)
    assert problem.line == "/spend 1.5h"


# ---------------------------------------------------------------------------------------------
# Response metrics (BusinessCalendar defaults: Los Angeles, 08-12 and 13-17, Monday-Friday)

CAL = BusinessCalendar()


def la(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LA)


FRI, SAT, SUN, MON = (dt.date(2026, 2, 27) + dt.timedelta(days=n) for n in range(4))
METRICS = [
    # why, arrival, response, expected hours, met
    ("Friday afternoon to Monday morning", la(FRI, 15), la(MON, 9), 3.0, True),
    ("across the weekend, too late", la(FRI, 16), la(MON, 11, 30), 4.5, False),
    ("exactly the goal meets it", la(FRI, 15), la(MON, 10), 4.0, True),
    ("weekend arrival and reply", la(SAT, 10), la(SUN, 12), 0.0, True),
    ("weekend arrival counts from Monday 08:00", la(SAT, 10), la(MON, 12), 4.0, True),
    ("after the deadline's wall time, no more business time", la(FRI, 13), la(FRI, 17, 30),
     4.0, True),
    ("lunch does not count", la(FRI, 11, 30), la(FRI, 13, 30), 1.0, True),
]


@pytest.mark.parametrize(("why", "arrival", "reply", "hours", "met"), METRICS,
                         ids=[row[0] for row in METRICS])
def test_response_metrics(why: str, arrival: dt.datetime, reply: dt.datetime, hours: float,
                          met: bool) -> None:
    issue = email_response(TrackedIssue("t-1", NUMBER, arrival), "alice@llnl.gov", reply, RULES,
                           LOGINS)
    assert response_hours(issue, CAL) == pytest.approx(hours)
    assert met_goal(issue, CAL) is met


DEADLINES = [
    (la(FRI, 15), la(MON, 10)),
    (la(FRI, 18), la(MON, 12)),
    (la(SAT, 10), la(MON, 12)),
    (la(FRI, 13), la(FRI, 17)),
    (la(FRI, 9), la(FRI, 14)),
]


@pytest.mark.parametrize(("arrival", "due"), DEADLINES)
def test_deadline(arrival: dt.datetime, due: dt.datetime) -> None:
    issue = TrackedIssue("t-1", NUMBER, arrival)
    assert deadline(issue, CAL) == due
    assert deadline(issue, CAL, dt.timedelta(hours=1)) == CAL.add_business(arrival, 1 * H)



def test_unanswered_issues() -> None:
    issue = TrackedIssue("t-1", NUMBER, la(FRI, 15))
    assert response_hours(issue, CAL) is None
    assert met_goal(issue, CAL) is None
    assert met_goal(issue, CAL, now=la(SUN, 12)) is None  # 2 business hours so far
    assert met_goal(issue, CAL, now=la(MON, 10)) is None  # exactly the goal: still possible
    assert met_goal(issue, CAL, now=la(MON, 10, 1)) is False
    assert met_goal(issue, CAL, 8 * H, now=la(MON, 10, 1)) is None


# ---------------------------------------------------------------------------------------------
# Values


def test_values_reject_naive_times_and_half_set_responses() -> None:
    naive = dt.datetime(2026, 3, 2, 8)
    with pytest.raises(ValueError, match="aware"):
        TrackedIssue("t-1", NUMBER, naive)
    with pytest.raises(ValueError, match="set together"):
        TrackedIssue("t-1", NUMBER, T0, first_response_at=T0)
    with pytest.raises(ValueError, match="open or closed"):
        TrackedIssue("t-1", NUMBER, T0, state="pending")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        comment(ALICE, naive)
    with pytest.raises(ValueError, match="aware"):
        issue_event("closed", naive)
    with pytest.raises(ValueError, match="aware"):
        parse_spend("/spend 1h", naive, LA)
    with pytest.raises(ValueError, match="aware"):
        email_response(ARRIVED, "alice@llnl.gov", naive, RULES, LOGINS)


def test_rules_compare_without_case() -> None:
    rules = Rules("Visit-Bot", frozenset({"Alice-Dev", ""}), frozenset({" Alice@LLNL.gov"}))
    assert rules == Rules("visit-bot", frozenset({"alice-dev"}), frozenset({"alice@llnl.gov"}))
    assert rules.is_team("ALICE-DEV") and rules.is_bot("VISIT-BOT")
    assert not rules.is_team("visit-bot")
    assert LOGINS == {"alice@llnl.gov": ALICE, "bob@llnl.gov": BOB, "carol@llnl.gov": CAROL}
