"""Webhook deliveries: what GitHub POSTs to a hook's URL when issues and comments change.

Each `Event` from `actions` is rendered at once (so the payload shows the state at that moment)
and queued; one worker task on the server's loop sends the queue in order, so API responses
never wait for a receiver. Headers are GitHub's: `X-GitHub-Event`, `X-GitHub-Delivery` (one GUID
per event, shared by its redeliveries), `X-Hub-Signature-256` (`sha256=` + hex HMAC-SHA256 of the
raw body), `X-GitHub-Hook-ID`, `User-Agent: GitHub-Hookshot/...`
(https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers).

GitHub does not redeliver failed deliveries by itself, and neither does this: `pause()`
simulates the receiver being down (deliveries are recorded as failed and not sent) and
`redeliver()` re-sends one by hand, as the "Redeliver" button does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import render_discussions
from .actions import Event
from .actions_discussions import DiscussionEvent
from .model import node_id
from .render import Renderer

USER_AGENT = "GitHub-Hookshot/044aadd"
TIMEOUT = 10.0  # GitHub gives a receiver 10 s


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Hook:
    id: int
    url: str
    secret: str | None = None
    events: frozenset[str] | None = None  # None: every event
    installation_id: int | None = None  # set for a GitHub App's hook: payloads carry it


@dataclass(slots=True)
class Delivery:
    guid: str
    hook_id: int
    event: str
    action: str | None
    body: bytes
    headers: dict[str, str]
    status: str = "queued"  # queued | delivered | failed
    status_code: int | None = None
    error: str | None = None
    redelivery: bool = False
    created_at: float = dataclasses.field(default_factory=time.time)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class WebhookSender:
    def __init__(self, render: Renderer, rng: random.Random) -> None:
        self.render = render
        self._rng = rng
        self._hook_ids = itertools.count(100_000_001)
        self._hooks: dict[int, Hook] = {}
        self._deliveries: list[Delivery] = []
        self._queue: list[Delivery] = []
        self._busy = 0
        self._paused = False
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    # -- configuration -------------------------------------------------------------------------

    def add_hook(
        self,
        url: str,
        secret: str | None = None,
        *,
        events: set[str] | None = None,
        installation_id: int | None = None,
    ) -> Hook:
        hook = Hook(
            next(self._hook_ids),
            url,
            secret,
            frozenset(events) if events is not None else None,
            installation_id,
        )
        with self._cond:
            self._hooks[hook.id] = hook
        return hook

    def remove_hook(self, hook_id: int) -> None:
        with self._cond:
            self._hooks.pop(hook_id, None)

    def pause(self) -> None:
        """Simulate the receiver being down: deliveries fail and are not sent."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        """Deliver again from now on; what failed meanwhile stays failed (as on GitHub)."""
        with self._cond:
            self._paused = False

    # -- deliveries ----------------------------------------------------------------------------

    def emit(self, event: Event | DiscussionEvent) -> None:
        """Render and queue one delivery per subscribed hook. Thread-safe, never blocks."""
        with self._cond:
            hooks = [h for h in self._hooks.values() if h.events is None or event.name in h.events]
            if not hooks:
                return
            guid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        base = self._payload(event)
        for hook in hooks:
            payload = dict(base)
            if hook.installation_id is not None:
                payload["installation"] = {
                    "id": hook.installation_id,
                    "node_id": node_id("Installation", hook.installation_id),
                }
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            headers = {
                "X-GitHub-Event": event.name,
                "X-GitHub-Delivery": guid,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(event.repo.id),
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
                "Accept": "*/*",
            }
            if hook.secret is not None:
                headers["X-Hub-Signature-256"] = signature(hook.secret, body)
                headers["X-Hub-Signature"] = (
                    "sha1=" + hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest()
                )
            self._record(Delivery(guid, hook.id, event.name, event.action, body, headers))

    def redeliver(self, guid: str, hook_id: int | None = None) -> list[Delivery]:
        """Send the deliveries of one event again, with the same GUID and body."""
        with self._cond:
            originals = {
                d.hook_id: d
                for d in self._deliveries
                if d.guid == guid and not d.redelivery and (hook_id is None or d.hook_id == hook_id)
            }
            if not originals:
                raise KeyError(guid)
            copies = [
                dataclasses.replace(
                    d,
                    status="queued",
                    status_code=None,
                    error=None,
                    redelivery=True,
                    created_at=time.time(),
                )
                for d in originals.values()
            ]
            for copy in copies:
                self._deliveries.append(copy)
                self._queue.append(copy)
        self._wake()
        return copies

    def redeliver_failed(self) -> list[Delivery]:
        """Redeliver every event whose latest attempt failed."""
        with self._cond:
            latest = {(d.guid, d.hook_id): d for d in self._deliveries}
            failed = [key for key, d in latest.items() if d.status == "failed"]
        return [copy for guid, hook in failed for copy in self.redeliver(guid, hook)]

    def deliveries(self, event: str | None = None) -> list[Delivery]:
        with self._cond:
            return [
                dataclasses.replace(d)
                for d in self._deliveries
                if event is None or d.event == event
            ]

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery has been attempted. False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _record(self, delivery: Delivery) -> None:
        with self._cond:
            self._deliveries.append(delivery)
            if self._paused:
                delivery.status, delivery.error = "failed", "receiver unreachable (paused)"
                return
            self._queue.append(delivery)
        self._wake()

    def _payload(self, event: Event | DiscussionEvent) -> dict[str, Any]:
        if isinstance(event, DiscussionEvent):
            return self._discussion_payload(event)
        r = self.render
        payload: dict[str, Any] = {"action": event.action}
        if event.changes is not None:
            payload["changes"] = event.changes
        payload["issue"] = r.issue(event.repo, event.issue)
        if event.comment is not None:
            payload["comment"] = r.comment(event.repo, event.comment)
        if event.label is not None:
            payload["label"] = r.label(event.repo, event.label)
        if event.assignee is not None:
            payload["assignee"] = r.user(event.assignee)
        payload["repository"] = r.repo(event.repo)
        payload["sender"] = r.user(event.sender)
        return payload

    def _discussion_payload(self, event: DiscussionEvent) -> dict[str, Any]:
        r, repo = self.render, event.repo
        payload: dict[str, Any] = {"action": event.action}
        if event.changes is not None:
            payload["changes"] = event.changes
        if event.comment is not None:
            payload["comment"] = render_discussions.comment(r, repo, event.comment)
        payload["discussion"] = render_discussions.discussion(r, repo, event.discussion)
        if event.answer is not None:
            key = "answer" if event.action == "answered" else "old_answer"
            payload[key] = render_discussions.comment(r, repo, event.answer)
        if event.label is not None:
            payload["label"] = r.label(repo, event.label)
        payload["repository"] = r.repo(repo)
        payload["sender"] = r.user(event.sender)
        return payload

    # -- the worker on the server's loop -------------------------------------------------------

    def _wake(self) -> None:
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._worker = asyncio.create_task(self._run())
        self._wakeup.set()

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._loop = self._wakeup = self._worker = None
        with self._cond:
            self._busy = 0
            self._cond.notify_all()

    async def _run(self) -> None:
        assert self._wakeup is not None
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while True:
                    with self._cond:
                        if not self._queue:
                            self._cond.notify_all()
                            break
                        delivery = self._queue.pop(0)
                        self._busy += 1
                    outcome = await self._send(session, delivery)
                    with self._cond:
                        delivery.status, delivery.status_code, delivery.error = outcome
                        self._busy -= 1
                        self._cond.notify_all()

    async def _send(
        self, session: aiohttp.ClientSession, delivery: Delivery
    ) -> tuple[str, int | None, str | None]:
        with self._cond:
            hook = self._hooks.get(delivery.hook_id)
        if hook is None:
            return "failed", None, "hook removed"
        try:
            async with session.post(
                hook.url, data=delivery.body, headers=delivery.headers
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return "failed", None, f"{type(exc).__name__}: {exc}"
        ok = 200 <= response.status < 300
        return ("delivered" if ok else "failed"), response.status, None
