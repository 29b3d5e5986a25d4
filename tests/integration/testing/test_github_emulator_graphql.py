"""The GitHub emulator's `POST /graphql` (discussions) over real HTTP, against GitHub's schema.

Clients: PyGithub's `requester.graphql_query` (as the gateway will send GraphQL) and `requests`
where a test needs the raw status and body. Every document below is one of the design's
(issue 15, §1); answers are checked for errors and for fields the emulator does not serve, and
webhook bodies against the reference deliveries in the shared data.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import github
import pytest
import requests
from aiohttp import web

from gateway.outbound.discussion_documents import (
    ADD_DISCUSSION_COMMENT as ADD_COMMENT,
)
from gateway.outbound.discussion_documents import (
    ADD_LABELS,
    ADD_REACTION,
    COMMENT_REPLIES,
    CREATE_DISCUSSION,
    DISCUSSION_COMMENTS,
    DISCUSSION_TARGET,
    LABEL_BY_NAME,
    RECENT_DISCUSSIONS,
)
from gateway.testing.github_emulator import Emulator, FaultKind, serve_app
from gateway.testing.github_emulator.actions_discussions import GraphQLFailure
from gateway.testing.github_emulator.model import Token
from gateway.testing.reference import reference_dir

from .test_github_emulator import World as RestWorld

pytestmark = pytest.mark.integration

REPO = "acme/visit-users"
OWNER, NAME = REPO.split("/")
BOT, ALICE, CAROL, BOB, MALLORY = "visit-bot", "alice", "carol", "bob", "mallory"
SECRET = "It's a Secret to Everybody"

# -- the design's documents (issue 15 §1; docs/design/discussions.md) ------------------------------

# The documents the gateway itself sends (gateway/outbound/discussion_documents.py), and the
# design's others below: the emulator is tested with exactly what the client asks.
FRAGMENTS = """
fragment DiscussionState on Discussion {
  id number url title createdAt updatedAt closed closedAt stateReason
  isAnswered answerChosenAt answerChosenBy { __typename login } answer { id databaseId }
  author { __typename login } category { id name } repository { nameWithOwner }
  labels(first: 20) { nodes { name } }
  comments(last: 30) { totalCount pageInfo { hasPreviousPage startCursor }
    nodes { ...CommentFields isAnswer
      replies(last: 10) { totalCount pageInfo { hasPreviousPage startCursor }
                          nodes { ...CommentFields } } } }
}
fragment CommentFields on DiscussionComment {
  id databaseId url createdAt updatedAt author { __typename login } replyTo { id databaseId }
}"""
DISCUSSIONS_SINCE = (
    """
query DiscussionsSince($owner: String!, $name: String!, $categoryId: ID, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: 25, after: $after, categoryId: $categoryId,
                orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }  nodes { ...DiscussionState } } }
  rateLimit { cost remaining resetAt }
}"""
    + FRAGMENTS
)
TRACKED_DISCUSSIONS = (
    """
query TrackedDiscussions($ids: [ID!]!) {
  nodes(ids: $ids) { __typename ... on Discussion { ...DiscussionState } }
  rateLimit { cost remaining resetAt }
}"""
    + FRAGMENTS
)
MARK_ANSWER = """
mutation MarkAnswer($input: MarkDiscussionCommentAsAnswerInput!) {
  markDiscussionCommentAsAnswer(input: $input) {
    discussion { id isAnswered answerChosenAt answer { id databaseId } } } }"""
UNMARK_ANSWER = """
mutation UnmarkAnswer($input: UnmarkDiscussionCommentAsAnswerInput!) {
  unmarkDiscussionCommentAsAnswer(input: $input) { discussion { id isAnswered } } }"""
CLOSE_DISCUSSION = """
mutation CloseDiscussion($input: CloseDiscussionInput!) {
  closeDiscussion(input: $input) { discussion { id closed closedAt stateReason } } }"""
REOPEN_DISCUSSION = """
mutation ReopenDiscussion($input: ReopenDiscussionInput!) {
  reopenDiscussion(input: $input) { discussion { id closed stateReason } } }"""
REMOVE_LABELS = """
mutation RemoveLabels($input: RemoveLabelsFromLabelableInput!) {
  removeLabelsFromLabelable(input: $input) { labelable { __typename } } }"""
RATE_LIMIT = "query RateLimit { rateLimit { limit cost remaining used resetAt } }"


# -- the world ------------------------------------------------------------------------------------


class World(RestWorld):
    """The REST tests' world (PyGithub as the gateway uses it), plus GraphQL."""

    def gql(self, document: str, variables: dict[str, Any] | None = None, login: str = BOT) -> Any:
        """Through PyGithub: the `data`, or PyGithub's exception."""
        _, body = self.client(login).requester.graphql_query(document, variables or {})
        return body["data"]

    def post(
        self, document: str, variables: dict[str, Any] | None = None, login: str | None = BOT
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[login]}"} if login else {}
        return requests.post(
            f"{self.url}/graphql",
            json={"query": document, "variables": variables or {}},
            headers=headers,
            timeout=10,
        )

    def ids(self) -> dict[str, str]:
        target = self.gql(DISCUSSION_TARGET, {"owner": OWNER, "name": NAME})["repository"]
        cats = {c["name"]: c["id"] for c in target["discussionCategories"]["nodes"]}
        label = self.gql(LABEL_BY_NAME, {"owner": OWNER, "name": NAME, "label": "SRE"})
        return {"repo": target["id"], "qa": cats["Q&A"], "sre": label["repository"]["label"]["id"]}

    def create(self, title: str = "Visit", body: str = "hello", login: str = BOT) -> Any:
        ids = self.ids()
        data = self.gql(
            CREATE_DISCUSSION,
            {
                "input": {
                    "repositoryId": ids["repo"],
                    "categoryId": ids["qa"],
                    "title": title,
                    "body": body,
                }
            },
            login,
        )
        return data["createDiscussion"]["discussion"]

    def comment(self, discussion_id: str, body: str, reply_to: str | None = None) -> Any:
        data = self.gql(
            ADD_COMMENT,
            {"input": {"discussionId": discussion_id, "body": body, "replyToId": reply_to}},
        )
        return data["addDiscussionComment"]["comment"]


