"""Translate a validated Config into the settings values each component takes.

The composition root and the CLI commands call these; components never see Config itself.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from dataclasses import dataclass

from gateway.body import BodySettings
from gateway.business_config import calendar_from_mapping
from gateway.businesstime import BusinessCalendar
from gateway.config import Config
from gateway.decide import DecideSettings
from gateway.errors import ConfigError
from gateway.inbound.classify import ClassifyRules
from gateway.pipeline import AssigneeFor, PipelineSettings
from gateway.schedule import Schedule, assignee_at_arrival
from gateway.schedule_file import load_schedule


def business_calendar(config: Config) -> BusinessCalendar:
    """The `[business]` calendar (time zone, opening hours, holidays)."""
    return calendar_from_mapping(
        config.raw.business, source=config.source, base_dir=config.base_dir
    )


@dataclass(frozen=True, slots=True)
class Duties:
    """The business calendar and the duty schedule, loaded once per process: loading the
    schedule may fetch the team's ICS calendar over the network."""

    calendar: BusinessCalendar
    schedule: Schedule | None


def load_duties(config: Config) -> Duties:
    calendar = business_calendar(config)
    return Duties(calendar, duty_schedule(config, calendar))


def _fetch_calendar(url: str) -> str:
    """Fetch an ICS calendar named by URL in the schedule file (the shared Outlook calendar)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ConfigError(
            "calendar.ics",
            f"cannot fetch {url}: {exc}",
            "check the URL, or export the calendar to a file and name the file",
        ) from None
    return data.decode("utf-8", "replace")


def duty_schedule(config: Config, calendar: BusinessCalendar) -> Schedule | None:
    """The on-call schedule named by `schedule.file`, or None when none is configured."""
    if not config.raw.schedule.file:
        return None
    return load_schedule(
        config.resolve(config.raw.schedule.file), calendar=calendar, fetch_url=_fetch_calendar
    )


def require_schedule(config: Config) -> tuple[BusinessCalendar, Schedule]:
    calendar = business_calendar(config)
    schedule = duty_schedule(config, calendar)
    if schedule is None:
        raise ConfigError(
            "schedule.file",
            "no duty schedule is configured",
            "set schedule.file to a schedule TOML file (see config/schedule.example.toml)",
            source=config.source,
        )
    return calendar, schedule


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
    decide = DecideSettings(
        labels=config.github.labels,
        list_prefix=config.list.subject_prefix,
        footer_markers=config.list.footer_markers,
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
        max_message_bytes=inbound.max_message_bytes,
        classify=classify,
        decide=decide,
    )


def assignee_function(config: Config, duties: Duties | None = None) -> AssigneeFor:
    """Who gets a new issue that arrived at a given instant: the Primary on duty at the
    inquiry's first business opening, by GitHub login (None without a schedule)."""
    duties = duties or load_duties(config)
    calendar, schedule = duties.calendar, duties.schedule
    if schedule is None:
        return lambda _arrival: None

    def assignee(arrival: dt.datetime) -> str | None:
        person = assignee_at_arrival(arrival, calendar, schedule)
        return person.github if person is not None else None

    return assignee
