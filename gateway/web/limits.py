"""The listening socket's limits: how long a client may hold a connection, and how many at once.

`WebLimits` holds the numbers. `CappedSite` is an aiohttp TCP site whose connections share one
gate: past `max_connections` open connections a new one gets 503 and is closed before aiohttp
sees it (refusals are logged at most once a second). A connection must send a complete request
head within `header_timeout` of connecting or of its previous response (aiohttp's keep-alive
timer is that deadline); `mark_request`, an application middleware, tells the connection when a
head has arrived and when its answer is ready. A connection is therefore held at most
header_timeout + body_timeout (the webhook handler bounds the body) + the lingering close (at
most 10 s, aiohttp reads what the client still sends so that it can read the answer) + the
handler's time. This module leans on aiohttp's protocol internals and changes with them; it must
not read requests' bodies, route, or log anything but connection facts (never a header's value).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("gateway.web.limits")


@dataclass(frozen=True, slots=True)
class WebLimits:
    """How long a client may take and how many connections are served at once (seconds)."""

    header_timeout: float = 15.0
    body_timeout: float = 30.0
    max_connections: int = 256

    def __post_init__(self) -> None:
        if self.header_timeout <= 0 or self.body_timeout <= 0 or self.max_connections < 1:
            raise ValueError("web limits must be positive")


_LINGER_MAX = 10.0  # aiohttp's default lingering close; never longer than the body timeout
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 12\r\nConnection: close\r\n\r\nserver busy\n")
_REFUSAL_LOG_INTERVAL = 1.0  # seconds between webhook.connection_refused lines under a flood


class _Gate:
    """Counts the connections being served; past the cap, refusals are counted and logged at
    most once a second (a flood must not flood the journal too)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._refused = 0
        self._logged_at: float | None = None

    def admit(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1

    def refused(self, now: float) -> None:
        self._refused += 1
        if self._logged_at is None or now - self._logged_at >= _REFUSAL_LOG_INTERVAL:
            log.warning("webhook.connection_refused", refused=self._refused, open=self.open,
                        max_connections=self.limit)
            self._refused, self._logged_at = 0, now


class _Connection(web.RequestHandler):
    """aiohttp's connection protocol, admitted by the gate, that logs a client which never
    completed a request head (too slow: `webhook.client_timeout`; gone:
    `webhook.client_disconnected`). aiohttp's keep-alive timer is the header deadline: it runs
    from the connection (or the previous response) until a complete head has arrived."""

    def __init__(self, manager: web.Server, *, gate: _Gate, limits: WebLimits,
                 loop: asyncio.AbstractEventLoop) -> None:
        # access_log=None turns the access log off, as AppRunner(access_log=None) does.
        super().__init__(manager, loop=loop, keepalive_timeout=limits.header_timeout,
                         lingering_time=min(_LINGER_MAX, limits.body_timeout),
                         access_log=None)  # type: ignore[arg-type]
        self._gate = gate
        self._header_timeout = limits.header_timeout
        self._admitted = False
        self._in_request = False
        self._answered = False  # a response was sent; the rest of the connection is quiet
        self._served = 0  # requests that reached the application on this connection
        self._idle_since = 0.0
        self._head_bytes = 0
        self._remote: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        now = asyncio.get_running_loop().time()
        if not self._gate.admit():
            assert isinstance(transport, asyncio.Transport)
            transport.write(_BUSY)
            transport.close()  # flushes the answer, then closes
            self._gate.refused(now)
            return
        self._admitted = True
        self._idle_since = now
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple) and peer else None
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if not self._in_request:
            self._head_bytes += len(data)
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._gate.release()
        if not self._in_request and not self._answered:
            waited = asyncio.get_running_loop().time() - self._idle_since
            if waited >= self._header_timeout and (self._head_bytes or not self._served):
                # (an idle keep-alive connection closed after its requests is not news)
                log.warning("webhook.client_timeout", phase="headers", bytes=self._head_bytes,
                            remote=self._remote, seconds=round(waited, 2))
            elif self._head_bytes:
                log.warning("webhook.client_disconnected", phase="headers",
                            bytes=self._head_bytes, remote=self._remote,
                            seconds=round(waited, 2))
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        self._answered = True  # aiohttp answers a malformed head itself (400, 431, ...)
        return super().handle_error(request, status, exc, message)

    def request_started(self) -> None:
        self._in_request = True
        self._answered = False
        self._served += 1

    def request_finished(self, body_left: bool) -> None:
        self._in_request = False
        self._idle_since = asyncio.get_running_loop().time()
        self._head_bytes = 0
        self._answered = body_left  # what follows is the body's rest, read while lingering


@web.middleware
async def mark_request(request: web.Request, handler: Callable[[web.Request], Awaitable[
        web.StreamResponse]]) -> web.StreamResponse:
    """Tells the connection a head has arrived, and when its answer is ready."""
    connection = request.protocol
    if isinstance(connection, _Connection):
        connection.request_started()
    try:
        return await handler(request)
    finally:
        if isinstance(connection, _Connection):
            connection.request_finished(not request.content.is_eof())


class CappedSite(web.BaseSite):
    """A TCP site whose connections are `_Connection`s sharing one gate."""

    __slots__ = ("_host", "_limits", "_port")

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: WebLimits) -> None:
        super().__init__(runner)
        self._host, self._port, self._limits = host, port, limits

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        gate = _Gate(self._limits.max_connections)

        def connection() -> _Connection:
            return _Connection(server, gate=gate, limits=self._limits, loop=loop)

        self._server = await loop.create_server(connection, self._host, self._port,
                                                backlog=self._backlog)
