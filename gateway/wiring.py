"""Translate a validated Config into the settings values each component takes.

The composition root and the CLI commands call these; components never see Config itself.
"""

from __future__ import annotations

import datetime as dt

from gateway.config.loader import Config
from gateway.duty.load import Duties, load_duties
from gateway.duty.schedule import assignee_at_arrival
from gateway.inbound.body import BodySettings
from gateway.inbound.classify import ClassifyRules
from gateway.inbound.decide import DecideSettings
from gateway.inbound.pipeline import AssigneeFor, PipelineSettings
from gateway.store.db import Store
from gateway.weekly.delegation import schedule_reader


def pipeline_settings(config: Config, duties: Duties | None = None) -> PipelineSettings:
    duties = duties or load_duties(config)
    inbound = config.inbound
    classify = ClassifyRules(
        own_addresses=frozenset({config.mail.from_address}),
        own_message_id_domain=config.mail.message_id_domain,
        loop_header=config.mail.loop_header,
        loop_id=config.loop_id,
        ignore_precedence=frozenset(p.lower() for p in inbound.ignore_precedence),
        ignore_senders=frozenset(s.lower() for s in inbound.ignore_senders),
        github_reply_by_email_is_posted=inbound.github_reply_by_email == "ignore",
        list_prefix=config.list.subject_prefix,
    )
    gh = config.github
    decide = DecideSettings(
        labels=gh.discussion_labels if gh.target == "discussions" else gh.labels,
        list_prefix=config.list.subject_prefix,
        footer_markers=config.list.footer_markers,
        target=config.github.target,
        product_repository=config.raw.process.product_repository,
        known_issue_matches=config.raw.process.known_issue_matches,
        body=BodySettings(
            show_full_address=inbound.show_full_address,
            max_chars=inbound.max_body_chars,
            display_tz=duties.calendar.tz,
        ),
    )
    schedule = duties.schedule
    team = {p.email.lower(): p.github for p in schedule.people} if schedule else {}
    return PipelineSettings(
        team_logins=team,
        list_address=config.list.address,
        repository=config.github.repository,
        discussions_repository=gh.discussions_repository if gh.discussion_category else None,
        max_message_bytes=inbound.max_message_bytes,
        classify=classify,
        decide=decide,
    )


def assignee_function(config: Config, duties: Duties | None = None,
                      store: Store | None = None) -> AssigneeFor:
    """Who gets a new issue that arrived at a given instant: the Primary on duty at the
    inquiry's first business opening, by GitHub login (None without a schedule). With a
    `store`, the Primary's delegations recorded in it count, read at each call."""
    duties = duties or load_duties(config)
    calendar, schedule = duties.calendar, duties.schedule
    if schedule is None:
        return lambda _arrival: None
    base = schedule
    schedule_for = schedule_reader(store, base) if store is not None else lambda _t: base

    def assignee(arrival: dt.datetime) -> str | None:
        person = assignee_at_arrival(arrival, calendar,
                                     schedule_for(calendar.next_opening(arrival)))
        return person.github if person is not None else None

    return assignee
