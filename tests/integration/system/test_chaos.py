"""Chaos: mail keeps arriving while `visit-gateway run` is SIGKILLed at random moments and the
GitHub emulator fails writes before and after applying them, drops connections and adds
latency. At the end: exactly one issue per thread, one comment per reply, in arrival order,
nothing missing, nothing twice. A third of the messages carry attachments, stored in the private
attachment repository through the Git Data API with every fault kind on its writes: each file
stored once with its bytes (one commit per message), linked once from its message's body. The
same in discussions mode, with every GraphQL fault kind on every mutation and on the reads that
find a write again: one labelled discussion per thread, one notice naming the Primary, then one
comment per reply in order.

The discussions-mode run is in test_chaos_discussions.py (a module of its own, so the two runs
go to different test workers). Size: CHAOS_THREADS (default 70 threads -> 70 questions, ~200
replies and ~45 mails to ignore, >300 messages) and CHAOS_KILLS (default 12) environment
variables: set them to run it larger.
"""

from __future__ import annotations

import base64
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from gateway.inbound.attachment_names import storage_path
from gateway.inbound.thread import marker
from gateway.outbound.attachment_repo import AttachmentRepository
from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator, FaultKind
from tests.unit.mail import raw

from ..daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    Daemon,
    commit_messages,
    served_github,
    setup_discussions,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

ISSUES = "/repos/{owner}/{repo}/issues"
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"


@dataclass
class Plan:
    """The mail to send, in arrival order, and what GitHub must end up holding."""

    messages: list[bytes] = field(default_factory=list)
    threads: dict[str, list[str]] = field(default_factory=dict)  # title -> reply texts in order
    ignored: int = 0
    files: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  # key -> attached


ATTACH = "visit-dav/visit-attachments"
GIT = "/repos/{owner}/{repo}/git"


def with_files(message: bytes, key: str, rng: random.Random, plan: Plan) -> bytes:
    """`message` with one or two small attachments (a third of the time), recorded in `plan`."""
    if rng.random() >= 0.33:
        return message
    head, _, body = message.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n")
                         if not line.lower().startswith(b"content-type"))
    boundary = f"chaos-{rng.randrange(10**9)}"
    files = [(f"file {n} of {key[5:-1]}.{rng.choice(['log', 'txt', 'bin'])}",
              rng.randbytes(rng.randint(1, 4000))) for n in range(rng.randint(1, 2))]
    parts = [f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".encode() + body]
    for name, data in files:
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        parts.append(f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n".encode() + encoded)
    plan.files[key] = files
    return (head + f"\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
            .encode() + b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode())


def make_plan(n_threads: int, seed: int) -> Plan:
    """Questions and replies interleaved across a few active threads, plus auto-replies."""
    rng = random.Random(seed)
    plan = Plan()
    wanted = {t: rng.randint(1, 5) for t in range(n_threads)}
    sent: dict[int, int] = {}
    last_id: dict[int, str] = {}
    waiting = list(range(n_threads))
    active: list[int] = []
    while waiting or active:
        if waiting and (not active or (len(active) < 6 and rng.random() < 0.4)):
            t = waiting.pop(0)
            title = f"Chaos question {t:03d}"
            last_id[t] = f"<chaos-{t}@univ.edu>"
            plan.messages.append(with_files(raw({"Message-ID": last_id[t],
                                                 "Subject": f"[visit-users] {title}",
                                                 "From": f"User {t} <user{t}@univ.edu>"},
                                                f"Question body {t}.\n"),
                                            f"mid:{last_id[t]}", rng, plan))
            plan.threads[title] = []
            sent[t] = 0
            active.append(t)
        else:
            t = rng.choice(active)
            k = sent[t]
            title = f"Chaos question {t:03d}"
            mid = f"<chaos-{t}-r{k}@lab.gov>"
            text = f"Reply {k} to chaos question {t:03d}."
            plan.messages.append(with_files(
                raw({"Message-ID": mid, "Subject": f"Re: [visit-users] {title}",
                     "From": f"Helper {k} <helper{k}@lab.gov>", "In-Reply-To": last_id[t],
                     "References": f"<chaos-{t}@univ.edu> {last_id[t]}"},
                    f"{text}\n\n> quoted earlier text\n"),
                f"mid:{mid}", rng, plan))
            plan.threads[title].append(text)
            last_id[t] = mid
            sent[t] = k + 1
            if sent[t] >= wanted[t]:
                active.remove(t)
        if rng.random() < 0.15:
            n = len(plan.messages)
            plan.messages.append(raw({"Message-ID": f"<auto-{n}@univ.edu>",
                                      "Auto-Submitted": "auto-replied",
                                      "Subject": "Automatic reply: [visit-users] away"},
                                     "I am away.\n"))
            plan.ignored += 1
    return plan


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str, str]]:
    def world(emu: Emulator) -> None:
        emu.add_repo(ATTACH, private=True)
        emu.add_collaborator(ATTACH, BOT, "write")

    with served_github(11, world) as served:
        yield served


