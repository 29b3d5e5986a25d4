"""Quote/signature splitting, footer and title cleaning, mention and HTML neutralising."""

from __future__ import annotations

import pytest

from gateway.inbound.clean import (
    choose_body,
    fence_patches,
    html_to_markdown,
    issue_title,
    neutralize,
    split_quote,
    strip_footer,
)
from gateway.inbound.parse import parse_email

from ...conftest import FIXTURES

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


# --- Issue 13: text hidden that should show, and the reverse --------------------------------

_PARENT = (
    "> Hello,\n>\n> the Elevate operator greys out after a Slice.\n> Is there an order?\n"
    ">\n> Thanks,\n> Priya"
)


@pytest.mark.parametrize(
    ("name", "text", "visible", "collapsed_start"),
    [
        (
            "text directly above the attribution (Android Gmail)",
            "Same here on Fedora 41.\nOn Tue, Mar 17, 2026, 09:14 Priya Raman <p@x.edu> wrote:\n\n"
            + _PARENT,
            "Same here on Fedora 41.",
            "On Tue, Mar 17, 2026, 09:14",
        ),
        (
            "a line starting with 'On' directly above the attribution",
            "On my machine it fails too.\nOn Tue, Mar 17, 2026 at 9:14 AM Jane <j@x.edu> wrote:\n"
            "> q",
            "On my machine it fails too.",
            "On Tue, Mar 17, 2026 at 9:14 AM",
        ),
        (
            "an attribution wrapped over three lines is still one",
            "Thanks!\n\nOn Tue, Mar 17, 2026 at 9:14 AM Jane Roe via visit-users <\n"
            "visit-users@elist.ornl.gov> wrote:\n\n> q",
            "Thanks!",
            "On Tue, Mar 17, 2026 at 9:14 AM Jane Roe via",
        ),
        (
            "bottom-posted reply: the leading parent quote is folded",
            "On Tue, Mar 17, 2026, Priya wrote:\n" + _PARENT + "\n\nTry Elevate before Slice.",
            "Try Elevate before Slice.",
            "On Tue, Mar 17, 2026, Priya wrote:",
        ),
        (
            "bottom-posted without attribution, greeting above",
            "Hi Priya,\n\n" + _PARENT + "\n\nTry Elevate before Slice.\n\nJane",
            "Hi Priya,\n\nTry Elevate before Slice.\n\nJane",
            "> Hello,",
        ),
        (
            "a short quote answered below is context",
            "> Does 3.4.2 run on Windows 11?\n\nYes, it does.",
            "> Does 3.4.2 run on Windows 11?\n\nYes, it does.",
            "",
        ),
        (
            "signature delimiter is the only new text, quote below",
            "-- \nOn Tue, Mar 17, 2026, Priya wrote:\n" + _PARENT,
            "",
            "-- \nOn Tue, Mar 17, 2026, Priya wrote:",
        ),
        (
            "signature delimiter without the space, blank line first",
            "\n--\n\n" + _PARENT,
            "",
            "--\n\n> Hello,",
        ),
        (
            "quote then an empty signature",
            "On Tue, Mar 17, 2026, Priya wrote:\n" + _PARENT + "\n\n-- \n",
            "",
            "On Tue, Mar 17, 2026, Priya wrote:",
        ),
        (
            "html2text's escaped delimiter and Outlook separator",
            "Works now.\n\n\\--\nJane Roe\n\n\\-----Original Message-----\nFrom: Priya\n"
            "Sent: Tuesday\nTo: list\nSubject: x\n\nold text",
            "Works now.",
            "\\--\nJane Roe",
        ),
    ],
)
def test_split_quote_issue_13(name: str, text: str, visible: str, collapsed_start: str) -> None:
    shown, collapsed = split_quote(text)
    assert shown == visible, name
    if collapsed_start:
        assert collapsed.startswith(collapsed_start), name
    else:
        assert collapsed == "", name


def test_bottom_post_folds_the_whole_parent() -> None:
    _, collapsed = split_quote("Hi Priya,\n\n" + _PARENT + "\n\nTry Elevate before Slice.")
    assert "> Priya" in collapsed and "Try Elevate" not in collapsed


def _split_html(document: str) -> tuple[str, str]:
    shown, collapsed = split_quote(html_to_markdown(document))
    assert "\u27e6" not in shown + collapsed  # sentinels never leak
    return shown, collapsed


