"""What every route handler shares: the emulator's parts, the caller, and small HTTP helpers.

`Context` bundles the store, actions, renderer and limiter for the routes. The caller's
`Principal` travels in a context variable set by the pipeline for the duration of one request.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .actions import Actions, Actor
from .auth import Principal
from .errors import bad_json, not_found
from .limits import RateLimiter
from .model import Repo, Store
from .render import Renderer

CURRENT: ContextVar[Principal] = ContextVar("github_emulator_principal")


@dataclass(slots=True)
class Context:
    store: Store
    actions: Actions
    render: Renderer
    limiter: RateLimiter
    now: Callable[[], dt.datetime]
    search_delay: float = 0.0  # seconds before a new issue shows up in search
    token_ttl: dt.timedelta = dt.timedelta(hours=1)  # installation tokens
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def new_token(self, prefix: str) -> str:
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(36))

    def repo_and_actor(self, request: web.Request) -> tuple[Repo, Actor]:
        """The repo in the path as the caller may see it; 404 when it cannot (as GitHub does).

        Call with `store.lock` held.
        """
        who = CURRENT.get()
        info = request.match_info
        repo = self.store.repo(f"{info['owner']}/{info['repo']}")
        if repo is None or (who.repos is not None and repo.full_name.lower() not in who.repos):
            raise not_found()
        role = self.store.role(repo, who.login, who.installation_id)
        if role is None:
            raise not_found()
        return repo, Actor(who.login, role, who.app_id, who.installation_id)


def caller() -> Principal:
    return CURRENT.get()


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_json() from None


async def read_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_json()
    return data


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(
        body=body, status=status, headers=headers, content_type="application/json", charset="utf-8"
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise not_found() from None
