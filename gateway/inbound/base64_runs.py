"""Markers for the long runs of base64 lines in a raw message, so that the MIME tree holds a
few bytes where it would hold the text of a large attachment.

The stdlib parser keeps a part's body as text it gathers line by line: a str per line, then
the lines joined, then the joined text cut before the boundary. For a 25 MB attachment (34 MB
of base64) that is 94 MB on top of the raw message, and the tree keeps 34 MB of it. Here each
run of at least `MIN_RUN` bytes of lines made only of base64 characters (RFC 2045 §6.8: letters,
digits, "+", "/", "=") is handed to the parser as one marker line instead. Such a line can end
a header block but is never a header, a continuation or a boundary line (it holds no ":", no
space, no tab and does not start with "--"), and the marker line is none of those either, so
the parser makes every decision it would have made and builds the same tree: only the text
of the bodies that held a run differs, a marker where the run was.

`restore_tree` then puts the text back wherever anything reads it as text (preambles,
epilogues, every part but a base64 leaf of a type that is neither text, message nor multipart,
and every part of a multipart or message attached as a file), so the rest of parsing sees what
it always saw. A base64 leaf keeps its marker: mail-parser
hands it on as the attachment's payload, and `source` gives the run's bytes from the raw
message itself (a memoryview, no copy) for decoding. Mail with no long run (ordinary mail) is
read exactly as before. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

# Whole lines of base64 characters, each ended by LF or CRLF, `^` after an LF only: a line the
# parser would end with a bare CR is not taken (the parser splits lines at a bare CR too).
_RUN = re.compile(rb"^(?:[A-Za-z0-9+/=]+\r?\n)++", re.MULTILINE)
MIN_RUN = 64 * 1024  # bytes; a shorter run costs the parser little
_FEED = 8192  # bytes per `feed`: what `email.parser.Parser.parse` reads at a time
_KEEPS_MARKER_NOT = frozenset({"text", "message", "multipart"})


@dataclass(frozen=True, slots=True)
class Runs:
    """The long runs of `raw` (start, end: the end before the run's last line break) and the
    marker prefix, one `raw` does not contain."""

    raw: bytes
    spans: tuple[tuple[int, int], ...]
    prefix: str

    @classmethod
    def find(cls, raw: bytes) -> Runs:
        spans = tuple(
            (found.start(), found.end() - (2 if raw[found.end() - 2 : found.end()] == b"\r\n"
                                           else 1))
            for found in (_RUN.finditer(raw) if len(raw) >= MIN_RUN else ())
            if found.end() - found.start() >= MIN_RUN
        )
        tag = 0
        while spans and f"base64-run-{tag}-".encode() in raw:
            tag += 1
        return cls(raw, spans, f"base64-run-{tag}-")

    def pieces(self, position: int = 0) -> Iterator[bytes]:
        """`raw` from `position`, each run a marker, in pieces for `feed`: with no run, exactly
        the pieces `Parser.parse` reads."""
        for index, (start, end) in enumerate(self.spans):
            yield from self._slices(position, start)
            yield f"{self.prefix}{index}.".encode()
            position = end
        yield from self._slices(position, len(self.raw))

    def _slices(self, start: int, end: int) -> Iterator[bytes]:
        for offset in range(start, end, _FEED):
            yield self.raw[offset : min(offset + _FEED, end)]

    def restore(self, text: str) -> str:
        """`text` with each marker replaced by the run it stands for."""
        if not self.spans or self.prefix not in text:
            return text
        return self._marker().sub(lambda found: self._run(int(found.group(1))), text)

    def source(self, text: str) -> str | memoryview:
        """The base64 text of a payload: the run itself, in place in `raw`, when the payload is
        one marker and line breaks; else the payload restored."""
        if self.spans and self.prefix in text:
            found = self._marker().fullmatch(text.strip("\r\n"))
            if found:
                start, end = self.spans[int(found.group(1))]
                return memoryview(self.raw)[start:end]
        return self.restore(text)

    def _marker(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.prefix) + r"(\d+)\.")

    def _run(self, index: int) -> str:
        start, end = self.spans[index]
        return self.raw[start:end].decode("ascii")


def restore_tree(message: Message, runs: Runs) -> None:
    """Put each run back in `message` (in place) wherever it is read as text: see above."""
    if runs.spans:
        _restore(message, runs, flattened=False)


def _restore(part: Message, runs: Runs, *, flattened: bool) -> None:
    """`flattened`: inside a multipart or message attached as a file, which mail-parser hands
    on as MIME text it writes itself (its own line breaks): there every run goes back."""
    if part.preamble is not None:
        part.preamble = runs.restore(part.preamble)
    if part.epilogue is not None:
        part.epilogue = runs.restore(part.epilogue)
    # The parser's own text: get_payload() would decode the 8-bit bytes it holds.
    payload = part._payload  # type: ignore[attr-defined]
    if isinstance(payload, list):
        flattened = flattened or part.get_content_disposition() == "attachment"
        for child in payload:
            if isinstance(child, Message):
                _restore(child, runs, flattened=flattened)
    elif (isinstance(payload, str) and runs.prefix in payload
          and (flattened or not _keeps_marker(part))):
        part.set_payload(runs.restore(payload))


def _keeps_marker(part: Message) -> bool:
    """A leaf mail-parser takes as base64 as it stands (its own test: the stripped, lowered
    Content-Transfer-Encoding) and never reads as body text (text/*, or subtype plain/html)."""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    return (
        encoding == "base64"
        and part.get_content_maintype() not in _KEEPS_MARKER_NOT
        and part.get_content_subtype() not in ("plain", "html")
    )
