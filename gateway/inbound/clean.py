"""Clean a message body for GitHub: list footer out, HTML to Markdown, quotes and signature
collapsed, pasted patches fenced, then made safe to render (`gateway.inbound.safe_markdown`).

Pure text functions over strings; the composition of the final issue/comment body (header line,
attachments, marker, length limit) lives in `gateway.body`. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import html2text

from gateway.inbound.safe_markdown import neutral_markdown, strip_bidi
from gateway.models import Email

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|wg|fw|fwd|tr|rif|r|ynt)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fw|fwd|wg|tr)\s*:", re.IGNORECASE)
_QUOTE_SENTINEL = "\u27e6visit-gateway-quote\u27e7"
_OUTLOOK_SENTINEL = "\u27e6visit-gateway-outlook\u27e7"

# Attribution lines that introduce a quoted reply, in the languages the list sees.
_ATTRIBUTION = re.compile(
    r"^(?:On\s.{4,250}\s(?:wrote|writes)\s*:"
    r"|Am\s.{4,250}\s(?:schrieb|geschrieben)\s*.{0,200}:"
    r"|Le\s.{4,250}\sa\s+écrit\s*:"
    r"|El\s.{4,250}\sescribió\s*:"
    r"|Il\s.{4,250}\sha\s+scritto\s*:"
    r"|Op\s.{4,250}\sschreef\s*.{0,200}:"
    r"|.{1,120}\s(?:wrote|schrieb|a\s+écrit)\s*:)\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:Original\s+Message|Ursprüngliche\s+Nachricht|Message\s+d'origine"
    r"|Mensaje\s+original|Messaggio\s+originale)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"^\W{0,4}(?:From|Von|De|Da|Van|Från)\W{0,4}:\s*\S", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(
    r"^\W{0,4}(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Inviato|Verzonden|Subject|Betreff|Objet"
    r"|Asunto|Oggetto|Onderwerp|To|An|À|Para|A|Aan)\W{0,4}:",
    re.IGNORECASE,
)
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{3,}\s*(?:Forwarded\s+message|Forwarded\s+Message|Weitergeleitete\s+Nachricht"
    r"|Message\s+transféré|Mensaje\s+reenviado)\s*-{3,}|Begin\s+forwarded\s+message\s*:"
    r"|Anfang\s+der\s+weitergeleiteten\s+Nachricht\s*:|Début\s+du\s+message\s+réexpédié\s*:)\s*$",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent\s+from\s+my\s+\w+.*|Sent\s+from\s+(?:Outlook|Mail\s+for\s+Windows).*"
    r"|Get\s+Outlook\s+for\s+(?:iOS|Android).*|Von\s+meinem\s+\w+\s+gesendet.*"
    r"|Envoyé\s+de\s+mon\s+\w+.*|Enviado\s+desde\s+mi\s+\w+.*|Inviato\s+da\s+\w+.*)$",
    re.IGNORECASE,
)
_DIFF_START = re.compile(r"^(?:diff --git |Index: |--- \S)")
_DIFF_LINE = re.compile(
    r"^(?:[ +\-\\]|@@|diff |index |--- |\+\+\+ |new file|deleted file|similarity|rename |"
    r"old mode|new mode|Binary files)"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_HTML_QUOTE_CONTAINERS = re.compile(
    r"(<div[^>]*class=\"?[^\">]*\bgmail_quote\b[^>]*>"
    r"|<div[^>]*class=\"?[^\">]*\bmoz-cite-prefix\b[^>]*>"
    r"|<blockquote[^>]*type=\"?cite\"?[^>]*>"
    r"|<div[^>]*class=\"?[^\">]*\byahoo_quoted\b[^>]*>)",
    re.IGNORECASE,
)
_HTML_OUTLOOK_CONTAINERS = re.compile(
    r"(<div[^>]*id=\"?(?:divRplyFwdMsg|appendonsend)\"?[^>]*>|<hr[^>]*id=\"?stopSpelling\"?[^>]*>)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class CleanBody:
    """The visible text and the collapsed part (quotes, signature), both Markdown."""

    visible: str
    quoted: str
    source: str  # "plain" | "html" | "empty"


def issue_title(subject: str, list_prefix: str) -> str:
    """The subject without the list prefix and reply/forward prefixes, or '(no subject)'.
    Bidirectional controls and marks are dropped: in a title they only serve to disguise it."""
    text = strip_bidi(subject, marks=True)
    if list_prefix:
        text = text.replace(list_prefix, " ")
    text = _REPLY_PREFIX.sub("", text)
    text = " ".join(text.split())
    if len(text) > 250:
        text = text[:249].rstrip() + "…"
    return text or "(no subject)"


def strip_footer(text: str, markers: tuple[str, ...]) -> str:
    """Remove a Mailman footer: the `____` rule followed by a line naming the list, to the end."""
    lines = text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if _UNDERSCORE_RULE.match(lines[index]):
            following = "\n".join(lines[index + 1 : index + 4]).lower()
            if any(marker.lower() in following for marker in markers):
                return "\n".join(lines[:index]).rstrip()
    return text


def html_to_markdown(html: str) -> str:
    """HTML to Markdown, with sentinel lines where known quote containers begin."""
    html = _HTML_OUTLOOK_CONTAINERS.sub(lambda m: f"<p>{_OUTLOOK_SENTINEL}</p>{m.group(1)}", html)
    html = _HTML_QUOTE_CONTAINERS.sub(lambda m: f"<p>{_QUOTE_SENTINEL}</p>{m.group(1)}", html, 1)
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.backquote_code_style = True
    converter.unicode_snob = True
    text = converter.handle(html)
    text = re.sub(r"^\\([-+])(?= )", r"\1", text, flags=re.MULTILINE)  # html2text escapes "- x"
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def choose_body(email: Email, footer_markers: tuple[str, ...]) -> tuple[str, str]:
    """(text, source): text/plain parts if any has content after the footer, else the HTML."""
    plain = [strip_footer(part, footer_markers).strip("\n") for part in email.text_parts]
    plain = [part for part in plain if part.strip()]
    if plain:
        return "\n\n".join(plain), "plain"
    htmls = [html_to_markdown(part) for part in email.html_parts]
    htmls = [strip_footer(part, footer_markers) for part in htmls if part.strip()]
    if htmls:
        return "\n\n".join(htmls), "html"
    return "", "empty"


def _is_quote_line(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(">") or stripped in (_QUOTE_SENTINEL,)


def _attribution_at(lines: list[str], index: int) -> int:
    """Lines used by an attribution starting at `index` (it may wrap over up to 3 lines)."""
    if (
        ":" not in lines[index]
        and not (index + 1 < len(lines) and ":" in lines[index + 1])
        and not (index + 2 < len(lines) and ":" in lines[index + 2])
    ):
        return 0  # every attribution ends with a colon: skip the regex for ordinary lines
    joined = ""
    for width in range(3):
        if index + width >= len(lines):
            break
        joined = (joined + " " + lines[index + width].strip()).strip()
        if _ATTRIBUTION.match(joined):
            return width + 1
        if not lines[index + width].strip():
            break
    return 0


def _outlook_header_at(lines: list[str], index: int) -> bool:
    """True when an Outlook 'From: / Sent: / To: / Subject:' block starts at `index`."""
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    fields = 0
    for line in lines[index + 1 : index + 6]:
        if _OUTLOOK_FIELD.match(line):
            fields += 1
    return fields >= 2


def _rest_is_quote(lines: list[str], start: int) -> bool:
    tail = lines[start:]
    for position, line in enumerate(tail):
        if _is_quote_line(line):
            continue
        if line.strip() in ("--", "-- ") or _MOBILE_SIGNATURE.match(line):
            return True  # a signature after the quote belongs to the collapsed part too
        if position == 0 and _OUTLOOK_FROM.match(line):
            continue
        return False
    return True


def _quote_start(lines: list[str], forwarded_subject: bool) -> int | None:
    """Index of the first line of the trailing quoted part, or None."""
    colon = [":" in line for line in lines]
    for index, line in enumerate(lines):
        # Every marker below contains ':', '-', '_' or a sentinel, on this line or (for a
        # wrapped attribution) one of the next two: skip ordinary lines without any regex.
        if not (colon[index] or "-" in line or "_" in line or "\u27e6" in line
                or any(colon[index + 1 : index + 3])):
            continue
        stripped = line.strip()
        if stripped.startswith(">"):
            continue  # inside a quote already: its own headers are not where a quote starts
        if _FORWARD_MARKER.match(stripped):
            return None  # everything below is forwarded content, which we keep
        if stripped == _OUTLOOK_SENTINEL or _ORIGINAL_MESSAGE.match(stripped):
            if forwarded_subject:
                return None
            return index
        if _UNDERSCORE_RULE.match(stripped) or _outlook_header_at(lines, index):
            nxt = index + 1 if _UNDERSCORE_RULE.match(stripped) else index
            window = [n for n in range(nxt, min(nxt + 3, len(lines))) if lines[n].strip()]
            if window and _outlook_header_at(lines, window[0]):
                return None if forwarded_subject else index
        if stripped == _QUOTE_SENTINEL:
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            used = _attribution_at(lines, following) if following < len(lines) else 0
            if _rest_is_quote(lines, following + used):
                return index
            continue
        used = _attribution_at(lines, index)
        if used and _rest_is_quote(lines, index + used):
            return index
    # No attribution: a trailing block of '>' lines is still a quote.
    end = len(lines)
    start = end
    while start > 0 and _is_quote_line(lines[start - 1]):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    if start < end and any(line.strip().startswith(">") for line in lines[start:end]):
        return start
    return None


def _signature_start(lines: list[str]) -> int | None:
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            continue
        if line.rstrip() in ("--", "-- ") or line == "-- ":
            return index
        if (
            _MOBILE_SIGNATURE.match(line)
            and all(len(rest.strip()) < 80 for rest in lines[index + 1 : index + 4])
            and len(lines) - index <= 6
        ):
            return index
    return None


def split_quote(text: str, *, forwarded_subject: bool = False) -> tuple[str, str]:
    """(visible, collapsed): new text, and the trailing quote plus signature."""
    lines = text.split("\n")
    cut = _quote_start(lines, forwarded_subject)
    visible = lines if cut is None else lines[:cut]
    collapsed = [] if cut is None else lines[cut:]
    signature = _signature_start(visible)
    if signature is not None and signature > 0:
        collapsed = visible[signature:] + ([""] if collapsed else []) + collapsed
        visible = visible[:signature]
    if "\u27e6" in text:  # both sentinels start with it; without it no line is one
        strip = {_QUOTE_SENTINEL, _OUTLOOK_SENTINEL}
        visible = [line for line in visible if line.strip() not in strip]
        collapsed = [line for line in collapsed if line.strip() not in strip]
    visible_text = "\n".join(visible).strip()
    collapsed_text = "\n".join(collapsed).strip()
    if not visible_text and collapsed_text:
        return collapsed_text, ""  # nothing new: better to show the quote than an empty body
    return visible_text, collapsed_text


def fence_patches(text: str) -> str:
    """Wrap a pasted unified diff in a ```diff fence so Markdown cannot mangle it."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if line[:1] not in ("`", "~", " ", "\t", "d", "I", "-"):
            out.append(line)  # cannot open a fence or a diff: the common case, no regex
            index += 1
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
        is_start = _DIFF_START.match(line) and (
            line.startswith(("diff --git ", "Index: "))
            or (index + 1 < len(lines) and lines[index + 1].startswith("+++ "))
        )
        if in_fence or not is_start:
            out.append(line)
            index += 1
            continue
        end = index + 1
        while end < len(lines):
            current = lines[end]
            continues = end + 1 < len(lines) and _DIFF_LINE.match(lines[end + 1])
            if _DIFF_LINE.match(current) or (not current.strip() and continues):
                end += 1
            else:
                break
        out.append("```diff")
        out.extend(lines[index:end])
        out.append("```")
        index = end
    return "\n".join(out)


def neutralize(markdown: str, *, escape_headings: bool) -> str:
    """Markdown GitHub renders without pinging, linking issues, raw HTML or hidden text
    (`gateway.inbound.safe_markdown`); `escape_headings` for plain text, where a line starting
    with '#' is not a heading."""
    return neutral_markdown(markdown, plain=escape_headings)


def clean_body(email: Email, footer_markers: tuple[str, ...]) -> CleanBody:
    text, source = choose_body(email, footer_markers)
    forwarded = bool(_FORWARD_SUBJECT.match(email.subject))
    visible, quoted = split_quote(text, forwarded_subject=forwarded)
    plain = source == "plain"
    if plain:
        visible, quoted = fence_patches(visible), fence_patches(quoted)
    return CleanBody(
        visible=neutralize(visible, escape_headings=plain),
        quoted=neutralize(quoted, escape_headings=plain),
        source=source,
    )
