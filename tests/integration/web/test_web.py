"""The HTTP edge over real HTTP on loopback: `serve(make_app(...))` on 127.0.0.1:0, driven by an
aiohttp client (and a raw socket where the client would be too polite).

Bodies are GitHub's published example payloads, signed here with `hmac` independently of the
code under test. Covers signature checks, size limits, media type and JSON checks, GitHub's
headers, result pass-through, ping, a fuzz that never sees a 500, `/healthz` and `/metrics`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import inspect
import io
import json
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    MutableMapping,
)
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as count_case
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

import gateway.web.server
from gateway import __version__
from gateway.clock import ManualClock
from gateway.inbound.source import SourceStatus
from gateway.outbound.writer import WriterStatus
from gateway.testing.reference import reference_dir
from gateway.tracking.events import parse_webhook
from gateway.tracking.payload import PayloadError
from gateway.web.health import Health, assess_health
from gateway.web.limits import WebLimits
from gateway.web.metrics import CONTENT_TYPE, GatewayMetrics
from gateway.web.server import MAX_BODY_KEY, Delivery, DeliveryResult, make_app, serve

REFERENCE = reference_dir()
WEBHOOKS = REFERENCE / "webhooks"
SECRET = b"It's a Secret to Everybody"
NOW = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.UTC)
GITHUB_MAX = 25 * 1024 * 1024  # GitHub's payload cap
T = TypeVar("T")


def examples(prefix: str = "") -> list[Path]:
    found = sorted(WEBHOOKS.glob(f"{prefix}*.json"))
    assert found, f"GitHub webhook examples missing in {WEBHOOKS} (set GITHUB_REFERENCE_DIR)"
    return found


def event_of(path: Path) -> str:
    return path.name.split(".")[0]


def sign(body: bytes, secret: bytes = SECRET, algorithm: str = "sha256") -> str:
    return f"{algorithm}=" + hmac.new(secret, body, getattr(hashlib, algorithm)).hexdigest()


def github_headers(event: str, body: bytes, *, guid: str | None = None) -> dict[str, str]:
    """The headers GitHub sends with a delivery (docs: "Webhook events and payloads")."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "492847501",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": "186853002",
        "X-Hub-Signature-256": sign(body),
        "User-Agent": "GitHub-Hookshot/7f3a0c2",
        "Content-Type": "application/json",
    }


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class FakeHandler:
    """Stands in for the wiring: records deliveries; a GUID seen before is a duplicate."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.fail_with: Exception | str | None = None  # raised, or returned (a bug)
        self.delegate: Callable[[Delivery], Awaitable[DeliveryResult]] | None = None

    async def __call__(self, delivery: Delivery) -> DeliveryResult:
        self.deliveries.append(delivery)
        if self.delegate is not None:
            return await self.delegate(delivery)
        if isinstance(self.fail_with, Exception):
            raise self.fail_with
        if isinstance(self.fail_with, str):
            return self.fail_with  # type: ignore[return-value]
        if not isinstance(delivery.payload.get("action", ""), str):
            raise ValueError("action must be a string")
        if any(d.guid == delivery.guid for d in self.deliveries[:-1]):
            return DeliveryResult.DUPLICATE
        return DeliveryResult.APPLIED


class Server:
    """`serve(make_app(...))` on 127.0.0.1:0 in a private event loop, with a client session."""

    def __init__(self, *, max_body: int | None = None, limits: WebLimits | None = None) -> None:
        self.handler = FakeHandler()
        self.metrics = GatewayMetrics()
        self.health: Health | Exception | None = Health(True, {})  # returned, raised; None hangs
        self.loop = asyncio.new_event_loop()
        extra: dict[str, Any] = {} if max_body is None else {"max_body": max_body}
        if limits is not None:
            extra["limits"] = limits
        self.app = make_app(secret=SECRET, handle_delivery=self.handler, health=self._health,
                            metrics=self.metrics, clock=ManualClock(NOW), **extra)
        self.handle = self.run(serve(self.app, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.handle.port}"
        self.session = self.run(self._open_session())

    async def _health(self) -> Health:
        if isinstance(self.health, Exception):
            raise self.health
        if self.health is None:
            await asyncio.Event().wait()
        assert self.health is not None
        return self.health

    async def _open_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def post(self, body: bytes | AsyncIterator[bytes], headers: Mapping[str, str],
             path: str = "/webhook") -> Reply:
        data = io.BytesIO(body) if isinstance(body, bytes) and len(body) > 1 << 20 else body

        async def go() -> Reply:
            async with self.session.post(self.url + path, data=data, headers=dict(headers),
                                         skip_auto_headers=["Content-Type"]) as response:
                return Reply(response.status, await response.read(), dict(response.headers))
        return self.run(go())

    def get(self, path: str) -> Reply:
        async def go() -> Reply:
            async with self.session.get(self.url + path) as response:
                return Reply(response.status, await response.read(), dict(response.headers))
        return self.run(go())

    def metric(self, name: str, **labels: str) -> float | None:
        for family in text_string_to_metric_families(self.get("/metrics").body.decode()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None

    def close(self) -> None:
        self.run(self.session.close())
        self.run(self.handle.close())
        self.loop.close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def small() -> Iterator[Server]:
    running = Server(max_body=4096)
    yield running
    running.close()


def webhook_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if str(line["event"]).startswith("webhook.")]


# -- accepted deliveries --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p in examples() if event_of(p) != "ping"],
                         ids=lambda p: p.stem)
def test_a_signed_github_delivery_reaches_the_handler(server: Server, path: Path) -> None:
    body = path.read_bytes()
    headers = github_headers(event_of(path), body)
    with capture_logs() as logs:
        reply = server.post(body, headers)
    assert (reply.status, reply.json()) == (200, {"result": "applied"})
    assert server.handler.deliveries == [
        Delivery(headers["X-GitHub-Delivery"], event_of(path), json.loads(body), NOW,
                 parse_webhook(event_of(path), json.loads(body)))]
    [line] = webhook_lines(logs)
    assert (line["event"], line["log_level"], line["github_event"], line["delivery"],
            line["result"]) == ("webhook.received", "info", event_of(path),
                                headers["X-GitHub-Delivery"], "applied")
    assert line["action"] == json.loads(body)["action"] and line["ms"] >= 0


def test_a_redelivered_guid_passes_the_handlers_duplicate_through(server: Server) -> None:
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    headers = github_headers("issues", body)
    first, second = server.post(body, headers), server.post(body, headers)
    assert (first.json(), second.json()) == ({"result": "applied"}, {"result": "duplicate"})
    assert [d.guid for d in server.handler.deliveries] == [headers["X-GitHub-Delivery"]] * 2
    assert server.metric("visit_gateway_webhook_deliveries_total", result="duplicate") == 1


@pytest.mark.parametrize("path", examples("ping."), ids=lambda p: p.stem)
def test_ping_is_answered_without_the_handler(server: Server, path: Path) -> None:
    body = path.read_bytes()
    reply = server.post(body, github_headers("ping", body))
    assert (reply.status, reply.json()) == (200, {"ok": True, "zen": json.loads(body)["zen"]})
    assert server.handler.deliveries == []
    assert server.metric("visit_gateway_webhook_deliveries_total", result="ignored") == 1


def test_a_json_content_type_with_charset_is_accepted(server: Server) -> None:
    body = (WEBHOOKS / "issues.opened.16.json").read_bytes()
    headers = github_headers("issues", body) | {"Content-Type": "application/json; charset=utf-8"}
    assert server.post(body, headers).status == 200


# -- signatures -----------------------------------------------------------------------------------

BODY = (WEBHOOKS / "issue_comment.created.0.json").read_bytes()
SIGNATURES = {  # case: (X-Hub-Signature-256, the reason logged)
    "missing": (None, "signature_missing"),
    "sha1 instead of sha256": (sign(BODY, algorithm="sha1"), "signature_malformed"),
    "bare hex without prefix": (sign(BODY).removeprefix("sha256="), "signature_malformed"),
    "another body": (sign(BODY + b"\n"), "signature_mismatch"),
    "another secret": (sign(BODY, secret=b"not the secret"), "signature_mismatch"),
    "empty": ("", "signature_malformed"),
    "truncated": (sign(BODY)[:-2], "signature_malformed"),
    "upper-case prefix": ("SHA256=" + sign(BODY).removeprefix("sha256="), "signature_malformed"),
    "two signatures": (sign(BODY) + "," + sign(BODY), "signature_malformed"),
    "non-ascii": ("sha256=" + "é" * 64, "signature_malformed"),
}


@pytest.mark.parametrize(("signature", "reason"), SIGNATURES.values(), ids=SIGNATURES.keys())
def test_a_bad_signature_is_401_and_one_log_line(server: Server, signature: str | None,
                                                 reason: str) -> None:
    headers = github_headers("issue_comment", BODY)
    if signature is None:
        del headers["X-Hub-Signature-256"]
    else:
        headers["X-Hub-Signature-256"] = signature
    with capture_logs() as logs:
        reply = server.post(BODY, headers)
    assert reply.status == 401 and "error" in reply.json()
    assert server.handler.deliveries == []
    [line] = webhook_lines(logs)
    assert line["event"] == "webhook.rejected" and line["log_level"] == "warning"
    assert line["reason"] == reason
    assert line["delivery"] == headers["X-GitHub-Delivery"] and line["remote"] == "127.0.0.1"
    comment = json.loads(BODY)["comment"]["body"]
    assert comment not in repr(logs) and SECRET.decode() not in repr(logs)
    assert server.metric("visit_gateway_webhook_deliveries_total", result="rejected") == 1


def test_the_signature_is_checked_before_anything_looks_at_the_body(server: Server) -> None:
    for body, content_type in [(b"{not json", "application/json"), (b"[1]", "text/plain"),
                               (BODY, "application/x-www-form-urlencoded")]:
        headers = github_headers("issues", body) | {"Content-Type": content_type,
                                                    "X-Hub-Signature-256": sign(b"other")}
        del headers["X-GitHub-Event"]
        assert server.post(body, headers).status == 401
    assert server.metric("visit_gateway_webhook_deliveries_total", result="rejected") == 3


# -- what a signed request must also get right ----------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp", "multipart/form-data"])
def test_a_content_type_other_than_json_is_415(server: Server, content_type: str | None) -> None:
    headers = github_headers("issue_comment", BODY)
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    reply = server.post(BODY, headers)
    assert reply.status == 415 and "application/json" in reply.json()["error"]
    assert server.handler.deliveries == []


@pytest.mark.parametrize("body", [b"", b"{", b'{"action": "opened",}', b"\xff\xfe{}", b"[]",
                                  b"[{}]", b'"text"', b"42", b"null", b"[" * 100_000,
                                  b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
                         ids=["empty", "truncated", "trailing comma", "bad utf-8", "array",
                              "array of objects", "string", "number", "null", "deep array",
                              "deep object"])
def test_a_body_that_is_not_a_json_object_is_400(server: Server, body: bytes) -> None:
    with capture_logs() as logs:
        reply = server.post(body, github_headers("issues", body))
    assert reply.status == 400 and "error" in reply.json()
    assert server.handler.deliveries == []
    [line] = webhook_lines(logs)
    assert (line["event"], line["result"]) == ("webhook.received", "bad_request")


@pytest.mark.parametrize(("header", "value"), [
    ("X-GitHub-Event", None), ("X-GitHub-Delivery", None), ("X-GitHub-Event", ""),
    ("X-GitHub-Delivery", ""), ("X-GitHub-Event", "Issues; DROP"),
    ("X-GitHub-Delivery", "x" * 101), ("X-GitHub-Delivery", "a b")])
def test_missing_or_bad_github_headers_are_400(server: Server, header: str,
                                               value: str | None) -> None:
    headers = github_headers("issues", BODY)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    reply = server.post(BODY, headers)
    assert reply.status == 400 and header in reply.json()["error"]
    assert server.handler.deliveries == []
    assert server.metric("visit_gateway_webhook_deliveries_total", result="bad_request") == 1


def test_a_payload_the_handler_cannot_use_is_400_with_its_reason(server: Server) -> None:
    server.handler.fail_with = PayloadError("issue_comment", "issue.number", "not tracked here")
    reply = server.post(BODY, github_headers("issue_comment", BODY))
    assert (reply.status, reply.json()) == (
        400, {"error": "issue_comment payload: issue.number: not tracked here"})


def test_another_value_error_is_400_without_its_text(server: Server) -> None:
    # A ValueError from deeper down may quote what it choked on (an address, a body).
    server.handler.fail_with = ValueError("invalid literal for int(): 'jane.roe@univ.edu'")
    with capture_logs() as logs:
        reply = server.post(BODY, github_headers("issue_comment", BODY))
    assert (reply.status, reply.json()) == (400, {"error": "unusable payload"})
    assert "jane.roe" not in repr(logs)
    [line] = webhook_lines(logs)
    assert (line["reason"], line["error_type"]) == ("unusable payload", "ValueError")


# -- the shape of the payload: GitHub's examples' field types, at the edge ------------------------

WRONG_SHAPES = {  # case: (example, dotted path, value, the field named in the answer)
    "comment is text": ("issue_comment.created.0.json", "comment", "x", "comment"),
    "issue number 2**70": ("issues.opened.15.json", "issue.number", 2**70, "issue.number"),
    "issue number -5": ("issues.opened.15.json", "issue.number", -5, "issue.number"),
    "comment on issue -5": ("issue_comment.created.0.json", "issue.number", -5, "issue.number"),
    "created_at in year 9999": ("issues.opened.15.json", "issue.created_at",
                                "9999-12-31T23:59:59-14:00", "issue.created_at"),
    "comment created_at in year 9999": ("issue_comment.created.0.json", "comment.created_at",
                                        "9999-12-31T23:59:59-14:00", "comment.created_at"),
    "comment id a float": ("issue_comment.created.0.json", "comment.id", 1.5, "comment.id"),
    "login a list": ("issues.opened.15.json", "issue.user.login", ["x"], "issue.user.login"),
    "labels an object": ("issues.labeled.9.json", "issue.labels", {"name": "bug"},
                         "issue.labels"),
    "transferred to -1": ("issues.transferred.21.json", "changes.new_issue.number", -1,
                          "changes.new_issue.number"),
}


def reshaped(name: str, path: str, value: Any) -> bytes:
    body = json.loads((WEBHOOKS / name).read_bytes())
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[key]
    node[last] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(("name", "path", "value", "field"), WRONG_SHAPES.values(),
                         ids=WRONG_SHAPES.keys())
def test_a_signed_delivery_of_the_wrong_shape_is_400_and_logged_without_the_body(
        server: Server, name: str, path: str, value: Any, field: str) -> None:
    body = reshaped(name, path, value)
    with capture_logs() as logs:
        reply = server.post(body, github_headers(event_of(Path(name)), body))
    assert reply.status == 400 and reply.json()["error"].startswith(event_of(Path(name)))
    assert field in reply.json()["error"] and str(value) not in reply.json()["error"]
    assert server.handler.deliveries == []  # refused before the handler
    [line] = webhook_lines(logs)
    assert (line["event"], line["result"], line["reason"], line["field"]) == (
        "webhook.received", "bad_request", "invalid_payload", field)
    issue = json.loads(body)["issue"]
    value_text = json.dumps(value)  # "-5" could be part of a delivery GUID: only longer ones
    for text in (issue.get("title"), issue.get("body"), value_text if len(value_text) > 4 else ""):
        assert not text or text not in repr(logs)
    assert server.metric("visit_gateway_webhook_deliveries_total", result="bad_request") == 1


@pytest.mark.parametrize("failure", [RuntimeError("database is locked at /var/secret/path"),
                                     "not a result"], ids=["raises", "returns junk"])
def test_a_failing_handler_is_500_with_a_generic_message(server: Server,
                                                         failure: Exception | str) -> None:
    server.handler.fail_with = failure
    with capture_logs() as logs:
        reply = server.post(BODY, github_headers("issue_comment", BODY))
    assert reply.status == 500 and "locked" not in reply.json()["error"]
    [line] = webhook_lines(logs)
    assert (line["event"], line["log_level"], line["result"]) == ("webhook.failed", "error",
                                                                  "error")
    assert line["exc_info"] is True
    assert server.metric("visit_gateway_webhook_deliveries_total", result="error") == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_cannot_be_decoded_is_400(server: Server, encoding: str) -> None:
    headers = github_headers("issues", BODY) | {"Content-Encoding": encoding}
    with capture_logs() as logs:
        reply = server.post(BODY, headers)  # claims an encoding it does not have
    assert reply.status == 400
    [line] = webhook_lines(logs)
    assert (line["event"], line["reason"]) == ("webhook.rejected", "unreadable_body")


# -- size -----------------------------------------------------------------------------------------


def padded_ping(size: int) -> bytes:
    body = b'{"zen": "' + b"x" * (size - 11) + b'"}'
    assert len(body) == size
    return body


def test_a_body_up_to_the_limit_is_read_and_one_byte_more_is_413(small: Server) -> None:
    fits = padded_ping(4096)
    assert small.post(fits, github_headers("ping", fits)).status == 200
    over = padded_ping(4097)
    with capture_logs() as logs:
        reply = small.post(over, github_headers("ping", over))
    assert reply.status == 413
    [line] = webhook_lines(logs)
    assert (line["event"], line["reason"]) == ("webhook.rejected", "too_large")
    assert small.metric("visit_gateway_webhook_deliveries_total", result="too_large") == 1


def test_a_chunked_body_that_grows_past_the_limit_is_413(small: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 1024

    assert small.post(chunks(), github_headers("issues", b" " * 8192)).status == 413

    small_body = json.dumps({"zen": "Keep it logically awesome."}).encode()

    async def one() -> AsyncIterator[bytes]:
        yield small_body

    assert small.post(one(), github_headers("ping", small_body)).status == 200


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(small: Server) -> None:
    async def ask() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", small.handle.port)
        writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")  # and no body ever follows
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 2)
        writer.close()
        await writer.wait_closed()
        return status

    assert small.run(ask()).startswith(b"HTTP/1.1 413")


def test_the_default_limit_is_githubs_25_mb(server: Server) -> None:
    assert inspect.signature(make_app).parameters["max_body"].default == GITHUB_MAX
    assert server.app[MAX_BODY_KEY] == GITHUB_MAX
    biggest = padded_ping(GITHUB_MAX)
    assert server.post(biggest, github_headers("ping", biggest)).status == 200
    over = padded_ping(GITHUB_MAX + 1)
    assert server.post(over, github_headers("ping", over)).status == 413


# -- nothing a client sends gets a 500 ------------------------------------------------------------

HOP_BY_HOP = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade",
              "te", "trailer", "keep-alive", "proxy-connection", "content-type",
              "content-encoding", "x-hub-signature-256", "x-github-event", "x-github-delivery"}
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x17F,
                                    exclude_characters="\x7f"), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
bodies = st.one_of(
    st.binary(max_size=2048),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["action", "zen", "issue", "comment"]), json_values,
                    max_size=4).map(lambda value: json.dumps(value).encode()),
    st.sampled_from([p.read_bytes() for p in examples()]),
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Server]:
    running = Server(max_body=16 * 1024)  # the smallest example payload fits, the largest not
    yield running
    running.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(body=bodies,
       signature=st.sampled_from(["right", "right", "right", "wrong", "missing", "garbage"]),
       content_type=st.one_of(st.just("application/json"), st.just("application/json"),
                              st.none(), header_text, st.sampled_from(
           ["application/json; charset=latin-1", "text/plain", "application/json;;;=", "",
            "application/x-www-form-urlencoded"])),
       event=st.one_of(*[st.sampled_from(["issues", "issue_comment", "ping"])] * 3,
                       st.none(), header_text),
       guid=st.one_of(*[st.uuids().map(str)] * 3, st.just("same-guid"), st.none(),
                      header_text),
       encoding=st.one_of(st.none(), st.sampled_from(["gzip", "deflate", "br", "identity",
                                                       "x-unknown"])),
       chunked=st.booleans(),
       extra=st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
           lambda name: name.lower() not in HOP_BY_HOP), header_text, max_size=4))
def test_no_client_input_gets_a_500(fuzzed: Server, body: bytes, signature: str,
                                    content_type: str | None, event: str | None,
                                    guid: str | None, encoding: str | None, chunked: bool,
                                    extra: dict[str, str]) -> None:
    headers = dict(extra)
    if signature != "missing":
        headers["X-Hub-Signature-256"] = {"right": sign(body), "wrong": sign(body + b"!"),
                                          "garbage": "sha256=zz"}[signature]
    for name, value in [("Content-Type", content_type), ("X-GitHub-Event", event),
                        ("X-GitHub-Delivery", guid), ("Content-Encoding", encoding)]:
        if value is not None:
            headers[name] = value

    async def stream() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        yield body[len(body) // 2:]

    with capture_logs() as logs:
        reply = fuzzed.post(stream() if chunked else body, headers)
    lines = webhook_lines(logs)
    count_case(f"{reply.status} {lines[0]['event'] if lines else '-'}")
    assert reply.status in {200, 400, 401, 413, 415}, reply
    assert len(lines) == 1 or (reply.status == 400 and not lines)  # aiohttp's own 400s: none
    assert all(line["event"] != "webhook.failed" for line in lines)


TRACKED_FIELDS = ["action", "issue", "issue.number", "issue.state", "issue.created_at",
                  "issue.updated_at", "issue.closed_at", "issue.user", "issue.user.login",
                  "issue.assignees", "issue.labels", "issue.pull_request", "repository",
                  "repository.full_name", "sender", "sender.login", "assignee", "label",
                  "changes", "comment", "comment.id", "comment.body", "comment.created_at",
                  "comment.user", "comment.user.login"]
TRACKED_EXAMPLES = [p for p in examples() if event_of(p) in ("issues", "issue_comment")]
odd_values = st.one_of(
    json_values, st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, -5, 2**63, 2**70, "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
                     "2019-05-15T15:20:18", "", [], {}, {"login": 7}, [{"name": None}]]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(TRACKED_EXAMPLES), field=st.sampled_from(TRACKED_FIELDS),
       value=odd_values)
def test_a_signed_payload_of_any_shape_is_answered_below_500(fuzzed: Server, path: Path,
                                                             field: str, value: Any) -> None:
    """Behind the edge the real parser runs: whatever passes the edge, it can read."""
    body = json.loads(path.read_bytes())
    *parents, last = field.split(".")
    node = body
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node[last] = value
    raw = json.dumps(body).encode()

    async def parse(delivery: Delivery) -> DeliveryResult:
        event = parse_webhook(delivery.event, delivery.payload)
        if event is not None:
            assert 0 < event.number < 2**63
        return DeliveryResult.APPLIED

    fuzzed.handler.delegate = parse
    try:
        with capture_logs() as logs:
            reply = fuzzed.post(raw, github_headers(event_of(path), raw))
    finally:
        fuzzed.handler.delegate = None
    count_case(f"{reply.status} {field}")
    assert reply.status in {200, 400, 413}, reply
    assert all(line["event"] != "webhook.failed" for line in webhook_lines(logs))


# -- /healthz, /metrics, serve() ------------------------------------------------------------------


def test_healthz_is_200_when_ok_and_503_when_not(server: Server) -> None:
    server.health = Health(True, {"imap": {"ok": True, "last_poll": NOW}})
    reply = server.get("/healthz")
    assert (reply.status, reply.json()) == (
        200, {"ok": True, "checks": {"imap": {"ok": True, "last_poll": NOW.isoformat()}}})
    assert reply.headers["Content-Type"].startswith("application/json")
    server.health = Health(False, {"database": {"ok": False, "reachable": False}})
    reply = server.get("/healthz")
    assert (reply.status, reply.json()["ok"]) == (503, False)


def test_healthz_is_503_when_the_probe_itself_fails(server: Server) -> None:
    server.health = OSError("database file vanished")
    with capture_logs() as logs:
        reply = server.get("/healthz")
    assert (reply.status, reply.json()["ok"]) == (503, False)
    assert "vanished" not in reply.body.decode()
    assert [line["event"] for line in logs] == ["healthz.failed"]


def test_healthz_is_503_when_the_probe_hangs(server: Server,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway.web.server, "HEALTH_TIMEOUT", 0.05)
    server.health = None  # e.g. a query stuck behind a database lock
    assert server.get("/healthz").status == 503


def status_parts(*, connected: bool = True, polled: dt.timedelta = dt.timedelta(seconds=30),
                 healthy: bool = True) -> tuple[SourceStatus, WriterStatus]:
    source = SourceStatus(connected=connected, last_poll=NOW - polled, idle=True)
    writer = WriterStatus(healthy=healthy, last_error="" if healthy else "401 Bad credentials")
    return source, writer


@pytest.mark.parametrize(("case", "ok", "failing"), [
    ({}, True, set()),
    ({"connected": False}, False, {"imap"}),
    ({"polled": dt.timedelta(minutes=10)}, False, {"imap"}),
    ({"healthy": False}, False, {"github"}),
    ({"database_ok": False}, False, {"database"}),
    ({"outbox": (40, 7200.0)}, False, {"outbox"}),
    ({"outbox": (40, 60.0)}, True, set()),
])
def test_assess_health(case: dict[str, Any], ok: bool, failing: set[str]) -> None:
    parts = {k: case[k] for k in ("connected", "polled", "healthy") if k in case}
    source, writer = status_parts(**parts)
    health = assess_health(now=NOW, source=source, writer=writer,
                           outbox=case.get("outbox", (0, 0.0)),
                           database_ok=case.get("database_ok", True),
                           poll_stale_after=dt.timedelta(minutes=5),
                           outbox_max_age=dt.timedelta(hours=1))
    assert health.ok is ok
    assert {name for name, check in health.checks.items() if not check["ok"]} == failing
    assert health.checks["imap"]["last_poll"] == source.last_poll
    assert set(health.checks) == {"imap", "outbox", "database", "github"}


def test_metrics_show_counters_moving_and_the_outbox_probe(server: Server) -> None:
    server.metrics.set_outbox_probe(lambda: (7, 125.5))
    assert server.metric("visit_gateway_webhook_deliveries_total", result="applied") == 0
    for path in examples("issues.opened"):
        body = path.read_bytes()
        server.post(body, github_headers("issues", body))
    server.post(BODY, github_headers("issues", BODY) | {"X-Hub-Signature-256": sign(b"")})
    server.metrics.count_message("new")
    server.metrics.count_github("created")
    server.metrics.observe_first_response(1.5)
    server.metrics.set_imap_connected(True)
    reply = server.get("/metrics")
    assert (reply.status, reply.headers["Content-Type"]) == (200, CONTENT_TYPE)
    assert server.metric("visit_gateway_webhook_deliveries_total", result="applied") == 4
    assert server.metric("visit_gateway_webhook_deliveries_total", result="rejected") == 1
    assert server.metric("visit_gateway_messages_total", verdict="new") == 1
    assert server.metric("visit_gateway_github_requests_total", outcome="created") == 1
    assert server.metric("visit_gateway_first_response_business_hours_bucket", le="2.0") == 1
    assert server.metric("visit_gateway_first_response_business_hours_bucket", le="1.0") == 0
    assert server.metric("visit_gateway_imap_connected") == 1
    assert server.metric("visit_gateway_outbox_depth") == 7
    assert server.metric("visit_gateway_outbox_oldest_pending_seconds") == 125.5
    assert server.metric("visit_gateway_info", version=__version__) == 1
    server.metrics.set_outbox_probe(lambda: (8, 0.0))
    assert server.metric("visit_gateway_outbox_depth") == 8


def test_a_failing_outbox_probe_drops_only_its_gauges(server: Server) -> None:
    def broken() -> tuple[int, float]:
        raise OSError("database is locked")

    server.metrics.set_outbox_probe(broken)
    server.metrics.set_imap_probe(lambda: False)
    with capture_logs() as logs:
        assert server.metric("visit_gateway_outbox_depth") is None
    assert server.metric("visit_gateway_imap_connected") == 0
    assert server.metric("visit_gateway_webhook_deliveries_total", result="applied") == 0
    assert "metrics.probe_failed" in [line["event"] for line in logs]


def test_two_metric_sets_do_not_collide() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.count_delivery("applied")
    assert b'result="applied"} 1.0' in first.render()
    assert b'result="applied"} 0.0' in second.render()


def test_serve_reports_the_real_port_and_close_stops_listening(server: Server) -> None:
    assert server.handle.port > 0
    assert server.get("/healthz").status == 200
    port = server.handle.port
    server.run(server.handle.close())

    async def connect() -> None:
        await asyncio.open_connection("127.0.0.1", port)

    with pytest.raises(OSError):
        server.run(connect())


def test_an_empty_secret_is_refused() -> None:
    async def health() -> Health:
        return Health(True, {})

    with pytest.raises(ValueError, match="secret"):
        make_app(secret=b"", handle_delivery=FakeHandler(), health=health,
                 metrics=GatewayMetrics())
