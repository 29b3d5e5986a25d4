"""`app.one_failure`: components that fail together still stop the daemon with one clear error."""

from __future__ import annotations

from gateway.app import FatalError, one_failure
from gateway.errors import ConfigError, PermanentError, TransientError
from gateway.inbound.imap import ImapAuthError


def test_a_refused_login_beside_another_permanent_error_is_one_fatal_error() -> None:
    group = ExceptionGroup("components", [
        PermanentError("GitHub: 404 repository not found"),
        ExceptionGroup("imap", [ImapAuthError("imap 127.0.0.1:143 refused the login",
                                              "check imap.username and the password in X")]),
    ])
    failure = one_failure(group)
    assert isinstance(failure, FatalError)
    assert str(failure) == ("imap 127.0.0.1:143 refused the login (fix: check imap.username "
                            "and the password in X)")


def test_a_config_error_wins_and_is_kept_as_it_is() -> None:
    config = ConfigError("imap.password", "no IMAP password is configured", "set it")
    failure = one_failure(ExceptionGroup("x", [ImapAuthError("refused"), config]))
    assert failure is config


def test_a_permanent_error_becomes_fatal_and_anything_else_stays_the_group() -> None:
    failure = one_failure(ExceptionGroup("x", [PermanentError("missing repository")]))
    assert isinstance(failure, FatalError) and str(failure) == "missing repository"
    group = ExceptionGroup("x", [TransientError("flaky"), ValueError("bug")])
    assert one_failure(group) is group