@pytest.fixture
def world(github_emulator: Emulator) -> Iterator[World]:
    emu = github_emulator
    emu.add_repo(REPO)
    emu.add_repo("acme/other")
    for login, role in ((BOT, "write"), (ALICE, "write"), (CAROL, "triage"), (BOB, "read")):
        emu.add_collaborator(REPO, login, role)
    emu.enable_discussions(REPO)
    emu.add_discussion_category(REPO, "Q&A", answerable=True)
    emu.add_discussion_category(REPO, "General", answerable=False)
    emu.add_label(REPO, "SRE")
    emu.add_label(REPO, "wontfix")
    emu.enable_discussions("acme/other")
    emu.add_discussion_category("acme/other", "Q&A")
    emu.add_label("acme/other", "SRE")
    tokens = {login: emu.add_token(login) for login in (BOT, ALICE, CAROL, BOB, MALLORY)}
    assert emu.base_url is not None
    w = World(emu, emu.base_url, tokens)
    yield w
    assert emu.graphql_unimplemented() == []  # nothing asked for was silently missing
    for client in w.clients:
        client.close()


def errors_of(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    errors: list[dict[str, Any]] = body["errors"]
    return errors


# -- every operation of the design ----------------------------------------------------------------


def test_every_design_operation_runs_against_the_schema(world: World) -> None:
    target = world.gql(DISCUSSION_TARGET, {"owner": OWNER, "name": NAME})
    repo = target["repository"]
    assert repo["nameWithOwner"] == REPO and repo["hasDiscussionsEnabled"] is True
    assert repo["viewerPermission"] == "WRITE"
    assert repo["id"].startswith("R_kgDO")
    cats = repo["discussionCategories"]["nodes"]
    assert [(c["name"], c["slug"], c["isAnswerable"]) for c in cats] == [
        ("Q&A", "q-a", True),
        ("General", "general", False),
    ]
    assert repo["discussionCategories"]["pageInfo"]["hasNextPage"] is False
    assert target["rateLimit"]["cost"] == 1 and target["rateLimit"]["limit"] == 5000

    ids = world.ids()
    assert ids["sre"].startswith("LA_kwDO")
    world.emulator.create_issue(REPO, "an issue first", user=ALICE)  # numbers are shared
    created = world.create(body="<!-- marker -->")
    assert created["number"] == 2 and created["id"].startswith("D_kwDO")
    assert created["url"] == f"{world.url}/{REPO}/discussions/2"

    labeled = world.gql(
        ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [ids["sre"]]}}
    )
    labelable = labeled["addLabelsToLabelable"]["labelable"]
    assert labelable == {
        "__typename": "Discussion",
        "number": 2,
        "labels": {"nodes": [{"name": "SRE"}]},
    }

    top = world.comment(created["id"], "mail one")
    assert top["id"].startswith("DC_kwDO") and top["replyTo"] is None
    assert top["url"].endswith(f"/discussions/2#discussioncomment-{top['databaseId']}")
    human = world.emulator.discussion_comment(
        REPO, 2, "a human reply", user=ALICE, reply_to=top["databaseId"]
    )
    reply = world.comment(created["id"], "bot reply", reply_to=top["id"])
    assert reply["replyTo"] == {"id": top["id"]}

    recent = world.gql(RECENT_DISCUSSIONS, {"owner": OWNER, "name": NAME})["repository"]
    node = recent["discussions"]["nodes"][0]
    assert node["body"] == "<!-- marker -->"
    assert node["author"] == {"__typename": "User", "login": BOT}

    thread = world.gql(DISCUSSION_COMMENTS, {"owner": OWNER, "name": NAME, "number": 2})
    comments = thread["repository"]["discussion"]["comments"]["nodes"]
    assert [c["body"] for c in comments] == ["mail one"]  # top-level only
    replies = comments[0]["replies"]["nodes"]
    assert [(r["body"], r["databaseId"]) for r in replies] == [
        ("a human reply", human.id),
        ("bot reply", reply["databaseId"]),
    ]
    again = world.gql(COMMENT_REPLIES, {"id": top["id"]})["node"]
    assert again["__typename"] == "DiscussionComment"
    assert [r["body"] for r in again["replies"]["nodes"]] == ["a human reply", "bot reply"]

    marked = world.gql(MARK_ANSWER, {"input": {"id": top["id"]}})["markDiscussionCommentAsAnswer"]
    assert marked["discussion"]["isAnswered"] is True
    assert marked["discussion"]["answer"]["databaseId"] == top["databaseId"]

    since = world.gql(DISCUSSIONS_SINCE, {"owner": OWNER, "name": NAME, "categoryId": ids["qa"]})
    state = since["repository"]["discussions"]["nodes"][0]
    assert state["number"] == 2 and state["isAnswered"] is True
    assert state["answerChosenBy"] == {"__typename": "User", "login": BOT}
    assert state["category"] == {"id": ids["qa"], "name": "Q&A"}
    assert state["labels"]["nodes"] == [{"name": "SRE"}]
    assert state["comments"]["totalCount"] == 1
    assert state["comments"]["nodes"][0]["isAnswer"] is True
    assert state["comments"]["nodes"][0]["replies"]["totalCount"] == 2
    assert since["rateLimit"]["cost"] >= 1

    tracked = world.gql(TRACKED_DISCUSSIONS, {"ids": [created["id"]]})
    assert tracked["nodes"][0]["repository"] == {"nameWithOwner": REPO}
    # The design's figure for 25 ids: 25 x 32 connections = 8 points.
    assert tracked["rateLimit"]["cost"] == 1  # one id: 32 connections

    unmarked = world.gql(UNMARK_ANSWER, {"input": {"id": top["id"]}})
    assert unmarked["unmarkDiscussionCommentAsAnswer"]["discussion"]["isAnswered"] is False
    closed = world.gql(
        CLOSE_DISCUSSION, {"input": {"discussionId": created["id"], "reason": "OUTDATED"}}
    )["closeDiscussion"]["discussion"]
    assert closed["closed"] is True and closed["stateReason"] == "OUTDATED" and closed["closedAt"]
    reopened = world.gql(REOPEN_DISCUSSION, {"input": {"discussionId": created["id"]}})
    assert reopened["reopenDiscussion"]["discussion"] == {
        "id": created["id"],
        "closed": False,
        "stateReason": "REOPENED",
    }
    world.gql(REMOVE_LABELS, {"input": {"labelableId": created["id"], "labelIds": [ids["sre"]]}})
    assert world.emulator.discussion(REPO, 2).labels == []
    rate = world.gql(RATE_LIMIT)["rateLimit"]
    assert rate["limit"] == 5000 and rate["used"] == 5000 - rate["remaining"]

    d = world.emulator.discussions(REPO)[0]
    assert (d.number, d.user, d.body, d.answer_id) == (2, BOT, "<!-- marker -->", None)
    assert [c.reply_to for c in world.emulator.discussion_comments(REPO, 2)] == [
        None,
        top["databaseId"],
        top["databaseId"],
    ]
    assert world.emulator.node_id(REPO, d) == created["id"]
    documents = world.emulator.graphql_documents()
    assert CREATE_DISCUSSION in documents and DISCUSSIONS_SINCE in documents
    assert world.emulator.graphql_unimplemented() == []


