"""Reconcile against the emulator over HTTP: missed comments, closes and reopens are applied;
applying them again changes nothing; the cursor follows GitHub's timestamps."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.duty.businesstime import BusinessCalendar
from gateway.outbound.github import GitHubTracker
from gateway.store.db import Store
from gateway.store.schema import threads
from gateway.testing.github_emulator import Emulator
from gateway.tracking.reconcile import Reconciler
from gateway.tracking.rules import Rules
from gateway.tracking.service import TrackingService

from ..daemon import BOT, REPO, setup_github

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def parts(store: Store) -> Iterator[tuple[Emulator, Reconciler, ManualClock]]:
    clock = ManualClock(T0)
    emu = Emulator(seed=2, clock=clock)
    token = setup_github(emu)
    with emu.serve() as url:
        tracker = GitHubTracker(api_url=url, token=token, repository=REPO, bot_login=BOT,
                                timeout=5, secondary_wait=60)
        service = TrackingService(store, Rules(BOT, frozenset({"cyrush", "biagas"})),
                                  BusinessCalendar(), REPO)
        yield emu, Reconciler(service, tracker, clock, repository=REPO, interval=60,
                              first_lookback=dt.timedelta(days=3)), clock
        tracker.close()


def state(store: Store, number: int) -> tuple[str, str | None, int]:
    with store.read() as tx:
        row = tx.conn.execute(sa.select(threads).where(threads.c.issue_number == number)).one()
    return row.state, row.first_response_by, row.reopened_count


def test_missed_comment_close_and_reopen(parts: tuple[Emulator, Reconciler, ManualClock],
                                         store: Store) -> None:
    emu, reconciler, clock = parts
    emu.add_user("customer1")
    issue = emu.create_issue(REPO, "Phone call: TACC client/server", "Written up", user="biagas")
    clock.advance(dt.timedelta(minutes=30))
    emu.comment(REPO, issue.number, "Customer: thanks", user="customer1")
    clock.advance(dt.timedelta(minutes=30))
    emu.comment(REPO, issue.number, "Fixed the host profile.", user="cyrush")
    assert reconciler.once() == {"comments": 2, "issues": 0}
    assert state(store, issue.number) == ("open", "cyrush", 0)
    assert reconciler.once() == {"comments": 0, "issues": 0}  # nothing twice
    emu.close_issue(REPO, issue.number, user="cyrush")
    clock.advance(dt.timedelta(minutes=5))
    assert reconciler.once()["issues"] == 1
    assert state(store, issue.number)[0] == "closed"
    emu.edit_issue(REPO, issue.number, user="biagas", state="open")
    clock.advance(dt.timedelta(minutes=5))
    assert reconciler.once()["issues"] == 1
    assert state(store, issue.number) == ("open", "cyrush", 1)


def labels_and_assignee(store: Store, number: int) -> tuple[list[str], str | None]:
    with store.read() as tx:
        row = tx.conn.execute(sa.select(threads).where(threads.c.issue_number == number)).one()
    return json.loads(row.labels or "[]"), row.assignee


def test_missed_label_and_assignee_changes(parts: tuple[Emulator, Reconciler, ManualClock],
                                           store: Store) -> None:
    """Missed labeled/assigned webhooks (or a restored database that predates them): the
    report's label breakdown and the handoff's keep label read these."""
    emu, reconciler, clock = parts
    emu.add_label(REPO, "handoff:keep")
    issue = emu.create_issue(REPO, "Phone call: plugin build", "Written up", user="biagas")
    emu.comment(REPO, issue.number, "Called back.", user="biagas")
    reconciler.once()  # its comment adopts the issue: no labels, nobody assigned
    assert labels_and_assignee(store, issue.number) == ([], None)
    clock.advance(dt.timedelta(minutes=10))
    emu.edit_issue(REPO, issue.number, user="biagas", labels=["handoff:keep"],
                   assignees=["cyrush"])
    assert reconciler.once() == {"comments": 0, "issues": 2}
    assert labels_and_assignee(store, issue.number) == (["handoff:keep"], "cyrush")
    assert reconciler.once() == {"comments": 0, "issues": 0}  # nothing twice
    emu.edit_issue(REPO, issue.number, user="biagas", labels=[], assignees=[])
    assert reconciler.once()["issues"] == 2
    assert labels_and_assignee(store, issue.number) == ([], None)
