"""The request pipeline every API call goes through, as one aiohttp middleware.

Order, modelled on where each thing happens at GitHub: injected latency and before-write faults
(the edge), authentication (401), primary and secondary rate limits (403/429), the route,
after-write faults, then the headers GitHub puts on every response (`x-ratelimit-*`,
`x-github-request-id`, `x-github-api-version-selected`, `ETag`) and conditional GETs answered
304 without counting against the limit. Each request is recorded in the `RequestLog`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from graphql import GraphQLError, parse

from .auth import Principal, authenticate, authenticate_app
from .context import CURRENT, Context, json_response
from .errors import ApiError, not_found
from .faults import FaultKind, FaultPlan, FiredFault
from .graphql_schema import GRAPHQL_ERROR_BODY, operation_of, root_fields
from .limits import PRIMARY_DOCS, SECONDARY_DOCS, Quota

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_VERSIONS = ("2022-11-28", "2026-03-10")
JWT_ROUTES = frozenset(
    {
        "/app/installations/{installation_id}/access_tokens",
        "/repos/{owner}/{repo}/installation",
    }
)
UNCOUNTED = frozenset({"/rate_limit"})  # GitHub does not charge for reading the limits
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
GRAPHQL = "/graphql"  # charged by its route, in points (`routes_graphql.py`)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int | None  # None: the connection was dropped
    login: str | None
    fault: FaultKind | None
    at: float
    operation: str | None = None  # GraphQL: the operation name, else the first root field


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


async def graphql_operations(request: web.Request) -> tuple[str, ...]:
    """A GraphQL request's operation name (if any) then its root fields; () if unreadable."""
    try:
        body = json.loads(await request.read() or b"{}")
        document = parse(body["query"])
    except (ValueError, KeyError, TypeError, GraphQLError):
        return ()
    name = body.get("operationName") if isinstance(body.get("operationName"), str) else None
    op = operation_of(document, name)
    if op is None:
        return ()
    own = (op.name.value,) if op.name is not None else ()
    return (*own, *root_fields(op))


class Pipeline:
    def __init__(self, ctx: Context, faults: FaultPlan, log: RequestLog) -> None:
        self.ctx = ctx
        self.faults = faults
        self.log = log
        self._ids = itertools.count(1)

    @web.middleware
    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else None
        rid = self._new_request_id()
        operations: tuple[str, ...] = ()
        if request.path == GRAPHQL and request.method == "POST":
            operations = await graphql_operations(request)  # aiohttp caches the body
        fired = self.faults.draw(request.method, template, request.path, frozenset(operations))
        failure: FiredFault | None = None
        for fault in fired:
            if fault.kind is FaultKind.LATENCY:
                await asyncio.sleep(fault.delay)
            else:
                failure = fault
        principal: Principal | None = None
        headers: dict[str, str] = {}
        if failure is not None and not failure.kind.after_write:
            response = await self._fail(request, failure)
        else:
            try:
                principal = self._authenticate(request, template)
                token = CURRENT.set(principal)
                try:
                    headers = self._limit(request, principal, template, rid)
                    response = await self._route(request, handler)
                finally:
                    CURRENT.reset(token)
            except ApiError as exc:
                response = json_response(exc.body(), exc.status, exc.headers)
            if failure is not None:
                response = await self._fail(request, failure)
        response = self._finish(request, response, principal, headers, rid)
        dropped = failure is not None and failure.kind.drops
        self.log.add(
            RequestRecord(
                request.method,
                request.path,
                request.query_string,
                None if dropped else response.status,
                principal.login if principal else None,
                failure.kind if failure else None,
                time.time(),
                operations[0] if operations else None,
            )
        )
        return response

    def _authenticate(self, request: web.Request, template: str | None) -> Principal:
        header = request.headers.get("Authorization")
        if template in JWT_ROUTES:
            return authenticate_app(self.ctx.store, header)
        return authenticate(self.ctx.store, header, self.ctx.now())

    def _limit(
        self, request: web.Request, who: Principal, template: str | None, rid: str
    ) -> dict[str, str]:
        """Charge the request; raise GitHub's rate-limit errors. Returns the quota headers."""
        limiter = self.ctx.limiter
        resource = "search" if request.path.startswith("/search/") else "core"
        if request.path == GRAPHQL:
            return {}
        if template in UNCOUNTED:
            return limiter.peek(who.identity, resource).headers()
        quota, over = limiter.take(who.identity, resource)
        headers = quota.headers()
        if over:
            raise ApiError(
                limiter.limits.primary_status,
                f"API rate limit exceeded for {who.description}.",
                documentation_url=PRIMARY_DOCS,
                headers=headers,
            )
        if request.method in WRITES and not who.is_app_jwt:
            wait = limiter.take_content(who.identity)
            if wait is not None:
                raise ApiError(
                    limiter.limits.secondary_status,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before "
                    "you try again. If you reach out to GitHub Support for help, please include "
                    f"the request ID {rid}.",
                    documentation_url=SECONDARY_DOCS,
                    headers={**headers, "retry-after": str(wait)},
                )
        return headers

    async def _route(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            raise not_found() from None  # GitHub says 404 for unknown paths and methods

    async def _fail(self, request: web.Request, fault: FiredFault) -> web.StreamResponse:
        if fault.kind.drops:
            await request.read()
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=fault.status)  # never reaches the client
        if fault.kind.graphql_error:
            return json_response(GRAPHQL_ERROR_BODY, 200)
        body = (
            {"message": "Server Error"}
            if fault.status != 503
            else {
                "message": "Service Unavailable",
                "code": "unavailable",
            }
        )
        return json_response(body, fault.status)

    def _finish(
        self,
        request: web.Request,
        response: web.StreamResponse,
        principal: Principal | None,
        headers: dict[str, str],
        rid: str,
    ) -> web.StreamResponse:
        if not headers:
            headers = Quota("core", 60, 0, int(time.time()) + 3600).headers()  # anonymous
        for key, value in headers.items():
            response.headers.setdefault(key, value)  # an error may carry its own quota
        response.headers["x-github-request-id"] = rid
        requested = request.headers.get("X-GitHub-Api-Version")
        response.headers["x-github-api-version-selected"] = (
            requested if requested in API_VERSIONS else API_VERSIONS[0]
        )
        response.headers["x-github-media-type"] = "github.v3; format=json"
        response.headers["Server"] = "github.com"
        # GitHub's own time, which its x-ratelimit-reset is counted on: the emulator's clock.
        response.headers["Date"] = email.utils.format_datetime(
            self.ctx.now().astimezone(dt.UTC), usegmt=True)
        if (
            request.method == "GET"
            and response.status == 200
            and isinstance(response, web.Response)
            and response.body is not None
            and isinstance(response.body, bytes)
        ):
            etag = f'W/"{hashlib.md5(response.body, usedforsecurity=False).hexdigest()}"'
            response.headers["ETag"] = etag
            if request.headers.get("If-None-Match") == etag:
                not_modified = web.Response(status=304)
                for key in ("ETag", "x-github-request-id", "x-github-api-version-selected"):
                    not_modified.headers[key] = response.headers[key]
                if principal is not None:
                    resource = headers.get("x-ratelimit-resource", "core")
                    self.ctx.limiter.refund(principal.identity, resource)
                    headers = self.ctx.limiter.peek(principal.identity, resource).headers()
                not_modified.headers.update(headers)
                return not_modified
        return response

    def _new_request_id(self) -> str:
        n = next(self._ids)
        return f"E{n % 0xFFFF:04X}:{n * 7 % 0xFFFF:04X}:{n:06X}:{n * 13:06X}:{int(time.time()):08X}"
