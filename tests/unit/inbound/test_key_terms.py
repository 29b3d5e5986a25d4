"""The key terms of an inquiry: a table of realistic subjects (most from fixtures/emails/), the
words the known-issue search should look for, most distinctive first."""

from __future__ import annotations

import pytest

from gateway.inbound.clean import clean_body
from gateway.inbound.key_terms import MAX_TERMS, key_terms
from tests.conftest import FIXTURES
from tests.unit.mail import LIST

PREFIX = "[visit-users]"
PRODUCT = ("visit", "dav")  # the product repository's name: every issue there is about it

SUBJECTS = [
    # Product nouns first, then symptoms and technical words, then the rest in order.
    ("[visit-users] Crash opening a Silo file", ("Silo", "crash", "opening")),
    ("Re: [visit-users] Silo reader crashes on 4.11 files", ("Silo", "crashes", "reader")),
    ("[visit-users] Color banding in a Pseudocolor plot with log scaling",
     ("Pseudocolor", "color", "banding")),
    ("[visit-users] Fwd: VisIt crashes opening an Exodus file from Cubit",
     ("Exodus", "Cubit", "crashes")),
    ("VisIt engine_par crashes on startup with Open MPI 5", ("engine_par", "crashes", "MPI")),
    ("[visit-users] Reading ADIOS2 BP5 files in VisIt 3.4", ("ADIOS2", "BP5", "reading")),
    ("[visit-users] CLI script hangs in OpenComputeEngine with srun", ("CLI", "srun", "hangs")),
    ("[visit-users] Ghost zones written with DBOPT_HI_OFFSET are drawn",
     ("Ghost", "DBOPT_HI_OFFSET", "zones")),
    ("[visit-users] Legend overlaps the title when saving at 4K", ("Legend", "4K", "overlaps")),
    ("[visit-users] Surface plot of a 2D slice", ("Surface", "slice", "2D")),
    ("[visit-users] Slice operator origin resets on time change", ("Slice", "origin", "resets")),
    ("[visit-users] Exporting a Lineout to CSV from the CLI", ("Lineout", "CLI", "CSV")),
    ("[visit-users] Parallel engine killed after 10 minutes on 512 ranks (full log inside)",
     ("engine", "killed", "parallel")),
    # Prefixes, tags and references a mail client or a tracker added are no terms.
    ("RE: AW: Fwd: [visit-users] Threshold operator drops ghost zones",
     ("Threshold", "ghost", "drops")),
    ("[visit-users] [PATCH] Silo: skip blocks with an invalid type", ("Silo", "skip", "blocks")),
    ("Re: [visit-users] [visit-dav/visit] Pseudocolor plot ignores point-centered ghost data "
     "(Issue #20341)", ("Pseudocolor", "ghost", "ignores")),
    ("[visit-users] [CRC Help #48213] Request received: Re: Color banding",
     ("color", "banding")),
    # Versions and bare numbers go; a number with letters stays. A commit id goes.
    ("Re: [visit-users] VisIt 3.4.2 on macOS Sequoia: blank window",
     ("macOS", "blank", "sequoia")),
    ("[visit-users] Failed pipeline for develop | visit-nightly-frontier | 4f1c2ab9",
     ("failed", "pipeline", "develop")),
    ("Contour of 1e-6 levels in v3.3.0-rc1", ("Contour", "levels")),
    # A compound says it once: "block" after "multi-block".
    ("[visit-users] Silo multi-block file shows only block 0", ("Silo", "multi-block")),
    # URLs, addresses and paths are not words to search for.
    ("Error in https://visit.llnl.gov/x.html from jane@univ.edu at /usr/gapps/visit/bin",
     ("error",)),
    # Nothing to search for.
    ("[visit-users] (no subject)", ()),
    ("Re: [visit-users] Question", ()),
    ("Help please!!", ()),
    ("", ()),
    # Scripts GitHub's search does not split into words: only the Latin-script names count.
    ("[visit-users] VisItでSiloファイルを開くとメッシュが表示されません", ("Silo",)),
    ("[visit-users] 求助\uff1a朱镕的等值面图无法保存", ()),
    # What could steer a search is only words here (issue_search quotes each term).
    ('repo:visit-dav/secret is:pr "crash" OR -silo', ("silo", "crash", "repo")),
    ("@visit-dav/core please look at #123 <img src=x>", ("core", "img", "src")),
]


@pytest.mark.parametrize(("subject", "expected"), SUBJECTS)
def test_key_terms_of_a_subject(subject: str, expected: tuple[str, ...]) -> None:
    assert key_terms(subject, list_prefix=PREFIX, ignore=PRODUCT) == expected


def test_the_text_fills_in_what_the_subject_lacks() -> None:
    text = ("Hi all,\n\nI get a segfault in the Pseudocolor plot of my HDF5 \\_data\\_ file.\n"
            "Thanks, Jane\n")
    assert key_terms("[visit-users] Help!", text, list_prefix=PREFIX) == (
        "Pseudocolor", "HDF5", "segfault")
    # The subject's words come first; only telling words of the text are added.
    assert key_terms("Crash", text, list_prefix=PREFIX) == ("crash", "Pseudocolor", "HDF5")
    assert key_terms("Opacity resets", "I tried again today and again.\n") == (
        "opacity", "resets")


def test_only_the_start_of_the_text_is_read() -> None:
    later = "\n".join(["Some words here."] * 10 + ["Silo HDF5 Pseudocolor"])
    assert key_terms("(no subject)", later) == ()


def test_at_most_the_limit_and_no_word_twice() -> None:
    subject = "Streamlines streamline STREAMLINES crash crashes Silo silo Pseudocolor Contour"
    assert key_terms(subject) == ("Streamlines", "Silo", "Pseudocolor")
    assert key_terms(subject, limit=5) == ("Streamlines", "Silo", "Pseudocolor", "Contour",
                                           "crash")
    assert len(key_terms("a b c d e f g h " * 20)) <= MAX_TERMS


def test_the_product_name_is_ignored_only_when_asked() -> None:
    assert key_terms("VisIt crashes") == ("VisIt", "crashes")
    assert key_terms("VisIt crashes", ignore=("visit",)) == ("crashes",)


def test_every_fixture_gives_few_plain_terms() -> None:
    from gateway.inbound.parse import parse_email

    for path in sorted(FIXTURES.glob("*.eml")):
        try:
            email = parse_email(path.read_bytes(), list_address=LIST)
        except Exception:  # the unparseable fixtures are quarantined, not looked up
            continue
        visible = clean_body(email, ("visit-users mailing list",)).visible
        terms = key_terms(email.subject, visible, list_prefix=PREFIX, ignore=PRODUCT)
        assert len(terms) <= MAX_TERMS, path.name
        for term in terms:
            assert term.strip() == term and " " not in term and '"' not in term, (path, term)
            assert not term.isdigit() and term.casefold() not in ("visit", "re", "fwd"), path
