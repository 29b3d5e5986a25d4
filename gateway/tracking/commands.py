"""Commands a team member writes in a GitHub comment: `/answer`, `/promote`, `/delegate`,
`/publish`.

`parse_commands` finds them in a comment body: a line of its own that starts with the command
(any case), outside fenced code blocks and quotes, so a quoted mail or a pasted shell session
never runs one. Each gets the rest of its line (`args`) and the text below it up to the next
command (`text`: `/promote`'s summary). `/spend` and `/internal` are read elsewhere
(`inbound.spend`, `weekly.notify.relay_text`) and are not commands here. `answer_target` reads
the comment a `/answer <link>` points at. Pure: no I/O; it must not decide whether the author
may run a command or what it does (`weekly.commands` does).
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import Literal

CommandName = Literal["answer", "promote", "delegate", "publish"]
COMMANDS: tuple[CommandName, ...] = ("answer", "promote", "delegate", "publish")
_LINE = re.compile(r"^[ \t]{0,3}/(answer|promote|delegate|publish)(?=\s|$)(.*)$",
                   re.IGNORECASE)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
MAX_TEXT = 20_000  # characters of a command's text kept (a /promote summary)


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    args: str  # the rest of the command's line, stripped
    text: str  # the lines below it, up to the next command, stripped


def parse_commands(body: str) -> tuple[Command, ...]:
    """The commands in a comment body, in order."""
    found: list[tuple[CommandName, str, list[str]]] = []
    fence: str | None = None
    for line in body.replace("\r\n", "\n").split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            if found:
                found[-1][2].append(line)
            continue
        if opened:
            fence = opened.group(1)
            if found:
                found[-1][2].append(line)
            continue
        match = None if line.lstrip().startswith(">") else _LINE.match(line)
        if match:
            name = next(c for c in COMMANDS if c == match.group(1).lower())
            found.append((name, match.group(2).strip(), []))
        elif found:
            found[-1][2].append(line)
    return tuple(Command(name, args, "\n".join(text).strip()[:MAX_TEXT])
                 for name, args, text in found)


_SPEND = re.compile(r"^[ \t]*/spend\b", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def bookkeeping_only(body: str) -> bool:
    """Whether a team member's comment says nothing to the customer: it is empty once HTML
    comments, `/spend` lines and commands (with the text under them) are taken out, or its
    first line is `/internal`. Such a comment is no response (first response, the stale
    rule's clock)."""
    text = _COMMENT.sub("", body.replace("\r\n", "\n"))
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and lines[0].strip().lower().split(" ", 1)[0] == "/internal":
        return True
    kept: list[str] = []
    in_command = False
    for line in lines:
        if _LINE.match(line):
            in_command = True
        elif not in_command and not _SPEND.match(line):
            kept.append(line)
    return not kept


_ANCHOR = re.compile(
    r"^https?://[^/\s]+/(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/discussions/(?P<number>\d+)"
    r"/?(?:\?[^#\s]*)?#discussioncomment-(?P<comment>\d+)$")


@dataclass(frozen=True, slots=True)
class CommentLink:
    repository: str
    number: int
    comment_id: int


def answer_target(args: str) -> CommentLink | None:
    """The discussion comment a `/answer` argument links to
    (`https://github.com/o/r/discussions/12#discussioncomment-345`), or None when the argument
    is not such a link (the caller refuses it, saying what a link looks like)."""
    token = args.strip().strip("<>")
    match = _ANCHOR.match(token)
    if match is None:
        return None
    return CommentLink(match.group("repo"), int(match.group("number")),
                       int(match.group("comment")))


_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}$")


def promote_repository(args: str) -> str | None:
    """`/promote owner/repo`'s repository; None when the argument is empty; raises ValueError
    for anything that is not one owner/name."""
    token = args.strip()
    if not token:
        return None
    if not _REPOSITORY.match(token) or token.split("/")[1] in (".", ".."):
        raise ValueError(f"{token[:100]!r} is not a repository (owner/name)")
    return token


def publish_choice(args: str, files: list[tuple[str, str]]) -> list[str] | str:
    """The stored paths a `/publish` argument names among `files` ((path, shown name) of the
    inquiry's stored attachments): a link containing a path (as its page, its signed link or
    its raw address, quoted or not), the stored name (`3-report.log`) or the name as shown.
    Returns the matching paths, or what is wrong with the argument."""
    token = args.strip().strip("<>").strip("`").strip()
    if not token:
        return "name the file: /publish <file name or link>"
    if re.match(r"^https?://", token, re.IGNORECASE):
        plain = urllib.parse.unquote(token.split("?", 1)[0].split("#", 1)[0])
        return [path for path, _ in files if plain.endswith("/" + path)]
    lowered = unicodedata.normalize("NFC", token).casefold()
    by_stored = [path for path, _ in files if path.rsplit("/", 1)[-1].casefold() == lowered]
    if by_stored:
        return by_stored
    return [path for path, name in files
            if unicodedata.normalize("NFC", name).casefold() == lowered]
