"""Signed, expiring links to stored attachments: an HMAC-SHA256 over the path and the expiry.

A link is `{base_url}/attachments/{path}?expires={expires}&sig={sig}`, where `expires` is a Unix
time in seconds and `sig` the hex HMAC of both under the gateway's secret, so a link cannot be
guessed, pointed at another file or kept alive longer. A link is good while `now < expires`
(at `expires` it has expired). `check` tells an expired but authentic link from a forged one,
so the web edge may answer 410 to the first and 403 to the second without telling a forger more.
This module is pure: time is an argument, and it must not read files, config or the clock.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from urllib.parse import quote

ROUTE = "/attachments/"
# Domain separation: a signature made here is never valid for anything else keyed by the secret.
_CONTEXT = b"visit-gateway attachment link v1\n"


class LinkCheck(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # authentic, but `now >= expires`
    FORGED = "forged"  # the signature does not match this path and expiry (or is malformed)


def sign(path: str, expires: int, secret: bytes) -> str:
    """The hex HMAC-SHA256 of `path` (as UTF-8) and `expires` under `secret`.

    The expiry comes first and ends at a newline, so no (path, expiry) pair signs like another."""
    if not secret:
        raise ValueError("the link secret must not be empty: anyone could sign links")
    message = _CONTEXT + f"{int(expires)}\n".encode() + path.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def link(base_url: str, path: str, expires: int, secret: bytes) -> str:
    """The URL of `path` under `base_url` (e.g. `https://gateway.example.org`), good until
    `expires`. The path is percent-encoded, its `/` kept; the signature covers the unencoded
    path, which is what the web edge gets back after decoding."""
    quoted = quote(path, safe="/")
    return (f"{base_url.rstrip('/')}{ROUTE}{quoted}"
            f"?expires={int(expires)}&sig={sign(path, expires, secret)}")


def check(path: str, expires: int, sig: str, secret: bytes, now: int) -> LinkCheck:
    """Whether `sig` is the signature of `path` until `expires`, and still good at `now`.
    Compares in constant time."""
    expected = sign(path, expires, secret).encode("ascii")
    given = sig.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(expected, given):
        return LinkCheck.FORGED
    return LinkCheck.VALID if now < expires else LinkCheck.EXPIRED


def verify(path: str, expires: int, sig: str, secret: bytes, now: int) -> bool:
    """True only for an authentic link that has not expired at `now`."""
    return check(path, expires, sig, secret, now) is LinkCheck.VALID
