"""Re-serialise a customer's Markdown so GitHub renders it without pinging, linking or hiding.

Anyone can write to the list, so the text of a mail is parsed as CommonMark (markdown-it-py,
with GFM strikethrough) and written out again from the token tree: every text node
is escaped so it can only render as text, every code span and fence is rebuilt with a backtick
run that its content cannot close, and raw HTML, HTML comments and link reference definitions
are not recognised at all (they come out as the literal text the customer typed). GitHub links
mentions and references in rendered text nodes after entities and escapes are decoded
(github/html-pipeline MentionFilter, IssueReferenceFilter), so `@login`, `@org/team`, `#123`,
`GH-123` and `owner/repo#123` are found in the decoded text and put in code spans, where GitHub
does not look. Pure string functions; no I/O. The composition of a whole body is
`gateway.inbound.body`; `body_problems` re-checks a composed body as defence in depth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Tables are off: GFM drops the cells of a row beyond the header's, which would hide text; a
# table comes out as its lines of text, pipes and all.
# Link reference definitions are off: `[x]: http://… "t"` would vanish from the rendering.
# Raw HTML is off: tags and comments are parsed as text and escaped below (its two rules, which
# only return False when it is off, are dropped from the chains they are tried in per line).
_PARSER = (
    MarkdownIt("commonmark", {"html": False})
    .enable(["strikethrough"])
    .disable(["reference", "html_block", "html_inline"])
)
# Plain-text mail has no headings: `#include <x.h>` stays a line of text, and a `---` line
# under a line of text (git format-patch's separator) is a rule, not a setext underline.
_PLAIN_PARSER = (
    MarkdownIt("commonmark", {"html": False})
    .enable(["strikethrough"])
    .disable(["reference", "heading", "lheading", "html_block", "html_inline"])
)
# The check of a composed body sees what GitHub would: HTML and definitions on.
_CHECK_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# Embedding, override and isolate controls reorder what is displayed (CVE-2021-42574,
# "Trojan Source"); the marks (U+200E, U+200F, U+061C) are kept in bodies, where right-to-left
# text uses them, and dropped from titles and names (`strip_bidi(..., marks=True)`).
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None
)
_BIDI_MARKS = dict.fromkeys([0x200E, 0x200F, 0x061C], None)

# What GitHub would link in a text node, taken wide: a mention preceded by anything but an
# ASCII word character (Ruby's \W is ASCII-only), any `#` or `GH-` followed by a digit, with
# an `owner/repo` in front. Consecutive ones form one code span: text right after a code span
# starts a new text node, where a second `@login` would be live.
_LOGIN = r"@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?"
# The owner/repo part starts at the start of a run and is bounded (GitHub: 39 and 100
# characters), or a long word would cost quadratic time.
_ISSUE = r"(?:(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100})?#[0-9]+"
_GH = r"[Gg][Hh]-[0-9]+"
_LINKABLE = re.compile(
    r"(?P<url>(?:https?|ftp)://[^\s<>|`]+)"
    rf"|(?:(?<![A-Za-z0-9_]){_LOGIN}|{_ISSUE}|(?<![A-Za-z0-9_]){_GH})"
    rf"(?:{_LOGIN}|{_ISSUE}|{_GH})*"
)
_LINKABLE_TRIGGER = re.compile(r"[@#]|[Gg][Hh]-[0-9]|://")
# What the final check looks for needs one of these in the text: a mention or reference (`@`,
# `#`, `GH-`, or one decoded from an entity), raw HTML or a comment (`<`), a link reference
# definition (its label ends `]:`, §4.7), or a fence left open that swallows the blocks after
# it (`` ` ``, `~`). A backslash escape only makes the ASCII punctuation after it literal: the
# only one of these it can hide is the `-` of `GH\-1`, which GitHub reads as `GH-1`.
_CHECK_TRIGGER = re.compile(r"[<&`~]|@[A-Za-z0-9]|#[0-9]|[Gg][Hh]\\?-[0-9]|\]:")
_MENTION_CHECK = re.compile(
    r"(?<![A-Za-z0-9_])@[A-Za-z0-9]|#[0-9]|(?<![A-Za-z0-9_])[Gg][Hh]-[0-9]"
)
_URL_TRAILING = ".,:;!?'\"*_~]"

# Characters that would start inline syntax anywhere in a text node; `_` only where it could
# open or close emphasis (not between two letters or digits, CommonMark §6.2), `~` only where
# it could close a strikethrough (not after a space: `~/.visit` stays as it is).
_ESCAPE = re.compile(
    r"[\\`*\[\]]|(?<!\s)~|(?<![^\W_])_|_(?![^\W_])|<(?=[A-Za-z/!?])|&(?=#[0-9xX]|[A-Za-z][A-Za-z0-9]*;)"
)
# ... and at the start of a line, where they would start a block (§4, §5; GFM tables).
# `-- Configuring` or `3.14` start no block; a `-`/`+` or `1.` before a space does, and so does
# a line of only `-`, `=`, `:` and `|` (thematic break, setext underline, table delimiter row).
_LINE_START = re.compile(
    r"^(?:[#>]|[+-](?=[ \t]|$)|[0-9]{1,9}(?=[.)](?:[ \t]|$))|[-:|=](?=[-:|= \t]*$))"
)
_ENTITIES = {"<": "&lt;", "&": "&amp;"}
# Anything Markdown could act on; text without it renders as written (the fast path). `>`
# acts only at the start of a line, where it opens a block quote: harmless, and the rest of the
# line after the quote markers is judged as a line start (`> 1. x` is a list in a quote). A
# quoted reply of plain words, the commonest text in a thread, needs no parse.
_ACTIVE = re.compile(
    r"[`*_\[\]<&~|\\@#]|[Gg][Hh]-[0-9]|^[ \t>]*(?:[-+=:]|[0-9]+[.)])",
    re.MULTILINE,
)
# Where text before can be kept as written and the rest read on its own: a blank line, or a
# line of only `>` with a quote line after it. Before such a line, text without `_ACTIVE` can
# leave open only a block quote (continued by the `>` line, blank inside it) or an indented code
# block (which an indented line after it joins either way); the rest starts as it would alone.
_SPLIT_LINE = re.compile(r"^(?:[ \t]*|>[ \t]*(?=\n>))\n", re.MULTILINE)


def strip_bidi(text: str, *, marks: bool) -> str:
    """`text` without bidirectional embedding/override/isolate controls (and marks if asked)."""
    text = text.translate(_BIDI_CONTROLS)
    return text.translate(_BIDI_MARKS) if marks else text


def one_line(text: str, limit: int) -> str:
    """`text` on one line (controls and line breaks as spaces, no bidi controls), at most
    `limit` characters: a header field or a file name must not open a block or push the body
    over GitHub's limit."""
    text = strip_bidi(text, marks=True)
    if not text.isprintable():
        text = "".join(char if char.isprintable() else " " for char in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def code_span(content: str) -> str:
    """`content` as one code span that renders it literally (CommonMark §6.1)."""
    content = content.replace("\r", " ").replace("\n", " ")
    runs = {len(run) for run in re.findall(r"`+", content)}
    ticks = 1
    while ticks in runs:
        ticks += 1
    fence = "`" * ticks
    pad = ""
    if content.startswith("`") or content.endswith("`") or (
        content.startswith(" ") and content.endswith(" ") and content.strip(" ")
    ):
        pad = " "
    return f"{fence}{pad}{content}{pad}{fence}"


def literal_block(text: str, info: str = "") -> list[str]:
    """Lines of a fenced block that shows `text` literally: the fence is longer than any
    backtick run inside, so no line of `text` can close it (CommonMark §4.5)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text[:-1] if text.endswith("\n") else text
    return [fence + info, *body.split("\n"), fence] if body else [fence + info, fence]


def _escape_plain(text: str, at_line_start: bool) -> str:
    escaped = _ESCAPE.sub(lambda m: _ENTITIES.get(m.group(0), "\\" + m.group(0)), text)
    if at_line_start:
        escaped = _LINE_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit()
                                  else "\\" + m.group(0), escaped, count=1)
    return escaped


def _trim_url(url: str) -> str:
    while (url and url[-1] in _URL_TRAILING) or (url.endswith(")") and
                                               url.count(")") > url.count("(")):
        url = url[:-1]
    return url


def escape_text(text: str, *, at_line_start: bool = True, in_link: bool = False) -> str:
    """Plain text (not Markdown) as inline Markdown that renders exactly `text`, with mentions
    and issue references in code spans and URLs as autolinks."""
    if at_line_start:
        text = text.lstrip(" \t")
    if not _LINKABLE_TRIGGER.search(text):
        return _escape_plain(text, at_line_start)
    out: list[str] = []
    pos = 0
    for match in _LINKABLE.finditer(text):
        start, end = match.span()
        piece = match.group(0)
        if match.group("url") is not None:
            piece = _trim_url(piece)
            if in_link or "://" not in piece or piece.endswith("://"):
                continue  # inside a link (no nested links): plain text; a mention is harmless
            end = start + len(piece)
            rendered = f"<{piece}>"
        else:
            rendered = code_span(piece)
        if start > pos:
            out.append(_escape_plain(text[pos:start], at_line_start and pos == 0))
        out.append(rendered)
        pos = end
    if pos < len(text):
        out.append(_escape_plain(text[pos:], at_line_start and pos == 0))
    return "".join(out)


def _href(url: str) -> str:
    """A link destination in angle brackets (§6.3): no spaces, `<`, `>` or line breaks."""
    for char, code in (("\\", "%5C"), ("<", "%3C"), (">", "%3E"), (" ", "%20"), ("|", "%7C"),
                       ("\n", "")):
        url = url.replace(char, code)
    return f"<{url}>"


def _inline(tokens: Sequence[Token], *, one_line: bool = False, in_link: bool = False) -> str:
    out: list[str] = []
    at_line_start = True
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        index += 1
        if kind == "text":
            out.append(escape_text(token.content, at_line_start=at_line_start,
                                   in_link=in_link))
        elif kind == "code_inline":
            out.append(code_span(token.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append(" " if one_line else ("\n" if kind == "softbreak" else "\\\n"))
            at_line_start = not one_line
            continue
        elif kind in ("em_open", "em_close"):
            out.append("*")
        elif kind in ("strong_open", "strong_close"):
            out.append("**")
        elif kind in ("s_open", "s_close"):
            out.append("~~")
        elif kind in ("link_open", "image"):
            depth, inner_start = 1, index
            if kind == "link_open":
                while index < len(tokens) and depth:
                    depth += {"link_open": 1, "link_close": -1}.get(tokens[index].type, 0)
                    index += 1
                inner = tokens[inner_start : index - 1]
                url = str(token.attrs.get("href", ""))
            else:
                inner = token.children or []
                url = str(token.attrs.get("src", ""))
            text = _inline(inner, one_line=True, in_link=True)
            if out and out[-1].endswith("!"):  # `![` would make the link an image
                out[-1] = out[-1][:-1] + "\\!"
            if in_link:  # an image inside a link: its text only (links do not nest)
                out.append(text)
            elif token.markup == "autolink" and re.fullmatch(r"[^\s<>|`\\]+", url):
                out.append(f"<{url.removeprefix('mailto:')}>"
                           if url.startswith("mailto:") else f"<{url}>")
            else:
                out.append(f"[{text or 'image'}]({_href(url)})")
                title = str(token.attrs.get("title", ""))
                if title:  # a title is only a tooltip: show it
                    out.append(" (" + escape_text(title, at_line_start=False) + ")")
        elif token.content:  # anything else the parser may add: its text, literally
            out.append(escape_text(token.content, at_line_start=at_line_start,
                                   in_link=in_link))
        at_line_start = False
    return "".join(out)


def _fence(token: Token) -> list[str]:
    """A fence, or an indented block, as a fence without an info string: its info goes into the
    block as its first line. GitHub shows an info string nowhere (a language only picks the
    highlighting, `<pre lang="…">`: a fence opened with a word would hide it) and renders
    some (`math` with \\phantom)."""
    info = token.info.strip() if token.type == "fence" else ""
    return literal_block(f"{info}\n{token.content}" if info else token.content)


def _blocks(tokens: Sequence[Token], index: int, close: str, *, in_item: bool = False,
            tight_item: bool = False) -> tuple[list[str], int]:
    """Lines for the blocks from `index` to the token of type `close`, and the index after.
    In an item of a tight list the blocks follow each other without a blank line."""
    lines: list[str] = []
    after_list = False

    def add(block: list[str], tight: bool = tight_item) -> None:
        if lines and not tight:
            lines.append("")
        lines.extend(block)

    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind == close:
            return lines, index + 1
        indented_ok = not tight_item and not after_list and (lines or not in_item)
        after_list = kind in ("bullet_list_open", "ordered_list_open")
        if kind == "paragraph_open":
            add(_inline(tokens[index + 1].children or []).split("\n"))
            index += 3
        elif kind == "heading_open":
            text = _inline(tokens[index + 1].children or [], one_line=True)
            if text.endswith("#"):  # a closing sequence would be dropped (§4.2)
                text = text[:-1] + "\\#"
            add([f"{'#' * int(token.tag[1])} {text}"])
            index += 3
        elif kind == "blockquote_open":
            inner, index = _blocks(tokens, index + 1, "blockquote_close")
            add([f"> {line}" if line else ">" for line in inner])
        elif kind in ("bullet_list_open", "ordered_list_open"):
            block, index = _list(tokens, index)
            add(block)
        elif kind == "code_block" and indented_ok:
            # Kept indented, as written (§4.4), where no list item or paragraph can take it in.
            code = token.content.rstrip("\n").split("\n")
            add([f"    {line}" if line else "" for line in code])
            index += 1
        elif kind in ("fence", "code_block"):
            add(_fence(token))
            index += 1
        elif kind == "hr":
            add(["***"])
            index += 1
        else:  # anything else: its text, literally, so nothing the mail says is lost
            if token.content:
                add(escape_text(" ".join(token.content.split())).split("\n"))
            index += 1
    return lines, index


def _list(tokens: Sequence[Token], index: int) -> tuple[list[str], int]:
    opener = tokens[index]
    close = opener.type.replace("_open", "_close")
    number = int(opener.attrs.get("start", 1))
    lines: list[str] = []
    index += 1
    while tokens[index].type != close:
        item = tokens[index]  # list_item_open
        marker = f"{number}{item.markup} " if opener.type == "ordered_list_open" else "- "
        if opener.type == "bullet_list_open":
            marker = f"{item.markup} "  # keep the bullet: a new bullet starts a new list
        number += 1
        tight = index + 1 < len(tokens) and tokens[index + 1].hidden
        inner, index = _blocks(tokens, index + 1, "list_item_close", in_item=True,
                               tight_item=tight)
        if lines and not tight:
            lines.append("")
        pad = " " * len(marker)
        if not inner:
            lines.append(marker.rstrip())
        else:
            lines.append(marker + inner[0])
            lines.extend(pad + line if line else "" for line in inner[1:])
    return lines, index + 1


def _inert_prefix(text: str) -> int:
    """The length of the start of `text` (line breaks `\\n` only) that Markdown cannot act on
    and after which the rest reads as it would alone (`_SPLIT_LINE`): all of it if nothing is
    active, 0 if there is no such line before the first active character."""
    active = _ACTIVE.search(text)
    if active is None:
        return len(text)
    end = 0
    for split in _SPLIT_LINE.finditer(text, 0, text.rfind("\n", 0, active.start()) + 1):
        end = split.end()
    return end


def neutral_markdown(text: str, *, plain: bool) -> str:
    """`text` (Markdown, or plain text when `plain`) rewritten so that it renders the same on
    GitHub minus every mention, reference, raw HTML element, comment and hidden definition.
    Text that Markdown cannot act on is kept as written: all of it (the fast path), or its start
    up to a line after which the rest reads alone, such as a long quote before a quoted footer."""
    text = strip_bidi(text.replace("\r\n", "\n").replace("\r", "\n"), marks=False)
    start = _inert_prefix(text)
    if start == len(text):
        return text  # nothing Markdown could act on: it renders as written
    parser = _PLAIN_PARSER if plain else _PARSER
    lines, _ = _blocks(parser.parse(text[start:]), 0, "")
    return text[:start] + "\n".join(lines)


def checked_part(text: str) -> str:
    """What `body_problems` needs to see of `text`, one part of a body between blank lines.
    Text without `_CHECK_TRIGGER` holds no mention, reference, HTML, definition or fence in any
    block it may land in, and cannot change how the blocks around it are read: it is checked as
    one word. Otherwise a start that Markdown cannot act on (`_inert_prefix`, a stricter test)
    is left out: the rest reads as it would after it. Judged on the rewriter's output, not on
    what the rewriter did, so a rewriter bug still meets the parse."""
    if not _CHECK_TRIGGER.search(text):
        return "x"
    if "\r" in text:  # a line break `_SPLIT_LINE` does not see
        return text
    return text[_inert_prefix(text):]


def _text_problems(tokens: Sequence[Token], problems: list[str]) -> None:
    link_depth = 0
    for token in tokens:
        if token.type == "link_open":
            link_depth += 1
        elif token.type == "link_close":
            link_depth -= 1
        elif token.type == "html_inline":
            problems.append(f"raw HTML {token.content[:40]!r}")
        elif token.type == "text" and not link_depth and _MENTION_CHECK.search(token.content):
            problems.append(f"live mention or reference in {token.content[:60]!r}")
        elif token.type == "image":
            _text_problems(token.children or [], problems)


def body_problems(body: str, *, template_html: frozenset[str], marker: str) -> list[str]:
    """Why a composed body is unsafe as CommonMark sees it (empty: safe). `template_html` are
    the HTML blocks the template itself writes (`<details>`); `marker` must be the last block,
    once."""
    env: dict[str, object] = {}
    tokens = _CHECK_PARSER.parse(body, env)
    problems: list[str] = []
    if env.get("references"):
        problems.append("a link reference definition hides text")
    markers = 0
    for token in tokens:
        if token.type == "html_block":
            content = token.content.strip()
            if content == marker:
                markers += 1
            elif content not in template_html:
                problems.append(f"raw HTML block {content[:40]!r}")
        elif token.type == "inline":
            _text_problems(token.children or [], problems)
    if markers != 1 or tokens[-1].type != "html_block" or tokens[-1].content.strip() != marker:
        problems.append("the marker is not the last block, exactly once")
    return problems
