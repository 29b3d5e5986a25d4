"""The email corpus, table-driven: fixtures/emails/cases.toml gives each .eml its expected
verdict, reason, thread, sender, title and body assertions. Each case replays its `after`
files first in a fresh state, then itself, through the real pipeline."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from gateway.inbound.pipeline import Pipeline
from gateway.models import AddComment, CreateIssue, Outcome

from ...conftest import FIXTURES, NOW

CASES: list[dict[str, Any]] = tomllib.loads((FIXTURES / "cases.toml").read_text("utf-8"))["case"]


def _replay(pipeline: Pipeline, name: str) -> Outcome:
    ingested = pipeline.ingest((FIXTURES / name).read_bytes(), received_at=NOW)
    if ingested.status == "duplicate":
        return pipeline.duplicate_outcome(ingested)
    return pipeline.process(ingested.key, now=NOW)


def test_every_fixture_has_exactly_one_case() -> None:
    files = sorted(p.name for p in FIXTURES.glob("*.eml"))
    named = sorted(case["file"] for case in CASES)
    assert named == files
    assert len(files) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["file"].removesuffix(".eml") for c in CASES])
def test_fixture(case: dict[str, Any], pipeline: Pipeline) -> None:
    earlier = {name: _replay(pipeline, name) for name in case.get("after", [])}
    outcome = _replay(pipeline, case["file"])
    assert (outcome.verdict.kind.value, outcome.verdict.reason) == (
        case["verdict"], case["reason"]), outcome.verdict.detail
    if case.get("thread_of"):
        assert outcome.thread_id == earlier[case["thread_of"]].thread_id
    if case.get("sender"):
        assert outcome.sender == case["sender"]
    writes = [a for a in outcome.actions if isinstance(a, CreateIssue | AddComment)]
    if case["verdict"] == "new":
        assert len(writes) == 1 and isinstance(writes[0], CreateIssue)
        if case.get("title"):
            assert writes[0].title == case["title"]
        assert writes[0].assignee == "primary-login"
        assert writes[0].labels == ("customer-response",)
    elif case["verdict"] == "reply":
        assert len(writes) == 1 and isinstance(writes[0], AddComment)
    else:
        assert writes == []
        return
    body = writes[0].body
    visible, _, collapsed = body.partition("<details>")
    assert len(body) <= 65_536
    assert body.rstrip().endswith("-->")  # the hidden marker closes every body
    for text in case.get("body_contains", []):
        assert text in body, f"{text!r} missing from body:\n{body}"
    for text in case.get("body_lacks", []):
        assert text not in visible, f"{text!r} should not be visible:\n{visible}"
    for text in case.get("quoted_contains", []):
        assert text in collapsed, f"{text!r} not in the collapsed part:\n{collapsed}"
    outside_code = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", visible, flags=re.S))
    assert not re.search(r"(?<![\w`.-])@[A-Za-z0-9]", outside_code), "a live @mention survived"