def test_bot_login_has_no_bot_suffix_over_graphql(world: World) -> None:
    emu = world.emulator
    emu.add_app(7, slug="visit-gateway", owner="acme")
    emu.add_installation(70, 7, "acme")
    with emu.store.lock:  # an installation token, as the App path mints one
        emu.store.tokens["ghs_install"] = Token("ghs_install", "visit-gateway[bot]", 70)
    world.tokens["app"] = "ghs_install"
    created = world.create(login="app")
    recent = world.gql(RECENT_DISCUSSIONS, {"owner": OWNER, "name": NAME})
    author = recent["repository"]["discussions"]["nodes"][0]["author"]
    assert author == {"__typename": "Bot", "login": "visit-gateway"}
    assert created["number"] == 1


# -- GitHub's refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (
            'mutation { createDiscussion(input: {repositoryId: "x", categoryId: "y", title: "t", '
            'body: "b", labelIds: ["z"]}) { discussion { id } } }',
            "argumentLiteralsIncompatible",
        ),
        (
            'query { repository(owner: "acme", name: "visit-users") { '
            'discussions(first: 5, since: "2026-01-01") { nodes { id } } } }',
            "argumentNotAccepted",
        ),
        (
            'query { repository(owner: "acme", name: "visit-users") { '
            "discussion(number: 1) { author { databaseId } } } }",
            "undefinedField",
        ),
        (
            'mutation { closeDiscussion(input: {discussionId: "x", reason: ANSWERED}) '
            "{ discussion { id } } }",
            "argumentLiteralsIncompatible",
        ),
    ],
)
def test_documents_github_rejects_fail_the_same_way(world: World, document: str, code: str) -> None:
    response = world.post(document)
    body = response.json()
    assert response.status_code == 200 and "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code, body
    assert body["errors"][0]["locations"]
    assert world.emulator.discussions(REPO) == []


