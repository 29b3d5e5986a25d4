"""The bytes of a stored message's attachments, one at a time, in `Email.attachments` order.

Both functions read the raw message through `parse.attachment_items`: the same reading (MIME
tree, `mime_repair`, mail-parser's walk) of the same bytes that `parse_email` describes its
attachments from. Attachment i here is attachment i there, the count is the same, and
`len(data)` is its `size` (`attachment_payload` computes both from one item).

What they hold: the raw message, which the caller holds anyway; the MIME tree, in which a long
base64 body is a marker (`base64_runs`), not its text; and the decoded bytes of the one
attachment asked for, decoded from `raw` in place. A short or irregular body (a text part, a
quoted-printable file) is held as text, as `parse_email` holds it, until its item is let go.
Pure: no I/O; raises MessageRejected for what `parse_email` refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from gateway.inbound.attachment_payload import payload_bytes
from gateway.inbound.parse import attachment_items


def attachment_data(raw: bytes) -> Iterator[bytes]:
    """The bytes of each attachment of `raw`, in order: decoded from its transfer encoding
    (base64, quoted-printable) and no further, so a text attachment is in the charset the
    sender wrote it in. An attached message or multipart is its MIME text. Each attachment's
    encoded text is dropped as soon as its bytes are made, and no bytes are made before the
    caller asks for them."""
    items, runs = attachment_items(raw)
    items.reverse()  # popped from the end: first attachment first, each item let go in turn
    while items:
        yield payload_bytes(items.pop(), runs)


def attachment_at(raw: bytes, index: int) -> bytes:
    """The bytes of attachment `index` of `raw` (as `attachment_data` gives them), keeping
    only its own encoded text once the message is read. IndexError when there is none."""
    items, runs = attachment_items(raw)
    if not 0 <= index < len(items):
        raise IndexError(f"attachment {index} of {len(items)}")
    item = items[index]
    del items
    return payload_bytes(item, runs)


def attachment_makers(raw: bytes) -> list[Callable[[], bytes]]:
    """One maker per attachment of `raw`, in order: each call makes that attachment's bytes
    (as `attachment_data` gives them) from the message read once, so a caller can take them
    one at a time, and again, without reading the message again. Holds what
    `attachment_items` holds: a long base64 body is a marker into `raw`, not its text."""
    items, runs = attachment_items(raw)
    return [partial(payload_bytes, item, runs) for item in items]
