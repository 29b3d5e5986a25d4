"""Logs are JSON lines off a terminal, with the stable event name and bound context."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from gateway.errors import PermanentError, TransientError
from gateway.log import configure, exception_summary


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


# -- exceptions: type, safe message and frames, never locals ------------------------------------

ADDRESS = "jane.roe.private@univ.edu"
BODY = "Secret project numbers: 4471-ALPHA"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure() changes process-wide state (structlog, the root logger): put it back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _parse_like_a_buggy_parser(raw: bytes) -> None:
    body = BODY  # locals a traceback with show_locals would print
    sender = f"Jane Roe <{ADDRESS}>"
    headers = {"From": sender, "Subject": body}
    raise KeyError(headers["From"].split("<")[1].rstrip(">")) from ValueError(body + raw.decode())


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_an_exception_is_logged_without_locals_or_its_message(restore_logging: None,
                                                              fmt: str) -> None:
    stream = io.StringIO()
    configure("info", fmt, stream=stream)
    try:
        _parse_like_a_buggy_parser(f"To: {ADDRESS}\n\n{BODY}".encode())
    except KeyError:
        structlog.get_logger("t").exception("mail.parse_failed", key="mid:<a@b>")
    text = stream.getvalue()
    for secret in (ADDRESS, "jane.roe", BODY, "4471-ALPHA"):
        assert secret not in text, f"{secret!r} logged"
    assert "mail.parse_failed" in text and "KeyError" in text and "ValueError" in text
    assert "_parse_like_a_buggy_parser" in text  # where it happened is kept
    if fmt == "json":
        [line] = _lines(stream)
        outer, cause = line["exception"]
        assert (outer["exc_type"], cause["exc_type"]) == ("KeyError", "ValueError")
        assert outer["exc_value"] == f"(message withheld: {len(repr(ADDRESS))} characters)"
        assert outer["frames"][-1]["name"] == "_parse_like_a_buggy_parser"
        assert all(set(frame) == {"filename", "lineno", "name"} for frame in outer["frames"])


@pytest.mark.parametrize(("error", "kept"), [
    (TransientError("imap.example.org:993: connection reset"),
     "imap.example.org:993: connection reset"),
    (ConnectionResetError(104, "Connection reset by peer"), "[Errno 104] Connection reset by peer"),
    (sqlite3.OperationalError("database is locked"), "database is locked"),
    (PermanentError("x" * 500), "x" * 200 + "..."),
])
def test_messages_of_our_own_and_system_errors_are_kept(restore_logging: None,
                                                        error: Exception, kept: str) -> None:
    stream = io.StringIO()
    configure("info", "json", stream=stream)
    structlog.get_logger("t").error("imap.round_failed", exc_info=error)
    [line] = _lines(stream)
    assert line["exception"][0]["exc_value"] == kept
    assert exception_summary(error) == f"{type(error).__name__}: {kept}"


def test_an_exception_summary_withholds_other_messages() -> None:
    assert exception_summary(KeyError(ADDRESS)) == "KeyError"
    assert exception_summary(ValueError()) == "ValueError"


# -- stdlib logging (mail-parser, aiohttp, asyncio) goes into the JSON log, without its text ------


def test_mail_parser_warnings_are_one_json_line_without_the_header(
        restore_logging: None, capfd: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure("debug", "json", stream=stream)
    parser_log = logging.getLogger("mailparser.utils")
    parser_log.error(f"Failed decoding header part: {ADDRESS} =?utf-8?b?a?=")
    parser_log.debug(f"Getting header or part {BODY!r}")  # debug chatter is dropped
    [line] = _lines(stream)
    assert (line["event"], line["logger"], line["level"]) == (
        "mail.parser_warning", "mailparser.utils", "error")
    assert ADDRESS not in stream.getvalue() and BODY not in stream.getvalue()
    assert capfd.readouterr().err == ""


def test_aiohttp_errors_are_json_with_the_template_only(
        restore_logging: None, capfd: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure("info", "json", stream=stream)
    try:
        _parse_like_a_buggy_parser(BODY.encode())
    except KeyError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s",
                                                      "203.0.113.9")
    logging.getLogger("asyncio").error(f"Task exception was never retrieved: {ADDRESS}")
    first, second = _lines(stream)
    assert (first["event"], first["logger"], first["template"]) == (
        "library.log", "aiohttp.server", "Error handling request from %s")
    assert first["exception"][0]["exc_type"] == "KeyError"
    assert (second["event"], second["logger"], "template" in second) == (
        "library.log", "asyncio", False)
    text = stream.getvalue()
    assert ADDRESS not in text and BODY not in text and "203.0.113.9" not in text
    assert capfd.readouterr().err == ""


def test_configure_twice_installs_one_stdlib_handler(restore_logging: None) -> None:
    stream = io.StringIO()
    configure("info", "json", stream=io.StringIO())
    configure("info", "json", stream=stream)
    logging.getLogger("mailparser").warning("x")
    assert len(_lines(stream)) == 1
