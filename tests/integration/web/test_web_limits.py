"""The HTTP edge under attack, over real sockets on 127.0.0.1: a client that sends its headers
slowly, a body that never ends or a client that leaves mid-body is cut at a configured deadline
and logged as one structured line, and connections over the cap are refused at once.

Deadlines here are short configured values (0.5 s); every wait is bounded by its own timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from gateway.web.limits import WebLimits

from .test_web import BODY, Server, github_headers, webhook_lines

SHORT = WebLimits(header_timeout=0.5, body_timeout=0.5, max_connections=64)
BOUND = 5.0  # seconds any single wait in these tests may take
HEAD = (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: d-1\r\n")


@pytest.fixture
def limited() -> Iterator[Server]:
    running = Server(limits=SHORT)
    yield running
    running.close()


async def _open(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.handle.port)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection (bounded)."""
    return await asyncio.wait_for(reader.read(), BOUND)


def _aiohttp_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("aiohttp")]


def test_the_limits_have_safe_defaults() -> None:
    limits = WebLimits()
    assert 0 < limits.header_timeout <= 60 and 0 < limits.body_timeout <= 120
    assert 0 < limits.max_connections <= 1024


def test_clients_that_send_headers_slowly_are_cut_at_the_header_timeout(
        limited: Server) -> None:
    async def attack() -> list[bytes]:
        clients = [await _open(limited) for _ in range(20)]
        for n, (_, writer) in enumerate(clients):
            writer.write(HEAD[: 10 + n])  # part of the head, then nothing
        answers = await asyncio.gather(*(_closed_by_server(reader) for reader, _ in clients))
        for _, writer in clients:
            writer.close()
        return answers

    with capture_logs() as logs:
        answers = limited.run(attack())
    assert all(answer in (b"",) or answer.startswith(b"HTTP/1.1 408") for answer in answers)
    lines = webhook_lines(logs)
    assert len(lines) == 20
    assert {(line["event"], line["phase"]) for line in lines} == {
        ("webhook.client_timeout", "headers")}
    assert all(line["remote"] == "127.0.0.1" and line["bytes"] > 0 for line in lines)
    assert limited.handler.deliveries == []


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(
        limited: Server) -> None:
    async def idle() -> bytes:
        reader, writer = await _open(limited)
        answer = await _closed_by_server(reader)
        writer.close()
        return answer

    with capture_logs() as logs:
        assert limited.run(idle()) == b""
    [line] = webhook_lines(logs)
    assert (line["event"], line["phase"], line["bytes"]) == ("webhook.client_timeout",
                                                             "headers", 0)


def test_an_idle_keep_alive_connection_is_closed_quietly(limited: Server) -> None:
    async def served_then_idle() -> bytes:
        reader, writer = await _open(limited)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await _closed_by_server(reader)  # kept alive, then closed at the timeout
        writer.close()
        return answer

    with capture_logs() as logs:
        answer = limited.run(served_then_idle())
    assert answer.startswith(b"HTTP/1.1 200")
    assert webhook_lines(logs) == []


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_that_never_ends_is_cut_at_the_body_timeout(
        limited: Server, caplog: pytest.LogCaptureFixture, framing: str) -> None:
    async def attack() -> bytes:
        reader, writer = await _open(limited)
        if framing == "chunked":
            writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
        else:
            writer.write(HEAD + b"Content-Length: 1000\r\n\r\n{\"a\":")
        answer = await _closed_by_server(reader)
        writer.close()
        return answer

    with capture_logs() as logs:
        answer = limited.run(attack())
    assert answer.startswith(b"HTTP/1.1 408")
    [line] = webhook_lines(logs)
    assert (line["event"], line["phase"], line["bytes"], line["delivery"]) == (
        "webhook.client_timeout", "body", 5, "d-1")
    assert limited.handler.deliveries == [] and _aiohttp_records(caplog) == []
    assert limited.metric("visit_gateway_webhook_deliveries_total", result="timeout") == 1


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_that_leaves_mid_body_is_one_structured_line(
        limited: Server, caplog: pytest.LogCaptureFixture, how: str) -> None:
    async def leave() -> None:
        _, writer = await _open(limited)
        writer.write(HEAD + b"Content-Length: 1000\r\n\r\n{\"a\":")
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading the body
        if how == "reset":
            writer.transport.abort()
        else:
            writer.close()
        for _ in range(50):  # until the server has logged it (bounded)
            if webhook_lines(logs):
                break
            await asyncio.sleep(0.02)

    with capture_logs() as logs:
        limited.run(leave())
    [line] = webhook_lines(logs)
    assert (line["event"], line["phase"], line["bytes"]) == ("webhook.client_disconnected",
                                                             "body", 5)
    assert _aiohttp_records(caplog) == []  # no traceback from aiohttp
    assert limited.metric("visit_gateway_webhook_deliveries_total",
                          result="disconnected") == 1


def test_connections_over_the_cap_are_refused_and_the_rest_still_served(
        caplog: pytest.LogCaptureFixture) -> None:
    server = Server(limits=WebLimits(header_timeout=30.0, body_timeout=30.0,
                                     max_connections=5))
    try:
        async def flood() -> tuple[list[bytes], int]:
            clients = await asyncio.gather(*(_open(server) for _ in range(40)))
            for _, writer in clients:
                writer.write(HEAD[:20])
            refused: list[bytes] = []
            held = 0
            for reader, _ in clients:
                try:
                    refused.append(await asyncio.wait_for(reader.read(), 0.5))
                except ConnectionResetError:  # closed with our bytes unread: the 503 was lost
                    refused.append(b"reset")
                except TimeoutError:
                    held += 1  # still open: one of the five
            for _, writer in clients:
                writer.close()
            return refused, held

        with capture_logs() as logs:
            refused, held = server.run(flood())
        assert held == 5 and len(refused) == 35
        assert all(answer.startswith(b"HTTP/1.1 503") or answer == b"reset"
                   for answer in refused)
        capped = [line for line in logs if line["event"] == "webhook.connection_refused"]
        assert capped and sum(line["refused"] for line in capped) <= 35

        async def served_again() -> int:  # the held five are gone: a delivery gets through
            for _ in range(100):
                if len(server.handle.runner.server.connections) == 0:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.02)
            return 0

        server.run(served_again())
        assert server.post(BODY, github_headers("issue_comment", BODY)).status == 200
        assert _aiohttp_records(caplog) == []
    finally:
        server.close()
