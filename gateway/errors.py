"""The exception tree of visit-gateway, and nothing else.

    GatewayError                  base of everything we raise on purpose
    ├── ConfigError               a config/schedule/template value is wrong; names key + fix.
    │                             Fatal at start; `check-config` prints it.
    ├── UsageError                a command-line argument is wrong (a missing PATH, ...).
    ├── FatalError                the daemon cannot run until an admin acts (exit 78).
    ├── TransientError            may heal by itself (network, 5xx, rate limit, lock):
    │   │                         the unit of work is retried later with backoff.
    │   └── RateLimited           GitHub said wait; carries `retry_after` seconds.
    └── PermanentError            retrying cannot help (404 repo, 401 token, bad payload):
        │                         recorded with its reason, never retried blindly.
        └── MessageRejected       one email cannot be processed; it is quarantined.

Adapters translate library exceptions once, at the boundary (`raise TransientError(...) from
exc`); the pipeline catches per unit of work so one bad email never stops the daemon.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for every error visit-gateway raises deliberately."""


class ConfigError(GatewayError):
    """A configuration value is missing or wrong.

    `key` is the dotted path (``imap.port``) or a file location (``schedule.toml:12``); `fix`
    says what to do. ``str()`` gives one line an admin can act on.
    """

    def __init__(self, key: str, problem: str, fix: str = "", *, source: str = "") -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        self.source = source
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        text = f"{where}{self.key}: {self.problem}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class UsageError(GatewayError):
    """A command-line argument is wrong; the message says which and what to pass instead."""


class TransientError(GatewayError):
    """A failure that may heal by itself; retry the unit of work later."""


class RateLimited(TransientError):
    """The remote asked us to wait `retry_after` seconds before writing again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(GatewayError):
    """The daemon cannot run until an admin changes something; the message says what."""


class PermanentError(GatewayError):
    """Retrying will not help; record the reason and stop trying this unit of work."""


class MessageRejected(PermanentError):
    """One email cannot be processed; it is quarantined with `reason` and kept."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
