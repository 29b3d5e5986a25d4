"""HTML mail to Markdown that keeps the mail's shape, with sentinel lines where the mail's own
markup says a quote, an Outlook reply header or a signature begins.

The HTML is tokenised once with the stdlib parser and rewritten before html2text sees it:
a table whose rows hold one cell each is layout, not data, and becomes plain blocks (html2text
would underline its first row with `---`, a Markdown heading); HTML5 blocks html2text does not
know (`details`, `section`, `figure`, ...) become `div`s and a `summary` a paragraph, so their
text does not run on; an image becomes the text `[image: name]` where it stood (tracking pixels
are dropped). Sentinels are inserted before the outermost quote container (Gmail's
`gmail_quote` div or blockquote, Thunderbird's `moz-cite-prefix`, `blockquote type=cite`,
Yahoo's and Proton's), before Outlook's reply header (`divRplyFwdMsg`, `appendonsend`,
`stopSpelling`, or the `border-top` div whose text starts with a header label such as
`From:`), and before a signature block (`gmail_signature`, `moz-signature`, Outlook's
`Signature`); none are inserted inside a quote. `gateway.inbound.clean` splits on them and
removes them. Runs of blank lines become one. Pure; no I/O. Escaping what the Markdown may
do on GitHub is `gateway.inbound.safe_markdown`'s job, not this module's.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import html2text

QUOTE_SENTINEL = "\u27e6visit-gateway-quote\u27e7"
OUTLOOK_SENTINEL = "\u27e6visit-gateway-outlook\u27e7"
SIGNATURE_SENTINEL = "\u27e6visit-gateway-signature\u27e7"
SENTINELS = frozenset({QUOTE_SENTINEL, OUTLOOK_SENTINEL, SIGNATURE_SENTINEL})

_QUOTE_CLASSES = frozenset(
    {"gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"}
)
_SIGNATURE_CLASSES = frozenset({"gmail_signature", "gmail_signature_prefix", "moz-signature"})
_SIGNATURE_IDS = frozenset({"signature", "_rc_sig"})
_OUTLOOK_IDS = frozenset(
    {"divrplyfwdmsg", "appendonsend", "stopspelling", "mail-editor-reference-message-container"}
)
_BORDER_TOP = re.compile(r"border-top\s*:\s*solid", re.IGNORECASE)
# The first text of Outlook's header block is a label: "From:", "Von:", "Od:", "差出人" with
# an ASCII or a full-width colon (U+FF1A).
_HEADER_LABEL = re.compile(r"^\W{0,4}[^\W\d_]+(?:[ -][^\W\d_]+){0,2}\W{0,4}[:\uff1a]")
_UNKNOWN_BLOCKS = frozenset(
    {"article", "aside", "center", "details", "dialog", "figcaption", "figure", "footer",
     "header", "hgroup", "main", "nav", "section", "address", "fieldset", "legend"}
)
_TABLE_PARTS = frozenset({"tr", "td", "th"})
_TABLE_GROUPS = frozenset({"tbody", "thead", "tfoot", "caption", "colgroup", "col"})
_FENCE = re.compile(r"^\s*(?:>\s*)*(```|~~~)")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "start" | "end" | "text"
    tag: str
    attrs: tuple[tuple[str, str], ...]
    raw: str

    def attr(self, name: str) -> str:
        for key, value in self.attrs:
            if key == name:
                return value
        return ""

    def classes(self) -> set[str]:
        return set(self.attr("class").lower().split())


class _Tokenizer(HTMLParser):
    """The document as a flat list of tokens, text kept as written (entities undecoded).
    Comments, declarations and processing instructions are dropped: html2text drops them too."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[_Token] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pairs = tuple((key, value or "") for key, value in attrs)
        self.tokens.append(_Token("start", tag, pairs, self.get_starttag_text() or f"<{tag}>"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(_Token("end", tag, (), f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.tokens.append(_Token("text", "", (), data))

    def handle_entityref(self, name: str) -> None:
        self.tokens.append(_Token("text", "", (), f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.tokens.append(_Token("text", "", (), f"&#{name};"))


def _tokens(document: str) -> list[_Token]:
    parser = _Tokenizer()
    parser.feed(document)
    parser.close()
    return parser.tokens


def _layout_tables(tokens: list[_Token]) -> set[int]:
    """Indexes of the `<table>` tokens whose rows hold at most one cell each."""
    layout: set[int] = set()
    open_tables: list[list[int]] = []  # [token index, cells in this row, most cells in a row]
    for index, token in enumerate(tokens):
        if token.tag == "table":
            if token.kind == "start":
                open_tables.append([index, 0, 0])
            elif token.kind == "end" and open_tables:
                start, _, most = open_tables.pop()
                if most <= 1:
                    layout.add(start)
        elif open_tables and token.kind == "start":
            if token.tag == "tr":
                open_tables[-1][1] = 0
            elif token.tag in ("td", "th"):
                open_tables[-1][1] += 1
                open_tables[-1][2] = max(open_tables[-1][1], open_tables[-1][2])
    layout.update(start for start, _, most in open_tables if most <= 1)
    return layout


def _first_text(tokens: list[_Token], start: int) -> str:
    for token in tokens[start + 1 : start + 40]:
        if token.kind == "text" and html.unescape(token.raw).strip():
            return html.unescape(token.raw).strip()
    return ""


def _sentinel_for(tokens: list[_Token], index: int) -> str | None:
    token = tokens[index]
    classes = token.classes()
    element_id = token.attr("id").lower()
    if classes & _QUOTE_CLASSES or (token.tag == "blockquote" and token.attr("type") == "cite"):
        return QUOTE_SENTINEL
    if element_id in _OUTLOOK_IDS:
        return OUTLOOK_SENTINEL
    if (
        token.tag == "div"
        and _BORDER_TOP.search(token.attr("style"))
        and _HEADER_LABEL.match(_first_text(tokens, index))
    ):
        return OUTLOOK_SENTINEL
    if classes & _SIGNATURE_CLASSES or element_id in _SIGNATURE_IDS:
        return SIGNATURE_SENTINEL
    return None


def _image_text(token: _Token) -> str:
    """`[image: name]` for an image, "" for a tracking pixel."""
    sizes = (token.attr("width").strip().rstrip("px"), token.attr("height").strip().rstrip("px"))
    if any(size.isdigit() and int(size) <= 2 for size in sizes):
        return ""
    name = " ".join(token.attr("alt").split())
    if not name:
        src = token.attr("src").strip()
        if src.lower().startswith("cid:"):
            name = src[4:].partition("@")[0]
        elif src.lower().startswith(("http://", "https://")):
            name = unquote(urlsplit(src).path.rstrip("/").rpartition("/")[2])
    return html.escape(f"[image: {name[:120]}]" if name else "[image]", quote=False)


def prepare_html(document: str) -> str:
    """The HTML rewritten for html2text: layout tables, unknown blocks and images as described
    in the module docstring, sentinel paragraphs before quotes, reply headers and signatures."""
    tokens = _tokens(document)
    layout = _layout_tables(tokens)
    out: list[str] = []
    tables: list[bool] = []  # for each open table: is it a layout table?
    quote: list[str | int] | None = None  # the open quote container: [tag, nesting]
    for index, token in enumerate(tokens):
        if token.kind == "text":
            out.append(token.raw)
            continue
        start = token.kind == "start"
        if quote is not None and token.tag == quote[0]:
            quote[1] = int(quote[1]) + (1 if start else -1)
            if int(quote[1]) <= 0:
                quote = None
        elif start and quote is None:
            sentinel = _sentinel_for(tokens, index)
            if sentinel is not None:
                out.append(f"<p>{sentinel}</p>")
                if sentinel == QUOTE_SENTINEL:
                    quote = [token.tag, 1]
        if token.tag == "img":
            out.append(_image_text(token) if start else "")
        elif token.tag == "table":
            if start:
                tables.append(index in layout)
            is_layout = tables[-1] if tables else False
            if not start and tables:
                tables.pop()
            out.append(("<div>" if start else "</div>") if is_layout else token.raw)
        elif tables and tables[-1] and token.tag in _TABLE_PARTS:
            out.append("<div>" if start else "</div>")
        elif tables and tables[-1] and token.tag in _TABLE_GROUPS:
            continue
        elif token.tag == "summary":
            out.append("<p>" if start else "</p>")
        elif token.tag in _UNKNOWN_BLOCKS:
            out.append("<div>" if start else "</div>")
        else:
            out.append(token.raw)
    return "".join(out)


def _tidy(text: str) -> str:
    """Trailing spaces off, html2text's escape of a leading "- "/"+ " undone, and each run of
    blank lines (or of bare `>` lines in a quote) outside code fences made one."""
    out: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        line = line.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            line = re.sub(r"^\\([-+])(?= )", r"\1", line)  # html2text escapes "- x"
            if out and not line.strip(" >") and out[-1] == line:
                continue
        out.append(line)
    return "\n".join(out).strip("\n")


def html_to_markdown(document: str) -> str:
    """HTML to Markdown, with sentinel lines where quotes, reply headers and signatures begin."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.backquote_code_style = True
    converter.unicode_snob = True
    return _tidy(converter.handle(prepare_html(document)))
