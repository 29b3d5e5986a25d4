"""Compose the Markdown body of an issue or comment from a cleaned email.

Layout: a header line (display name, masked address, local time), the new text, the stripped
quote and signature collapsed in a `<details>` block, the attachment list, and the hidden
marker that lets the writer find this exact body again after a crash. Bodies stay under
GitHub's 65,536-character limit: the collapsed part goes first, then the text is truncated with
a note. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.inbound.clean import CleanBody
from gateway.inbound.thread import marker
from gateway.models import Address, Attachment, Email


@dataclass(frozen=True, slots=True)
class BodySettings:
    show_full_address: bool
    max_chars: int
    display_tz: ZoneInfo


def mask_address(addr: str) -> str:
    """`jane.roe@univ.edu` -> `j…@univ.edu`: recognisable to the team, useless to a harvester."""
    local, _, domain = addr.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def header_line(sender: Address | None, date: dt.datetime | None, settings: BodySettings) -> str:
    if sender is None:
        who = "Unknown sender"
    else:
        shown = sender.addr if settings.show_full_address else mask_address(sender.addr)
        name = sender.name.replace("*", "").replace("`", "").strip()
        # In backticks: "j…@univ.edu" would otherwise read as a mention of user "univ".
        who = f"**{name}** (`{shown}`)" if name else f"`{shown}`"
    when = ""
    if date is not None:
        local = date.astimezone(settings.display_tz)
        when = f" on {local:%a %Y-%m-%d %H:%M} {local.tzname()}"
    return f"{who} wrote{when}:"


def attachment_lines(attachments: tuple[Attachment, ...]) -> str:
    if not attachments:
        return ""
    items = []
    for item in attachments:
        name = item.filename.replace("`", "'")
        inline = ", inline" if item.inline else ""
        items.append(f"- `{name}` ({item.content_type}, {_human_size(item.size)}{inline})")
    return "**Attachments** (kept with the original message by the gateway):\n" + "\n".join(items)


def _close_fences(text: str) -> str:
    fences = sum(1 for line in text.split("\n") if line.lstrip().startswith(("```", "~~~")))
    return text + "\n```" if fences % 2 else text


def compose_body(email: Email, cleaned: CleanBody, settings: BodySettings) -> str:
    head = header_line(email.sender, email.date, settings)
    tail_parts = [attachment_lines(email.attachments), marker(email.key)]
    tail = "\n\n".join(part for part in tail_parts if part)
    visible = cleaned.visible or "*(no text)*"
    details = ""
    if cleaned.quoted:
        details = (
            "<details><summary>Quoted text and signature</summary>\n\n"
            f"{_close_fences(cleaned.quoted)}\n\n</details>"
        )
    body = "\n\n".join(part for part in (head, visible, details, tail) if part)
    if len(body) <= settings.max_chars:
        return body
    # Too long for GitHub: drop the collapsed part first, then cut the text itself.
    note_template = (
        "*[Message truncated by visit-gateway: {shown:,} of {total:,} characters shown. "
        "The full message is kept in the gateway's store under its key.]*"
    )
    total = len(cleaned.visible) + len(cleaned.quoted)
    budget = settings.max_chars - len(head) - len(tail) - len(note_template) - 64
    shown_text = _close_fences(visible[: max(budget, 0)].rstrip())
    note = note_template.format(shown=min(len(visible), max(budget, 0)), total=total)
    return "\n\n".join((head, shown_text, note, tail))
