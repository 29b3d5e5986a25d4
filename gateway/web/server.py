"""The HTTP edge (aiohttp): GitHub webhooks in, `/healthz` and `/metrics` out.

`make_app` builds the application from injected callables and `serve` runs it on a TCP port
with the connection limits of `gateway.web.limits`. `POST /webhook` bounds the body (its size,
and its time: `WebLimits.body_timeout`), verifies `X-Hub-Signature-256` before anything else
looks at the body, then checks the media type, the JSON, GitHub's headers and the payload's shape
(`gateway.tracking.payload`: the field types of GitHub's examples), and awaits the injected
`handle_delivery` with a `Delivery`. Every request gets one log line (`webhook.received`,
`webhook.rejected`, `webhook.failed`, `webhook.client_timeout` or
`webhook.client_disconnected`; the GitHub event is logged as `github_event`, since structlog
reserves `event` for the line's name) and one count in `visit_gateway_webhook_deliveries_total`.
`GET /healthz` answers the injected probe's `Health` (assessed in `gateway.web.health`).
`GET /attachments/{path}` (only when a local attachment store is given) is
`gateway.web.attachments`.
This module must not deduplicate, touch the database, apply tracking rules or read config (the
wiring does), and never logs a body, a signature or the secret.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.clock import Clock, SystemClock
from gateway.tracking.events import Event, parse_webhook
from gateway.tracking.payload import PayloadError
from gateway.web.attachments import AttachmentLinks, add_attachment_route
from gateway.web.health import Health
from gateway.web.limits import CappedSite, WebLimits, mark_request
from gateway.web.metrics import CONTENT_TYPE, GatewayMetrics

log = structlog.get_logger("gateway.web.server")
T = TypeVar("T")

# GitHub caps webhook payloads at 25 MB ("Webhook events and payloads", Payload cap).
MAX_BODY = 25 * 1024 * 1024
MAX_BODY_KEY = web.AppKey("max_body", int)
HEALTH_TIMEOUT = 5.0  # seconds; a probe that hangs (a locked database) answers 503, not never
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")  # GitHub sends lowercase hex
_EVENT = re.compile(r"[a-z][a-z0-9_]{0,63}")  # event names are lowercase_with_underscores
_GUID = re.compile(r"[A-Za-z0-9-]{1,100}")
_CHUNK = 64 * 1024
_OFFLOAD = 1024 * 1024  # hash and parse bodies above this size off the event loop
LIMITS_KEY = web.AppKey("limits", WebLimits)


class DeliveryResult(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One authenticated webhook delivery; `guid` is `X-GitHub-Delivery`. `tracked` is what
    `parse_webhook` read in it: the event, or None for one the gateway does not track."""

    guid: str
    event: str
    payload: dict[str, Any]
    received_at: dt.datetime
    tracked: Event | None


DeliveryHandler = Callable[[Delivery], Awaitable[DeliveryResult]]
HealthProbe = Callable[[], Awaitable[Health]]


def make_app(*, secret: bytes, handle_delivery: DeliveryHandler, health: HealthProbe,
             metrics: GatewayMetrics, max_body: int = MAX_BODY,
             clock: Clock | None = None, limits: WebLimits | None = None,
             attachments: AttachmentLinks | None = None) -> web.Application:
    """The gateway's web application: `POST /webhook`, `GET /healthz`, `GET /metrics`, and
    `GET /attachments/{path}` when a local attachment store is given (`gateway.web.attachments`).

    `limits` (timeouts, connection cap) are kept in the application for `serve`."""
    if not secret:
        raise ValueError("the webhook secret must not be empty: anyone could sign deliveries")
    if max_body <= 0:
        raise ValueError("max_body must be positive")
    limits = limits or WebLimits()
    clock = clock or SystemClock()
    endpoints = _Endpoints(secret, handle_delivery, health, metrics, max_body, clock,
                           limits.body_timeout)
    app = web.Application(client_max_size=max_body, middlewares=[mark_request])
    app[MAX_BODY_KEY] = max_body
    app[LIMITS_KEY] = limits
    app.router.add_post("/webhook", endpoints.webhook)
    app.router.add_get("/healthz", endpoints.healthz)
    app.router.add_get("/metrics", endpoints.metrics)
    if attachments is not None:
        add_attachment_route(app, attachments, clock)
    return app


