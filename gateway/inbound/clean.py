"""Clean a message body for GitHub: list footer out, HTML to Markdown, quotes and signature
collapsed, pasted patches fenced, then made safe to render (`gateway.inbound.safe_markdown`).

What is folded (the collapsed part) and what stays visible:

- The trailing quote: from an attribution (`On ... wrote:` and its translations, which may wrap
  over three lines but start with their own opener, so the sender's line directly above stays
  visible), an Outlook header block or separator, or the mail's HTML quote container, to the
  end; or a trailing block of `>` lines.
- The signature: from a `-- ` delimiter (also as html2text escapes it, `\\--`), an HTML signature
  block or a mobile "Sent from my ..." line, in the sender's own text.
- The parent quoted above the answer (bottom-posting). The cleaner does not see the parent
  message, so "repeats the parent" is judged by shape: a block of `>` lines (with the
  attribution above it) that is answered by text below is the quoted parent when it is the only
  answered block and has at least PARENT_QUOTE_LINES quoted lines; it is folded wherever it is.
  Two or more answered blocks are an interleaved reply, and a short block is a question being
  answered: those quotes are the context of the answers and stay visible.
- A reply whose own part is only a signature (a lone `--`, or "Sent from my phone") has no text
  of its own: everything is folded and the body says "(no text)". A mail that is all quote,
  with nothing of the sender's at all, shows the quote rather than nothing.

Footers are `gateway.inbound.footer`'s, HTML is `gateway.inbound.html_mail`'s. Pure text
functions over strings; the composition of the final issue/comment body (header line,
attachments, marker, length limit) lives in `gateway.inbound.body`. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.inbound.footer import list_hints, strip_footer
from gateway.inbound.html_mail import (
    OUTLOOK_SENTINEL,
    QUOTE_SENTINEL,
    SENTINELS,
    SIGNATURE_SENTINEL,
    html_to_markdown,
)
from gateway.inbound.safe_markdown import neutral_markdown, strip_bidi
from gateway.models import Email

__all__ = [
    "CleanBody",
    "choose_body",
    "clean_body",
    "fence_patches",
    "html_to_markdown",
    "issue_title",
    "neutralize",
    "split_quote",
    "strip_footer",
]

# The fewest quoted lines that make an answered block the quoted parent (see the docstring).
PARENT_QUOTE_LINES = 5

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|wg|fw|fwd|tr|rif|r|ynt)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fw|fwd|wg|tr)\s*:", re.IGNORECASE)
_QUOTE_SENTINEL = QUOTE_SENTINEL
_OUTLOOK_SENTINEL = OUTLOOK_SENTINEL

# Attribution lines that introduce a quoted reply, in the languages the list sees. Those that
# start with their opener ("On", "Am", ...) may wrap over up to three lines; the bare
# "X wrote:" form must be one line, or the sender's line above would read as its start.
_ATTRIBUTION = re.compile(
    r"^(?:On\s.{4,250}\s(?:wrote|writes)\s*:"
    r"|Am\s.{4,250}\s(?:schrieb|geschrieben)\s*.{0,200}:"
    r"|Le\s.{4,250}\sa\s+écrit\s*:"
    r"|El\s.{4,250}\sescribió\s*:"
    r"|Il\s.{4,250}\sha\s+scritto\s*:"
    r"|Op\s.{4,250}\sschreef\s*.{0,200}:)\s*$",
    re.IGNORECASE,
)
_BARE_ATTRIBUTION = re.compile(r"^.{1,120}\s(?:wrote|schrieb|a\s+écrit)\s*:\s*$", re.IGNORECASE)
# html2text puts a backslash before a leading "-" or "+" ("\\-- ", "\\-----Original Message").
_HTML2TEXT_ESCAPE = re.compile(r"^(\s*)\\(?=[-+])")
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


def _footer_only(part: str, markers: tuple[str, ...], hints: tuple[str, ...]) -> bool:
    """True when a text part holds nothing but the list footer (Mailman adds it as its own
    part after an HTML-only message): such a part must never be chosen over the HTML."""
    return not strip_footer(part, markers, hints).strip()


def choose_body(email: Email, footer_markers: tuple[str, ...]) -> tuple[str, str]:
    """(text, source): text/plain parts if any has content after the footer, else the HTML.
    The footer is recognised by the markers and by the message's own List-* headers."""
    hints = list_hints(email.headers)
    plain = [
        strip_footer(part, footer_markers, hints).strip("\n")
        for part in email.text_parts
        if not _footer_only(part, footer_markers, hints)
    ]
    plain = [part for part in plain if part.strip()]
    if plain:
        return "\n\n".join(plain), "plain"
    htmls = [html_to_markdown(part) for part in email.html_parts]
    htmls = [strip_footer(part, footer_markers, hints) for part in htmls if part.strip()]
    if htmls:
        return "\n\n".join(htmls), "html"
    return "", "empty"


def _is_quote_line(line: str) -> bool:
    stripped = line.strip()
    return (
        not stripped or stripped.startswith(">") or stripped in (_QUOTE_SENTINEL, _OUTLOOK_SENTINEL)
    )


def _is_signature_line(line: str) -> bool:
    """A signature delimiter (RFC 3676 section 4.3 "-- ", often without its space) or the
    sentinel of an HTML signature block."""
    return line.rstrip() in ("--", "-- ") or line.strip() == SIGNATURE_SENTINEL


def _opener_attribution(lines: list[str], index: int, most: int) -> int:
    """Lines used by an attribution with an opener ("On ...") starting at `index`, over at most
    `most` lines, or 0."""
    joined = ""
    for width in range(most):
        if index + width >= len(lines):
            break
        joined = (joined + " " + lines[index + width].strip()).strip()
        if _ATTRIBUTION.match(joined):
            return width + 1
        if not lines[index + width].strip():
            break
    return 0


