"""Recognise and remove the mailing list's footer from a message body.

Mailman appends a footer that starts with a rule of underscores. It is recognised by what
follows the rule (the next few lines): a configured marker (`[list] footer_markers`), an
address or URL from the message's own `List-Unsubscribe`, `List-Post`, `List-Archive`,
`List-Help` or `List-Subscribe` headers, or Mailman's own shape ("mailing list" and a
`listinfo` URL). So the footer goes even when the markers name another list or the list's
admin reworded it. A rule followed by an Outlook reply header (`From: ...`) is a quote, not a
footer, even when the list's address is in it. Pure string functions; no I/O.
"""

from __future__ import annotations

import re

_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
_LIST_HEADERS = ("list-unsubscribe", "list-post", "list-archive", "list-help", "list-subscribe")
_BRACKETED = re.compile(r"<([^<>\s]+)>")
_QUOTE_HEADER = re.compile(r"^\W{0,4}(?:From|Von|De|Da|Van|Från|Od)\W{0,4}:", re.IGNORECASE)
_WINDOW = 6  # lines after the rule that may name the list


def list_hints(headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The addresses and URLs (scheme, query and trailing '/' dropped, lower-case) that the
    message's List-* headers (RFC 2369) give: what the list's own footer repeats."""
    hints: list[str] = []
    for name, value in headers:
        if name not in _LIST_HEADERS:
            continue
        for target in _BRACKETED.findall(value):
            target = target.lower().partition("?")[0].rstrip("/")
            target = re.sub(r"^(?:mailto:|https?://)", "", target)
            if len(target) >= 6 and target not in hints:
                hints.append(target)
    return tuple(hints)


def _names_the_list(following: list[str], markers: tuple[str, ...], hints: tuple[str, ...]) -> bool:
    if any(_QUOTE_HEADER.match(line) for line in following):
        return False  # Outlook's "____ / From: list <address>" starts a quote
    window = "\n".join(following).lower()
    if any(marker.lower() in window for marker in markers if marker):
        return True
    if any(hint in window for hint in hints):
        return True
    return "mailing list" in window and "listinfo" in window


def footer_start(
    lines: list[str], markers: tuple[str, ...], hints: tuple[str, ...] = ()
) -> int | None:
    """Index of the rule that starts the list footer (the last one that names the list)."""
    for index in range(len(lines) - 1, -1, -1):
        if _UNDERSCORE_RULE.match(lines[index]):
            following = [line for line in lines[index + 1 : index + 1 + _WINDOW] if line.strip()]
            if _names_the_list(following, markers, hints):
                return index
    return None


def strip_footer(text: str, markers: tuple[str, ...], hints: tuple[str, ...] = ()) -> str:
    """`text` without the list footer: from its rule to the end."""
    lines = text.split("\n")
    start = footer_start(lines, markers, hints)
    return text if start is None else "\n".join(lines[:start]).rstrip()
