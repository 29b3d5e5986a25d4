"""Which attachments of a message are stored, where, and how the body lists them (issue 17).

`plan_attachments` decides, from the message's attachment list alone (names, types and sizes
as parsed; the bytes are read later by the writer, from the stored raw message), which files go
to the attachment store and at which path (`attachment_names.storage_path`: the same message
always gives the same paths, so a retried store finds what an earlier try wrote), and composes
the Markdown list the issue or comment shows: each stored file linked, each file that is not
stored with the reason (over the per-file or per-message cap, empty, past the listed number).
Images are shown inline only when `AttachmentSettings.image_link` is given: the wiring gives it
only for a private repository store and a private target, since a public page must not embed a
private file (it would show a broken image to its readers, or leak one). The links come from
`AttachmentSettings.link`, which the wiring builds for the configured store (a repository's
file page, or a signed, expiring link to this host). Pure: `now` is an argument (a signed
link's expiry counts from it); it must not read bytes, files, config or the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from gateway.inbound.attachment_names import storage_path
from gateway.inbound.safe_markdown import code_span, escape_text, one_line, strip_bidi
from gateway.models import Attachment

MAX_LISTED = 20  # files listed (and stored) per message; the rest are summed up
MAX_FILENAME = 120
MAX_CONTENT_TYPE = 80
STORE_KIND = "store_attachments"
# Shown inline when the store and the target are private: the types every browser shows
# safely as an image (no SVG: it is a document that can carry script).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

StoreName = Literal["repository", "local", "none"]
LinkFor = Callable[[str, dt.datetime], str]  # (stored path, now) -> URL


@dataclass(frozen=True, slots=True)
class AttachmentSettings:
    """How a message's attachments are kept and linked. `store` "none" (also what a repository
    store without a repository is): listed by name and size only."""

    store: StoreName = "none"
    max_file_bytes: int = 25 * 1024 * 1024
    max_message_bytes: int = 50 * 1024 * 1024
    link: LinkFor | None = field(default=None, compare=False)
    image_link: LinkFor | None = field(default=None, compare=False)  # None: never inline
    where: str = ""  # said above the list: who can open the links
    destination: tuple[tuple[str, str], ...] = ()  # recorded in the store row: repository…


@dataclass(frozen=True, slots=True)
class PlannedFile:
    index: int  # in the message's attachment list (`Email.attachments`)
    path: str  # where it is stored, relative and "/"-separated
    size: int
    content_type: str
    name: str  # as the list shows it (`shown_name`): what /publish may be given


@dataclass(frozen=True, slots=True)
class AttachmentPlan:
    markdown: str  # the list for the body ("" when there are no attachments)
    files: tuple[PlannedFile, ...]  # what the store row stores, in order

    def row_payload(self, settings: AttachmentSettings) -> dict[str, object]:
        """The payload of the message's `store_attachments` outbox row."""
        return {"store": settings.store, **dict(settings.destination),
                "files": [{"index": f.index, "path": f.path, "size": f.size,
                           "content_type": f.content_type, "name": f.name}
                          for f in self.files]}


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def shown_name(filename: str) -> str:
    """The name as the list shows it: one line, no bidi controls, at most MAX_FILENAME
    characters with the extension kept (it says what the file is); put in a code span."""
    name = strip_bidi(filename, marks=True)
    if len(name) > MAX_FILENAME:
        name = name[: MAX_FILENAME - 21] + "…" + name[-20:]
    return one_line(name, MAX_FILENAME) or "(no name)"


def _description(item: Attachment) -> str:
    kind = escape_text(one_line(item.content_type, MAX_CONTENT_TYPE), at_line_start=False)
    inline = ", inline" if item.inline else ""
    return f"{kind}, {human_size(item.size)}{inline}"


def plan_attachments(message_key: str, attachments: tuple[Attachment, ...],
                     settings: AttachmentSettings, now: dt.datetime) -> AttachmentPlan:
    """What to store of `attachments` and the list the body shows (see the module docstring)."""
    if not attachments:
        return AttachmentPlan("", ())
    storing = settings.store != "none" and settings.link is not None
    lines: list[str] = []
    images: list[str] = []
    files: list[PlannedFile] = []
    total = 0
    for index, item in enumerate(attachments[:MAX_LISTED]):
        shown = shown_name(item.filename)
        name = code_span(shown)
        described = _description(item)
        reason = ""
        if not storing:
            lines.append(f"- {name} ({described})")
            continue
        if item.size <= 0:
            reason = "empty, not stored"
        elif item.size > settings.max_file_bytes:
            reason = (f"not stored: over the {human_size(settings.max_file_bytes)} limit "
                      "per file")
        elif total + item.size > settings.max_message_bytes:
            reason = (f"not stored: past the {human_size(settings.max_message_bytes)} limit "
                      "per message")
        if reason:
            lines.append(f"- {name} ({described}): {reason}")
            continue
        assert settings.link is not None
        path = storage_path(message_key, index, item.filename)
        total += item.size
        files.append(PlannedFile(index, path, item.size, item.content_type.lower(), shown))
        # In bold, so the item never starts with "[": a name like "]:" would otherwise make
        # `[`]:` and the rest of the item a link reference definition (`[x]:` starts one only
        # at the start of a paragraph; everywhere else the "]" in the code span is literal).
        # The body's final check would then show the whole body as a literal block, with no
        # link to any file and no image.
        lines.append(f"- **[{name}]({settings.link(path, now)})** ({described})")
        if settings.image_link is not None and item.content_type.lower() in INLINE_TYPES:
            images.append(f"![attachment {index + 1}]({settings.image_link(path, now)})")
    rest = attachments[MAX_LISTED:]
    if rest:
        size = human_size(sum(item.size for item in rest))
        more = " (not stored: see the original message)" if storing else ""
        lines.append(f"- … and {len(rest)} more ({size}){more}")
    if storing:
        head = f"**Attachments** ({settings.where}):" if settings.where else "**Attachments:**"
    else:
        head = "**Attachments** (kept with the original message by the gateway):"
    text = head + "\n" + "\n".join(lines)
    if images:
        text += "\n\n" + "\n".join(images)
    return AttachmentPlan(text, tuple(files))