def test_parse_and_variable_errors_never_run(world: World) -> None:
    broken = world.post("query { repository(owner: ")
    assert "Syntax Error" in errors_of(broken)[0]["message"]
    wrong = world.post(DISCUSSION_COMMENTS, {"owner": OWNER, "name": NAME, "number": "two"})
    assert "$number" in errors_of(wrong)[0]["message"] and "data" not in wrong.json()
    with pytest.raises(github.GithubException) as raised:
        world.client().requester.graphql_query("query { viewer { nope } }", {})
    assert raised.value.status == 400
    assert raised.value.data["errors"][0]["extensions"]["code"] == "undefinedField"


def test_pagination_bounds_are_enforced(world: World) -> None:
    repo_field = 'repository(owner: "acme", name: "visit-users")'
    missing = errors_of(
        world.post(f"query {{ {repo_field} {{ discussions {{ nodes {{ id }} }} }} }}")
    )
    assert missing[0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert missing[0]["path"] == ["repository", "discussions"]
    too_many = errors_of(
        world.post(f"query {{ {repo_field} {{ discussions(first: 101) {{ nodes {{ id }} }} }} }}")
    )
    assert too_many[0]["type"] == "EXCESSIVE_PAGINATION"
    via_variable = world.post(
        "query Q($n: Int) { " + repo_field + " { discussions(last: $n) { nodes { id } } } }",
        {"n": 500},
    )
    assert errors_of(via_variable)[0]["message"].startswith("Requesting 500 records")
    zero = errors_of(
        world.post(f"query {{ {repo_field} {{ labels(first: 0) {{ nodes {{ id }} }} }} }}")
    )
    assert zero[0]["type"] == "INVALID_PAGINATION"


def test_a_field_the_emulator_lacks_fails_loudly(world: World) -> None:
    created = world.create()
    response = world.post(
        'query($n: Int!) { repository(owner: "acme", name: "visit-users") { '
        "discussion(number: $n) { number poll { question } } } }",
        {"n": created["number"]},
    )
    body = response.json()
    assert body["data"]["repository"]["discussion"] == {"number": 1, "poll": None}
    assert "does not implement Discussion.poll" in body["errors"][0]["message"]
    assert body["errors"][0]["path"] == ["repository", "discussion", "poll"]
    assert world.emulator.graphql_unimplemented() == ["Discussion.poll"]
    world.emulator.graphql_log.unimplemented.clear()


def test_reply_to_a_reply_is_refused(world: World) -> None:
    created = world.create()
    top = world.comment(created["id"], "top")
    reply = world.comment(created["id"], "reply", reply_to=top["id"])
    with pytest.raises(github.GithubException) as refused:
        world.comment(created["id"], "nested", reply_to=reply["id"])
    error = refused.value.data["errors"][0]
    assert error["type"] == "UNPROCESSABLE"
    assert error["message"] == "Parent comment is already in a thread, cannot reply to it"
    assert error["path"] == ["addDiscussionComment"]
    assert refused.value.data["data"] == {"addDiscussionComment": None}
    assert [c.body for c in world.emulator.discussion_comments(REPO)] == ["top", "reply"]
    with pytest.raises(GraphQLFailure):  # a person on github.com cannot either
        world.emulator.discussion_comment(REPO, 1, "x", user=ALICE, reply_to=reply["databaseId"])


def test_labels_must_exist_and_need_triage(world: World) -> None:
    created = world.create()
    missing = world.gql(LABEL_BY_NAME, {"owner": OWNER, "name": NAME, "label": "nope"})
    assert missing == {"repository": {"label": None}}
    bogus = "LA_kwDOAAAAAAAAAAAAAA"
    with pytest.raises(github.UnknownObjectException) as not_found:
        world.gql(ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [bogus]}})
    assert not_found.value.data["errors"][0]["message"] == (
        f"Could not resolve to a node with the global id of '{bogus}'"
    )
    other = world.emulator.labels("acme/other")[0]
    foreign = world.emulator.node_id("acme/other", other)
    with pytest.raises(github.UnknownObjectException):
        world.gql(ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [foreign]}})
    sre = world.ids()["sre"]
    with pytest.raises(github.GithubException) as forbidden:
        world.gql(ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [sre]}}, BOB)
    assert forbidden.value.data["errors"][0]["type"] == "FORBIDDEN"
    world.gql(ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [sre]}}, CAROL)
    world.gql(ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [sre]}}, CAROL)
    assert world.emulator.discussion(REPO, 1).labels == ["SRE"]  # idempotent
    assert [lbl.name for lbl in world.emulator.labels(REPO)] == ["SRE", "wontfix"]  # none made