def test_html_signature_and_original_message_are_folded() -> None:
    shown, collapsed = _split_html(
        "<p>Works now.</p><p>-- <br>Jane Roe<br>Example Lab</p><p>-----Original Message-----"
        "<br>From: Priya<br>Sent: Tuesday<br>To: list<br>Subject: x</p><p>old text</p>"
    )
    assert shown == "Works now."
    assert "Example Lab" in collapsed and "old text" in collapsed


def test_html_gmail_signature_div_and_bare_gmail_blockquote() -> None:
    shown, collapsed = _split_html(
        '<div dir="ltr">Fixed, thanks.<br clear="all"><div><br></div>'
        '<div dir="ltr" class="gmail_signature"><div>Jane Roe<br>Example Lab</div></div></div>'
        '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">On Tue, Priya wrote:<br>'
        "<div>old question</div></blockquote><div>Jane</div>"
    )
    assert shown == "Fixed, thanks."
    assert "Example Lab" in collapsed and "old question" in collapsed


def test_html_outlook_border_top_header_in_any_language() -> None:
    shown, collapsed = _split_html(
        "<div class=WordSection1><p class=MsoNormal>Działa, dziękuję.</p><div><div "
        'style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        "<p class=MsoNormal><b>Od:</b> Priya &lt;p@x.edu&gt;<br><b>Wysłano:</b> wtorek"
        "<br><b>Do:</b> lista<br><b>Temat:</b> x</p></div></div><p>old text</p></div>"
    )
    assert shown == "Działa, dziękuję."
    assert "old text" in collapsed


def test_html_border_top_without_a_header_is_not_a_quote() -> None:
    shown, _ = _split_html(
        '<p>Text</p><div style="border-top:solid 1px #ccc">Jane Roe, Example Lab</div>'
    )
    assert "Jane Roe, Example Lab" in shown


def test_html_layout_keeps_its_shape() -> None:
    markdown = html_to_markdown(
        "<table><tr><td><p>Hello team,</p><p>the export fails.</p></td></tr></table><hr>"
        '<p>See <img src="cid:plot.png@01DC" alt="plot.png"> and <img src="cid:x@y"></p>'
        '<img src="https://t.example/p.gif" width="1" height="1">'
        "<details><summary>Engine log</summary><pre>line 1\n\n\n\nline 5</pre></details>"
        "<p>one</p><p><br></p><p><br></p><div><br></div><div>two</div>"
    )
    lines = markdown.split("\n")
    assert "---" not in lines  # a line under text would make it a heading
    assert "See [image: plot.png] and [image: x]" in lines
    assert "p.gif" not in markdown  # a tracking pixel is not an image of the mail
    assert "Engine log" in lines  # the summary is its own line, not run into the log
    assert "line 1\n\n\n\nline 5" in markdown  # code keeps its blank lines
    assert "one\n\ntwo" in markdown
    assert not neutralize(markdown, escape_headings=False).startswith("#")


def test_html_data_table_still_has_its_cells() -> None:
    markdown = html_to_markdown("<table><tr><td>a</td><td>b</td></tr><tr><td>1</td>"
                                "<td>2</td></tr></table>")
    assert "a| b" in markdown and "1| 2" in markdown  # html2text's own pipe layout


_RULE = "_" * 47 + "\n"
@pytest.mark.parametrize(
    ("footer", "stripped"),
    [
        # Recognised by the message's own List-* headers, whatever the configured markers.
        (_RULE + "Viz help desk\nviz-help@lists.example.org", True),
        (_RULE + "To unsubscribe: https://lists.example.org/mailman/options/viz-help", True),
        # Mailman's shape: the rule, "mailing list" and a listinfo address.
        (_RULE + "paraview mailing list\nhttps://x.org/mailman/listinfo/paraview", True),
        # Not a footer: an Outlook header after a rule, or a rule with ordinary text.
        (_RULE + "From: viz-help@lists.example.org\nSent: Tuesday\nTo: x\nSubject: y", False),
        (_RULE + "my own mailing list notes", False),
    ],
)
def test_strip_footer_recognises_the_list_from_the_message(footer: str, stripped: bool) -> None:
    text = "Question\n\n" + footer
    hints = ("viz-help@lists.example.org", "lists.example.org/mailman/options/viz-help")
    expected = "Question" if stripped else text
    assert strip_footer(text, ("some-other-list mailing list",), hints) == expected


def test_html_only_mail_keeps_its_text_with_another_lists_markers() -> None:
    raw = (FIXTURES / "html-only-mailman-footer-part.eml").read_bytes()
    mail = parse_email(raw, list_address="visit-users@elist.ornl.gov")
    text, source = choose_body(mail, ("paraview mailing list",))
    assert source == "html"
    assert "the opacity goes back to the default ramp" in text