@dataclass(slots=True)
class AppRunnerHandle:
    """A running server: `port` is the bound port (the real one when 0 was asked)."""

    runner: web.AppRunner
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str, port: int, *,
                shutdown_timeout: float = 10.0) -> AppRunnerHandle:
    """Listen on host:port with the app's `WebLimits`; returns once the socket accepts
    connections."""
    limits = app[LIMITS_KEY]
    # No aiohttp access log: `webhook.*` lines are the record, and scrapes would be noise.
    # handler_cancellation stays off: a delivery whose client left is still applied whole.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = CappedSite(runner, host, port, limits)
        await site.start()
        bound = int(runner.addresses[0][1])
    except BaseException:
        await runner.cleanup()
        raise
    return AppRunnerHandle(runner, bound)



class _Refused(Exception):
    def __init__(self, status: int, result: str, reason: str, message: str,
                 field: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.result, self.reason, self.message = status, result, reason, message
        self.field = field


class _Endpoints:
    def __init__(self, secret: bytes, handle: DeliveryHandler, health: HealthProbe,
                 metrics: GatewayMetrics, max_body: int, clock: Clock,
                 body_timeout: float) -> None:
        self._secret = secret
        self._body_timeout = body_timeout
        self._handle = handle
        self._health = health
        self._metrics = metrics
        self._max_body = max_body
        self._clock = clock

    # -- POST /webhook -----------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        received_at = self._clock.now()
        received = bytearray()
        try:
            async with asyncio.timeout(self._body_timeout):
                await self._read_body(request, received)
            body = bytes(received)
            await self._verify(request, body)
        except TimeoutError:  # a body that never ends (or trickles): 408, and close
            return self._client_gone(request, started, "webhook.client_timeout", "timeout",
                                     len(received))
        except ConnectionError:  # the client left mid-body: nobody to answer
            return self._client_gone(request, started, "webhook.client_disconnected",
                                     "disconnected", len(received))
        except _Refused as refusal:  # unauthenticated: say little, log who tried
            self._metrics.count_delivery(refusal.result)
            log.warning("webhook.rejected", reason=refusal.reason, result=refusal.result,
                        delivery=_printable(request.headers.get("X-GitHub-Delivery")),
                        remote=request.remote, ms=_ms(started))
            # After a 413, aiohttp reads and drops the rest of the body for up to 10 s before
            # closing (lingering close), so the client is not reset before it reads the answer.
            return _error(refusal.status, refusal.message)
        try:
            delivery = await self._parse(request, body, received_at)
        except _Refused as refusal:
            return self._summary(request, started, refusal.result, None, None,
                                 _error(refusal.status, refusal.message), reason=refusal.reason,
                                 field=refusal.field)
        action = delivery.payload.get("action")
        action = action if isinstance(action, str) else None
        if delivery.event == "ping":  # GitHub's hello when a hook is created; nothing to apply
            answer = web.json_response({"ok": True, "zen": delivery.payload.get("zen")})
            return self._summary(request, started, DeliveryResult.IGNORED, delivery, action,
                                 answer)
        try:
            outcome = await self._handle(delivery)
        except PayloadError as exc:  # the handler cannot use this payload: GitHub shows why
            reason = str(exc)[:200]
            return self._summary(request, started, "bad_request", delivery, action,
                                 _error(400, reason), reason=reason, field=exc.field)
        except ValueError as exc:  # its text may quote the value (a body, an address): not shown
            return self._summary(request, started, "bad_request", delivery, action,
                                 _error(400, "unusable payload"), reason="unusable payload",
                                 error_type=type(exc).__name__)
        except Exception:
            return self._failed(started, delivery, action)
        try:
            result = DeliveryResult(outcome)
        except ValueError:  # a handler bug, not the client's fault
            return self._failed(started, delivery, action)
        return self._summary(request, started, result, delivery, action,
                             web.json_response({"result": result.value}))

    def _failed(self, started: float, delivery: Delivery, action: str | None) -> web.Response:
        """Called inside an `except`: logs the exception with the summary fields."""
        self._metrics.count_delivery("error")
        log.error("webhook.failed", github_event=delivery.event, action=action,
                  delivery=delivery.guid, result="error", ms=_ms(started), exc_info=True)
        return _error(500, "internal error; the delivery can be redelivered from GitHub")

    def _client_gone(self, request: web.Request, started: float, event: str, result: str,
                     size: int) -> web.Response:
        self._metrics.count_delivery(result)
        log.warning(event, phase="body", bytes=size,
                    delivery=_printable(request.headers.get("X-GitHub-Delivery")),
                    remote=request.remote, ms=_ms(started))
        response = _error(408, "the body did not arrive in time")
        response.force_close()
        return response

    async def _read_body(self, request: web.Request, body: bytearray) -> None:
        """Read the body into `body` (so a caller that times out knows how much came)."""
        limit = self._max_body
        too_large = _Refused(413, "too_large", "too_large", f"body over {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            raise too_large  # before reading a byte
        try:
            async for chunk in request.content.iter_chunked(_CHUNK):
                body += chunk
                if len(body) > limit:  # chunked, or a Content-Length that lied
                    raise too_large
        except (web.RequestPayloadError, HttpProcessingError) as exc:  # bad chunking, gzip...
            raise _Refused(400, "bad_request", "unreadable_body", "unreadable body") from exc

    async def _verify(self, request: web.Request, body: bytes) -> None:
        header = request.headers.get("X-Hub-Signature-256")
        if header is None:
            raise _Refused(401, "rejected", "signature_missing",
                           "missing X-Hub-Signature-256 (set a secret on the webhook)")
        if not _SIGNATURE.fullmatch(header):
            raise _Refused(401, "rejected", "signature_malformed",
                           "X-Hub-Signature-256 must be sha256=<64 hex digits>")
        digest = await _maybe_offload(
            len(body), lambda: hmac.new(self._secret, body, hashlib.sha256).hexdigest())
        if not hmac.compare_digest(f"sha256={digest}".encode(), header.encode("ascii")):
            raise _Refused(401, "rejected", "signature_mismatch",
                           "signature does not match (check the webhook secret)")

    async def _parse(self, request: web.Request, body: bytes,
                     received_at: dt.datetime) -> Delivery:
        if request.content_type != "application/json":  # no header: application/octet-stream
            raise _Refused(415, "bad_request", "content_type",
                           "Content-Type must be application/json (set it on the webhook)")
        try:
            payload = await _maybe_offload(len(body), functools.partial(json.loads, body))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise _Refused(400, "bad_request", "malformed_json", "malformed JSON") from exc
        if not isinstance(payload, dict):
            raise _Refused(400, "bad_request", "not_an_object", "the body must be a JSON object")
        event = request.headers.get("X-GitHub-Event", "")
        guid = request.headers.get("X-GitHub-Delivery", "")
        if not _EVENT.fullmatch(event):
            raise _Refused(400, "bad_request", "event_header", "missing or bad X-GitHub-Event")
        if not _GUID.fullmatch(guid):
            raise _Refused(400, "bad_request", "delivery_header",
                           "missing or bad X-GitHub-Delivery")
        try:
            tracked = await _maybe_offload(len(body),
                                           functools.partial(parse_webhook, event, payload))
        except PayloadError as exc:  # signed, but not the shape GitHub sends
            raise _Refused(400, "bad_request", "invalid_payload", str(exc)[:200],
                           field=exc.field) from None
        return Delivery(guid, event, payload, received_at, tracked)

    def _summary(self, request: web.Request, started: float, result: str,
                 delivery: Delivery | None, action: str | None, response: web.Response,
                 *, reason: str | None = None, **facts: str | None) -> web.Response:
        self._metrics.count_delivery(str(result))
        fields: dict[str, Any] = {
            "github_event": delivery.event if delivery else
            _printable(request.headers.get("X-GitHub-Event")),
            "action": action,
            "delivery": delivery.guid if delivery else
            _printable(request.headers.get("X-GitHub-Delivery")),
            "result": str(result),
            "ms": _ms(started),
        }
        if reason is not None:
            fields["reason"] = reason
        fields.update((name, value) for name, value in facts.items() if value is not None)
        (log.warning if reason else log.info)("webhook.received", **fields)
        return response

    # -- GET /healthz, GET /metrics ----------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            health = await asyncio.wait_for(self._health(), HEALTH_TIMEOUT)
        except Exception:
            log.error("healthz.failed", exc_info=True)
            return web.json_response({"ok": False, "checks": {}, "error": "health check failed"},
                                     status=503)
        return web.json_response({"ok": health.ok, "checks": health.checks},
                                 status=200 if health.ok else 503, dumps=_dumps)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self._metrics.render)  # probes may query the database
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _maybe_offload(size: int, work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work) if size > _OFFLOAD else work()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _printable(value: str | None) -> str | None:
    """A client-supplied header fit for a log line: short and printable."""
    if value is None:
        return None
    value = value[:100]
    return value if value.isprintable() else repr(value)


def _jsonable(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


_dumps = functools.partial(json.dumps, default=_jsonable)
