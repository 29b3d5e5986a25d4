"""The rows a new inquiry queues for the known-issue lookup, in both targets: the lookup after
the rows that make the thread, and what shows the matches queued by its success (`then`): the
notice in discussions mode, a comment of its own for the Primary otherwise (only when
something matched). Off without a product repository or with known_issue_matches = 0."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from gateway.config.loader import Config
from gateway.inbound import outbox_rows
from gateway.inbound.pipeline import NoticeFor, Pipeline
from gateway.models import CreateIssue, KnownIssueLookup
from gateway.outbound import outbox
from gateway.outbound.outbox import Outbox, OutboxItem, then_rows
from gateway.store.db import Store
from gateway.store.values import OutboxRow
from gateway.weekly.commands import fill
from gateway.wiring import pipeline_settings
from tests.unit.mail import raw

NOW = dt.datetime(2026, 3, 5, 18, 30, tzinfo=dt.UTC)
PRODUCT = "visit-dav/visit"
NOTICE = ("**Primary:** @cyrush\n\nThis inquiry arrived by email.\n\n{{gateway:matches}}\n\n"
          "<sub>x</sub>\n")
SILO = raw({"Message-ID": "<silo@univ.edu>", "Subject": "[visit-users] Crash opening a Silo file"},
           "VisIt crashes when I open my Silo file.\n")


def test_the_protocol_agrees_with_the_outbox() -> None:
    """inbound may not import outbound: the two spell the follow-up protocol the same."""
    assert outbox_rows.THEN == outbox.THEN
    assert fill("matches") == outbox_rows.MATCHES
    assert outbox_rows.LOOKUP_KIND in outbox.GITHUB_KINDS
    assert outbox_rows.LOOKUP_KIND not in outbox.MARKED_KINDS  # a read: nothing to find again
    assert outbox_rows.LOOKUP_KIND not in outbox.NEEDS_ISSUE  # it searches another repository


def pipeline_for(store: Store, config: Config, *, target: str, product: str = PRODUCT,
                 matches: int = 3, notice: NoticeFor | None = None) -> Pipeline:
    settings = pipeline_settings(config)
    decide = dataclasses.replace(settings.decide, target=target, product_repository=product,
                                 known_issue_matches=matches,
                                 labels=("SRE",) if target == "discussions" else ("cr",))
    return Pipeline(store, dataclasses.replace(settings, decide=decide), lambda _t: "cyrush",
                    notice_for=notice)


def queued(store: Store, config: Config, message: bytes = SILO, **kwargs: object) -> list[
        OutboxItem]:
    pipeline = pipeline_for(store, config, **kwargs)  # type: ignore[arg-type]
    pipeline.process(pipeline.ingest(message, received_at=NOW).key, now=NOW)
    return Outbox(store).open_items()


def test_issues_mode_looks_up_after_the_issue_and_comments_only_on_matches(
        store: Store, example_config: Config) -> None:
    issue, lookup = queued(store, example_config, target="issues")
    assert (issue.kind, lookup.kind) == ("create_issue", "lookup_known_issues")
    assert lookup.key == f"lookup:{issue.thread_id}" and lookup.thread_id == issue.thread_id
    assert lookup.message_key is None
    [then] = lookup.payload.pop("then")
    assert lookup.payload == {"repository": PRODUCT, "terms": ["Silo", "crash", "opening"],
                              "limit": 3}
    assert then["key"] == f"known:{issue.thread_id}" and then["kind"] == "add_comment"
    assert then["unless_empty"] == "matches"
    assert then["payload"]["body"].startswith("@cyrush {{gateway:matches}}\n\n<sub>")
    assert "not mailed to the customer" in then["payload"]["body"]


def test_discussions_mode_queues_the_notice_after_the_lookup(store: Store,
                                                             example_config: Config) -> None:
    rows = queued(store, example_config, target="discussions", notice=lambda _t: NOTICE)
    assert [r.kind for r in rows] == ["create_discussion", "label_discussion",
                                      "lookup_known_issues"]
    [then] = rows[-1].payload["then"]
    thread = rows[0].thread_id
    assert then == {"key": f"notice:{thread}", "kind": "add_comment",
                    "payload": {"body": NOTICE, "role": "notice"}}  # always: no unless_empty


def test_a_notice_without_a_place_for_matches_gets_them_at_the_end(
        store: Store, example_config: Config) -> None:
    """An admin's notice.md that predates known_issues."""
    rows = queued(store, example_config, target="discussions", notice=lambda _t: "Primary.\n")
    [then] = rows[-1].payload["then"]
    assert then["payload"]["body"] == "Primary.\n\n{{gateway:matches}}\n"


