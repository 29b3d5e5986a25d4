"""Reading commands out of a GitHub comment: own line, any case, never inside code or quotes;
the args of `/answer` (a link to a discussion comment) and `/promote` (a repository)."""

from __future__ import annotations

import pytest

from gateway.tracking.commands import (
    Command,
    CommentLink,
    answer_target,
    parse_commands,
    promote_repository,
)


@pytest.mark.parametrize(("body", "expected"), [
    ("/answer", (Command("answer", "", ""),)),
    ("Thanks!\n/Answer  \n", (Command("answer", "", ""),)),
    ("/promote visit-dav/visit\nSilo reader crashes on 4.11 files.\n\nSteps: open it.",
     (Command("promote", "visit-dav/visit",
              "Silo reader crashes on 4.11 files.\n\nSteps: open it."),)),
    ("/promote\n/delegate until 2026-12-08T17:00",
     (Command("promote", "", ""), Command("delegate", "until 2026-12-08T17:00", ""))),
    ("   /answer https://github.com/o/r/discussions/1#discussioncomment-2",
     (Command("answer", "https://github.com/o/r/discussions/1#discussioncomment-2", ""),)),
    # Not commands: in a sentence, indented as code, quoted, fenced, another word.
    ("Use /answer to mark it.", ()),
    ("    /answer", ()),
    ("> /promote\n>> /answer", ()),
    ("```\n/promote\n```\n~~~~\n/answer\n~~~~", ()),
    ("/answering\n/promoted\n/spend 1h\n/internal note", ()),
    # A fence inside a command's text stays part of its text, and hides commands in it.
    ("/promote\nRun:\n```\n/answer\n```", (Command("promote", "", "Run:\n```\n/answer\n```"),)),
    ("/answer\r\n/promote\r\n", (Command("answer", "", ""), Command("promote", "", ""))),
])
def test_parse_commands(body: str, expected: tuple[Command, ...]) -> None:
    assert parse_commands(body) == expected


@pytest.mark.parametrize(("args", "expected"), [
    ("https://github.com/visit-dav/visit/discussions/12#discussioncomment-345",
     CommentLink("visit-dav/visit", 12, 345)),
    ("<https://github.example.org/o/r/discussions/3?sort=new#discussioncomment-9>",
     CommentLink("o/r", 3, 9)),
    ("https://github.com/o/r/discussions/12", None),
    ("https://github.com/o/r/issues/12#issuecomment-345", None),
    ("345", None),
    ("", None),
])
def test_answer_target(args: str, expected: CommentLink | None) -> None:
    assert answer_target(args) == expected


def test_promote_repository() -> None:
    assert promote_repository("") is None
    assert promote_repository(" visit-dav/visit ") == "visit-dav/visit"
    for bad in ("visit", "a/b/c", "o/..", "-o/r", "o/r extra"):
        with pytest.raises(ValueError, match="is not a repository"):
            promote_repository(bad)
