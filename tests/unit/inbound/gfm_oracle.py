"""The test oracle for issue and comment bodies: render with cmark-gfm (GitHub's own renderer,
raw HTML kept so we see what GitHub sees before its sanitiser) and say what is wrong.

Checks: (a) no `@login` or `@org/team` GitHub's mention filter would link, (b) no `#123`,
`GH-123` or `owner/repo#123` in text nodes outside <code>, <pre> and <a> (full issue URLs are
links on purpose and not checked), (c) only the elements our template and Markdown produce, no
HTML comment but the marker, (d) every word of the customer's text is in the rendered text or
a link target, (e) the marker exactly once, last. Test helper only; production never needs it.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser

import cmarkgfm

ALLOWED = frozenset({
    "p", "strong", "em", "code", "pre", "details", "summary", "ul", "ol", "li", "blockquote",
    "a", "del", "hr", "br", "h1", "h2", "h3", "h4", "h5", "h6",
})
_IGNORED_PARENTS = frozenset({"code", "pre", "a"})  # html-pipeline's MentionFilter skips these
# GitHub's patterns (html-pipeline MentionFilter, IssueReferenceFilter), taken wide.
_LIVE = re.compile(
    r"(?:^|[^A-Za-z0-9_])@[A-Za-z0-9]"
    r"|#[0-9]"
    r"|(?:^|[^A-Za-z0-9_])GH-[0-9]",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+")
# A character reference as CommonMark (and the gateway's text cleaning) reads one: with its
# semicolon. html.unescape alone also takes HTML's legacy forms ("&#121." is "y.", "&amp" is
# "&"), which GitHub shows as they are typed.
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescape(text: str) -> str:
    """`text` with its character references decoded as CommonMark decodes them."""
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), text)


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE
    )


class _Walker(HTMLParser):
    def __init__(self, images: frozenset[str] = frozenset()) -> None:
        super().__init__(convert_charrefs=True)
        self.images = images  # the only image sources the template may show
        self.stack: list[str] = []
        self.pending: list[str] = []
        self.problems: list[str] = []
        self.comments: list[str] = []
        self.seen: list[str] = []  # every piece of rendered text and link target
        self.last_was_comment = False
        self.numbers: list[int] = []  # the next item number of each open <ol>

    def _flush(self) -> None:
        text = "".join(self.pending)
        self.pending.clear()
        if text and not _IGNORED_PARENTS.intersection(self.stack):
            for match in _LIVE.finditer(text):
                self.problems.append(f"live mention/reference {match.group(0)!r} in {text!r}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self.last_was_comment = False
        if tag == "img":
            source = dict(attrs).get("src") or ""
            if source not in self.images:
                self.problems.append(f"image {source[:60]!r} from the mail")
            self.seen.append(dict(attrs).get("alt") or "")
            return  # a void element: never on the stack
        if tag not in ALLOWED:
            self.problems.append(f"element <{tag}> from the mail")
        for name, value in attrs:
            if tag == "a" and name == "href" and value:
                self.seen.append(value)
            if tag == "code" and name == "class" and value:  # a fence's language, highlighted
                self.seen.append(value.removeprefix("language-"))
        if tag == "ol":  # item numbers are not text: count them as shown
            self.numbers.append(int(dict(attrs).get("start") or 1))
        elif tag == "li" and self.stack and self.stack[-1] == "ol":
            self.seen.append(f" {self.numbers[-1]} ")
            self.numbers[-1] += 1
        if tag not in ("hr", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if tag == "ol" and self.numbers:
            self.numbers.pop()
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.pending.append(data)
        self.seen.append(data)
        if data.strip():
            self.last_was_comment = False

    def handle_comment(self, data: str) -> None:
        self._flush()
        self.comments.append(data)
        self.last_was_comment = True

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data}>")


_MENTION = re.compile(r"(?:^|[^A-Za-z0-9_`])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?)")


class _Texts(_Walker):
    """Collects the text GitHub's mention filter looks at (outside code, pre and links)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: list[str] = []

    def _flush(self) -> None:
        text = "".join(self.pending)
        if text and not _IGNORED_PARENTS.intersection(self.stack):
            self.live += ["@" + m for m in _MENTION.findall(text)]
        super()._flush()


def live_mentions(body: str) -> list[str]:
    """The `@login` (and `@org/team`) mentions GitHub would link in `body`, in order."""
    walker = _Texts()
    walker.feed(render(body))
    walker.close()
    walker._flush()
    return walker.live


def problems(body: str, marker: str, customer_text: str = "",
             images: frozenset[str] = frozenset()) -> list[str]:
    """Everything wrong with `body` as GitHub would render it; `customer_text` (plain text,
    entities allowed) must be visible word for word; `images`: the sources of the images the
    template itself shows (an attachment inline), the only <img> allowed. References in
    `customer_text` count as CommonMark decodes them (`unescape`)."""
    walker = _Walker(images)
    walker.feed(render(body))
    walker.close()
    walker._flush()
    found = list(walker.problems)
    wanted = f" {marker.removeprefix('<!--').removesuffix('-->').strip()} "
    if walker.comments != [wanted]:
        found.append(f"comments {walker.comments!r}, wanted only the marker")
    elif not walker.last_was_comment:
        found.append("the marker is not at the end")
    # Modulo whitespace and punctuation (a code span may split "@cyrushé" into two nodes). What
    # the parser saw is already decoded (convert_charrefs): decoding the joined nodes again would
    # read "&" in one node and "#12" in the next as the character reference &#12.
    shown = "".join(_WORD.findall("".join(walker.seen).lower()))
    wanted_words = Counter(w.lower() for w in _WORD.findall(unescape(customer_text)))
    missing = [word for word, count in wanted_words.items() if shown.count(word) < count]
    if missing:
        found.append(f"hidden or lost text: {sorted(missing)[:10]}")
    return found


class _Targets(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        elif tag == "img":
            self.images.append(str(values.get("src") or ""))


def targets(body: str) -> tuple[list[str], list[str]]:
    """(link targets, image sources) in `body` as GitHub renders it, in order."""
    walker = _Targets()
    walker.feed(render(body))
    walker.close()
    return walker.links, walker.images