def test_answers_closing_and_access(world: World) -> None:
    emu = world.emulator
    general = next(c for c in emu.discussion_categories(REPO) if c.name == "General")
    ids = world.ids()
    plain = world.gql(
        CREATE_DISCUSSION,
        {
            "input": {
                "repositoryId": ids["repo"],
                "categoryId": emu.node_id(REPO, general),
                "title": "t",
                "body": "b",
            }
        },
    )["createDiscussion"]["discussion"]
    top = world.comment(plain["id"], "an answer?")
    with pytest.raises(github.GithubException) as refused:
        world.gql(MARK_ANSWER, {"input": {"id": top["id"]}})
    assert refused.value.data["errors"][0]["type"] == "UNPROCESSABLE"

    question = world.create(login=BOB)  # read access may open one
    answer = world.comment(question["id"], "the answer")
    reply = world.comment(question["id"], "a reply", reply_to=answer["id"])
    with pytest.raises(github.GithubException):
        world.gql(MARK_ANSWER, {"input": {"id": reply["id"]}})  # replies cannot be answers
    world.gql(MARK_ANSWER, {"input": {"id": answer["id"]}}, BOB)  # the author may choose
    assert emu.discussion(REPO, question["number"]).answer_id == answer["databaseId"]
    with pytest.raises(github.GithubException) as forbidden:
        world.gql(CLOSE_DISCUSSION, {"input": {"discussionId": plain["id"]}}, BOB)
    assert forbidden.value.data["errors"][0]["type"] == "FORBIDDEN"

    emu.lock_discussion(REPO, question["number"])
    with pytest.raises(github.GithubException) as locked:
        world.gql(ADD_COMMENT, {"input": {"discussionId": question["id"], "body": "x"}}, BOB)
    assert locked.value.data["errors"][0]["type"] == "FORBIDDEN"
    world.comment(question["id"], "write access still may")

    with pytest.raises(github.UnknownObjectException):
        world.gql(DISCUSSION_TARGET, {"owner": OWNER, "name": NAME}, MALLORY)
    hidden = world.post(COMMENT_REPLIES, {"id": top["id"]}, MALLORY).json()
    assert hidden["data"] == {"node": None} and hidden["errors"][0]["type"] == "NOT_FOUND"
    assert world.post(RATE_LIMIT, login=None).status_code == 401
    world.tokens["bad"] = "ghp_nope"
    assert world.post(RATE_LIMIT, login="bad").status_code == 401

    emu.enable_discussions(REPO, False)
    with pytest.raises(github.GithubException) as disabled:
        world.comment(question["id"], "off")
    assert disabled.value.data["errors"][0]["type"] == "UNPROCESSABLE"


def test_pagination_forwards_and_backwards(world: World) -> None:
    for i in range(30):
        world.emulator.create_discussion(REPO, f"d{i}", f"body {i}", user=ALICE, category="Q&A")
    first = world.gql(RECENT_DISCUSSIONS, {"owner": OWNER, "name": NAME})["repository"]
    page = first["discussions"]
    assert [n["number"] for n in page["nodes"]] == list(range(30, 5, -1))
    assert page["pageInfo"]["hasNextPage"] is True
    rest = world.gql(
        RECENT_DISCUSSIONS, {"owner": OWNER, "name": NAME, "after": page["pageInfo"]["endCursor"]}
    )["repository"]["discussions"]
    assert [n["number"] for n in rest["nodes"]] == [5, 4, 3, 2, 1]
    assert rest["pageInfo"]["hasNextPage"] is False

    for i in range(60):
        world.emulator.discussion_comment(REPO, 30, f"c{i}", user=ALICE)
    variables = {"owner": OWNER, "name": NAME, "number": 30}
    last = world.gql(DISCUSSION_COMMENTS, variables)["repository"]["discussion"]["comments"]
    assert [c["body"] for c in last["nodes"]] == [f"c{i}" for i in range(10, 60)]
    assert last["pageInfo"]["hasPreviousPage"] is True
    older = world.gql(
        DISCUSSION_COMMENTS, {**variables, "before": last["pageInfo"]["startCursor"]}
    )["repository"]["discussion"]["comments"]
    assert [c["body"] for c in older["nodes"]] == [f"c{i}" for i in range(10)]
    assert older["pageInfo"]["hasPreviousPage"] is False
    bad = world.post(DISCUSSION_COMMENTS, {**variables, "before": "not-a-cursor"})
    assert errors_of(bad)[0]["type"] == "INVALID_CURSOR_ARGUMENTS"


# -- faults ---------------------------------------------------------------------------------------


