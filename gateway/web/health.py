"""The gateway's health, assessed from its parts' status: what `/healthz` answers.

`assess_health` is pure: it takes `now` and each component's status (IMAP source, GitHub writer,
outbox depth and age, database reachability, queued mail) and returns a `Health`, whose `checks`
map each component to its facts. It changes when a component's health facts change. It must not
do I/O, read a clock or config, or know about HTTP (`gateway.web.server` serves the answer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.inbound.source import SourceStatus
    from gateway.outbound.writer import WriterStatus


@dataclass(frozen=True, slots=True)
class Health:
    """What `/healthz` answers: 200 when `ok`, else 503. `checks` maps component -> facts."""

    ok: bool
    checks: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MailHealth:
    """The mail sender's part of /healthz: queued mail and what the relay last said."""

    pending: int
    oldest_pending_seconds: float
    stale_after: dt.timedelta
    last_success: dt.datetime | None = None
    last_error: str = ""


def assess_health(*, now: dt.datetime, source: SourceStatus, writer: WriterStatus,
                  outbox: tuple[int, float], database_ok: bool,
                  poll_stale_after: dt.timedelta,
                  outbox_max_age: dt.timedelta | None = None,
                  mail: MailHealth | None = None) -> Health:
    """The gateway's health from its parts' status (pure). `outbox` is (depth, oldest age s).

    Unhealthy when the database is unreachable, IMAP is down or has not completed a poll within
    `poll_stale_after`, the GitHub writer is failing (a bad token or repository), if
    `outbox_max_age` is given, the oldest pending outbox row is older than that, or mail is
    piling up: the oldest queued mail is older than `mail.stale_after` (an SMTP outage, a
    refused login).
    """
    polled = source.last_poll is not None and now - source.last_poll <= poll_stale_after
    depth, oldest = outbox
    checks: dict[str, Any] = {
        "imap": {"ok": source.connected and polled, "connected": source.connected,
                 "idle": source.idle, "last_poll": source.last_poll,
                 "last_error": source.last_error},
        "outbox": {"ok": outbox_max_age is None or oldest <= outbox_max_age.total_seconds(),
                   "depth": depth, "oldest_pending_seconds": oldest},
        "database": {"ok": database_ok, "reachable": database_ok},
        "github": {"ok": writer.healthy, "healthy": writer.healthy,
                   "last_error": writer.last_error, "last_success": writer.last_success,
                   "paused_until": writer.paused_until},
    }
    if mail is not None:
        checks["mail"] = {"ok": mail.oldest_pending_seconds <= mail.stale_after.total_seconds(),
                          "pending": mail.pending,
                          "oldest_pending_seconds": mail.oldest_pending_seconds,
                          "last_success": mail.last_success, "last_error": mail.last_error}
    return Health(all(check["ok"] for check in checks.values()), checks)
