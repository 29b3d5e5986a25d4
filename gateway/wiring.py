"""Translate a validated Config into the settings values each component takes.

The composition root and the CLI commands call these; components never see Config itself.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.body import BodySettings
from gateway.config import Config
from gateway.decide import DecideSettings
from gateway.errors import ConfigError
from gateway.inbound.classify import ClassifyRules
from gateway.pipeline import AssigneeFor, PipelineSettings


def display_timezone(config: Config) -> ZoneInfo:
    name = str(config.raw.business.get("timezone", "America/Los_Angeles"))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "business.timezone",
            f"unknown time zone {name!r}",
            "use an IANA name such as America/Los_Angeles",
            source=config.source,
        ) from None


def pipeline_settings(config: Config) -> PipelineSettings:
    inbound = config.inbound
    classify = ClassifyRules(
        own_addresses=frozenset({config.mail.from_address}),
        own_message_id_domain=config.mail.message_id_domain,
        loop_header=config.mail.loop_header,
        loop_id=config.loop_id,
        ignore_precedence=frozenset(p.lower() for p in inbound.ignore_precedence),
        ignore_senders=frozenset(s.lower() for s in inbound.ignore_senders),
        github_reply_by_email_is_posted=inbound.github_reply_by_email == "ignore",
    )
    decide = DecideSettings(
        labels=config.github.labels,
        list_prefix=config.list.subject_prefix,
        footer_markers=config.list.footer_markers,
        body=BodySettings(
            show_full_address=inbound.show_full_address,
            max_chars=inbound.max_body_chars,
            display_tz=display_timezone(config),
        ),
    )
    return PipelineSettings(
        list_address=config.list.address,
        repository=config.github.repository,
        max_message_bytes=inbound.max_message_bytes,
        classify=classify,
        decide=decide,
    )


def assignee_function(config: Config) -> AssigneeFor:
    """Who gets a new issue that arrived at a given instant (the Primary on duty then)."""
    return lambda _arrival: None