def _chaos(tmp_path: Path, dovecot: DovecotServer, emu: Emulator, url: str, token: str,
           *, discussions: bool) -> None:
    seed = int(os.environ.get("CHAOS_SEED", "20261124"))
    plan = make_plan(int(os.environ.get("CHAOS_THREADS", "70")), seed)
    kills = int(os.environ.get("CHAOS_KILLS", "12"))
    replies = sum(len(r) for r in plan.threads.values())
    assert len(plan.messages) >= 300 or os.environ.get("CHAOS_THREADS")
    rng = random.Random(seed)
    if discussions:
        setup_discussions(emu)
        inject_graphql_faults(emu)
    else:
        for kind, path, probability in (
            (FaultKind.ERROR_BEFORE_WRITE, ISSUES, 0.05),
            (FaultKind.ERROR_AFTER_WRITE, ISSUES, 0.08),
            (FaultKind.DROP_AFTER_WRITE, ISSUES, 0.05),
            (FaultKind.DROP_BEFORE_WRITE, ISSUES, 0.03),
            (FaultKind.ERROR_BEFORE_WRITE, COMMENTS, 0.05),
            (FaultKind.ERROR_AFTER_WRITE, COMMENTS, 0.08),
            (FaultKind.DROP_AFTER_WRITE, COMMENTS, 0.05),
            (FaultKind.DROP_BEFORE_WRITE, COMMENTS, 0.03),
        ):
            emu.inject_fault(kind, method="POST", path=path, times=None, probability=probability)
    inject_git_faults(emu)
    emu.inject_fault(FaultKind.LATENCY, times=None, probability=0.1, delay=0.02, delay_max=0.3)

    # request_timeout 2 s: rows a killed daemon left `sending` wait 4 s (twice it) before
    # their marker lookup, not 10: twelve restarts cost less of the suite's time.
    config = write_config(tmp_path, dovecot, url, poll_interval=1.0, request_timeout=2.0,
                          github_extra=DISCUSSIONS if discussions else "",
                          extra=f'\n[attachments]\nrepository = "{ATTACH}"\n')
    daemon = Daemon(config, token=token, password=dovecot.password, log=tmp_path / "daemon.log")

    def feed() -> None:
        feeder_rng = random.Random(seed + 1)
        for message in plan.messages:
            dovecot.append("INBOX", message)
            time.sleep(feeder_rng.uniform(0.0, 0.02))

    def made() -> int:
        return len(emu.discussions(REPO)) if discussions else len(emu.issues(REPO))

    def commented() -> int:
        if discussions:  # each discussion also has its notice
            return len(emu.discussion_comments(REPO)) - len(emu.discussions(REPO))
        return len(emu.comments(REPO))

    feeder = threading.Thread(target=feed, name="chaos-feeder")
    started = time.monotonic()
    try:
        daemon.start()
        feeder.start()
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 2.5))
            daemon.kill()
            daemon.start()
        feeder.join(timeout=120)
        what = "discussions" if discussions else "issues"
        wait_for(lambda: made() >= len(plan.threads) and commented() >= replies, 240,
                 f"{len(plan.threads)} {what} and {replies} comments", daemon)
        time.sleep(2.0)  # a duplicate, if any, would appear now
        assert daemon.stop() == 0
    finally:
        daemon.close()
        if feeder.is_alive():
            feeder.join(timeout=30)

    by_title: dict[str, list[int]] = {}
    made_by = emu.discussions(REPO) if discussions else emu.issues(REPO)
    for thread in made_by:
        by_title.setdefault(thread.title, []).append(thread.number)
    duplicated = {t: n for t, n in by_title.items() if len(n) > 1}
    assert not duplicated, f"duplicate {'discussions' if discussions else 'issues'}: {duplicated}"
    assert set(by_title) == set(plan.threads), "missing or unexpected threads"
    for title, expected in plan.threads.items():
        [number] = by_title[title]
        if discussions:
            assert emu.discussion(REPO, number).labels == ["SRE"], title
            bodies = [c.body for c in emu.discussion_comments(REPO, number)]
            assert bodies and bodies[0].startswith("**Primary:**"), f"{title}: no notice first"
            assert sum(b.startswith("**Primary:**") for b in bodies) == 1, f"{title}: notices"
            bodies = bodies[1:]
        else:
            bodies = [c.body for c in emu.comments(REPO, number)]
        got = [re.search(r"Reply \d+ to chaos question \d+\.", b).group(0)  # type: ignore[union-attr]
               for b in bodies]
        assert got == expected, f"{title}: comments {got} != {expected}"
    check_attachments(plan, emu, url, token, discussions=discussions)
    fired = emu.faults_fired
    print(f"chaos ({'discussions' if discussions else 'issues'}): {len(plan.messages)} messages "
          f"({len(plan.threads)} threads, {replies} replies, {plan.ignored} ignored), "
          f"{daemon.starts - 1} SIGKILLs, {len(fired)} faults fired, "
          f"{sum(len(f) for f in plan.files.values())} attachments, "
          f"{time.monotonic() - started:.1f}s")
    assert daemon.starts - 1 >= 10
    kinds = {f.kind for f in fired}
    assert kinds >= {FaultKind.ERROR_AFTER_WRITE, FaultKind.DROP_AFTER_WRITE}
    if discussions:
        assert kinds >= set(FaultKind), f"fault kinds that never fired: {set(FaultKind) - kinds}"


