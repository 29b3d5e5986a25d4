"""structlog setup: JSON lines off a TTY (journald keeps them), a readable console on a TTY.

Event names are stable (`mail.classified`, `github.issue_created`, ...; catalogued in the
README, "Operations").
Callers bind context (message key, UID, delivery id) per unit of work. Bodies, tokens and full
addresses are never passed to a logger, and this module makes sure a bug cannot pass them
either:

- An exception is logged as its type, a message and its frames (file, line, function), never
  the frames' local variables (which hold raw mail and webhook bodies). The message is kept only
  for our own errors (`GatewayError`: we write those texts) and for system errors (`OSError`,
  `sqlite3.Error`: errno and engine texts), cut at 200 characters. Any other message is
  withheld: a `KeyError` or `ValueError` raised by a parser quotes the very value it choked
  on, a header or an address, and SQLAlchemy's messages carry the statement's parameters. The
  frames still say where it happened.
- Python's stdlib logging (mail-parser, aiohttp, asyncio) is routed into the same stream as
  one line per record, warnings and worse only, with the logger's name and never the formatted
  message: mail-parser interpolates header text into its messages. aiohttp's format string
  (`Error handling request from %s`, without the arguments) is kept, since it is a constant.

It must not decide what is logged where (callers do) and must not read config.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import traceback
from collections.abc import Iterator
from typing import Any, TextIO

import structlog

from gateway.errors import GatewayError

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
MESSAGE_LIMIT = 200  # characters of a kept exception message
_CHAIN_LIMIT = 8  # causes/contexts followed per exception
_SAFE_MESSAGES = (GatewayError, OSError, sqlite3.Error)
# Loggers whose format strings are constants worth keeping (their arguments are not kept).
_TEMPLATE_LOGGERS = ("aiohttp",)


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog once per process. `fmt` is auto | json | console."""
    stream = stream or sys.stdout
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=_no_traceback)
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _exception_facts,
    ]
    if use_console:
        processors.append(_exception_text)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging()


# -- exceptions ---------------------------------------------------------------------------------


def exception_summary(exc: BaseException) -> str:
    """`Type: message` for errors whose message is safe to log or store, else just `Type`."""
    message = _safe_message(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def exception_facts(exc: BaseException) -> list[dict[str, Any]]:
    """The exception and its causes, outermost first: type, message as above, frames."""
    facts = []
    for link, is_cause in _chain(exc):
        message = _safe_message(link)
        if message is None:
            message = f"(message withheld: {len(str(link))} characters)"
        facts.append({
            "exc_type": _type_name(link),
            "exc_value": message,
            "is_cause": is_cause,
            "frames": [{"filename": frame.filename, "lineno": frame.lineno, "name": frame.name}
                       for frame in traceback.extract_tb(link.__traceback__)],
        })
    return facts


def _safe_message(exc: BaseException) -> str | None:
    if not isinstance(exc, _SAFE_MESSAGES):
        return None
    text = str(exc)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "..."


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _chain(exc: BaseException) -> Iterator[tuple[BaseException, bool]]:
    """`exc`, then what caused it (`raise ... from`) or was being handled, like a traceback."""
    seen: set[int] = set()
    link: BaseException | None = exc
    is_cause = False
    while link is not None and id(link) not in seen and len(seen) < _CHAIN_LIMIT:
        seen.add(id(link))
        yield link, is_cause
        if link.__cause__ is not None:
            link, is_cause = link.__cause__, True
        elif not link.__suppress_context__:
            link, is_cause = link.__context__, False
        else:
            link = None


def _exception_facts(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: `exc_info` becomes `exception` (facts without locals)."""
    exc_info = event.pop("exc_info", None)
    if not exc_info:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else exc_info[1]
    if exc is not None:
        event["exception"] = exception_facts(exc)
    return event


def _exception_text(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """On a console, the facts as a short traceback (still without locals)."""
    facts = event.pop("exception", None)
    if facts:
        lines = []
        for fact in reversed(facts):
            lines.append("Traceback (most recent call last):")
            lines += [f'  File "{f["filename"]}", line {f["lineno"]}, in {f["name"]}'
                      for f in fact["frames"]]
            lines.append(f'{fact["exc_type"]}: {fact["exc_value"]}')
        event["exception"] = "\n".join(lines)
    return event


def _no_traceback(sio: TextIO, exc_info: Any) -> None:
    """ConsoleRenderer must never format a traceback itself (it would show locals)."""


# -- stdlib logging -----------------------------------------------------------------------------


class _StructlogHandler(logging.Handler):
    """Routes a stdlib record into structlog: event, logger, level, no message text."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.name == "mailparser" or record.name.startswith("mailparser."):
                event = "mail.parser_warning"
            else:
                event = "library.log"
                if record.name.startswith(_TEMPLATE_LOGGERS) and isinstance(record.msg, str):
                    fields["template"] = record.msg[:MESSAGE_LIMIT]
            if record.exc_info and record.exc_info[1] is not None:
                fields["exc_info"] = record.exc_info[1]
            structlog.get_logger(record.name).log(record.levelno, event, **fields)
        except Exception:  # a logging failure must not break the caller
            self.handleError(record)


_HANDLER = _StructlogHandler(level=logging.WARNING)


def _route_stdlib_logging() -> None:
    """One handler on the root logger (replacing Python's stderr fallback), warnings and up."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
