"""Attachments over real HTTP on loopback (issue 17): `serve(make_app(..., attachments=...))` on
127.0.0.1:0. A signed link answers the file as a download until it expires (by the app's clock),
and nothing else: a tampered link is 403, an expired one 410, and no URL, however encoded, serves
a file outside the store's directory. Raw requests go through a socket, where a client would
tidy the path first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import aiohttp
import pytest
from structlog.testing import capture_logs
from yarl import URL

from gateway.clock import ManualClock
from gateway.inbound.attachment_names import storage_path
from gateway.outbound.local_store import LocalStore
from gateway.outbound.signed_links import link, sign
from gateway.web.attachments import AttachmentLinks
from gateway.web.health import Health
from gateway.web.metrics import GatewayMetrics
from gateway.web.server import Delivery, DeliveryResult, make_app, serve

T = TypeVar("T")
WEBHOOK_SECRET = b"webhook secret"
LINK_SECRET = b"attachment link secret"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
EXPIRES = int(NOW.timestamp()) + 3600
KEY = "<CAF=q1@mail.univ.edu>"


async def _health() -> Health:
    return Health(True, {})


async def _deliveries(delivery: Delivery) -> DeliveryResult:
    return DeliveryResult.IGNORED


class Server:
    def __init__(self, directory: Path | None) -> None:
        self.clock = ManualClock(NOW)
        self.loop = asyncio.new_event_loop()
        links = None if directory is None else AttachmentLinks(LocalStore(directory), LINK_SECRET)
        app = make_app(secret=WEBHOOK_SECRET, handle_delivery=_deliveries, health=_health,
                       metrics=GatewayMetrics(), clock=self.clock, attachments=links)
        self.handle = self.run(serve(app, "127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.handle.port}"
        self.session = self.run(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def get(self, url: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
        async def go() -> tuple[int, bytes, dict[str, str]]:
            async with self.session.request(method, URL(url, encoded=True)) as response:
                return response.status, await response.read(), dict(response.headers)
        return self.run(go())

    def raw(self, target: str) -> bytes:
        """The whole answer to `GET target` sent byte for byte (no client normalisation)."""
        async def go() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.handle.port)
            writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         .encode())
            await writer.drain()
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            return answer
        return self.run(go())

    def close(self) -> None:
        self.run(self.session.close())
        self.run(self.handle.close())
        self.loop.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "store" / "attachments"
    directory.mkdir(parents=True)
    (tmp_path / "store" / "secret.txt").write_text("outside the store")
    (tmp_path / "passwd").write_text("root:x:0:0")
    return directory


@pytest.fixture
def server(root: Path) -> Iterator[Server]:
    running = Server(root)
    yield running
    running.close()


def stored(root: Path, name: str = "résumé report.pdf", data: bytes = b"%PDF-1.7 data") -> str:
    path = storage_path(KEY, 0, name)
    LocalStore(root).store(path, data)
    return path


def test_a_signed_link_serves_the_file_as_a_download_until_it_expires(
        server: Server, root: Path) -> None:
    path = stored(root, data=b"<html><script>alert(1)</script>" * 50_000)
    url = link(server.base, path, EXPIRES, LINK_SECRET)
    with capture_logs() as logs:
        status, body, headers = server.get(url)
        # The server logs once its last write returns, which may be after the client has
        # read the whole body; server and client share this test's event loop, which runs
        # only inside `server.run`: run it until the line comes (sleeping instead left the
        # server stopped, and the line came only when the wait gave up).
        deadline = time.monotonic() + 30
        while not logs and time.monotonic() < deadline:
            server.run(asyncio.sleep(0.01))
    assert status == 200 and body == b"<html><script>alert(1)</script>" * 50_000
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ report.pdf\"; "
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20report.pdf")
    assert headers["Content-Length"] == str(len(body))
    assert [line["event"] for line in logs] == ["attachment.served"]
    assert all(LINK_SECRET.decode() not in str(line) and "sig" not in line for line in logs)

    server.clock.set(dt.datetime.fromtimestamp(EXPIRES - 1, dt.UTC))
    assert server.get(url)[0] == 200
    server.clock.set(dt.datetime.fromtimestamp(EXPIRES, dt.UTC))  # exactly at expiry
    assert server.get(url)[:2] == (410, b'{"error": "this link has expired"}')
    server.clock.advance(dt.timedelta(days=30))
    assert server.get(url)[0] == 410


def test_a_tampered_link_is_refused(server: Server, root: Path) -> None:
    path = stored(root)
    other = stored(root, "other.txt", b"other")
    sig = sign(path, EXPIRES, LINK_SECRET)
    base = f"{server.base}/attachments/"
    for url in (
        f"{base}{quote(other)}?expires={EXPIRES}&sig={sig}",  # another file
        f"{base}{quote(path)}?expires={EXPIRES + 86400}&sig={sig}",  # a longer life
        f"{base}{quote(path)}?expires={EXPIRES}&sig={sig[:-1]}0",
        f"{base}{quote(path)}?expires={EXPIRES}&sig={sign(path, EXPIRES, b'wrong secret')}",
        f"{base}{quote(path)}?expires={EXPIRES}",
        f"{base}{quote(path)}?sig={sig}",
        f"{base}{quote(path)}?expires=-1&sig={sig}",
        f"{base}{quote(path)}?expires={EXPIRES}.0&sig={sig}",
        f"{base}{quote(path)}?expires=99999999999999999999&sig={sig}",
        f"{base}{quote(path)}?expires={EXPIRES}&sig=%C3%A9",
    ):
        status, body, _ = server.get(url)
        assert (status, body) == (403, b'{"error": "bad or missing signature"}'), url
    assert server.get(link(server.base, path, EXPIRES, LINK_SECRET))[0] == 200


def test_an_expired_forgery_is_403_not_410(server: Server, root: Path) -> None:
    path = stored(root)
    server.clock.advance(dt.timedelta(days=1))
    assert server.get(f"{server.base}/attachments/{quote(path)}?expires=1&sig={'0' * 64}")[0] == 403


def test_a_signed_link_to_a_missing_file_is_404(server: Server) -> None:
    path = storage_path(KEY, 5, "never stored.txt")
    assert server.get(link(server.base, path, EXPIRES, LINK_SECRET))[0] == 404


TRAVERSALS = [
    "..%2F..%2Fetc%2Fpasswd",
    "..%2Fsecret.txt",
    "../secret.txt",
    "%2e%2e/secret.txt",
    "%2e%2e%2fsecret.txt",
    "..%5Csecret.txt",
    "%2Fetc%2Fpasswd",
    "x/..%2F..%2F..%2Fpasswd",
    "..%2F..%2Fpasswd",
    "%00/secret.txt",
]


@pytest.mark.parametrize("encoded", TRAVERSALS)
def test_traversal_in_the_url_never_serves_outside_the_directory(
        server: Server, encoded: str) -> None:
    unsigned = server.raw(f"/attachments/{encoded}?expires={EXPIRES}&sig={'0' * 64}")
    # Even a link signed for the decoded path (the secret leaked, say) finds nothing outside.
    decoded = unquote(encoded)
    signed = server.raw(f"/attachments/{encoded}?expires={EXPIRES}"
                        f"&sig={sign(decoded, EXPIRES, LINK_SECRET)}")
    assert unsigned.split(b" ", 2)[1] in (b"403", b"404"), unsigned[:200]
    assert signed.split(b" ", 2)[1] == b"404", signed[:200]
    for answer in (unsigned, signed):
        assert b"outside the store" not in answer and b"root:x" not in answer


def test_no_store_no_route(tmp_path: Path) -> None:
    running = Server(None)
    try:
        path = stored(tmp_path)
        assert running.get(link(running.base, path, EXPIRES, LINK_SECRET))[0] == 404
        assert running.get(f"{running.base}/healthz")[0] == 200
    finally:
        running.close()


def test_head_is_not_answered_with_the_file(server: Server, root: Path) -> None:
    path = stored(root)
    status, body, _ = server.get(link(server.base, path, EXPIRES, LINK_SECRET), method="HEAD")
    assert status == 405 and body == b""


def test_an_empty_link_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        AttachmentLinks(LocalStore(tmp_path), b"")
    shown = repr(AttachmentLinks(LocalStore(tmp_path), LINK_SECRET))
    assert "secret=" not in shown and LINK_SECRET.decode() not in shown
