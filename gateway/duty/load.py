"""Load the business calendar and the duty schedule that a configuration names.

The CLI, the composition root and `check-config` call these; the pure modules of this package
never see a Config. Loading the schedule may fetch the team's ICS calendar over the network.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from gateway.config.loader import Config
from gateway.duty.business_config import calendar_from_mapping
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import Schedule
from gateway.duty.schedule_file import load_schedule
from gateway.errors import ConfigError


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
