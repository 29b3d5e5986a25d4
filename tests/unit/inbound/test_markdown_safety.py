"""Hostile mail against the body the gateway writes, judged by GitHub's own renderer
(cmark-gfm, `gfm_oracle`): no live mention or reference, no raw HTML from the mail, nothing
hidden, the marker intact and last, GitHub's length limit kept (issue 12)."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.inbound.attachments import MAX_FILENAME
from gateway.inbound.body import MAX_NAME, BodySettings, compose_body
from gateway.inbound.clean import clean_body, issue_title, neutralize
from gateway.inbound.safe_markdown import body_problems, checked_part, neutral_markdown
from gateway.inbound.thread import marker
from gateway.models import Address, Attachment, Email

from ..mail import email as make_email
from . import gfm_oracle

LIMIT = 65_536
SETTINGS = BodySettings(show_full_address=False, max_chars=LIMIT,
                        display_tz=ZoneInfo("America/Los_Angeles"))
BASE = make_email()
FOOTERS = ("visit-users mailing list",)


def _mail(body: str = "Hello", name: str = "Jane Roe",
          attachments: tuple[Attachment, ...] = (), key: str = "mid:<q1@univ.edu>",
          html: bool = False) -> Email:
    return dataclasses.replace(
        BASE, key=key, sender=Address(name, "jane.roe@univ.edu"),
        text_parts=() if html else (body,), html_parts=(body,) if html else (),
        attachments=attachments,
    )


def _body(mail: Email) -> str:
    return compose_body(mail, clean_body(mail, FOOTERS), SETTINGS)


def _check(mail: Email, visible: str = "") -> str:
    body = _body(mail)
    assert len(body) <= LIMIT
    found = gfm_oracle.problems(body, marker(mail.key), visible)
    assert not found, f"{found}\n--- body ---\n{body}"
    return body


HOSTILE_NAMES = [
    "@cyrush",
    '"@cyrush"',
    "Jane @visit-dav/core",
    "<img src=x onerror=alert(1)>",
    "<details><summary>x</summary>",
    "Jane\n\n<!--",
    "Jane <!-- visit-gateway:msg=bWlkOjx4Pg -->",
    "** `` ` _ ~~ [x](javascript:alert(1))",
    "#1 GH-2 visit-dav/visit#3",
    "&#64;cyrush \\@cyrush",
    "\u202eenaJ \u2066x\u2069",
    "- [ ] > # 1. |---|",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_display_name_renders_as_plain_text(name: str) -> None:
    _check(_mail(name=name), visible=name.replace("&#64;", "@"))


def test_display_name_is_bounded() -> None:
    body = _check(_mail(name="@cyrush " * 10_000))
    assert len(body.split("\n", 1)[0]) < 400


HOSTILE_FILENAMES = [
    "a\n\n@cyrush\n\n<!--",
    "```",
    "x`y``z",
    " leading and trailing ",
    "<details>.png",
    "#1.txt",
    "\u202egnp.exe",
    "",
]


@pytest.mark.parametrize("filename", HOSTILE_FILENAMES)
def test_hostile_attachment_name_stays_in_its_list_item(filename: str) -> None:
    item = Attachment(filename, "text/plain@cyrush <b>", 10)
    _check(_mail(attachments=(item,)), visible=filename)


def test_attachment_list_is_bounded() -> None:
    items = tuple(Attachment(f"file-{n}-" + "x" * 300 + ".dat", "application/x", 1000)
                  for n in range(500))
    body = _check(_mail(attachments=items))
    assert "… and 480 more (468.8 KB)" in body
    assert body.count("\n- ") == 21


HOSTILE_BODIES = [
    "ask @cyrush please",
    "`unclosed @cyrush",
    "``double closed by single` @cyrush",
    "`span\nacross lines` @cyrush",
    "```x``` @cyrush",
    "   ```\n@cyrush\n   ```\nafter @cyrush",
    "    ```\n@cyrush\n",
    "```\n~~~\n@cyrush\n```\n@cyrush",
    "~~~\n```\n~~~\n@cyrush",
    "````\n```\n````\n@cyrush <!--",
    "&#64;cyrush &#x40;cyrush &commat;cyrush",
    "\\@cyrush and \\#1",
    "x@cyrush@visit-dav é@cyrush foo.@cyrush -@cyrush @cyrush/team",
    "*@cyrush* **@cyrush** [@cyrush](http://x.example) ![@cyrush](http://x.example/i.png)",
    "http://x.example/@cyrush @cyrush <http://x.example>@cyrush",
    "see #1, GH-2, gh-3, visit-dav/visit#4 and (#5)",
    "<!-- hidden from the team",
    "<!--\nsecret\n-->",
    "<details>\nsecret\n",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script> <b>bold</b> </p>",
    "<!-- visit-gateway:msg=bWlkOjxmb3JnZWQ -->",
    '[x]: http://evil.example "secret title"\n\ntext',
    "[x]:\nhttp://evil.example\n'secret'",
    "> quote @cyrush\n> ```\n> @cyrush",
    "- item\n  ```\n  @cyrush\n- @cyrush",
    "1. a\n\n       code @x\n   @cyrush",
    "| a | b |\n|---|---|\n| `x|@cyrush` | @cyrush |",
    "a\\\n@cyrush",
    "text\n===\n@cyrush\n---",
    "\u202eevil\u202c text",
    "[link](http://x.example 'tooltip words')",
    "- [ ] task @cyrush",
    "> [!NOTE]\n> @cyrush",
    "```math\n\\phantom{secret}\n```",
    "```python\nx = 1\n```",  # GitHub shows a fence's language nowhere: it would hide a word
    "```#12",
    "<http://x.example/a>`b`@cyrush`",
]


@pytest.mark.parametrize("text", HOSTILE_BODIES)
def test_hostile_plain_text_body(text: str) -> None:
    _check(_mail(body=text), visible=text)


@pytest.mark.parametrize("text", HOSTILE_BODIES)
def test_hostile_markdown_from_html_mail(text: str) -> None:
    # HTML mail reaches the neutraliser as Markdown (html2text); the HTML's own tags go.
    _check(_mail(body=f"<div>{text}</div>", html=True))


@pytest.mark.parametrize("text", HOSTILE_BODIES)
def test_hostile_text_in_the_collapsed_quote(text: str) -> None:
    mail = _mail(body=f"Thanks!\n\nOn Tue, Jane wrote:\n> {text.replace(chr(10), chr(10) + '> ')}")
    body = _check(mail)
    assert "<details>" in body


def test_truncation_cannot_revive_a_mention() -> None:
    for shift in range(0, 12):
        text = "a" * (LIMIT - 800 + shift) + " @cyrush" * 200 + " `x` " * 200
        body = _check(_mail(body=text))
        assert "truncated" in body


def test_every_part_counts_against_the_limit() -> None:
    items = tuple(Attachment("y" * 200, "image/png", 10) for _ in range(500))
    mail = _mail(body="z" * 70_000, name="n" * 70_000, attachments=items)
    _check(mail)
    long_key = "mid:<" + "k" * 3000 + "@x>"  # the marker's real length counts too
    _check(dataclasses.replace(mail, key=long_key))


def test_an_unsafe_composition_falls_back_to_a_literal_block() -> None:
    mail = _mail(body="@cyrush")
    cleaned = dataclasses.replace(clean_body(mail, FOOTERS), visible="@cyrush <!-- x")
    body = compose_body(mail, cleaned, SETTINGS)
    assert not gfm_oracle.problems(body, marker(mail.key), "cyrush x")
    assert body.startswith("```")


def test_the_final_check_sees_what_is_wrong() -> None:
    mark = marker("mid:<q1@univ.edu>")
    assert body_problems(f"ok\n\n{mark}", template_html=frozenset(), marker=mark) == []
    for bad in ("@cyrush", "<b>x</b>", "<div>", "[x]: http://e", f"x\n\n{mark}\n\nafter"):
        assert body_problems(f"{bad}\n\n{mark}", template_html=frozenset(), marker=mark)


@pytest.mark.parametrize(
    ("part", "problem"),
    [
        ("@cyrush", "live mention"),
        ("GH\\-1", "live mention"),
        ("&#64;cyrush", "live mention"),
        ("<b>x</b>", "raw HTML"),
        ("[x]: http://e", "definition"),
        ("```", "marker"),
        ("a long quote\n>\n> of plain words\n\n@cyrush", "live mention"),
        ("On Tue, Jane wrote:\n> plain\n>\n> @cyrush", "live mention"),
    ],
)
def test_the_final_check_still_parses_what_could_be_wrong(part: str, problem: str) -> None:
    # Each part of the mail reaches the check as `checked_part` gives it; a rewriter bug that
    # leaves any of these in either part sends the body as a literal block.
    mail = _mail(body="x")
    for cleaned in (dataclasses.replace(clean_body(mail, FOOTERS), visible=part),
                    dataclasses.replace(clean_body(mail, FOOTERS), quoted=part)):
        mark = marker(mail.key)
        checked = f"head\n\n{checked_part(part)}\n\n{mark}"
        assert any(problem in found for found in
                   body_problems(checked, template_html=frozenset(), marker=mark))
        body = compose_body(mail, cleaned, SETTINGS)
        assert body.startswith("```"), body
        assert not gfm_oracle.problems(body, mark)


QUOTED_REPLY = (
    "On Tue, 3 Mar 2026, Jane Roe wrote:\n> Grüße, the plot fails\n> \n> after 3.14 > 2 steps\n"
    ">> nested words\n>\n> more words\n"
)


def test_a_quote_of_plain_words_is_kept_as_written() -> None:
    assert neutral_markdown(QUOTED_REPLY, plain=True) == QUOTED_REPLY
    assert checked_part(QUOTED_REPLY) == "x"
    _check(_mail(body=f"Thanks!\n\n{QUOTED_REPLY}"), visible=QUOTED_REPLY)


@pytest.mark.parametrize(
    "tail",
    [
        "> ___\n> visit-users mailing list\n> visit-users@elist.ornl.gov\n> http://x.example/",
        ">     indented @cyrush\n",
        "> 1. @cyrush\n> - #2",
        "> text\n> ===\n> `@cyrush",
        ">\n    @cyrush",
        "\n    @cyrush\n- item\n\n  @cyrush",
        "> ```\n> @cyrush",
        "lazy @cyrush\n> <!--",
    ],
)
def test_only_the_part_after_a_quote_of_plain_words_is_rewritten(tail: str) -> None:
    text = QUOTED_REPLY + tail
    _check(_mail(body=f"Thanks!\n\n{text}"), visible=text)  # collapsed, or not
    _check(_mail(body=text), visible=text)


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("[visit-users] \u202egnp.exe", "gnp.exe"),
        ("\u2066Surface\u2069 \u200eplot\u200f\u061c", "Surface plot"),
    ],
)
def test_titles_lose_bidirectional_controls(subject: str, title: str) -> None:
    assert issue_title(subject, "[visit-users]") == title


def test_neutralize_is_idempotent_on_its_output() -> None:
    for text in HOSTILE_BODIES:
        once = neutralize(text, escape_headings=True)
        assert neutralize(once, escape_headings=False) == once, text


_PIECES = st.sampled_from([
    "@cyrush", "@visit-dav/core", "#12", "GH-3", "o/r#4", "`", "``", "```", "~~~", "    ",
    "\n", "\n\n", "> ", "- ", "1. ", "* ", "_", "**", "<", ">", "<!--", "-->", "<b>", "</b>",
    "<details>", "&#64;", "&", "\\", "[", "]", "(", ")", "[x]: ", "http://x.example/", "|",
    "---", "===", "#", "!", "word", "é", " ", "\t", "~", "$", ":",
])
_MARKDOWNISH = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=200, deadline=None)
@given(body=_MARKDOWNISH, name=_MARKDOWNISH, filename=_MARKDOWNISH)
@example(body="&\\#12", name="", filename="")  # "&" and "#12" in two nodes are no entity
@example(body="", name="", filename="@cyrush" * 18)  # over MAX_FILENAME: head and tail kept
@example(body="", name="@cyrush " * 40, filename="")  # over MAX_NAME: the first part kept
def test_property_random_markdownish_text_and_names(body: str, name: str, filename: str) -> None:
    mail = _mail(body=body or "x", name=name, attachments=(Attachment(filename, "a/b", 1),))
    # Words of the text, and of the name and file name as far as the body keeps them (a name is
    # cut after MAX_NAME characters, a file name keeps its head and its last 20): all of them
    # must be visible (a quote may be collapsed, which still shows it).
    kept_name = name if len(name) <= MAX_NAME else name[: MAX_NAME - 1]
    kept_file = (filename if len(filename) <= MAX_FILENAME
                 else f"{filename[: MAX_FILENAME - 21]} {filename[-20:]}")
    _check(mail, visible=f"{body} {kept_name} {kept_file}")


@settings(max_examples=200, deadline=None)
@given(prefix=st.lists(st.sampled_from(["word", " ", "\n", "\n\n", "> ", ">", "    ", "é"]),
                       max_size=12).map("".join), rest=_MARKDOWNISH)
@example(prefix="", rest="&#121. ")  # no semicolon: no reference, "&#121." is shown as typed
def test_property_plain_start_then_markdownish(prefix: str, rest: str) -> None:
    text = prefix + rest
    _check(_mail(body=text or "x"), visible=text)
    _check(_mail(body=f"Thanks!\n\nOn Tue, Jane wrote:\n> {text.replace(chr(10), chr(10) + '> ')}"))


def test_the_oracle_reads_character_references_as_commonmark_does() -> None:
    assert gfm_oracle.unescape("&#121; &#x79; &eacute; &#121. &amp &amp;") == "y y é &#121. &amp &"
    # and a reference GitHub would show decoded still has to be visible as what it decodes to
    body = "**Jane Roe** wrote:\n\n&#121;es\n\n" + marker("mid:<q1@univ.edu>")
    assert gfm_oracle.problems(body, marker("mid:<q1@univ.edu>"), "yes") == []
    assert gfm_oracle.problems(body, marker("mid:<q1@univ.edu>"), "no") != []
