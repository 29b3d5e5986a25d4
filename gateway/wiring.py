"""Translate a validated Config into the settings values each component takes.

The composition root and the CLI commands call these; components never see Config itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from dataclasses import replace

from gateway.config.loader import Config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.load import Duties, load_duties
from gateway.duty.schedule import Schedule, assignee_at_arrival
from gateway.inbound.attachments import AttachmentSettings
from gateway.inbound.body import BodySettings
from gateway.inbound.classify import ClassifyRules
from gateway.inbound.decide import DecideSettings
from gateway.inbound.pipeline import PipelineSettings
from gateway.outbound.attachment_repo import file_url
from gateway.outbound.signed_links import link as signed_link
from gateway.store.db import Store
from gateway.weekly.delegation import ScheduleReader

LINK_SECRET_KEY = "attachments.link_secret"


def pipeline_settings(config: Config, duties: Duties | None = None, *,
                      attachments: AttachmentSettings | None = None) -> PipelineSettings:
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
        attachments=attachments or AttachmentSettings(),
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


def attachments_stored(config: Config) -> bool:
    """Whether attachments are stored at all: a store is chosen and, for a repository, named."""
    section = config.raw.attachments
    return section.store == "local" or (section.store == "repository"
                                        and bool(section.repository))


def attachment_settings(config: Config, *, target_private: bool | None,
                        secret: bytes | None = None) -> AttachmentSettings:
    """How attachments are stored and linked. Images are shown inline only from a private
    repository store into a private target (`target_private`, as GitHub said at start; None,
    unknown, counts as public). The local store's links are signed with `secret`."""
    section = config.raw.attachments
    listed = AttachmentSettings(store="none", max_file_bytes=section.max_file_bytes,
                                max_message_bytes=section.max_message_bytes)
    if not attachments_stored(config):
        return listed
    if section.store == "local":
        if not secret:
            raise ValueError("the local attachment store needs its link secret")
        base, days = section.public_url, section.link_days

        def signed(path: str, now: dt.datetime) -> str:
            return signed_link(base, path, int((now + dt.timedelta(days=days)).timestamp()),
                               secret)

        return replace(
            listed, store="local", link=signed,
            where=f"private to the team: each link works for {days} days from this post")
    web, repository, branch = config.github.web_url, section.repository, section.branch

    def page(path: str, _now: dt.datetime) -> str:
        return file_url(web, repository, branch, path)

    def image(path: str, now: dt.datetime) -> str:
        return page(path, now) + "?raw=true"

    return replace(
        listed, store="repository", link=page, image_link=image if target_private else None,
        where=f"private to the team: the links open for people who can read `{repository}`",
        destination=(("repository", repository), ("branch", branch)))


def link_secret(store: Store, now: dt.datetime) -> bytes:
    """The key the local store's links are signed with: made at first use and kept in the
    database, so every instance sharing it signs alike and a restart keeps links working."""
    with store.tx() as tx:
        value = tx.get_value(LINK_SECRET_KEY)
        if value is None:
            value = secrets.token_hex(32)
            tx.put_value(LINK_SECRET_KEY, value, now=now)
    return bytes.fromhex(value)


class Assignee:
    """Who gets a new issue that arrived at a given instant (see `assignee_function`); with a
    store, `batch()` lets one read of the delegations serve a batch of calls."""

    def __init__(self, calendar: BusinessCalendar, schedule: Schedule | None,
                 store: Store | None) -> None:
        self.calendar = calendar
        self.reader = ScheduleReader(store, schedule) if (
            store is not None and schedule is not None) else None
        self.schedule = schedule

    def __call__(self, arrival: dt.datetime) -> str | None:
        if self.schedule is None:
            return None
        opening = self.calendar.next_opening(arrival)
        schedule = self.reader(opening) if self.reader is not None else self.schedule
        person = assignee_at_arrival(arrival, self.calendar, schedule)
        return person.github if person is not None else None

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return self.reader.batch() if self.reader is not None else contextlib.nullcontext()


def assignee_function(config: Config, duties: Duties | None = None,
                      store: Store | None = None) -> Assignee:
    """Who gets a new issue that arrived at a given instant: the Primary on duty at the
    inquiry's first business opening, by GitHub login (None without a schedule). With a
    `store`, the Primary's delegations recorded in it count, read at each call (or once per
    `batch()`)."""
    duties = duties or load_duties(config)
    return Assignee(duties.calendar, duties.schedule, store)
