"""Commands in team comments, end to end: the daemon as a subprocess, Dovecot, the GitHub
emulator over HTTP with signed webhooks.

`/promote` in issues mode opens exactly one issue in the product repository, links it on the
inquiry and closes the inquiry as completed, even when the daemon is SIGKILLed after the product
issue exists and before the link comment is recorded. `/answer` in a discussion, written in a
reply, adds a top-level comment linking that reply and marks it as the answer, which resolves
the inquiry."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator, FaultKind
from tests.unit.mail import raw

from ..daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    WEBHOOK_SECRET,
    Daemon,
    free_port,
    served_github,
    setup_discussions,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration

PRODUCT = "visit-dav/visit"
QUESTION = raw({"Message-ID": "<cmd-q@univ.edu>",
                "Subject": "[visit-users] Silo reader crashes on 4.11 files"},
               "VisIt 3.4.1 crashes when it opens a Silo 4.11 file.\n")


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    def world(emu: Emulator) -> None:
        emu.add_repo(PRODUCT)
        emu.add_collaborator(PRODUCT, BOT, "write")
        emu.add_user("jane-roe")
        emu.add_collaborator(REPO, "jane-roe", "read")

    with served_github(23, world) as served:
        yield served


def start(tmp_path: Path, dovecot: DovecotServer, emu: Emulator, url: str, token: str,
          github_extra: str = "") -> Daemon:
    port = free_port()
    emu.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
    extra = f'\n[process]\nproduct_repository = "{PRODUCT}"\npromote_labels = ["from-users"]\n'
    config = write_config(tmp_path, dovecot, url, web_port=port, extra=extra,
                          github_extra=github_extra)
    daemon = Daemon(config, token=token, password=dovecot.password,
                    log=tmp_path / "daemon.log")
    daemon.start()
    wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server", daemon)
    return daemon


def test_promote_opens_one_product_issue_across_a_sigkill(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    daemon = start(tmp_path, dovecot, emu, url, token)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 30, "the inquiry", daemon)
        [inquiry] = emu.issues(REPO)
        # The link comment's POST hangs: the daemon is killed with the product issue made
        # and the link not yet recorded.
        emu.inject_fault(FaultKind.LATENCY, method="POST",
                         path="/repos/{owner}/{repo}/issues/{issue_number}/comments",
                         delay=5.0, times=1)
        command = emu.comment(REPO, inquiry.number,
                              "/promote\nThe Silo reader crashes on Silo 4.11 files.",
                              user="cyrush")
        wait_for(lambda: len(emu.issues(PRODUCT)) == 1, 30, "the product issue", daemon)
        time.sleep(0.5)
        daemon.kill()
        emu.clear_faults()
        daemon.start()

        def closed() -> bool:
            return emu.issue(REPO, inquiry.number).state == "closed"

        wait_for(closed, 40, "the inquiry closed as promoted", daemon)
        time.sleep(1.0)  # anything twice would show now
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [product] = emu.issues(PRODUCT)
    assert product.title == "Silo reader crashes on 4.11 files"
    assert product.body.startswith("The Silo reader crashes on Silo 4.11 files.")
    assert f"/{REPO}/issues/{inquiry.number}" in product.body
    assert product.labels == ["from-users"] and product.user == BOT
    links = [c for c in emu.comments(REPO, inquiry.number)
             if c.user == BOT and "Promoted to product development" in c.body]
    assert len(links) == 1 and f"/{PRODUCT}/issues/{product.number}" in links[0].body
    closed_issue = emu.issue(REPO, inquiry.number)
    assert closed_issue.state_reason == "completed" and "promoted" in closed_issue.labels
    assert [r.content for r in emu.reactions(REPO, command.id)] == ["+1"]
    assert "Traceback" not in daemon.output()


def test_answer_in_a_reply_links_it_and_resolves_the_discussion(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    setup_discussions(emu)
    daemon = start(tmp_path, dovecot, emu, url, token, github_extra=DISCUSSIONS)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.discussions(REPO)) == 1
                 and len(emu.discussion_comments(REPO)) == 1, 30, "the discussion", daemon)
        [discussion] = emu.discussions(REPO)
        question = emu.discussion_comment(REPO, discussion.number, "Is it every 4.11 file?",
                                          user="jane-roe")
        answer = emu.discussion_comment(REPO, discussion.number,
                                        "Fixed in 3.4.2: please upgrade.\n\n/answer",
                                        user="cyrush", reply_to=question.id)

        def resolved() -> bool:
            return emu.discussion(REPO, discussion.number).answer_id is not None

        wait_for(resolved, 30, "the answer marked", daemon)
        db = tmp_path / "state.db"
        wait_for(lambda: _state(db, discussion.number) == "closed", 20,
                 "the inquiry resolved", daemon)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    chosen = emu.discussion(REPO, discussion.number).answer_id
    [linking] = [c for c in emu.discussion_comments(REPO, discussion.number) if c.id == chosen]
    assert linking.user == BOT and linking.reply_to is None
    assert re.search(rf"discussions/{discussion.number}#discussioncomment-{answer.id}\)",
                     linking.body)
    assert "Traceback" not in daemon.output()


def _state(db: Path, number: int) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT state FROM threads WHERE target = 'discussions' AND "
                           "issue_number = ?", (number,)).fetchone()
    return None if row is None else str(row[0])


def test_promote_in_discussions_mode_answers_with_the_link_across_a_sigkill(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    setup_discussions(emu)
    daemon = start(tmp_path, dovecot, emu, url, token, github_extra=DISCUSSIONS)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.discussions(REPO)) == 1
                 and len(emu.discussion_comments(REPO)) == 1, 30, "the discussion", daemon)
        [discussion] = emu.discussions(REPO)
        # The link comment's mutation hangs: killed with the product issue made.
        emu.inject_fault(FaultKind.LATENCY, method="POST", path="/graphql",
                         operation="AddDiscussionComment", delay=5.0, times=1)
        emu.discussion_comment(REPO, discussion.number, "/promote visit-dav/visit\nSilo 4.11 "
                               "files crash the reader.", user="cyrush")
        wait_for(lambda: len(emu.issues(PRODUCT)) == 1, 30, "the product issue", daemon)
        time.sleep(0.5)
        daemon.kill()
        emu.clear_faults()
        daemon.start()

        def answered() -> bool:
            return emu.discussion(REPO, discussion.number).answer_id is not None

        wait_for(answered, 40, "the discussion answered by the link", daemon)
        time.sleep(1.0)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [product] = emu.issues(PRODUCT)
    assert product.body.startswith("Silo 4.11 files crash the reader.")
    assert f"/{REPO}/discussions/{discussion.number}" in product.body
    links = [c for c in emu.discussion_comments(REPO, discussion.number)
             if "Promoted to product development" in c.body]
    assert len(links) == 1 and f"/{PRODUCT}/issues/{product.number}" in links[0].body
    assert emu.discussion(REPO, discussion.number).answer_id == links[0].id
    assert "Traceback" not in daemon.output()
