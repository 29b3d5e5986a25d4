"""`GET /attachments/{path}`: stored attachments served under signed, expiring links (issue 17).

`add_attachment_route` adds the route to an application `make_app` builds, when a local store is
configured. A request is answered only if its `expires` and `sig` are those
`gateway.outbound.signed_links.link` made for that path: 403 for a missing, malformed or forged
signature, 410 for an authentic link past its expiry (by the app's injected clock), 404 when the
store has no such file (or refuses the path: it never resolves outside its directory). A file is
always sent as `application/octet-stream`, as a download (`Content-Disposition: attachment`),
with `nosniff` and a sandboxing CSP: a stranger's file is never rendered as our origin's page.
This module must not choose names, write files or read config, and never logs a signature.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import structlog
from aiohttp import web

from gateway.clock import Clock
from gateway.outbound.local_store import LocalStore
from gateway.outbound.signed_links import ROUTE, LinkCheck, check

log = structlog.get_logger("gateway.web.attachments")
_EXPIRES = re.compile(r"[0-9]{1,12}")
_INDEX = re.compile(r"[0-9]+-")  # stored names are `<index>-<safe name>`; the download is named
_CHUNK = 256 * 1024
_HEADERS = {
    "Content-Type": "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",  # the link is the credential: do not pass it on
}


@dataclass(frozen=True, slots=True)
class AttachmentLinks:
    """What the route needs: the store it serves and the secret its links are signed with."""

    store: LocalStore
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the attachment link secret must not be empty: anyone could sign")


def add_attachment_route(app: web.Application, links: AttachmentLinks, clock: Clock) -> None:
    """Add `GET /attachments/{path}` to `app` (no HEAD: a probe has nothing to learn)."""
    app.router.add_get(ROUTE + "{path:.+}", _Attachments(links, clock).serve, allow_head=False)


class _Attachments:
    def __init__(self, links: AttachmentLinks, clock: Clock) -> None:
        self._store = links.store
        self._secret = links.secret
        self._clock = clock

    async def serve(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        path = request.match_info["path"]  # percent-decoded by aiohttp, as the link signed it
        expires = request.query.get("expires", "")
        sig = request.query.get("sig", "")
        now = int(self._clock.now().timestamp())
        result = (check(path, int(expires), sig, self._secret, now)
                  if _EXPIRES.fullmatch(expires) else LinkCheck.FORGED)
        if result is LinkCheck.FORGED:
            return self._refuse(request, started, 403, "forged", "bad or missing signature")
        if result is LinkCheck.EXPIRED:
            return self._refuse(request, started, 410, "expired", "this link has expired")
        found = await asyncio.to_thread(self._store.open, path)
        if found is None:
            return self._refuse(request, started, 404, "missing", "no such attachment")
        try:
            source = await asyncio.to_thread(found.open, "rb")
        except OSError:  # replaced or removed since `open` looked
            return self._refuse(request, started, 404, "missing", "no such attachment")
        try:
            size = await asyncio.to_thread(lambda: found.stat().st_size)
            response = web.StreamResponse(headers={
                **_HEADERS, "Content-Disposition": _disposition(found.name)})
            response.content_length = size
            await response.prepare(request)
            while chunk := await asyncio.to_thread(source.read, _CHUNK):
                await response.write(chunk)
            await response.write_eof()
        finally:
            source.close()
        log.info("attachment.served", result="served", bytes=size, remote=request.remote,
                 ms=_ms(started))
        return response

    @staticmethod
    def _refuse(request: web.Request, started: float, status: int, result: str,
                message: str) -> web.Response:
        log.warning("attachment.refused", result=result, status=status, remote=request.remote,
                    ms=_ms(started))
        return web.json_response({"error": message}, status=status)


def _disposition(stored_name: str) -> str:
    """`attachment` with the name as RFC 6266 / RFC 8187 `filename*`, and an ASCII `filename`
    for clients that know only that (RFC 6266 section 4.3 allows both, `filename*` wins)."""
    name = stored_name.removeprefix(m.group(0)) if (m := _INDEX.match(stored_name)) else stored_name
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