def test_faults_hit_exactly_the_nth_operation(world: World) -> None:
    emu = world.emulator
    emu.inject_fault(
        FaultKind.ERROR_AFTER_WRITE, path="/graphql", operation="CreateDiscussion", skip=1
    )
    world.create(title="one")
    with pytest.raises(github.GithubException) as failed:
        world.create(title="two")  # ids() queries pass: the rule names the mutation
    assert failed.value.status == 502
    assert [d.title for d in emu.discussions(REPO)] == ["one", "two"]  # applied despite the 502
    world.create(title="three")
    assert [f.kind for f in emu.faults_fired] == [FaultKind.ERROR_AFTER_WRITE]
    record = next(r for r in emu.request_log() if r.fault is FaultKind.ERROR_AFTER_WRITE)
    assert (record.path, record.operation, record.status) == ("/graphql", "CreateDiscussion", 502)

    emu.inject_fault(
        FaultKind.GRAPHQL_ERROR_BEFORE_WRITE, path="/graphql", operation="addDiscussionComment"
    )
    target = emu.node_id(REPO, emu.discussions(REPO)[0])
    response = world.post(ADD_COMMENT, {"input": {"discussionId": target, "body": "x"}})
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert "Something went wrong" in response.json()["errors"][0]["message"]
    assert "type" not in response.json()["errors"][0]
    assert emu.discussion_comments(REPO) == []

    emu.inject_fault(
        FaultKind.GRAPHQL_ERROR_AFTER_WRITE, path="/graphql", operation="AddDiscussionComment"
    )
    assert (
        world.post(ADD_COMMENT, {"input": {"discussionId": target, "body": "y"}}).json()["data"]
        is None
    )
    assert [c.body for c in emu.discussion_comments(REPO)] == ["y"]

    emu.inject_fault(FaultKind.DROP_AFTER_WRITE, path="/graphql", operation="AddDiscussionComment")
    with pytest.raises(requests.exceptions.ConnectionError):
        world.comment(target, "z")
    assert [c.body for c in emu.discussion_comments(REPO)] == ["y", "z"]
    emu.inject_fault(FaultKind.DROP_BEFORE_WRITE, path="/graphql", operation="AddDiscussionComment")
    with pytest.raises(requests.exceptions.ConnectionError):
        world.comment(target, "w")
    assert [c.body for c in emu.discussion_comments(REPO)] == ["y", "z"]


# -- limits ---------------------------------------------------------------------------------------


def test_graphql_points_are_a_separate_bucket(world: World) -> None:
    emu = world.emulator
    emu.set_limits(graphql=3, core=100)
    ok = world.post(RATE_LIMIT)
    assert ok.headers["x-ratelimit-resource"] == "graphql"
    assert ok.headers["x-ratelimit-limit"] == "3" and ok.headers["x-ratelimit-remaining"] == "2"
    world.post(RATE_LIMIT)
    world.post(RATE_LIMIT)
    spent = world.post(RATE_LIMIT)
    assert spent.status_code == 200 and spent.headers["x-ratelimit-remaining"] == "0"
    error = spent.json()["errors"][0]
    assert error["type"] == "RATE_LIMITED" and "data" not in spent.json()
    assert error["message"].startswith("API rate limit exceeded for user ID ")
    assert world.client().get_repo(REPO).name == NAME  # REST's core bucket is untouched
    emu.set_limits(graphql_primary_style="403")
    assert world.post(RATE_LIMIT).status_code == 403
    with pytest.raises(github.GithubException) as limited:
        world.client().requester.graphql_query(RATE_LIMIT, {})
    assert limited.value.status == 403
    assert limited.value.headers is not None
    assert limited.value.headers["x-ratelimit-remaining"] == "0"

    emu.reset_limits()
    emu.set_limits(graphql=5000)
    big = world.post(DISCUSSIONS_SINCE, {"owner": OWNER, "name": NAME})
    assert big.json()["data"]["rateLimit"]["cost"] == 8  # the design's figure: 801 connections
    assert big.headers["x-ratelimit-used"] == "8"


