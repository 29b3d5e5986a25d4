"""Whether the webhook server can listen where `[web]` says, and what to do when it cannot.

`listen_error` turns the OSError the daemon meets at bind time into a `ConfigError` naming
`web.port` or `web.listen`; `probe_listen` asks the same question for `check-config` by binding
and closing a socket the way asyncio does (SO_REUSEADDR), and recognises the running gateway by
its `/healthz` answer so an admin checking beside the live service is not told its own port is
taken. Nothing here serves HTTP.
"""

from __future__ import annotations

import errno
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

from gateway.errors import ConfigError


def listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """The admin's fix for a socket the web server could not bind (gaierror: a bad name)."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError("web.port", f"{where} is already in use by another program",
                           f"stop that program (sudo ss -ltnp 'sport = :{port}' names it) or "
                           "set web.port to a free port (and the proxy in front to match)")
    if exc.errno == errno.EACCES:
        return ConfigError("web.port", f"no permission to listen on {where}",
                           "ports below 1024 need a privilege the unit does not grant: use a "
                           "port of 1024 or more behind the reverse proxy")
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return ConfigError("web.listen", f"{host!r} is not an address of this host "
                           f"({exc.strerror or exc})",
                           "set web.listen to 127.0.0.1 (behind a proxy on this host) or an "
                           "address this host has (ip -brief address)")
    return ConfigError("web.listen", f"cannot listen on {where}: {exc.strerror or exc}",
                       "check web.listen and web.port")


@dataclass(frozen=True, slots=True)
class ListenProbe:
    """`error` is None when the web server could listen (`note` then says why it may)."""

    error: ConfigError | None
    note: str = ""


def probe_listen(host: str, port: int, *, timeout: float = 2.0) -> ListenProbe:
    if port == 0:
        return ListenProbe(None, "port 0: the system picks a free one at start")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE and _is_gateway(host, port, timeout):
            return ListenProbe(None, "in use by a running visit-gateway: its /healthz answered")
        return ListenProbe(listen_error(host, port, exc))
    return ListenProbe(None, "free")


def _is_gateway(host: str, port: int, timeout: float) -> bool:
    """Whether what listens there answers /healthz like the gateway (200 or 503 with its
    component checks)."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else shown}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:  # 503: unhealthy, but still the gateway
        body = exc.read(65536)
    except (OSError, ValueError):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    checks = data.get("checks") if isinstance(data, dict) else None
    return isinstance(checks, dict) and {"imap", "outbox"} <= checks.keys()