def test_discussions_without_a_notice_get_a_comment_mentioning_nobody(
        store: Store, example_config: Config) -> None:
    rows = queued(store, example_config, target="discussions", notice=None)
    [then] = rows[-1].payload["then"]
    assert then["key"].startswith("known:") and then["unless_empty"] == "matches"
    assert then["payload"]["body"].startswith("{{gateway:matches}}")


@pytest.mark.parametrize(("product", "matches"), [("", 3), (PRODUCT, 0)])
def test_off_queues_what_it_did_before(store: Store, example_config: Config, product: str,
                                       matches: int) -> None:
    rows = queued(store, example_config, target="discussions", product=product,
                  matches=matches, notice=lambda _t: NOTICE)
    assert [r.kind for r in rows] == ["create_discussion", "label_discussion", "add_comment"]
    assert rows[-1].key.startswith("notice:")
    assert "{{gateway" not in rows[-1].payload["body"]  # the place for matches is gone
    assert rows[-1].payload["body"] == NOTICE.replace("{{gateway:matches}}", "")


@pytest.mark.parametrize(("product", "matches"), [("", 3), (PRODUCT, 0)])
def test_off_in_issues_mode_is_one_row(store: Store, example_config: Config, product: str,
                                       matches: int) -> None:
    [row] = queued(store, example_config, target="issues", product=product, matches=matches)
    assert row.kind == "create_issue"


def test_an_inquiry_with_nothing_to_search_for_is_not_looked_up(store: Store,
                                                                 example_config: Config) -> None:
    message = raw({"Message-ID": "<q@univ.edu>", "Subject": "[visit-users] Question"},
                  "Hello, can you help me?\n")
    rows = queued(store, example_config, message, target="discussions",
                  notice=lambda _t: NOTICE)
    assert [r.kind for r in rows] == ["create_discussion", "label_discussion", "add_comment"]
    assert "{{gateway" not in rows[-1].payload["body"]


def test_a_reply_is_never_looked_up(store: Store, example_config: Config) -> None:
    pipeline = pipeline_for(store, example_config, target="issues")
    pipeline.process(pipeline.ingest(SILO, received_at=NOW).key, now=NOW)
    reply = raw({"Message-ID": "<r@lab.gov>", "In-Reply-To": "<silo@univ.edu>",
                 "Subject": "Re: [visit-users] Crash opening a Silo file"}, "Same here.\n")
    pipeline.process(pipeline.ingest(reply, received_at=NOW).key, now=NOW)
    assert [r.kind for r in Outbox(store).open_items()] == [
        "create_issue", "lookup_known_issues", "add_comment"]


def lookup_item(action: CreateIssue) -> tuple[OutboxRow, OutboxItem]:
    rows = outbox_rows.outbox_rows(action)
    row = rows[-1]
    return row, OutboxItem(id=3, key=row.key, kind=row.kind, thread_id=row.thread_id,
                           message_key=None, payload=row.payload, status="sending", attempts=1,
                           next_attempt_at=None, created_at=NOW, last_error=None,
                           issue_number=12)


ACTION = CreateIssue(thread_id="th-1", message_key="mid:<silo@univ.edu>", title="t", body="b",
                     assignee="cyrush", labels=(),
                     lookup=KnownIssueLookup(PRODUCT, ("Silo",), 3))


def test_the_lookups_success_fills_in_the_matches() -> None:
    _row, item = lookup_item(ACTION)
    [comment] = then_rows(item, {"matches": "**Possibly related** - x", "numbers": [1]})
    assert comment.kind == "add_comment" and comment.thread_id == "th-1"
    assert comment.payload["body"].startswith("@cyrush **Possibly related** - x\n\n<sub>")
    assert then_rows(item, {"matches": "", "numbers": []}) == []  # nothing found: no comment

    notice = dataclasses.replace(ACTION, target="discussions", notice=NOTICE)
    _row, item = lookup_item(notice)
    [shown] = then_rows(item, {"matches": "", "numbers": []})  # the notice comes regardless
    assert shown.key == "notice:th-1" and "{{gateway" not in shown.payload["body"]


def test_only_a_login_is_mentioned() -> None:
    _row, item = lookup_item(dataclasses.replace(ACTION, assignee="not a login!"))
    assert item.payload["then"][0]["payload"]["body"].startswith("{{gateway:matches}}")
    _row, item = lookup_item(dataclasses.replace(ACTION, assignee=None))
    assert item.payload["then"][0]["payload"]["body"].startswith("{{gateway:matches}}")
