"""TEMPORARY (replaced by the attdata branch): the bytes of each attachment of a raw message,
in the order of `parse_email(raw).attachments`."""

from __future__ import annotations

import base64
import email
from collections.abc import Iterator

from gateway.inbound.mime_repair import repair_tree
from gateway.inbound.parse import _parse_message, without_leading_blank_lines


def attachment_data(raw: bytes) -> Iterator[bytes]:
    message = email.message_from_bytes(without_leading_blank_lines(raw))
    repair_tree(message)
    parsed = _parse_message(message)
    for item in parsed.attachments:
        payload = item.get("payload") or ""
        if item.get("binary"):
            yield base64.b64decode(payload, validate=False)
        else:
            yield payload.encode("utf-8", "replace") if isinstance(payload, str) else payload
