"""Attachments end to end (issue 17): the daemon as a subprocess, Dovecot, the GitHub emulator
over HTTP (its Git Data API is the private attachment repository), aiosmtpd for acks.

A mail with a PNG, a log file and a 30 MB file becomes an issue (and, in discussions mode, a
discussion) whose body links the first two and says why the third is not stored; a reply's
attachment is linked from its comment; each message's files are one commit in the private
repository, readable with a teammate's token and with no one else's. With the local store the
links are signed and served by the daemon's own web server: good until they expire (the daemon
restarted on a clock past the expiry), refused when tampered with. `/publish` copies one file to
the public branch and links it once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from gateway.inbound.attachment_names import storage_path
from gateway.outbound.attachment_repo import AttachmentRepository
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator

from ..daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    WEBHOOK_SECRET,
    Daemon,
    commit_messages,
    free_port,
    served_github,
    setup_discussions,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration

ATTACH = "visit-dav/visit-attachments"  # private: the team's attachment store
MB = 1024 * 1024
LIST = "visit-users@elist.ornl.gov"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


LOG = ("".join(f"visit: engine step {i}: ok\n" for i in range(2000))).encode()
BIG = os.urandom(30 * MB)  # over the 25 MB default per file


def mail(message_id: str, text: str, files: list[tuple[str, str, bytes]], *,
         subject: str = "[visit-users] Pseudocolor plot is blank",
         in_reply_to: str | None = None, sender: str = "Jane Roe <jane.roe@univ.edu>") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = LIST
    message["Subject"] = subject
    message["Date"] = "Tue, 3 Mar 2026 09:14:00 -0800"
    message["Message-ID"] = message_id
    message["List-Id"] = "VisIt Users <visit-users.elist.ornl.gov>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    for name, content_type, data in files:
        main, sub = content_type.split("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return message.as_bytes()


QUESTION = mail("<att-q@univ.edu>", "The plot is blank; screenshot, log and data attached.",
                [("screenshot.png", "image/png", png()), ("visit.log", "text/plain", LOG),
                 ("big-data.silo", "application/octet-stream", BIG)])
REPLY = mail("<att-r@univ.edu>", "Here is the engine log from the server too.",
             [("engine log.txt", "text/plain", b"engine: out of memory\n" * 100)],
             subject="Re: [visit-users] Pseudocolor plot is blank",
             in_reply_to="<att-q@univ.edu>")


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    def world(emu: Emulator) -> None:
        emu.add_repo(ATTACH, private=True)
        emu.add_collaborator(ATTACH, BOT, "write")
        emu.add_collaborator(ATTACH, "cyrush", "read")

    with served_github(17, world) as served:
        yield served


def start(tmp_path: Path, dovecot: DovecotServer, url: str, token: str, *,
          github_extra: str = "", attachments: str = "", port: int | None = None,
          clock_at: dt.datetime | None = None, database: str = "") -> Daemon:
    port = port or free_port()
    extra = f"\n[attachments]\n{attachments or f'repository = {ATTACH!r}'}\n"
    config = write_config(tmp_path, dovecot, url, web_port=port, extra=extra,
                          github_extra=github_extra, database=database)
    daemon = Daemon(config, token=token, password=dovecot.password,
                    log=tmp_path / "daemon.log")
    daemon.start(clock_at=clock_at)
    wait_for(lambda: '"web.listening"' in daemon.output(), 30, "the web server", daemon)
    return daemon


def repository(url: str, token: str, name: str = ATTACH,
               branch: str = "main") -> AttachmentRepository:
    return AttachmentRepository(api_url=url, repository=name, token=token, timeout=10,
                                branch=branch)


def linked_paths(body: str) -> list[str]:
    """The attachment repository paths a body links to, in order."""
    found = re.findall(rf"\(https://github\.com/{ATTACH}/blob/main/([^)?\s]+)\)", body)
    return [unquote(p) for p in found]


def test_a_mail_with_attachments_becomes_an_issue_that_links_them(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str],
        database: str) -> None:
    emu, url, token = emulator
    daemon = start(tmp_path, dovecot, url, token, database=database)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 60, "the issue", daemon)
        [issue] = emu.issues(REPO)
        dovecot.append("INBOX", REPLY)
        wait_for(lambda: len(emu.comments(REPO, issue.number)) == 1, 30, "the reply", daemon)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    q_key, r_key = "mid:<att-q@univ.edu>", "mid:<att-r@univ.edu>"
    shot, log = storage_path(q_key, 0, "screenshot.png"), storage_path(q_key, 1, "visit.log")
    assert linked_paths(issue.body) == [shot, log]
    assert "`big-data.silo` (application/octet-stream, 30.0 MB): not stored: over the 25.0 MB " \
           "limit per file" in issue.body
    # The issue's repository is private, as the store is: the screenshot is shown inline.
    assert re.findall(r"!\[attachment 1\]\((\S+)\)", issue.body) == [
        f"https://github.com/{ATTACH}/blob/main/{shot}?raw=true"]
    [comment] = emu.comments(REPO, issue.number)
    engine = storage_path(r_key, 0, "engine log.txt")
    assert linked_paths(comment.body) == [engine]

    # The files, byte for byte, for a teammate; nothing for anyone else.
    teammate = repository(url, emu.add_token("cyrush"))
    stranger = repository(url, emu.add_token("mallory"))
    try:
        assert teammate.read(shot) == png() and teammate.read(log) == LOG
        assert teammate.read(engine) == b"engine: out of memory\n" * 100
        from gateway.outbound.github import RepositoryNotFound
        with pytest.raises(RepositoryNotFound):
            stranger.read(shot)
    finally:
        teammate.close()
        stranger.close()
    # One commit per message after the repository's first (its README, made by the first
    # store: the repository was empty), each file stored once.
    history = commit_messages(url, token, ATTACH)
    assert len(history) == 3
    assert sum("Attachments of one message" in m for m in history[:-1]) == 2
    assert "Traceback" not in daemon.output()


def test_in_discussions_mode_the_discussion_links_them(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    setup_discussions(emu)
    with emu.store.lock:
        emu.add_repo(REPO).private = False  # a public target: no image inline
    daemon = start(tmp_path, dovecot, url, token, github_extra=DISCUSSIONS)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.discussions(REPO)) == 1, 60, "the discussion", daemon)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [discussion] = emu.discussions(REPO)
    q_key = "mid:<att-q@univ.edu>"
    assert linked_paths(discussion.body) == [storage_path(q_key, 0, "screenshot.png"),
                                             storage_path(q_key, 1, "visit.log")]
    assert "not stored: over the 25.0 MB limit per file" in discussion.body
    assert "![" not in discussion.body  # readers of a public page could not see it


def _get(link: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(link, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_local_store_links_work_until_they_expire_and_not_when_tampered_with(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    port = free_port()
    local = (f'store = "local"\ndirectory = "{tmp_path / "files"}"\n'
             f'public_url = "http://127.0.0.1:{port}"\nlink_days = 2')
    monday = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    daemon = start(tmp_path, dovecot, url, token, attachments=local, port=port,
                   clock_at=monday)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 60, "the issue", daemon)
        [issue] = emu.issues(REPO)
        links = re.findall(r"\((http://127\.0\.0\.1:\d+/attachments/[^)\s]+)\)", issue.body)
        assert len(links) == 2
        assert _get(links[0]) == (200, png())
        assert _get(links[1]) == (200, LOG)
        tampered = links[1].replace("visit.log", "visit.lo%67")  # the same name, quoted
        assert _get(tampered)[0] == 200  # …is the same path: still good
        other = links[1].replace("1-visit.log", "0-screenshot.png")
        assert _get(other)[0] == 403
        expires = int(re.search(r"expires=(\d+)", links[0]).group(1))  # type: ignore[union-attr]
        assert _get(links[0].replace(f"expires={expires}", f"expires={expires + 86400}"))[0] \
            == 403
        assert daemon.stop() == 0
        # Three days later the links have expired.
        daemon.start(clock_at=monday + dt.timedelta(days=3))
        wait_for(lambda: daemon.output().count('"web.listening"') == 2, 30, "the restart",
                 daemon)
        status, body = _get(links[0])
        assert (status, json.loads(body)) == (410, {"error": "this link has expired"})
        assert daemon.stop() == 0
    finally:
        daemon.close()
    stored = sorted(p.relative_to(tmp_path / "files").as_posix()
                    for p in (tmp_path / "files").rglob("*")
                    if p.is_file() and not p.relative_to(tmp_path / "files").as_posix()
                    .startswith("."))
    q_key = "mid:<att-q@univ.edu>"
    assert stored == sorted([storage_path(q_key, 0, "screenshot.png"),
                             storage_path(q_key, 1, "visit.log")])


def test_publish_copies_one_file_to_the_public_branch_and_links_it_once(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    port = free_port()
    emu.add_webhook(f"http://127.0.0.1:{port}/webhook", WEBHOOK_SECRET)
    daemon = start(tmp_path, dovecot, url, token, port=port)
    try:
        dovecot.append("INBOX", QUESTION)
        wait_for(lambda: len(emu.issues(REPO)) == 1, 60, "the issue", daemon)
        [issue] = emu.issues(REPO)
        emu.comment(REPO, issue.number, "The customer agreed.\n\n/publish screenshot.png",
                    user="cyrush")

        def announced() -> bool:
            return any("Published by" in c.body for c in emu.comments(REPO, issue.number))

        wait_for(announced, 30, "the published file's comment", daemon)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [note] = [c for c in emu.comments(REPO, issue.number) if "Published by" in c.body]
    shot = storage_path("mid:<att-q@univ.edu>", 0, "screenshot.png")
    public = f"published/{shot}"
    assert f"/{REPO}/blob/visit-gateway-attachments/{public}" in note.body.replace("%20", " ")
    assert "`cyrush`" in note.body and "@cyrush" not in note.body
    published = repository(url, token, REPO, "visit-gateway-attachments")
    try:
        assert published.read(public) == png()
    finally:
        published.close()
    history = commit_messages(url, token, REPO, "visit-gateway-attachments")
    assert len(history) == 2  # the empty repository's README, then the file
    assert "Publish one attachment" in history[0]
