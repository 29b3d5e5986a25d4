"""The GitHub emulator against GitHub's own descriptions, through real HTTP and PyGithub.

Responses are validated against the OpenAPI subset in the shared reference data (OpenAPI 3.0
`nullable` translated to JSON Schema, `$ref`s resolved inside the document, `uri` and `date-time`
formats checked); webhook payloads are compared with the reference deliveries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import github
import jsonschema
import pytest
import requests
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.clock import ManualClock
from gateway.testing.github_emulator import AssigneePolicy, Emulator, FaultKind, serve_app
from gateway.testing.reference import reference_dir

pytestmark = pytest.mark.integration

# The shared reference data sits beside the repository (../shared), in CI as on a workstation.
REFERENCE = reference_dir()
REPO = "acme/visit-users"
BOT, ALICE, CAROL, BOB, MALLORY = "visit-bot", "alice", "carol", "bob", "mallory"
SECRET = "It's a Secret to Everybody"
MARKER = "<!-- visit-gateway:msg={} -->"
T0 = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)


# -- the OpenAPI description as JSON Schema -------------------------------------------------------

_NOT_SCHEMA_KEYWORDS = {
    "nullable",
    "discriminator",
    "example",
    "examples",
    "x-github-breaking-changes",
    "deprecated",
    "readOnly",
    "writeOnly",
}


# GitHub describes some errors as `oneOf` an error schema and this one, whose keys are all
# optional: every basic or validation error matches both, so `oneOf` could never hold. Such a
# `oneOf` is read as `anyOf`.
RULE_VIOLATION = {"$ref": "#/components/schemas/repository-rule-violation-error"}


def to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema object -> JSON Schema (draft 4): `nullable: true` becomes `anyOf null`."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_jsonschema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_jsonschema(value)
        elif key == "oneOf" and RULE_VIOLATION in value:
            out["anyOf"] = [to_jsonschema(sub) for sub in value]
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_jsonschema(sub) for sub in value]
        elif key not in _NOT_SCHEMA_KEYWORDS:
            out[key] = value
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


@cache
def spec() -> dict[str, Any]:
    path = REFERENCE / "openapi" / "rest-subset.json"
    assert path.exists(), f"GitHub reference data missing: {path} (set GITHUB_REFERENCE_DIR)"
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@cache
def components() -> dict[str, Any]:
    schemas = spec()["components"]["schemas"]
    return {"schemas": {name: to_jsonschema(s) for name, s in schemas.items()}}


# Endpoints the gateway uses that the subset does not describe: the schema GitHub documents for
# them, written with the subset's components.
OUTSIDE_SUBSET: dict[tuple[str, str, int], Any] = {
    ("GET", "/users/{username}", 200): {"$ref": "#/components/schemas/public-user"},
    ("GET", "/users/{username}", 404): {"$ref": "#/components/schemas/basic-error"},
    ("GET", "/repos/{owner}/{repo}/assignees", 200): {
        "type": "array",
        "items": {"$ref": "#/components/schemas/simple-user"},
    },
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", 200): {
        "type": "object",
        "required": ["permission", "role_name", "user"],
        "properties": {
            "permission": {"type": "string"},
            "role_name": {"type": "string"},
            "user": {"$ref": "#/components/schemas/nullable-simple-user"},
        },
    },
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", 200): {
        "type": "array",
        "items": {"$ref": "#/components/schemas/label"},
    },
    # GitHub's usual 404 where the subset documents none: a label the issue lacks ("Label does
    # not exist"), a reaction to a comment or issue that is not there.
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", 404): {
        "$ref": "#/components/schemas/basic-error"
    },
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", 404): {
        "$ref": "#/components/schemas/basic-error"
    },
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions", 404): {
        "$ref": "#/components/schemas/basic-error"
    },
    # ...and for a ref written by a caller who cannot see the repository or push to it.
    ("POST", "/repos/{owner}/{repo}/git/refs", 404): {"$ref": "#/components/schemas/basic-error"},
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", 404): {
        "$ref": "#/components/schemas/basic-error"
    },
}


def response_schema(method: str, template: str, status: int) -> Any | None:
    """The documented JSON schema of a response, None when it has no body.

    Fails when `status` is not among the statuses documented for the operation.
    """
    key = (method.upper(), template, status)
    if key in OUTSIDE_SUBSET:
        return OUTSIDE_SUBSET[key]
    operation = spec()["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, documented: {sorted(responses)}"
    )
    response = responses[str(status)]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    content = response.get("content", {}).get("application/json")
    return None if content is None else to_jsonschema(content["schema"])


def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
    )


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checkers["date-time"] = (_is_datetime, ())
FORMATS.checkers["uri"] = (_is_uri, ())


def validate(schema: Any, instance: Any) -> None:
    root = {**schema, "components": components()} if isinstance(schema, dict) else schema
    jsonschema.Draft4Validator(root, format_checker=FORMATS).validate(instance)


def urls_in(data: Any, key: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from urls_in(v, k)
    elif isinstance(data, list):
        for item in data:
            yield from urls_in(item, key)
    elif (
        isinstance(data, str)
        and key.endswith("url")
        and key != "documentation_url"
        and (data.startswith("http"))
    ):
        yield data


# -- worlds ---------------------------------------------------------------------------------------


@dataclass
class World:
    emulator: Emulator
    url: str
    tokens: dict[str, str]
    clients: list[github.Github] = field(default_factory=list)

    def client(self, login: str = BOT) -> github.Github:
        """PyGithub as the gateway uses it: no library retries; no client-side throttling."""
        client = github.Github(
            base_url=self.url,
            auth=github.Auth.Token(self.tokens[login]),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self.clients.append(client)
        return client

    def repo(self, login: str = BOT) -> Any:
        return self.client(login).get_repo(REPO)

    def http(self, login: str = BOT) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"token {self.tokens[login]}"
        return session


def populate(emulator: Emulator) -> dict[str, str]:
    """A private repo; the bot and alice can push, carol triages, bob reads, mallory is out."""
    emulator.add_repo(REPO)
    emulator.add_repo("acme/other")
    for login, role in ((BOT, "write"), (ALICE, "write"), (CAROL, "triage"), (BOB, "read")):
        emulator.add_collaborator(REPO, login, role)
    return {login: emulator.add_token(login) for login in (BOT, ALICE, CAROL, BOB, MALLORY)}


@pytest.fixture
def world(github_emulator: Emulator) -> Iterator[World]:
    assert github_emulator.base_url is not None
    w = World(github_emulator, github_emulator.base_url, populate(github_emulator))
    yield w
    for client in w.clients:
        client.close()


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    """Worlds over emulators built with particular options (clock, seed, search delay)."""
    stack: list[tuple[Any, World]] = []

    def make(**options: Any) -> World:
        emulator = Emulator(**options)
        tokens = populate(emulator)
        serving = emulator.serve()
        url = serving.__enter__()
        w = World(emulator, url, tokens)
        stack.append((serving, w))
        return w

    yield make
    for serving, w in reversed(stack):
        for client in w.clients:
            client.close()
        serving.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


# -- every endpoint against the OpenAPI description -----------------------------------------------

GATEWAY_ENDPOINTS = {
    ("GET", "/user"),
    ("GET", "/users/{username}"),
    ("GET", "/rate_limit"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("GET", "/repos/{owner}/{repo}/issues/comments"),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/assignees"),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/assignees"),
    ("GET", "/repos/{owner}/{repo}/assignees/{assignee}"),
    ("GET", "/repos/{owner}/{repo}/assignees"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("GET", "/repos/{owner}/{repo}/labels"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("GET", "/search/issues"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
}
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
)


class SpecChecker:
    def __init__(self, w: World) -> None:
        self.w = w
        self.seen: set[tuple[str, str]] = set()
        self.statuses: set[tuple[str, str, int]] = set()

    def __call__(
        self,
        method: str,
        template: str,
        status: int,
        *,
        who: str | None = BOT,
        auth: str | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        **path: Any,
    ) -> Any:
        url = self.w.url + template.format(owner="acme", repo="visit-users", **path)
        if auth is None and who is not None:
            auth = f"token {self.w.tokens[who]}"
        headers = {"Authorization": auth} if auth else {}
        response = requests.request(
            method, url, json=body, params=params, headers=headers, timeout=10
        )
        assert response.status_code == status, (method, url, response.text)
        schema = response_schema(method, template, status)
        for header in (*RATE_HEADERS, "x-github-request-id", "x-github-api-version-selected"):
            assert header in response.headers, (header, method, template)
        if method == "GET" and status == 200:
            assert response.headers["ETag"].startswith('W/"')
        if schema is None and status >= 400:  # undescribed error body: GitHub's usual one
            schema = {"$ref": "#/components/schemas/basic-error"}
        if schema is None:
            assert response.content == b""
            data = None
        else:
            assert response.headers["Content-Type"].startswith("application/json")
            data = response.json()
            validate(schema, data)
            for link in urls_in(data):
                assert link.startswith(self.w.url), link
        self.seen.add((method, template))
        self.statuses.add((method, template, status))
        return data


def test_every_endpoint_answers_as_the_openapi_description_says(
    world: World, app_key: tuple[str, str]
) -> None:
    check = SpecChecker(world)
    e = world.emulator
    e.add_app(4242, slug="visit-gateway", owner="acme", public_key_pem=app_key[1])
    e.add_installation(77, 4242, "acme")
    jwt = github.Auth.AppAuth(4242, app_key[0]).create_jwt()

    check("GET", "/user", 200)
    check("GET", "/user", 401, auth="token nope")
    check("GET", "/users/{username}", 200, username=ALICE)
    check("GET", "/users/{username}", 404, username="nobody")
    check("GET", "/rate_limit", 200)
    check("GET", "/repos/{owner}/{repo}", 200)
    check("GET", "/repos/{owner}/{repo}", 404, who=MALLORY)

    issues, issue = "/repos/{owner}/{repo}/issues", "/repos/{owner}/{repo}/issues/{issue_number}"
    created = check(
        "POST",
        issues,
        201,
        body={
            "title": "Visit",
            "body": MARKER.format("k1"),
            "labels": ["support"],
            "assignees": [ALICE],
        },
    )
    number = created["number"]
    check("POST", issues, 422, body={"body": "no title"})
    check("POST", issues, 422, body={"title": "t", "assignees": [BOB]})  # bob cannot be assigned
    check("POST", issues, 404, who=MALLORY, body={"title": "t"})
    check("GET", issues, 200, params={"state": "all", "per_page": "1"})
    check("GET", issues, 422, params={"state": "bogus"})
    check("GET", issue, 200, issue_number=number)
    check("GET", issue, 404, issue_number=999)
    check("PATCH", issue, 200, issue_number=number, body={"title": "Visit (edited)"})
    check("PATCH", issue, 422, issue_number=number, body={"state": "bogus"})

    comments = issue + "/comments"
    comment = check("POST", comments, 201, issue_number=number, body={"body": "Thanks!"})
    check("POST", comments, 422, issue_number=number, body={"body": ""})
    check("POST", comments, 404, issue_number=999, body={"body": "x"})
    check("GET", comments, 200, issue_number=number, params={"since": "2000-01-01T00:00:00Z"})
    check("GET", comments, 404, issue_number=999)
    repo_comments = "/repos/{owner}/{repo}/issues/comments"
    check("GET", repo_comments, 200, params={"sort": "updated", "direction": "asc"})
    check("GET", repo_comments, 422, params={"since": "yesterday"})
    one = repo_comments + "/{comment_id}"
    check("GET", one, 200, comment_id=comment["id"])
    check("GET", one, 404, comment_id=1)
    check("PATCH", one, 200, comment_id=comment["id"], body={"body": "Thanks again!"})
    check("PATCH", one, 422, comment_id=comment["id"], body={"body": None})
    check("DELETE", one, 204, comment_id=comment["id"])

    check("POST", issue + "/assignees", 201, issue_number=number, body={"assignees": [CAROL]})
    check("DELETE", issue + "/assignees", 200, issue_number=number, body={"assignees": [ALICE]})
    check("GET", "/repos/{owner}/{repo}/assignees/{assignee}", 204, assignee=ALICE)
    check("GET", "/repos/{owner}/{repo}/assignees/{assignee}", 404, assignee=BOB)
    check("GET", "/repos/{owner}/{repo}/assignees", 200)
    check("POST", issue + "/labels", 200, issue_number=number, body={"labels": ["urgent"]})
    check("POST", issue + "/labels", 404, issue_number=999, body={"labels": ["urgent"]})
    check("GET", issue + "/labels", 200, issue_number=number)
    check("DELETE", issue + "/labels/{name}", 200, issue_number=number, name="urgent")
    check("GET", "/repos/{owner}/{repo}/labels", 200)
    check("POST", "/repos/{owner}/{repo}/labels", 201, body={"name": "bug", "color": "d73a4a"})
    check("POST", "/repos/{owner}/{repo}/labels", 422, body={"name": "bug"})
    check("GET", "/repos/{owner}/{repo}/collaborators/{username}", 204, username=CAROL)
    check("GET", "/repos/{owner}/{repo}/collaborators/{username}", 404, username=MALLORY)
    check("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", 200, username=CAROL)

    found = check(
        "GET",
        "/search/issues",
        200,
        params={"q": f'"visit-gateway:msg=k1" in:body repo:{REPO} is:issue'},
    )
    assert [item["number"] for item in found["items"]] == [number]
    check("GET", "/search/issues", 422, params={"q": ""})

    tokens = "/app/installations/{installation_id}/access_tokens"
    minted = check("POST", tokens, 201, who=None, auth=f"Bearer {jwt}", installation_id=77)
    check("POST", tokens, 401, who=None, auth="Bearer not.a.jwt", installation_id=77)
    check("POST", tokens, 404, who=None, auth=f"Bearer {jwt}", installation_id=78)
    check("GET", "/repos/{owner}/{repo}/installation", 200, who=None, auth=f"Bearer {jwt}")
    check("GET", "/repos/{owner}/{repo}", 200, who=None, auth=f"token {minted['token']}")

    assert check.seen >= GATEWAY_ENDPOINTS, GATEWAY_ENDPOINTS - check.seen


# The calls issue 16 added to the gateway (reactions, closing, reopening, search elsewhere).
ISSUE_16_ENDPOINTS = {
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/reactions"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("GET", "/search/issues"),
}


def test_issue_16_endpoints_answer_as_the_openapi_description_says(world: World) -> None:
    check = SpecChecker(world)
    issue = "/repos/{owner}/{repo}/issues/{issue_number}"
    number = check("POST", "/repos/{owner}/{repo}/issues", 201, body={"title": "Visit"})["number"]
    comment = check("POST", issue + "/comments", 201, issue_number=number, body={"body": "Hi"})

    on_comment = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
    made = check("POST", on_comment, 201, comment_id=comment["id"], body={"content": "+1"})
    again = check("POST", on_comment, 200, comment_id=comment["id"], body={"content": "+1"})
    assert again == made and made["user"]["login"] == BOT and made["content"] == "+1"
    check("POST", on_comment, 201, who=ALICE, comment_id=comment["id"], body={"content": "+1"})
    check("POST", on_comment, 422, comment_id=comment["id"], body={"content": "thumbs_up"})
    check("POST", on_comment, 422, comment_id=comment["id"], body={})
    check("POST", on_comment, 404, comment_id=1, body={"content": "+1"})
    check("POST", on_comment, 404, who=MALLORY, comment_id=comment["id"], body={"content": "+1"})
    listed = check("GET", on_comment, 200, comment_id=comment["id"])
    assert [(r["user"]["login"], r["content"]) for r in listed] == [(BOT, "+1"), (ALICE, "+1")]
    assert check("GET", on_comment, 200, comment_id=comment["id"], params={"content": "eyes"}) == []
    check("GET", on_comment, 404, comment_id=1)
    rollup = check("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", 200,
                   comment_id=comment["id"])["reactions"]
    assert (rollup["total_count"], rollup["+1"], rollup["heart"]) == (2, 2, 0)

    on_issue = issue + "/reactions"
    check("POST", on_issue, 201, issue_number=number, body={"content": "heart"})
    check("POST", on_issue, 200, issue_number=number, body={"content": "heart"})
    check("POST", on_issue, 422, issue_number=number, body={"content": "THUMBS_UP"})
    check("POST", on_issue, 404, issue_number=999, body={"content": "heart"})
    assert [r["content"] for r in check("GET", on_issue, 200, issue_number=number)] == ["heart"]
    check("GET", on_issue, 404, issue_number=999)
    assert check("GET", issue, 200, issue_number=number)["reactions"]["heart"] == 1

    check("POST", issue + "/labels", 200, issue_number=number, body=["resolved"])  # array form
    closed = check("PATCH", issue, 200, issue_number=number,
                   body={"state": "closed", "state_reason": "not_planned"})
    assert (closed["state"], closed["state_reason"]) == ("closed", "not_planned")
    again = check("PATCH", issue, 200, issue_number=number,
                  body={"state": "closed", "state_reason": "completed"})
    assert again["state_reason"] == "not_planned"  # "Ignored unless `state` is changed."
    label = issue + "/labels/{name}"
    check("DELETE", label, 200, issue_number=number, name="resolved")
    check("DELETE", label, 404, issue_number=number, name="resolved")

    search = "/search/issues"
    check("GET", search, 422, params={"q": "crash repo:acme/nope is:issue"})
    check("GET", search, 422, who=MALLORY, params={"q": f"crash repo:{REPO} is:issue"})
    check("GET", search, 422, params={"q": "x" * 257})
    check("GET", search, 200, params={"q": f'"{"x" * 200}" repo:{REPO} is:issue'})
    assert check.seen >= ISSUE_16_ENDPOINTS, ISSUE_16_ENDPOINTS - check.seen


def test_conditional_get_answers_304_without_charging_the_rate_limit(world: World) -> None:
    session = world.http()
    first = session.get(f"{world.url}/repos/{REPO}")
    used = int(first.headers["x-ratelimit-used"])
    again = session.get(
        f"{world.url}/repos/{REPO}", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-used"] == str(used)


# -- PyGithub as the client -----------------------------------------------------------------------


def test_create_issue_with_labels_and_assignee(world: World) -> None:
    repo = world.repo()
    issue = repo.create_issue(
        "Visit request",
        body="Hello " + MARKER.format("a1"),
        labels=["support", "new"],
        assignees=[ALICE],
    )
    assert issue.number == 1 and issue.state == "open" and issue.user.login == BOT
    assert [x.name for x in issue.labels] == ["support", "new"]
    assert [x.login for x in issue.assignees] == [ALICE]
    assert issue.html_url == f"{world.url}/{REPO}/issues/1"
    assert {x.name for x in world.emulator.labels(REPO)} == {"support", "new"}  # made on the fly
    stored = world.emulator.issue(REPO, 1)
    assert (stored.title, stored.labels, stored.assignees) == (
        "Visit request",
        ["support", "new"],
        [ALICE],
    )
    assert repo.get_issue(1).body == "Hello " + MARKER.format("a1")


def test_assignees_without_push_access_are_dropped_silently(world: World) -> None:
    # bob can only read: GitHub silently drops the labels and assignees he asks for.
    by_bob = world.repo(BOB).create_issue("From bob", labels=["support"], assignees=[ALICE])
    assert by_bob.assignees == [] and by_bob.labels == []
    # carol (triage) cannot be assigned: adding her to an issue is silently ignored ...
    issue = world.repo().create_issue("From the bot")
    issue.add_to_assignees(CAROL, ALICE)
    assert [x.login for x in world.repo().get_issue(issue.number).assignees] == [ALICE]
    assert world.repo().has_in_assignees(ALICE) and not world.repo().has_in_assignees(CAROL)
    # ... while naming her on create is a 422, as on github.com ...
    with pytest.raises(github.GithubException) as failed:
        world.repo().create_issue("To carol", assignees=[CAROL])
    assert failed.value.status == 422
    assert failed.value.data["errors"][0]["field"] == "assignees"
    assert len(world.emulator.issues(REPO)) == 2
    # ... unless the emulator is told to drop her silently there too.
    world.emulator.assignee_policy = AssigneePolicy.DROP
    dropped = world.repo().create_issue("To carol", assignees=[CAROL, ALICE])
    assert [x.login for x in dropped.assignees] == [ALICE]


def test_comments_listed_since_and_issue_closed(make_world: Callable[..., World]) -> None:
    clock = ManualClock(T0)
    w = make_world(clock=clock)
    issue = w.repo().create_issue("Visit", body="body")
    early = issue.create_comment("first")
    clock.advance(dt.timedelta(minutes=10))
    late = issue.create_comment("second")
    w.emulator.comment(REPO, issue.number, "A teammate answers", user=ALICE)
    since = T0 + dt.timedelta(minutes=5)
    assert [c.body for c in issue.get_comments(since=since)] == ["second", "A teammate answers"]
    assert [c.id for c in issue.get_comments()] == [early.id, late.id, late.id + 1]
    assert [c.user.login for c in w.repo().get_issues_comments(since=since)] == [BOT, ALICE]
    clock.advance(dt.timedelta(minutes=10))
    early.edit("first, edited")  # an edit moves updated_at, so `since` finds it again
    assert [
        c.body
        for c in w.repo().get_issues_comments(
            sort="updated", direction="desc", since=T0 + dt.timedelta(minutes=15)
        )
    ] == ["first, edited"]
    assert w.repo().get_issue(issue.number).comments == 3

    issue.edit(state="closed", state_reason="completed")
    closed = w.repo().get_issue(issue.number)
    assert (closed.state, closed.state_reason, closed.closed_by.login) == (
        "closed",
        "completed",
        BOT,
    )
    assert closed.closed_at == T0 + dt.timedelta(minutes=20)
    assert [i.number for i in w.repo().get_issues(state="closed")] == [issue.number]
    assert list(w.repo().get_issues(state="open")) == []
    issue.edit(state="open")
    assert w.repo().get_issue(issue.number).state_reason == "reopened"


def test_search_finds_the_hidden_marker(make_world: Callable[..., World]) -> None:
    clock = ManualClock(T0)
    w = make_world(clock=clock, search_delay=30)
    repo = w.repo()
    keys = ["PGFiY0BleGFtcGxlLm9yZz4", "PGFiY0BleGFtcGxlLm9yZz5", "cXVpZXQ-_x"]
    for key in keys:
        repo.create_issue(f"Visit {key[-2:]}", body=f"text\n\n{MARKER.format(key)}")
    w.emulator.create_issue(REPO, "Quoting", body=f"> {MARKER.format(keys[0])}", user=ALICE)
    g = w.client()

    def search(key: str, *extra: str) -> list[int]:
        query = " ".join(
            [f'"visit-gateway:msg={key}"', "in:body", f"repo:{REPO}", "is:issue", *extra]
        )
        return sorted(i.number for i in g.search_issues(query))

    assert search(keys[0]) == []  # GitHub's index lags behind writes
    clock.advance(dt.timedelta(seconds=31))
    assert search(keys[0]) == [1, 4]
    assert search(keys[0], f"author:{BOT}") == [1]
    assert search(keys[2]) == [3]
    assert search("cXVpZX") == []  # a phrase is whole tokens, not a prefix
    assert sorted(i.number for i in g.search_issues("Visit", repo=REPO, state="open")) == [
        1,
        2,
        3,
        4,
    ]  # issue 4 quotes the marker, whose text starts with "visit"
    assert sorted(
        i.number for i in g.search_issues("Visit", repo=REPO, state="open", **{"in": "title"})
    ) == [1, 2, 3]


def test_issue_list_filters_and_search_by_time(make_world: Callable[..., World]) -> None:
    clock = ManualClock(T0)
    w = make_world(clock=clock)
    e = w.emulator
    e.create_issue(REPO, "one", user=BOT, labels=["support"], assignees=[ALICE])
    clock.advance(dt.timedelta(hours=1))
    e.create_issue(REPO, "two", user=ALICE, labels=["support", "urgent"])
    clock.advance(dt.timedelta(hours=1))
    e.create_issue(REPO, "three", user=BOT)
    clock.advance(dt.timedelta(hours=1))
    e.comment(REPO, 1, "bump", user=BOB)  # read access is enough to comment; moves updated_at
    repo = w.repo()

    def titles(**filters: Any) -> list[str]:
        return [i.title for i in repo.get_issues(**filters)]

    assert titles() == ["three", "two", "one"]
    assert titles(creator=BOT) == ["three", "one"]
    assert titles(assignee=ALICE) == ["one"]
    assert titles(assignee="none") == ["three", "two"]
    assert titles(labels=["support", "urgent"]) == ["two"]
    assert titles(since=T0 + dt.timedelta(minutes=90)) == ["three", "one"]
    assert titles(sort="updated") == ["one", "three", "two"]
    g = w.client()
    after = (T0 + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"repo:{REPO} is:issue author:{BOT} created:>={after}"
    assert [i.title for i in g.search_issues(query)] == ["three"]
    assert [i.title for i in g.search_issues(f"repo:{REPO} no:assignee label:support")] == ["two"]


def test_pagination_over_250_issues(world: World) -> None:
    for n in range(250):
        world.emulator.create_issue(REPO, f"Issue {n + 1}", user=BOT)
    issues = world.repo().get_issues(state="all")
    numbers = [i.number for i in issues]
    assert numbers == list(range(250, 0, -1))  # newest first, each exactly once
    assert issues.totalCount == 250
    last = world.http().get(
        f"{world.url}/repos/{REPO}/issues", params={"state": "all", "per_page": "100", "page": "3"}
    )
    assert len(last.json()) == 50
    links = dict(
        (rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', last.headers["Link"])
    )
    assert set(links) == {"prev", "first"}
    assert links["prev"] == f"{world.url}/repos/{REPO}/issues?state=all&per_page=100&page=2"
    asc = world.repo().get_issues(state="all", direction="asc", sort="created")
    assert [i.number for i in asc[:3]] == [1, 2, 3]


def test_auth_failures_and_invisible_repos(world: World) -> None:
    g = world.client()
    assert g.get_repo(REPO).full_name == REPO
    world.emulator.revoke_token(world.tokens[BOT])
    with pytest.raises(github.BadCredentialsException) as revoked:
        g.get_repo(REPO)
    assert revoked.value.status == 401 and revoked.value.data["message"] == "Bad credentials"
    with pytest.raises(github.UnknownObjectException):
        world.client(ALICE).get_repo("acme/missing")
    with pytest.raises(github.UnknownObjectException):
        world.client(MALLORY).get_repo(REPO)  # private and mallory has no access: 404, not 403
    scoped = world.emulator.add_token(ALICE, "scoped-token", repos=["acme/other"])
    world.tokens["scoped"] = scoped
    with pytest.raises(github.UnknownObjectException):
        world.client("scoped").get_repo(REPO)


def test_primary_rate_limit(world: World) -> None:
    world.emulator.set_limits(core=3)
    g = world.client()
    repo = g.get_repo(REPO)
    repo.get_issues(state="all").get_page(0)
    repo.create_issue("three")
    with pytest.raises(github.RateLimitExceededException) as limited:
        repo.create_issue("four")
    exc = limited.value
    assert exc.status == 403 and exc.headers is not None
    assert exc.headers["x-ratelimit-remaining"] == "0"
    assert exc.headers["x-ratelimit-limit"] == "3"
    assert int(exc.headers["x-ratelimit-reset"]) > time.time()
    user_id = g.get_rate_limit  # /rate_limit is free even when the limit is spent
    assert user_id().resources.core.remaining == 0
    assert exc.data["message"].startswith("API rate limit exceeded for user ID ")
    assert world.emulator.limit_errors_served == 1
    assert [i.title for i in world.emulator.issues(REPO)] == ["three"]


def test_secondary_rate_limit(world: World) -> None:
    world.emulator.set_limits(secondary=True, content_per_minute=2)
    repo = world.repo()
    repo.create_issue("one")
    repo.create_issue("two")
    with pytest.raises(github.RateLimitExceededException) as limited:
        repo.create_issue("three")
    exc = limited.value
    assert exc.status == 403 and exc.headers is not None
    assert 1 <= int(exc.headers["retry-after"]) <= 60
    assert int(exc.headers["x-ratelimit-remaining"]) > 0  # not the primary limit
    assert exc.data["message"].startswith("You have exceeded a secondary rate limit")
    assert [i.title for i in world.emulator.issues(REPO)] == ["one", "two"]
    assert world.emulator.limit_errors_served == 1
    repo.get_issue(1)  # reads are not content creation

    world.emulator.set_limits(content_per_minute=80, min_interval=5.0, secondary_status=429)
    world.emulator.reset_limits()
    session = world.http(ALICE)
    assert session.post(f"{world.url}/repos/{REPO}/issues", json={"title": "a"}).ok
    spaced = session.post(f"{world.url}/repos/{REPO}/issues", json={"title": "b"})
    assert spaced.status_code == 429 and 1 <= int(spaced.headers["retry-after"]) <= 5
    assert world.emulator.limit_errors_served == 1


# -- faults ---------------------------------------------------------------------------------------


def test_error_after_write_means_a_blind_retry_duplicates(world: World) -> None:
    world.emulator.inject_fault(
        FaultKind.ERROR_AFTER_WRITE, method="POST", path="/repos/{owner}/{repo}/issues"
    )
    repo = world.repo()
    body = MARKER.format("dup")
    with pytest.raises(github.GithubException) as failed:
        repo.create_issue("Visit", body=body)
    assert failed.value.status == 502
    assert [i.body for i in world.emulator.issues(REPO)] == [body]  # applied despite the 502
    repo.create_issue("Visit", body=body)  # what a client that retries blindly does
    assert [i.number for i in world.emulator.issues(REPO) if i.body == body] == [1, 2]
    assert [f.kind for f in world.emulator.faults_fired] == [FaultKind.ERROR_AFTER_WRITE]


def test_error_before_write_applies_nothing(world: World) -> None:
    world.emulator.inject_fault(FaultKind.ERROR_BEFORE_WRITE, method="POST", status=503)
    with pytest.raises(github.GithubException) as failed:
        world.repo().create_issue("Visit")
    assert failed.value.status == 503
    assert world.emulator.issues(REPO) == []
    world.repo().create_issue("Visit")  # the fault fired once
    assert len(world.emulator.issues(REPO)) == 1


def test_dropped_connections(world: World) -> None:
    issue = world.repo().create_issue("Visit")
    world.emulator.inject_fault(
        FaultKind.DROP_AFTER_WRITE,
        method="POST",
        path="/repos/{owner}/{repo}/issues/{issue_number}/comments",
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        issue.create_comment("reply")
    assert [c.body for c in world.emulator.comments(REPO, issue.number)] == ["reply"]
    world.emulator.inject_fault(FaultKind.DROP_BEFORE_WRITE, method="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        issue.create_comment("another")
    assert [c.body for c in world.emulator.comments(REPO, issue.number)] == ["reply"]
    dropped = [r for r in world.emulator.request_log() if r.fault is not None]
    assert [(r.status, r.fault) for r in dropped] == [
        (None, FaultKind.DROP_AFTER_WRITE),
        (None, FaultKind.DROP_BEFORE_WRITE),
    ]
    assert issue.create_comment("third").body == "third"  # the client reconnects


def test_latency_is_added(world: World) -> None:
    issue = world.repo().create_issue("Visit")
    world.emulator.inject_fault(
        FaultKind.LATENCY,
        method="GET",
        delay=0.3,
        times=1,
        path=f"/repos/{REPO}/issues/{issue.number}",
    )
    session = world.http()
    started = time.monotonic()
    assert session.get(f"{world.url}/repos/{REPO}/issues/{issue.number}").ok
    assert time.monotonic() - started >= 0.3  # a lower bound: the delay was served
    assert len(world.emulator.faults_fired) == 1
    # `times=1`: the next request is not delayed. Read from the fault record, not the clock
    # (a wall-clock upper bound fails on a loaded machine).
    assert session.get(f"{world.url}/repos/{REPO}/issues/{issue.number}").ok
    assert len(world.emulator.faults_fired) == 1


def test_random_faults_are_reproducible_with_a_seed(make_world: Callable[..., World]) -> None:
    def run(seed: int) -> tuple[list[int], list[float]]:
        w = make_world(seed=seed)
        w.emulator.inject_fault(
            FaultKind.ERROR_BEFORE_WRITE, path="/repos/{owner}/{repo}", times=None, probability=0.5
        )
        w.emulator.inject_fault(
            FaultKind.LATENCY, path="/user", times=None, delay=0.0, delay_max=0.02
        )
        session = w.http()
        statuses = [session.get(f"{w.url}/repos/{REPO}").status_code for _ in range(24)]
        for _ in range(3):
            session.get(f"{w.url}/user")
        delays = [f.delay for f in w.emulator.faults_fired if f.kind is FaultKind.LATENCY]
        return statuses, delays

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert {200, 502} <= set(first[0])
    assert len(first[1]) == 3 and all(0.0 <= d <= 0.02 for d in first[1])


# -- webhooks -------------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def kind(self) -> tuple[str, str]:
        return self.headers["X-GitHub-Event"], json.loads(self.body)["action"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Received], threading.Event]]:
    """A local webhook receiver; answers 204, but while `stall` is set it holds every delivery
    unanswered (and unrecorded) until `stall` is cleared."""
    got: list[Received] = []
    stall = threading.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        while stall.is_set():
            await asyncio.sleep(0.01)
        got.append(Received(dict(request.headers), body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhook", hook)
    with serve_app(app) as url:
        yield f"{url}/webhook", got, stall


def expected_signature(body: bytes) -> str:
    return (
        "sha256=" + hmac.new(SECRET.encode("utf-8"), msg=body, digestmod=hashlib.sha256).hexdigest()
    )


def reference(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((REFERENCE / "webhooks" / name).read_text())
    return loaded


def test_webhook_deliveries_are_signed_and_shaped_like_github(
    world: World, receiver: tuple[str, list[Received], threading.Event]
) -> None:
    url, got, _ = receiver
    hook = world.emulator.add_webhook(url, SECRET)
    issue = world.repo().create_issue("Visit", body="hello", labels=["support"], assignees=[ALICE])
    comment = world.emulator.comment(REPO, issue.number, "On it.", user=ALICE)
    edited = world.repo(ALICE).get_issue(issue.number).get_comment(comment.id)
    edited.edit("On it!")
    edited.delete()
    issue.remove_from_assignees(ALICE)
    world.emulator.close_issue(REPO, issue.number, user=ALICE)
    issue.edit(state="open")
    assert world.emulator.webhooks.wait_idle(5)

    assert [r.kind for r in got] == [
        ("issues", "opened"),
        ("issues", "labeled"),
        ("issues", "assigned"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("issues", "unassigned"),
        ("issues", "closed"),
        ("issues", "reopened"),
    ]
    guids = set()
    for r in got:
        assert hmac.compare_digest(r.headers["X-Hub-Signature-256"], expected_signature(r.body))
        assert not hmac.compare_digest(
            r.headers["X-Hub-Signature-256"],
            "sha256=" + hmac.new(b"wrong", r.body, hashlib.sha256).hexdigest(),
        )
        assert r.headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-GitHub-Hook-ID"] == str(hook.id)
        guids.add(str(uuid.UUID(r.headers["X-GitHub-Delivery"])))
    assert len(guids) == len(got)

    opened, created = json.loads(got[0].body), json.loads(got[3].body)
    ref_opened, ref_created = (
        reference("issues.opened.15.json"),
        reference("issue_comment.created.0.json"),
    )
    assert set(ref_opened) <= set(opened)
    assert set(ref_opened["issue"]) <= set(opened["issue"])
    assert set(ref_opened["repository"]) <= set(opened["repository"])
    assert set(ref_opened["sender"]) <= set(opened["sender"])
    assert set(ref_created) <= set(created) and set(ref_created["comment"]) <= set(
        created["comment"]
    )
    assert opened["issue"]["number"] == issue.number and opened["sender"]["login"] == BOT
    assert created["comment"]["body"] == "On it." and created["sender"]["login"] == ALICE
    assert json.loads(got[1].body)["label"]["name"] == "support"
    assert json.loads(got[2].body)["assignee"]["login"] == ALICE
    assert json.loads(got[4].body)["changes"] == {"body": {"from": "On it."}}
    closed = json.loads(got[7].body)["issue"]
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert all(
        d.status == "delivered" and d.status_code == 204
        for d in world.emulator.webhooks.deliveries()
    )


def test_paused_deliveries_are_not_sent_and_can_be_redelivered(
    world: World, receiver: tuple[str, list[Received], threading.Event]
) -> None:
    url, got, _ = receiver
    world.emulator.add_webhook(url, SECRET, events={"issue_comment"})
    issue = world.repo().create_issue("Visit")  # `issues` events are not subscribed
    world.emulator.webhooks.pause()
    issue.create_comment("while the receiver is down")
    world.emulator.webhooks.resume()
    issue.create_comment("after it came back")
    assert world.emulator.webhooks.wait_idle(5)
    assert [json.loads(r.body)["comment"]["body"] for r in got] == ["after it came back"]
    missed = world.emulator.webhooks.deliveries()[0]
    assert (missed.status, missed.status_code) == ("failed", None)

    redone = world.emulator.webhooks.redeliver(missed.guid)
    assert world.emulator.webhooks.wait_idle(5)
    assert [r.headers["X-GitHub-Delivery"] for r in got] == [
        world.emulator.webhooks.deliveries()[1].guid,
        missed.guid,
    ]
    assert json.loads(got[1].body)["comment"]["body"] == "while the receiver is down"
    assert hmac.compare_digest(
        got[1].headers["X-Hub-Signature-256"], expected_signature(got[1].body)
    )
    assert redone[0].redelivery and world.emulator.webhooks.redeliver_failed() == []


def test_webhook_sending_does_not_block_the_api(
    world: World, receiver: tuple[str, list[Received], threading.Event]
) -> None:
    """The API answers while every delivery it made is still held by the receiver: no timing,
    a call that waited for its delivery would never be answered (the timeout fails it)."""
    url, got, stall = receiver
    world.emulator.add_webhook(url, SECRET)
    stall.set()
    session = world.http()
    try:
        for n in range(3):
            assert session.post(f"{world.url}/repos/{REPO}/issues", json={"title": f"{n}"},
                                timeout=30).ok
        assert got == []  # all three answered, none delivered yet
    finally:
        stall.clear()
    assert world.emulator.webhooks.wait_idle(10)
    assert len(got) == 3


def test_github_app_installation_tokens(world: World, app_key: tuple[str, str]) -> None:
    e = world.emulator
    e.add_app(4242, slug="visit-gateway", owner="acme", public_key_pem=app_key[1])
    e.add_installation(77, 4242, "acme", repos=[REPO])
    auth = github.Auth.AppAuth(4242, app_key[0]).get_installation_auth(77)
    g = github.Github(
        base_url=world.url,
        auth=auth,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    world.clients.append(g)
    issue = g.get_repo(REPO).create_issue("Via the app", labels=["support"], assignees=[ALICE])
    assert issue.user.login == "visit-gateway[bot]" and issue.user.type == "Bot"
    assert [x.login for x in issue.assignees] == [ALICE]  # the app can push
    assert issue.performed_via_github_app.slug == "visit-gateway"
    with pytest.raises(github.UnknownObjectException):
        g.get_repo("acme/other")  # not in the installation
    with pytest.raises(github.GithubException) as forbidden:
        g.get_user().login  # noqa: B018 - installation tokens cannot read /user
    assert forbidden.value.status == 403

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    integration = github.GithubIntegration(
        auth=github.Auth.AppAuth(4242, forged), base_url=world.url, retry=None
    )
    with pytest.raises(github.GithubException) as refused:
        integration.get_access_token(77)
    assert refused.value.status == 401
    integration.close()


def test_command_line_runner_serves_a_repo() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.testing.github_emulator",
            "--repo",
            "acme/cli",
            "--token",
            "cli-token",
            "--collaborator",
            "alice:triage",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        headers = {"Authorization": "token cli-token"}
        assert requests.get(f"{url}/repos/acme/cli", headers=headers, timeout=5).json()[
            "permissions"
        ]["admin"]
        permission = requests.get(
            f"{url}/repos/acme/cli/collaborators/alice/permission", headers=headers, timeout=5
        ).json()
        assert permission["role_name"] == "triage"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()
