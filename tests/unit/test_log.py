"""Logs are JSON lines off a terminal, with the stable event name and bound context."""

from __future__ import annotations

import io
import json

import structlog

from gateway.log import configure


def test_json_lines_off_a_tty() -> None:
    stream = io.StringIO()
    configure("info", "auto", stream=stream)
    structlog.get_logger("t").bind(key="mid:<a@b>").info("mail.classified", verdict="new")
    structlog.get_logger("t").debug("hidden.debug")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "mail.classified" and event["key"] == "mid:<a@b>"
    assert event["level"] == "info" and event["timestamp"].endswith("Z")


def test_console_format_when_asked() -> None:
    stream = io.StringIO()
    configure("info", "console", stream=stream)
    structlog.get_logger("t").warning("mail.quarantined", reason="too-large")
    text = stream.getvalue()
    assert "mail.quarantined" in text and "reason=too-large" in text
    assert not text.lstrip().startswith("{")
