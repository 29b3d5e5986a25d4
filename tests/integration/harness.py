"""What the tests that drive the writer and the notifier step by step share: the notifier's
context for the example configuration, a GitHub writer on the emulator (issues and, when
asked, discussions in the "Q&A" category with the "SRE" label, as `daemon.setup_discussions`
makes them), and draining it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from gateway.clock import Clock
from gateway.config.loader import Config
from gateway.duty.load import business_calendar, duty_schedule
from gateway.inbound.pipeline import PipelineSettings
from gateway.outbound.discussions import DiscussionTracker
from gateway.outbound.github import GitHubTracker
from gateway.outbound.outbox import Outbox
from gateway.outbound.pacing import WriteBudget
from gateway.outbound.render import Renderer
from gateway.outbound.writer import GitHubWriter
from gateway.store.db import Store
from gateway.weekly.notify import NotifyContext

from .daemon import BOT, REPO

WEB = "https://github.example/" + REPO


def notify_context(config: Config, **overrides: Any) -> NotifyContext:
    """The notifier's context for `config` (the example schedule and templates), with links
    to github.example; `overrides` replace any field."""
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    context = NotifyContext(
        settings=config.raw.notify, calendar=calendar, schedule=schedule,
        renderer=Renderer(calendar), list_address=config.list.address,
        list_prefix=config.list.subject_prefix, issue_url=WEB + "/issues/{number}",
        team_emails=frozenset(p.email for p in schedule.people) if schedule else frozenset(),
        discussion_url=WEB + "/discussions/{number}")
    return replace(context, **overrides)


def in_discussions(settings: PipelineSettings) -> PipelineSettings:
    """The pipeline's settings with new inquiries going to discussions, labelled SRE."""
    return replace(settings, decide=replace(settings.decide, target="discussions",
                                            labels=("SRE",)))


def github_writer(store: Store, clock: Clock, url: str, token: str, *,
                  discussions: bool = False, **options: Any) -> GitHubWriter:
    """The real writer on the emulator at `url`, its pacing off; `options` go to it."""

    def tracker() -> GitHubTracker:
        return GitHubTracker(api_url=url, token=token, repository=REPO, bot_login=BOT,
                             timeout=5, secondary_wait=60)

    def discussion_tracker() -> DiscussionTracker:
        made = DiscussionTracker(api_url=url, token=token, repository=REPO, bot_login=BOT,
                                 timeout=5, secondary_wait=60)
        made.setup("Q&A", ["SRE"])
        return made

    budget = WriteBudget(dt.timedelta(0), 10_000, 10_000)
    options.setdefault("backoff_base", 0.01)
    return GitHubWriter(Outbox(store), tracker, budget, clock,
                        discussions_factory=discussion_tracker if discussions else None,
                        **options)


def drain(writer: GitHubWriter, max_steps: int = 200) -> None:
    """Step the writer until nothing is due now."""
    for _ in range(max_steps):
        if writer.step() is not None:
            return
    raise AssertionError("the outbox did not drain")
