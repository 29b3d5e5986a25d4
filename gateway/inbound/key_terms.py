"""The key terms of a new inquiry: a few distinctive words to look for in the product's issues.

`key_terms` reads the subject (and, for words the subject lacks, the first lines of the text)
and returns at most `MAX_TERMS` words, most distinctive first: VisIt's own nouns (plots,
operators, readers, components: "Silo", "Pseudocolor", "mdserver"), then words that look
technical ("HDF5", "SaveWindow", "MPI", "engine_par") or name a symptom ("crash", "hangs"),
then other content words in the order written. Left out: the list prefix, `Re:`/`Fwd:` and
bracketed tags (`[PATCH]`, `(Issue #12)`), URLs, addresses and paths, stop words and words every
inquiry has ("question", "problem", "file", "plot"), the product's own name (`ignore`),
version numbers and other bare numbers (a number with letters, "BP5", "2D", stays), and words
in scripts GitHub's issue search does not split into words (CJK). The GitHub writer searches
for them (`gateway.outbound.known_issues`), where each term is one quoted phrase
(`gateway.outbound.issue_search`): nothing a customer types can change the query's scope.
Pure: no I/O, no GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.inbound.clean import issue_title

MAX_TERMS = 3
# Of the text, only the start is read: the question is asked there; logs and quotes follow.
TEXT_CHARS = 400
TEXT_LINES = 4

# Words in Latin script (accents included), joined by - _ . ' + inside: `engine_par`,
# `cell-centered`, `3.4.2`, `don't`.
_LETTER = r"[A-Za-z0-9\u00C0-\u024F]"
_WORD = re.compile(rf"{_LETTER}+(?:[-_.'\u2019+]{_LETTER}+)*")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S*|\bwww\.\S+")
_ADDRESS = re.compile(r"\S+@\S+")
_PATH = re.compile(r"(?:^|(?<=\s))[~.]?/\S*|\b[A-Za-z]:\\\S*")
_TAG = re.compile(r"\[[^\]]*\]|\((?:issue|discussion|pull request|pr)\s*#\d+\)", re.IGNORECASE)
_NUMBER = re.compile(r"v?\d+(?:[._-]\d+)*(?:[._-]?(?:rc|beta|alpha|b|a)\d*|e[-+]?\d+)?",
                     re.IGNORECASE)
_HASH = re.compile(r"(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}")  # a commit id
_PARTS = re.compile(r"[-_.'\u2019+]")
# A word that looks like a name in code or a product: letters with digits (HDF5, 2D), an
# identifier (DBOPT_HI_OFFSET), an acronym (MPI, NaN) or CamelCase (SaveWindow).
_TECHNICAL = re.compile(r"[0-9].*[^\W\d_]|[^\W\d_].*[0-9]|_|[A-Z].*[A-Z]|[a-z][A-Z]")
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words("""
a about above after again against all also am an and any anyone anything are aren't around as
at be because been before being below between both but by can can't cannot could couldn't
did didn't do does doesn't doing don't down during each either else even ever every few for
from further get gets getting got had hadn't has hasn't have haven't having he her here hers
him his how however i i'd i'm i've if in into is isn't it it's its itself just keep let like
many may me might more most much must my myself need needed needs no nor not now of off on
once one only or other others our out over own per please quite rather really same see seem
seems she should shouldn't since so some something still such than that that's the their
them then there these they thing things this those though through thus to too try tried
trying under until up upon us use used uses using very via want wanted wants was wasn't way
we well were weren't what when where whether which while who whom why will with within
without won't would wouldn't yes yet you your yours
hi hello dear thanks thank regards cheers folks everyone team list
question questions problem problems issue issues help helps helping trouble
ask asking asked wonder wondering possible possibly anybody somebody someone know knows
able unable way ways kind sort lot lots bit new old latest recent version versions release
file files data dataset datasets plot plots plotting operator operators
work works working worked run runs running ran make makes making made look looks looking
show shows showing shown give gives given find found go goes going went take takes
request received reply automatic fwd fw re aw sv tr digest vol
""")

# VisIt's own nouns: plots, operators, database readers, components and tools, concepts whose
# names are ordinary words elsewhere. A match names what the inquiry is about.
_PRODUCT = _words("""
pseudocolor contour mesh subset filledboundary boundary vector tensor volume surface curve
label molecule scatter histogram spreadsheet streamline streamlines truecolor
parallelcoordinates multicurve poincare integralcurve limitcycle pathline lineout
slice clip threshold isosurface isovolume reflect transform elevate tube resample onionpeel
indexselect threeslice displace decimate smooth externalsurface triangulate tessellate
coordswap databinning connectedcomponents extrude cylinder
silo exodus hdf5 netcdf cgns xdmf vtk vtu vtm bov blueprint conduit ascent adios adios2
mili nek5000 chombo enzo samrai openfoam tecplot plot3d cubit stl ply pixie boxlib amrex
ensight lammps fluent ansys velodyne miranda cosmos gadget h5part fits
mdserver engine engine_ser engine_par viewer gui cli libsim launcher vcl build_visit
xmledit visitconvert expression expressions query queries pick annotation annotations legend
colortable keyframe savewindow session sessionfile movie ospray mesa egl opengl qt python
host-profile hostprofile srun qsub sbatch mpiexec mpirun
ghost zonal nodal multiblock multi-block multimesh material materials amr
""")

# Words that name a symptom: weaker than a product noun, stronger than an ordinary word.
_SYMPTOMS = _words("""
crash crashes crashed crashing segfault segfaults segmentation sigsegv hang hangs hung
hanging freeze freezes frozen freezing deadlock deadlocks abort aborts aborted killed
blank nan leak leaks corrupt corrupted exception traceback
""")


@dataclass(frozen=True, slots=True)
class _Candidate:
    term: str
    score: int
    source: int  # 0: subject, 1: text
    position: int


def key_terms(subject: str, text: str = "", *, list_prefix: str = "",
              ignore: Iterable[str] = (), limit: int = MAX_TERMS) -> tuple[str, ...]:
    """At most `limit` distinctive words of an inquiry, most distinctive first; () when it has
    none. `subject` is the mail's subject as received, `text` its visible text (Markdown escapes
    are read as the characters they stand for), `ignore` words every issue of the product has
    (its name: "visit")."""
    skip = _STOP | {word.casefold() for word in ignore}
    title = issue_title(subject, list_prefix)
    title = "" if title == "(no subject)" else title
    candidates = _candidates(title, 0, skip)
    if text:  # only telling words of the text: it is full of ordinary ones
        candidates += _candidates(_opening(text), 1, skip, min_score=2)
    ranked = sorted(candidates, key=lambda c: (c.source, -c.score, c.position))
    terms: list[str] = []
    seen: set[str] = set()
    for candidate in ranked:
        key = _stem(candidate.term.casefold())
        if key in seen:
            continue  # said already, alone or as part of a compound ("block" after "multi-block")
        seen.add(key)
        seen.update(_stem(part) for part in _PARTS.split(candidate.term.casefold()))
        terms.append(candidate.term)
        if len(terms) == limit:
            break
    return tuple(terms)


def _opening(text: str) -> str:
    """The first lines of `text` with something in them, at most TEXT_CHARS characters."""
    text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    lines = [line for line in text.splitlines() if any(ch.isalnum() for ch in line)]
    return "\n".join(lines[:TEXT_LINES])[:TEXT_CHARS]


def _candidates(text: str, source: int, skip: frozenset[str],
                min_score: int = 1) -> list[_Candidate]:
    text = _TAG.sub(" ", text)
    for pattern in (_URL, _ADDRESS, _PATH):
        text = pattern.sub(" ", text)
    found = []
    for position, match in enumerate(_WORD.finditer(text)):
        word = match.group(0)
        if word.endswith(("'s", "\u2019s")):
            word = word[:-2]
        folded = word.casefold()
        if (len(word) < 2 or folded in skip or _NUMBER.fullmatch(word)
                or _HASH.fullmatch(word) or _PARTS.split(folded, 1)[0] in skip):
            continue  # "visit-users", "visit-nightly": the product's name in front
        technical = _TECHNICAL.search(word) is not None
        if folded in _PRODUCT or _stem(folded) in _PRODUCT:
            score = 3
        elif technical or folded in _SYMPTOMS:
            score = 2
        elif len(word) < 3 or min_score > 1:
            continue  # "ok", "xy": too short to mean anything alone
        else:
            score = 1
        found.append(_Candidate(_spelling(word, keep=score == 3 or technical), score, source,
                                position))
    return found


def _spelling(word: str, *, keep: bool) -> str:
    """A word capitalised only because it starts a sentence or a title is written in lower
    case; names keep theirs ("Silo", "HDF5", "SaveWindow")."""
    if keep:
        return word
    return word.lower() if word[:1].isupper() and word[1:].islower() else word


def _stem(folded: str) -> str:
    """A plural as its singular, for comparing words (GitHub's search stems plurals itself)."""
    if len(folded) > 4 and folded.endswith("ies"):
        return folded[:-3] + "y"
    if len(folded) > 4 and folded.endswith(("ches", "shes", "sses", "xes")):
        return folded[:-2]
    if len(folded) > 3 and folded.endswith("s") and not folded.endswith("ss"):
        return folded[:-1]
    return folded
