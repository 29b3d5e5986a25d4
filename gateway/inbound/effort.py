"""Effort read from email: the `/spend` lines of a team member's emailed reply, as effort rows.

Holds `emailed_effort` and `emailed_effort_id`, the negative comment id under which a message's
lines are stored, so they never meet a GitHub comment id (whose webhooks replace their own
entries in `gateway.tracking.service`). It must not decide whose replies count (the pipeline
passes the login) nor write to the store; reading `/spend` syntax is `spend`'s.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import structlog

from gateway.inbound.clean import CleanBody, clean_body
from gateway.inbound.decide import DecideSettings
from gateway.inbound.spend import parse_spend
from gateway.models import Email
from gateway.store.values import EffortEntry

log = structlog.get_logger("gateway.inbound.effort")


def emailed_effort_id(key: str) -> int:
    """The effort table's comment id for a message's /spend lines: negative, so it never meets
    a GitHub comment id (whose webhooks replace their own entries), and stable per message."""
    return -int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "big") - 1


def emailed_effort(email: Email, login: str, at: dt.datetime, settings: DecideSettings,
                   *, cleaned: CleanBody | None = None) -> tuple[EffortEntry, ...]:
    """The `/spend` lines a team member wrote in the new text of an emailed reply; quoted
    text (an earlier mail's /spend included) is not read. `cleaned`: the email's clean body,
    when the caller has it already."""
    if cleaned is None:
        cleaned = clean_body(email, settings.footer_markers)
    visible = cleaned.visible
    lines = parse_spend(visible, at, settings.body.display_tz)
    for problem in lines.problems:
        log.warning("mail.spend_unreadable", key=email.key, reason=problem.reason)
    comment_id = emailed_effort_id(email.key)
    return tuple(EffortEntry(comment_id, n, login, spend.day, spend.minutes)
                 for n, spend in enumerate(lines.spends))