def _attribution_at(lines: list[str], index: int) -> int:
    """Lines used by an attribution starting at `index` (it may wrap over up to 3 lines)."""
    if (
        ":" not in lines[index]
        and not (index + 1 < len(lines) and ":" in lines[index + 1])
        and not (index + 2 < len(lines) and ":" in lines[index + 2])
    ):
        return 0  # every attribution ends with a colon: skip the regex for ordinary lines
    used = _opener_attribution(lines, index, 3)
    # An attribution that wraps starts with its opener: when one starts on a later line of the
    # same window, the line above it is the sender's own (Android Gmail puts no blank line).
    if used > 1 and any(_opener_attribution(lines, index + k, used - k) for k in range(1, used)):
        return 0
    if used:
        return used
    return 1 if _BARE_ATTRIBUTION.match(lines[index].strip()) else 0


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
        if _is_signature_line(line) or _MOBILE_SIGNATURE.match(line):
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
        if _is_signature_line(line):
            return index
        if (
            _MOBILE_SIGNATURE.match(line)
            and all(len(rest.strip()) < 80 for rest in lines[index + 1 : index + 4])
            and len(lines) - index <= 6
        ):
            return index
    return None


def _signed_after_quote(tail: list[str]) -> bool:
    """True when a signature follows the last '>' line of the collapsed part: the sender's own
    part, below their quote (a quote with no '>' line is the parent's, signature and all)."""
    last = max((n for n, line in enumerate(tail) if line.lstrip().startswith(">")), default=None)
    if last is None:
        return False
    return any(
        _is_signature_line(line) or _MOBILE_SIGNATURE.match(line) for line in tail[last + 1 :]
    )


def _without_sentinels(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip(" >") not in SENTINELS]


def _attribution_above(lines: list[str], start: int) -> int:
    """Where the block of '>' lines at `start` begins: at its attribution when one ends just
    above it (a blank line between allowed)."""
    for begin in range(start - 1, max(start - 5, -1), -1):
        used = _attribution_at(lines, begin)
        if used and begin + used <= start and not any(
            line.strip() for line in lines[begin + used : start]
        ):
            return begin
    return start


def _quote_blocks(lines: list[str]) -> list[tuple[int, int, int]]:
    """(start, end, quoted lines) of each block of '>' lines (blank lines inside it included,
    its attribution too)."""
    blocks: list[tuple[int, int, int]] = []
    index = 0
    while index < len(lines):
        if not lines[index].lstrip().startswith(">"):
            index += 1
            continue
        end, count, probe = index, 0, index
        while probe < len(lines) and (
            lines[probe].lstrip().startswith(">") or not lines[probe].strip()
        ):
            if lines[probe].strip():
                end = probe + 1
                count += 1 if lines[probe].strip(" >") else 0
            probe += 1
        blocks.append((_attribution_above(lines, index), end, count))
        index = end
    return blocks


def _fold_quotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """(visible, folded): a trailing block of '>' lines, and the quoted parent of a
    bottom-posted reply (the only answered block, at least PARENT_QUOTE_LINES lines), folded;
    see the module docstring."""
    if not any(line.lstrip().startswith(">") for line in lines):
        return lines, []
    blocks = _quote_blocks(lines)
    # Text separates two blocks, so only the last one can be unanswered.
    answered, fold = blocks, []
    if blocks and not any(line.strip() for line in lines[blocks[-1][1] :]):
        answered, fold = blocks[:-1], [blocks[-1]]
    if len(answered) == 1 and answered[0][2] >= PARENT_QUOTE_LINES:
        fold.insert(0, answered[0])
    if not fold:
        return lines, []
    visible: list[str] = []
    folded: list[str] = []
    index = 0
    for start, end, _ in fold:
        visible.extend(lines[index:start])
        folded.extend(([""] if folded else []) + lines[start:end])
        index = end
        if not visible or not visible[-1].strip():
            while index < len(lines) and not lines[index].strip():
                index += 1  # no double blank line where the block was
    visible.extend(lines[index:])
    return visible, folded


def split_quote(text: str, *, forwarded_subject: bool = False) -> tuple[str, str]:
    """(visible, collapsed): the sender's new text, and the quotes plus signature (see the
    module docstring for what is folded)."""
    lines = text.split("\n")
    # Markers are matched as the sender wrote them, html2text's escapes undone; the text keeps
    # them (the neutraliser renders "\--" as "--").
    probe = [_HTML2TEXT_ESCAPE.sub(r"\1", line) for line in lines] if "\\" in text else lines
    cut = _quote_start(probe, forwarded_subject)
    end = len(lines) if cut is None else cut
    signature = _signature_start(probe[:end])
    own_end = end if signature is None else signature
    signed = signature is not None or _signed_after_quote(probe[end:])
    # Forwarded content is kept as it is: only the sender's part above it has quotes to fold.
    forward = next(
        (n for n in range(own_end) if _FORWARD_MARKER.match(probe[n].strip())), own_end
    )
    visible, folded = _fold_quotes(_without_sentinels(lines[:forward]))
    visible += _without_sentinels(lines[forward:own_end])
    rest = _without_sentinels(lines[own_end:])
    collapsed = folded + ([""] if folded and rest else []) + rest
    visible_text = "\n".join(visible).strip()
    collapsed_text = "\n".join(collapsed).strip()
    if not visible_text and collapsed_text and not signed:
        return collapsed_text, ""  # nothing of the sender's: better the quote than no text
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