def test_reactions_to_discussions_and_comments(world: World) -> None:
    emu = world.emulator
    created = world.create()
    top = world.comment(created["id"], "an answer")
    reply = world.comment(created["id"], "a reply", reply_to=top["id"])

    def react(subject: str, content: str = "THUMBS_UP", login: str = BOT) -> Any:
        data = world.gql(ADD_REACTION, {"input": {"subjectId": subject, "content": content}}, login)
        return data["addReaction"]

    made = react(top["id"])
    assert made == {"reaction": {"content": "THUMBS_UP"}, "subject": {"id": top["id"]}}
    react(top["id"])  # the same person's same reaction: nothing new
    react(top["id"], "HEART")
    react(top["id"], login=BOB)  # read access may react
    react(reply["id"], "EYES")
    react(created["id"], "ROCKET")
    assert [(r.content, r.user) for r in emu.discussion_reactions(REPO, 1, top["databaseId"])] == [
        ("+1", BOT), ("heart", BOT), ("+1", BOB)]
    assert [r.content for r in emu.discussion_reactions(REPO, 1, reply["databaseId"])] == ["eyes"]
    assert [r.content for r in emu.discussion_reactions(REPO, 1)] == ["rocket"]

    for subject, login in ((world.ids()["sre"], BOT), (top["id"], MALLORY), ("nope", BOT)):
        response = world.post(
            ADD_REACTION, {"input": {"subjectId": subject, "content": "HEART"}}, login
        )
        assert errors_of(response)[0]["type"] == "NOT_FOUND", subject
        assert response.json()["data"] == {"addReaction": None}
    bad = world.post(ADD_REACTION, {"input": {"subjectId": top["id"], "content": "+1"}})
    assert "data" not in bad.json()  # not a ReactionContent: refused before running
    assert len(emu.discussion_reactions(REPO, 1, top["databaseId"])) == 3

    # Creating content: the secondary content limit counts addReaction.
    emu.set_limits(secondary=True, content_per_minute=1)
    react(reply["id"], "HOORAY")
    limited = world.post(ADD_REACTION, {"input": {"subjectId": reply["id"], "content": "LAUGH"}})
    assert limited.status_code == 403 and int(limited.headers["retry-after"]) >= 1
    assert [r.content for r in emu.discussion_reactions(REPO, 1, reply["databaseId"])] == [
        "eyes", "hooray"]


def test_graphql_secondary_limits_answer_403(world: World) -> None:
    emu = world.emulator
    world.ids()
    emu.set_limits(secondary=True, content_per_minute=2)
    world.create(title="a")
    world.create(title="b")
    response = world.post(
        CREATE_DISCUSSION,
        {
            "input": {
                "repositoryId": world.ids()["repo"],
                "categoryId": world.ids()["qa"],
                "title": "c",
                "body": "c",
            }
        },
    )
    assert response.status_code == 403 and 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert [d.title for d in emu.discussions(REPO)] == ["a", "b"]
    sre, target = world.ids()["sre"], emu.node_id(REPO, emu.discussions(REPO)[0])
    world.gql(ADD_LABELS, {"input": {"labelableId": target, "labelIds": [sre]}})  # not content

    emu.reset_limits()
    emu.set_limits(content_per_minute=80, graphql_secondary_points=12)
    world.gql(ADD_LABELS, {"input": {"labelableId": target, "labelIds": [sre]}})  # 5 points
    world.gql(ADD_LABELS, {"input": {"labelableId": target, "labelIds": [sre]}})  # 10
    assert world.post(RATE_LIMIT).status_code == 200  # 11
    assert world.post(RATE_LIMIT).status_code == 200  # 12
    assert world.post(RATE_LIMIT).status_code == 403


