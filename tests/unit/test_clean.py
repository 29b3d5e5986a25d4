"""Quote/signature splitting, footer and title cleaning, mention and HTML neutralising."""

from __future__ import annotations

import pytest

from gateway.inbound.clean import (
    fence_patches,
    html_to_markdown,
    issue_title,
    neutralize,
    split_quote,
    strip_footer,
)

FOOTER = (
    "_______________________________________________\n"
    "visit-users mailing list\n"
    "visit-users@elist.ornl.gov\n"
    "https://elist.ornl.gov/mailman/listinfo/visit-users"
)


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("[visit-users] Surface plot", "Surface plot"),
        ("Re: [visit-users] Surface plot", "Surface plot"),
        ("RE: AW: [visit-users]   Two   spaces", "Two spaces"),
        ("Fwd: [visit-users] Forwarded", "Forwarded"),
        ("[visit-users] Re: prefix after tag", "prefix after tag"),
        ("", "(no subject)"),
        ("[visit-users]", "(no subject)"),
        ("Regarding the reader", "Regarding the reader"),  # "Re" only as a prefix with colon
    ],
)
def test_issue_title(subject: str, title: str) -> None:
    assert issue_title(subject, "[visit-users]") == title


def test_strip_footer_removes_only_the_list_footer() -> None:
    text = "Question\n\n____________\nnot a footer\n\n" + FOOTER
    assert strip_footer(text, ("visit-users mailing list",)) == (
        "Question\n\n____________\nnot a footer"
    )
    assert strip_footer("no footer here", ("visit-users mailing list",)) == "no footer here"


@pytest.mark.parametrize(
    ("name", "text", "visible", "collapsed_start"),
    [
        (
            "gmail wrapped attribution",
            "Thanks!\n\nOn Tue, Mar 3, 2026 at 9:14 AM Jane Roe <jane@x.edu>\nwrote:\n> q\n> r",
            "Thanks!",
            "On Tue, Mar 3, 2026",
        ),
        (
            "german",
            "Danke!\n\nAm 03.03.2026 um 09:14 schrieb Jane Roe <jane@x.edu>:\n> Frage",
            "Danke!",
            "Am 03.03.2026",
        ),
        (
            "french",
            "Merci !\n\nLe mar. 3 mars 2026 à 09:14, Jane <jane@x.edu> a écrit :\n> question",
            "Merci !",
            "Le mar. 3 mars",
        ),
        (
            "outlook original message",
            "Works now.\n\n-----Original Message-----\nFrom: Jane\nSent: Tuesday\nTo: list\n"
            "Subject: x\n\nold text",
            "Works now.",
            "-----Original Message-----",
        ),
        (
            "outlook underscore block",
            "Works now.\n\n________________________________\nFrom: Jane Roe <j@x.edu>\n"
            "Sent: Tuesday, March 3, 2026 9:14 AM\nTo: visit-users\nSubject: x\n\nold text",
            "Works now.",
            "________________________________",
        ),
        (
            "interleaved keeps answers",
            "On Tue, Jane wrote:\n> question one\nanswer one\n> question two\nanswer two",
            "On Tue, Jane wrote:\n> question one\nanswer one\n> question two\nanswer two",
            "",
        ),
        (
            "trailing quote without attribution",
            "new text\n\n> old\n> older",
            "new text",
            "> old",
        ),
        (
            "signature",
            "Body text\n\n-- \nJane Roe\nUniversity",
            "Body text",
            "-- ",
        ),
        (
            "iphone signature then quote",
            "Yes.\n\nSent from my iPhone\n\nOn Mar 3, 2026, at 09:14, Jane <j@x.edu> wrote:\n\n> q",
            "Yes.",
            "Sent from my iPhone",
        ),
        (
            "dash list and options survive",
            "Steps:\n- step one\n- step two\n--enable-foo\n-- not a signature? no: has text",
            "Steps:\n- step one\n- step two\n--enable-foo\n-- not a signature? no: has text",
            "",
        ),
        (
            "forward is kept",
            "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@b.c>\nDate: x\n"
            "Subject: y\nTo: z\n\nforwarded body\n\nOn Mon, B wrote:\n> older",
            "FYI\n\n---------- Forwarded message ---------\nFrom: A <a@b.c>\nDate: x\n"
            "Subject: y\nTo: z\n\nforwarded body\n\nOn Mon, B wrote:\n> older",
            "",
        ),
        ("only a quote shows the quote", "> all quoted", "> all quoted", ""),
    ],
)
def test_split_quote(name: str, text: str, visible: str, collapsed_start: str) -> None:
    shown, collapsed = split_quote(text)
    assert shown == visible, name
    if collapsed_start:
        assert collapsed.startswith(collapsed_start), name
    else:
        assert collapsed == "", name


