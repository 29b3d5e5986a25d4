"""Threading order: In-Reply-To, References, GitHub ids, subject token, marker, else new.
GitHub ids and subject tokens name issues and, where discussions are tracked, discussions."""

from __future__ import annotations

import pytest

from gateway.inbound.thread import (
    decode_marker_key,
    encode_marker_key,
    github_issue_number,
    github_ref,
    marker,
    match_thread,
    subject_issue_number,
    subject_ref,
    thread_id_for,
)
from gateway.models import ThreadMatch

from ..mail import email

REPO = "visit-dav/live-customer-response"
KNOWN = {"<root@univ.edu>": "th-root", "<mid@lab.gov>": "th-mid"}
DISCUSSIONS_REPO = "visit-dav/visit"
REFS = {("issues", 12): "th-twelve", ("discussions", 12): "th-d-twelve"}


@pytest.mark.parametrize(
    ("name", "headers", "body", "expected"),
    [
        ("new", {}, "", ThreadMatch(None, "new-thread")),
        ("in-reply-to known", {"In-Reply-To": "<root@univ.edu>"}, "",
         ThreadMatch("th-root", "in-reply-to")),
        ("in-reply-to wins over references",
         {"In-Reply-To": "<mid@lab.gov>", "References": "<root@univ.edu> <mid@lab.gov>"}, "",
         ThreadMatch("th-mid", "in-reply-to")),
        ("references only (reply-all client)", {"References": "<root@univ.edu> <unknown@x>"}, "",
         ThreadMatch("th-root", "references")),
        ("unknown in-reply-to falls back to references",
         {"In-Reply-To": "<nope@x>", "References": "<root@univ.edu>"}, "",
         ThreadMatch("th-root", "references")),
        ("github id of a known issue",
         {"In-Reply-To": f"<{REPO}/issues/12/999@github.com>"}, "",
         ThreadMatch("th-twelve", "github-id", 12)),
        ("github id of an issue we never saw", {"References": f"<{REPO}/issues/40@github.com>"},
         "", ThreadMatch("gh-40", "github-id", 40)),
        ("github id of another repo is not ours",
         {"In-Reply-To": "<visit-dav/visit/issues/12@github.com>"}, "",
         ThreadMatch(None, "new-thread")),
        ("github subject token", {"Subject": f"Re: [{REPO}] Crash (Issue #12)"}, "",
         ThreadMatch("th-twelve", "subject-token", 12)),
        ("our subject token", {"Subject": "Re: [live-customer-response#7] Crash"}, "",
         ThreadMatch("gh-7", "subject-token", 7)),
        ("a bare [#3] is not a token", {"Subject": "Re: [#3] my list item"}, "",
         ThreadMatch(None, "new-thread")),
        ("marker in quoted text", {}, "> " + marker("mid:<root@univ.edu>"),
         ThreadMatch("th-marker", "marker")),
        # Discussions (in DISCUSSIONS_REPO): GitHub's ids and subject tokens for them.
        ("github id of a known discussion",
         {"In-Reply-To": f"<{DISCUSSIONS_REPO}/repo-discussions/12/comments/77@github.com>"},
         "", ThreadMatch("th-d-twelve", "github-id", 12, "discussions")),
        ("github id of a discussion we never saw",
         {"References": f"<{DISCUSSIONS_REPO}/repo-discussions/40@github.com>"}, "",
         ThreadMatch("ghd-40", "github-id", 40, "discussions")),
        ("a discussion of another repository is not ours",
         {"In-Reply-To": f"<{REPO}/repo-discussions/12@github.com>"}, "",
         ThreadMatch(None, "new-thread")),
        ("an issue of the discussions repository is not ours",
         {"In-Reply-To": f"<{DISCUSSIONS_REPO}/issues/12@github.com>"}, "",
         ThreadMatch(None, "new-thread")),
        ("discussion subject token",
         {"Subject": f"Re: [{DISCUSSIONS_REPO}] Crash (Discussion #12)"}, "",
         ThreadMatch("th-d-twelve", "subject-token", 12, "discussions")),
    ],
)
def test_match_thread(name: str, headers: dict[str, str], body: str,
                      expected: ThreadMatch) -> None:
    message = email(headers, body or "Hello\n")
    found = match_thread(message, known_ids=KNOWN, ref_threads=REFS,
                         marker_threads={"mid:<root@univ.edu>": "th-marker"}, repository=REPO,
                         discussions_repository=DISCUSSIONS_REPO)
    assert found == expected


def test_discussions_are_not_matched_where_none_are_tracked() -> None:
    message = email({"In-Reply-To": f"<{REPO}/repo-discussions/12@github.com>",
                     "Subject": f"Re: [{REPO}] Crash (Discussion #12)"}, "Hello\n")
    found = match_thread(message, known_ids={}, ref_threads=REFS, marker_threads={},
                         repository=REPO)
    assert found == ThreadMatch(None, "new-thread")
    assert github_ref(f"<{REPO}/repo-discussions/12@github.com>", REPO) is None
    assert github_ref(f"<{REPO}/repo-discussions/12@github.com>", REPO, REPO) == (
        "discussions", 12)
    assert github_ref(f"<{REPO}/pull/3@github.com>", REPO, REPO) == ("issues", 3)
    assert subject_ref(f"[{REPO}] T (Discussion #x)", REPO, REPO) is None


def test_marker_round_trip_and_garbage() -> None:
    key = "mid:<CAF+x/y=z@mail.gmail.com>"
    assert decode_marker_key(encode_marker_key(key)) == key
    assert decode_marker_key("!!!") is None


def test_ids_helpers() -> None:
    assert github_issue_number(f"<{REPO}/issues/5/123@github.com>", REPO) == 5
    assert github_issue_number(f"<{REPO.upper()}/issues/5@github.com>", REPO) == 5
    assert github_issue_number("<x@github.com>", REPO) is None
    assert subject_issue_number("[visit-dav/live-customer-response] T (Issue #9)", REPO) == 9
    assert thread_id_for("mid:<a@b>") == thread_id_for("mid:<a@b>") != thread_id_for("mid:<c@d>")