# -- webhooks -------------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def kind(self) -> tuple[str, str]:
        return self.headers["X-GitHub-Event"], self.payload["action"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Received]]]:
    got: list[Received] = []
    lock = threading.Lock()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(0)
        with lock:
            got.append(Received(dict(request.headers), body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhook", hook)
    with serve_app(app) as url:
        yield f"{url}/webhook", got


def reference(name: str) -> Any:
    return json.loads((reference_dir() / "webhooks" / name).read_text())


def shape_problems(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Key paths of `theirs` missing from `ours`, or present with another JSON type (null on
    either side is allowed: the examples' values depend on the moment they were taken)."""
    if theirs is None or ours is None:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: {type(ours).__name__}, not an object"]
        out = [f"{path}.{k}: missing" for k in theirs if k not in ours]
        for key in theirs:
            if key in ours:
                out += shape_problems(ours[key], theirs[key], f"{path}.{key}")
        return out
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{path}: not a list"]
        return shape_problems(ours[0], theirs[0], f"{path}[]") if ours and theirs else []
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return [] if type(ours) is type(theirs) else [f"{path}: {ours!r} vs {theirs!r}"]
    if isinstance(theirs, int | float):
        return [] if isinstance(ours, int | float) else [f"{path}: {ours!r} vs {theirs!r}"]
    return [] if type(ours) is type(theirs) else [f"{path}: {ours!r} vs {theirs!r}"]


EXAMPLES = {
    ("discussion", "created"): ["discussion.created.0.json", "discussion.created.3.json"],
    ("discussion", "edited"): ["discussion.edited.4.json", "discussion.edited.5.json"],
    ("discussion", "labeled"): ["discussion.labeled.6.json", "discussion.labeled.7.json"],
    ("discussion", "answered"): ["discussion.answered.1.json"],
    ("discussion", "unanswered"): ["discussion.unanswered.12.json"],
    ("discussion", "unlabeled"): ["discussion.unlabeled.13.json"],
    ("discussion_comment", "created"): [
        "discussion_comment.created.0.json",
        "discussion_comment.created.1.json",
    ],
    ("discussion_comment", "edited"): ["discussion_comment.edited.3.json"],
    ("discussion_comment", "deleted"): ["discussion_comment.deleted.2.json"],
}
IGNORED = {"installation", "organization"}  # sent only for App hooks and organization repos


def test_discussion_webhooks_are_shaped_like_githubs(
    world: World, receiver: tuple[str, list[Received]]
) -> None:
    url, got = receiver
    emu = world.emulator
    emu.add_webhook(url, SECRET, events={"discussion", "discussion_comment"})
    created = world.create(body="hello")
    number = created["number"]
    world.gql(
        ADD_LABELS, {"input": {"labelableId": created["id"], "labelIds": [world.ids()["sre"]]}}
    )
    top = emu.discussion_comment(REPO, number, "answer", user=ALICE)
    reply = emu.discussion_comment(REPO, number, "thanks", user=BOT, reply_to=top.id)
    emu.edit_discussion_comment(REPO, reply.id, "thanks!", user=BOT)
    emu.mark_answer(REPO, top.id, user=ALICE)
    emu.unmark_answer(REPO, top.id, user=ALICE)
    emu.edit_discussion(REPO, number, user=BOT, title="Visit (edited)")
    world.gql(CLOSE_DISCUSSION, {"input": {"discussionId": created["id"], "reason": "RESOLVED"}})
    world.gql(REOPEN_DISCUSSION, {"input": {"discussionId": created["id"]}})
    world.gql(
        REMOVE_LABELS, {"input": {"labelableId": created["id"], "labelIds": [world.ids()["sre"]]}}
    )
    emu.delete_discussion_comment(REPO, reply.id, user=BOT)
    with pytest.raises(GraphQLFailure):
        emu.delete_discussion(REPO, number, user=ALICE)  # write access; needs maintain
    emu.delete_discussion(REPO, number, user=BOT)  # its author may
    assert emu.webhooks.wait_idle(5)

    assert [r.kind for r in got] == [
        ("discussion", "created"),
        ("discussion", "labeled"),
        ("discussion_comment", "created"),
        ("discussion_comment", "created"),
        ("discussion_comment", "edited"),
        ("discussion", "answered"),
        ("discussion", "unanswered"),
        ("discussion", "edited"),
        ("discussion", "closed"),
        ("discussion", "reopened"),
        ("discussion", "unlabeled"),
        ("discussion_comment", "deleted"),
        ("discussion", "deleted"),
    ]
    for r in got:
        for name in EXAMPLES.get(r.kind, []):
            example = {k: v for k, v in reference(name).items() if k not in IGNORED}
            assert shape_problems(r.payload, example) == [], (r.kind, name)

    by_kind = {r.kind: r.payload for r in got}
    opened = by_kind[("discussion", "created")]["discussion"]
    assert opened["node_id"] == created["id"] and opened["number"] == number
    assert opened["category"]["name"] == "Q&A" and opened["category"]["is_answerable"] is True
    assert opened["user"]["login"] == BOT and opened["html_url"] == created["url"]
    assert by_kind[("discussion", "labeled")]["label"]["name"] == "SRE"
    assert by_kind[("discussion", "labeled")]["discussion"]["labels"][0]["name"] == "SRE"
    replied = [r.payload for r in got if r.kind == ("discussion_comment", "created")][1]
    assert replied["comment"]["parent_id"] == top.id and replied["comment"]["id"] == reply.id
    answered = by_kind[("discussion", "answered")]
    assert answered["answer"]["id"] == top.id
    assert answered["discussion"]["answer_chosen_by"]["login"] == ALICE
    assert by_kind[("discussion", "unanswered")]["old_answer"]["id"] == top.id
    closed = by_kind[("discussion", "closed")]["discussion"]
    assert (closed["state"], closed["state_reason"]) == ("closed", "resolved")
    assert by_kind[("discussion", "reopened")]["discussion"]["state"] == "open"
    assert by_kind[("discussion_comment", "edited")]["changes"] == {"body": {"from": "thanks"}}
    assert by_kind[("discussion", "edited")]["changes"] == {"title": {"from": "Visit"}}
    assert replied["sender"]["login"] == BOT
    assert [r.payload for r in got][2]["sender"]["login"] == ALICE


def test_tracked_discussions_gone_ones_are_null_and_cost_is_per_id(world: World) -> None:
    emu = world.emulator
    for i in range(25):
        emu.create_discussion(REPO, f"d{i}", "b", user=ALICE, category="Q&A")
    ids = [emu.node_id(REPO, d) for d in emu.discussions(REPO)]
    emu.delete_discussion(REPO, 3, user=ALICE)
    response = world.post(TRACKED_DISCUSSIONS, {"ids": ids})
    body = response.json()
    nodes = body["data"]["nodes"]
    assert nodes[2] is None and [n["number"] for n in nodes if n][:3] == [1, 2, 4]
    assert body["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["nodes", 2],
            "locations": body["errors"][0]["locations"],
            "message": f"Could not resolve to a node with the global id of '{ids[2]}'",
        }
    ]
    assert body["data"]["rateLimit"]["cost"] == 8  # the design's 25 x 32 connections
