"""`app.one_failure`: components that fail together still stop the daemon with one clear error."""

from __future__ import annotations

import errno
import socket

import pytest

from gateway.app import one_failure
from gateway.errors import ConfigError, FatalError, PermanentError, TransientError
from gateway.inbound.imap import ImapAuthError
from gateway.web.listen import listen_error


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


@pytest.mark.parametrize(("error", "key", "words"), [
    (OSError(errno.EADDRINUSE, "address already in use"), "web.port", "already in use"),
    (OSError(errno.EACCES, "permission denied"), "web.port", "no permission to listen"),
    (OSError(errno.EADDRNOTAVAIL, "cannot assign"), "web.listen", "not an address of this host"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "web.listen",
     "not an address of this host"),
])
def test_a_socket_the_web_server_cannot_bind_names_the_key(error: OSError, key: str,
                                                           words: str) -> None:
    """The daemon meets these at bind time, after the rest has started: exit 78, not a
    traceback (the OSError is translated once, in app.run)."""
    failure = listen_error("gateway.example", 8787, error)
    assert isinstance(failure, ConfigError)
    assert failure.key == key and words in failure.problem and failure.fix