def inject_git_faults(emu: Emulator) -> None:
    """Every fault kind on every Git Data write the attachment store makes."""
    for kind, probability in ((FaultKind.ERROR_BEFORE_WRITE, 0.04),
                              (FaultKind.ERROR_AFTER_WRITE, 0.06),
                              (FaultKind.DROP_BEFORE_WRITE, 0.03),
                              (FaultKind.DROP_AFTER_WRITE, 0.05)):
        for method, path in (("POST", GIT + "/blobs"), ("POST", GIT + "/trees"),
                             ("POST", GIT + "/commits"), ("PATCH", GIT + "/refs/{ref}")):
            emu.inject_fault(kind, method=method, path=path, times=None,
                             probability=probability)


def check_attachments(plan: Plan, emu: Emulator, url: str, token: str, *,
                      discussions: bool) -> None:
    """Every attached file stored once at its path with its bytes, nothing else stored, one
    commit per message, and each linked exactly once, from its own message's body."""
    assert len(plan.files) >= 30, "too few messages with attachments to mean anything"
    expected = {storage_path(key, n, name): data
                for key, files in plan.files.items() for n, (name, data) in enumerate(files)}
    store = AttachmentRepository(api_url=url, repository=ATTACH, token=token, timeout=10)
    try:
        present = store.existing(list(expected))
        assert set(present) == set(expected), "attachments missing"
        everything = store.existing([*expected, "README.md"])
        for path, data in expected.items():
            assert store.read(path) == data, f"{path}: other bytes"
    finally:
        store.close()
    assert set(everything) - {"README.md"} == set(expected)
    # One commit per message with files (after the README the first store made).
    history = commit_messages(url, token, ATTACH)[:-1]
    markers = [marker(f"attachments:{key}") for key in plan.files]
    assert sorted(m for h in history for m in markers if m in h) == sorted(markers)
    assert len(history) == len(plan.files), "a message's files in more than one commit"
    git_faults = {f.kind for f in emu.faults_fired if "/git/" in f.path}
    assert git_faults >= {FaultKind.ERROR_AFTER_WRITE, FaultKind.DROP_AFTER_WRITE}
    bodies = ([d.body for d in emu.discussions(REPO)] + [c.body for c in
              emu.discussion_comments(REPO)]) if discussions else (
        [i.body for i in emu.issues(REPO)] + [c.body for c in emu.comments(REPO)])
    text = "\n".join(bodies)
    for path in expected:
        quoted = quote(path)
        assert text.count(f"/{ATTACH}/blob/main/{quoted})") == 1, f"{path}: not linked once"


# GraphQL operations the writer sends, and the reads that find a write again after an unclear
# outcome (a fault there leaves the row to look again later, never to re-send blind).
MUTATIONS = ("CreateDiscussion", "AddLabels", "AddDiscussionComment")
LOOKUPS = ("RecentDiscussions", "DiscussionComments")


def inject_graphql_faults(emu: Emulator) -> None:
    for operation in MUTATIONS:
        for kind, probability in (
            (FaultKind.ERROR_BEFORE_WRITE, 0.04), (FaultKind.ERROR_AFTER_WRITE, 0.06),
            (FaultKind.DROP_BEFORE_WRITE, 0.03), (FaultKind.DROP_AFTER_WRITE, 0.05),
            (FaultKind.GRAPHQL_ERROR_BEFORE_WRITE, 0.03),
            (FaultKind.GRAPHQL_ERROR_AFTER_WRITE, 0.05),
        ):
            emu.inject_fault(kind, method="POST", path="/graphql", operation=operation,
                             times=None, probability=probability)
    for operation in LOOKUPS:
        for kind in (FaultKind.ERROR_BEFORE_WRITE, FaultKind.DROP_BEFORE_WRITE,
                     FaultKind.GRAPHQL_ERROR_BEFORE_WRITE):
            emu.inject_fault(kind, method="POST", path="/graphql", operation=operation,
                             times=None, probability=0.1)


def test_chaos_kill9_and_github_faults_lose_and_duplicate_nothing(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    _chaos(tmp_path, dovecot, emu, url, token, discussions=False)