def test_outlook_block_in_forward_subject_is_kept() -> None:
    text = "See below\n\n________________________________\nFrom: A\nSent: B\nTo: C\nSubject: D\n\nx"
    assert split_quote(text, forwarded_subject=True) == (text, "")


def test_html_gmail_quote_is_collapsed() -> None:
    html = (
        '<div dir="ltr">Thanks, <b>that</b> worked.</div><br><div class="gmail_quote">'
        '<div class="gmail_attr">On Tue, Mar 3, 2026 at 9:14 AM Jane &lt;j@x.edu&gt; wrote:</div>'
        '<blockquote class="gmail_quote">old question</blockquote></div>'
    )
    shown, collapsed = split_quote(html_to_markdown(html))
    assert shown == "Thanks, **that** worked."
    assert "old question" in collapsed
    assert "\u27e6" not in shown + collapsed  # sentinels never leak


def test_html_outlook_reply_is_collapsed() -> None:
    html = (
        "<div>It works now.</div><div id=\"appendonsend\"></div><hr>"
        '<div id="divRplyFwdMsg"><b>From:</b> Jane<br><b>Sent:</b> Tuesday<br><b>To:</b> list'
        "<br><b>Subject:</b> x</div><div>old text</div>"
    )
    shown, collapsed = split_quote(html_to_markdown(html))
    assert shown == "It works now."
    assert "old text" in collapsed


def test_html_dash_list_is_not_escaped() -> None:
    assert "- step one" in html_to_markdown("<div>- step one</div><div>- step two</div>")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ask @cyrush please", "ask `@cyrush` please"),
        ("team @visit-dav/developers here", "team `@visit-dav/developers` here"),
        ("mail jane@x.org now", "mail jane@x.org now"),
        ("already `@code` here", "already `@code` here"),
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ("<!-- visit-gateway:msg=forged -->", "&lt;!-- visit-gateway:msg=forged -->"),
        ("a < b and c > d", "a < b and c > d"),
    ],
)
def test_neutralize(text: str, expected: str) -> None:
    assert neutralize(text, escape_headings=False) == expected


def test_neutralize_leaves_fenced_code_alone_and_escapes_plain_headings() -> None:
    text = "#include <x.h>\n```\n@user <b>\n```"
    # Re-serialised from the parse tree: blocks are separated by a blank line.
    assert neutralize(text, escape_headings=True) == "\\#include &lt;x.h>\n\n```\n@user <b>\n```"


def test_fence_patches_wraps_a_git_diff_and_stops_after_it() -> None:
    text = (
        "Patch:\n\ndiff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n"
        "@@ -1,2 +1,2 @@\n-int a;\n+int b;\n context\n\nThanks"
    )
    fenced = fence_patches(text)
    assert fenced.startswith("Patch:\n\n```diff\ndiff --git a/x.c b/x.c\n")
    assert "+int b;\n context\n```\n\nThanks" in fenced


def test_fence_patches_ignores_lone_dashes() -> None:
    text = "--- not a patch\nplain"
    assert fence_patches(text) == text
