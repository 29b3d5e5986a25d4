"""Compose the Markdown body of an issue or comment from a cleaned email.

Layout: a header line (display name, masked address, local time; for a call or visit logged
with `visit-gateway log-inquiry`, who logged it and how the customer came), the new text, the
stripped quote and signature collapsed in a `<details>` block, the attachment list, and the
hidden marker that lets the writer find this exact body again after a crash. Everything the sender
controls is escaped (`gateway.inbound.safe_markdown`) and bounded: the display name, and (in
`gateway.inbound.attachments`) each file name and the number of attachments listed. Bodies stay
under GitHub's 65,536-character limit, counting every part: the collapsed part goes first, then
the text is cut with a note. A body that fails the final check is sent as one literal block.
Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.inbound.attachments import AttachmentSettings, plan_attachments
from gateway.inbound.clean import CleanBody
from gateway.inbound.hotline import Logged
from gateway.inbound.safe_markdown import (
    body_problems,
    checked_part,
    code_span,
    escape_text,
    literal_block,
    neutral_markdown,
    one_line,
)
from gateway.inbound.thread import marker
from gateway.models import Address, Email

# Bounds on what the sender controls in the header and the attachment list, so that the text
# of the mail keeps its room under GitHub's limit (a 70,000-character display name must not
# make GitHub refuse the body).
MAX_NAME = 200
MAX_ADDRESS = 320
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # no store: the list has no links to date
_DETAILS_OPEN = "<details><summary>Quoted text and signature</summary>"
_TEMPLATE_HTML = frozenset({_DETAILS_OPEN, "</details>"})
_VIA_WORDS = {"phone": "a phone call with", "walk-in": "a visit in person by"}


@dataclass(frozen=True, slots=True)
class BodySettings:
    show_full_address: bool
    max_chars: int
    display_tz: ZoneInfo


def mask_address(addr: str) -> str:
    """`jane.roe@univ.edu` -> `j…@univ.edu`: recognisable to the team, useless to a harvester."""
    local, _, domain = addr.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def header_line(sender: Address | None, date: dt.datetime | None, settings: BodySettings,
                logged: Logged | None = None) -> str:
    """`**Name** (`j…@univ.edu`) wrote on …:`, the name escaped like any text of the mail; for
    a hotline record (`logged`), `Logged by Team Member (`login`) from a phone call with
    **Name** (`j…@univ.edu`) on ….`"""
    if sender is None:
        who = "Unknown sender"
    else:
        addr = one_line(sender.addr, MAX_ADDRESS)
        # In a code span: "j…@univ.edu" would otherwise read as a mention of user "univ".
        shown = code_span(addr if settings.show_full_address else mask_address(addr))
        name = one_line(sender.name, MAX_NAME)
        who = f"**{escape_text(name, at_line_start=False)}** ({shown})" if name else shown
    when = ""
    if date is not None:
        local = date.astimezone(settings.display_tz)
        when = f" on {local:%a %Y-%m-%d %H:%M} {local.tzname()}"
    if logged is not None:
        # The login in a code span: the one who logged it needs no notification about it.
        login = code_span(one_line(logged.login, MAX_NAME))
        name = escape_text(one_line(logged.name, MAX_NAME), at_line_start=False)
        by = f"{name} ({login})" if name else login
        return f"Logged by {by} from {_VIA_WORDS.get(logged.via, 'a call with')} {who}{when}."
    return f"{who} wrote{when}:"


_NOTE = (
    "*[Message truncated by visit-gateway: {shown:,} of {total:,} characters shown. "
    "The full message is kept in the gateway's store under its key.]*"
)


def _cut(text: str, budget: int) -> tuple[str, int]:
    """The longest safe prefix of `text` (already neutral Markdown) within `budget` characters,
    and how many characters of `text` it shows. Cutting can split a code span or a fence, so
    the prefix is made neutral again: a cut `@mention` must not come back to life."""
    limit = min(len(text), budget)
    while limit > 0:
        shown = neutral_markdown(text[:limit].rstrip(), plain=False)
        if len(shown) <= budget:
            return shown, limit
        limit -= max(len(shown) - budget, 16)
    return "", 0


def _literal_body(parts: tuple[str, ...], mark: str, max_chars: int) -> str:
    """Everything but the marker as one fenced block: shown literally whatever it contains."""
    text = "\n\n".join(part for part in parts if part)
    room = max_chars - len(mark) - 2
    while True:
        block = "\n".join(literal_block(text))
        if len(block) <= room or not text:
            return f"{block}\n\n{mark}"
        text = text[: max(len(text) - (len(block) - room) - 1, 0)]


def _details(quoted: str) -> str:
    return f"{_DETAILS_OPEN}\n\n{quoted}\n\n</details>" if quoted else ""


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def compose_body(email: Email, cleaned: CleanBody, settings: BodySettings,
                 logged: Logged | None = None, attachments: str | None = None) -> str:
    """The issue or comment body. Every part counts against `settings.max_chars`; the result
    is checked once more as CommonMark and shown as a literal block if anything is off. The
    check reads the parts of the mail as `checked_part` gives them: what holds nothing it looks
    for sits between blank lines and cannot change how the rest is read. `logged`: the label
    of a hotline record (`gateway.inbound.hotline`), whose text is the team member's notes.
    `attachments`: the attachment list (`gateway.inbound.attachments.plan_attachments`);
    None lists them by name and size, as when no store is configured."""
    head = header_line(email.sender, email.date, settings, logged)
    mark = marker(email.key)
    if attachments is None:
        attachments = plan_attachments(email.key, email.attachments, AttachmentSettings(),
                                       email.date or _EPOCH).markdown
    visible = cleaned.visible or ("*(no notes)*" if logged is not None else "*(no text)*")
    body = _joined(head, visible, _details(cleaned.quoted), attachments, mark)
    checked = _joined(head, checked_part(visible), _details(checked_part(cleaned.quoted)),
                      attachments, mark)
    if len(body) > settings.max_chars:
        # Too long for GitHub: drop the collapsed part first, then cut the text itself.
        total = len(cleaned.visible) + len(cleaned.quoted)
        fixed = (head, _NOTE.format(shown=total, total=total), attachments, mark)
        budget = settings.max_chars - sum(len(part) + 2 for part in fixed if part)
        shown_text, shown = _cut(visible, budget)
        note = _NOTE.format(shown=shown, total=total)
        body = _joined(head, shown_text, note, attachments, mark)
        checked = _joined(head, checked_part(shown_text), note, attachments, mark)
    if len(body) > settings.max_chars or body_problems(
        checked, template_html=_TEMPLATE_HTML, marker=mark
    ):
        return _literal_body((head, visible, cleaned.quoted, attachments), mark,
                             settings.max_chars)
    return body
