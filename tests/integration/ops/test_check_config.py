"""`visit-gateway check-config --online` as a subprocess against real servers: a private Dovecot,
the GitHub emulator over HTTP and an aiosmtpd server with AUTH. A good configuration passes
every check (exit 0); each broken setting gives one FAIL line naming the problem and the fix
(exit 1), never a traceback, and no secret is ever printed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator
from tests.integration.daemon import (
    BOT,
    DISCUSSIONS,
    REPO,
    ROOT,
    WEBHOOK_SECRET,
    free_port,
    setup_discussions,
    setup_github,
)
from tests.integration.daemon import write_config as write_daemon_config

pytestmark = pytest.mark.integration

SMTP_USER, SMTP_PASSWORD = "gateway", "smtp-Pa55-word"


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raise AssertionError("check-config must not send mail")


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class SmtpServer(Controller):
    """aiosmtpd on 127.0.0.1, an OS-chosen port, AUTH offered without TLS."""

    def __init__(self) -> None:
        super().__init__(Sink(), hostname="127.0.0.1", port=0, server_hostname="smtp.test",
                         authenticator=authenticate,
                         auth_require_tls=False)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class Setup:
    directory: Path
    dovecot: DovecotServer
    emulator: Emulator
    smtp_port: int
    env: dict[str, str] = field(default_factory=dict)
    imap_port: int | None = None
    imap_user: str | None = None
    schedule: Path | None = None
    github_extra: str = ""

    def write_config(self) -> Path:
        assert self.emulator.base_url is not None
        extra = f"""
[smtp]
host = "127.0.0.1"
port = {self.smtp_port}
security = "plain"
username = "{SMTP_USER}"
timeout = 5
"""
        path = write_daemon_config(self.directory, self.dovecot, self.emulator.base_url,
                                   extra=extra, github_extra=self.github_extra)
        text = path.read_text()
        if self.imap_port is not None:
            text = text.replace(f"port = {self.dovecot.port}\n", f"port = {self.imap_port}\n", 1)
        if self.imap_user is not None:
            text = text.replace(f'username = "{self.dovecot.username}"\n',
                                f'username = "{self.imap_user}"\n', 1)
        if self.schedule is not None:
            example = ROOT / "config" / "schedule.example.toml"
            text = text.replace(f'file = "{example}"', f'file = "{self.schedule}"', 1)
        path.write_text(text)
        return path

    def run(self) -> tuple[int, str]:
        config = self.write_config()
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "check-config", "--online",
             "--config", str(config)],
            capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=60, check=False)
        output = done.stdout + done.stderr
        assert "Traceback" not in output, output
        for secret in self.secrets():
            assert secret not in output, f"a secret was printed:\n{output}"
        return done.returncode, output

    def secrets(self) -> list[str]:
        names = ("GITHUB_TOKEN", "IMAP_PASSWORD", "SMTP_PASSWORD", "WEBHOOK_SECRET")
        found = [self.env.get(f"VISIT_GATEWAY_{name}", "") for name in names]
        return [s for s in found if s]


@pytest.fixture
def setup(tmp_path: Path, dovecot: DovecotServer,
          github_emulator: Emulator) -> Iterator[Setup]:
    token = setup_github(github_emulator)
    smtp = SmtpServer()
    smtp.start()
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VISIT_GATEWAY_") and k != "CREDENTIALS_DIRECTORY"}
        env.update({"VISIT_GATEWAY_GITHUB_TOKEN": token,
                    "VISIT_GATEWAY_IMAP_PASSWORD": dovecot.password,
                    "VISIT_GATEWAY_SMTP_PASSWORD": SMTP_PASSWORD,
                    "VISIT_GATEWAY_WEBHOOK_SECRET": WEBHOOK_SECRET})
        yield Setup(tmp_path, dovecot, github_emulator, smtp.port, env)
    finally:
        smtp.stop()


def fail_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL ")]


def only_failure(output: str, *needles: str) -> str:
    """The one FAIL line; it names the problem (`needles`) and a fix."""
    failures = fail_lines(output)
    assert len(failures) == 1, output
    line = failures[0]
    for needle in needles:
        assert needle in line, output
    assert "(fix: " in line, output
    assert "checks failed" in output.splitlines()[-1], output
    return line


def test_good_configuration_passes_every_check(setup: Setup) -> None:
    code, output = setup.run()
    assert code == 0, output
    lines = output.splitlines()
    assert all(line.startswith("ok   ") for line in lines[:-1]), output
    assert lines[-1].startswith("all ") and "checks passed" in lines[-1], output
    for what in ("parses and validates", "business calendar", "duty schedule", "templates",
                 "database directory", "webhook secret", "IMAP login", "IMAP IDLE (offered",
                 f"can read {REPO}", f"may create issues in {REPO}",
                 "every roster member can be assigned", "SMTP connects"):
        assert what in output, f"no {what!r} line:\n{output}"
    assert not (setup.directory / "state.db").exists()  # the check never creates the database


def test_wrong_imap_password(setup: Setup) -> None:
    setup.env["VISIT_GATEWAY_IMAP_PASSWORD"] = "not-the-password"
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, "IMAP login", "refused",
                 "(fix: check imap.username and the password in $VISIT_GATEWAY_IMAP_PASSWORD)")


def test_a_refused_token_from_a_credential_names_the_credential(setup: Setup) -> None:
    """Under systemd the token is a LoadCredential= file: the fix must send the admin there,
    not to an environment variable the unit never sets."""
    credentials = setup.directory / "credentials"
    credentials.mkdir()
    (credentials / "github-token").write_text("ghp_revoked0000000000000000000000000000\n")
    setup.env["CREDENTIALS_DIRECTORY"] = str(credentials)
    code, output = setup.run()
    assert code == 1, output
    assert "ghp_revoked" not in output
    only_failure(output, f"can read {REPO}", "GitHub rejected the token",
                 "(fix: replace the token in the systemd credential github-token (the file its "
                 "LoadCredential= line names) with a valid one")


def test_a_non_ascii_imap_password_logs_in(setup: Setup) -> None:
    """imaplib's LOGIN cannot send it; the gateway uses AUTHENTICATE PLAIN (UTF-8)."""
    password = "Pässwörd-ü€"
    setup.dovecot.add_user("utf8-user", password)
    setup.imap_user = "utf8-user"
    setup.env["VISIT_GATEWAY_IMAP_PASSWORD"] = password
    code, output = setup.run()
    assert code == 0, output
    assert "ok   IMAP login as 'utf8-user'" in output


def test_unreachable_imap_host(setup: Setup) -> None:
    setup.imap_port = free_port()  # nothing listens there
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, "IMAP login", f"127.0.0.1:{setup.imap_port}", "imap.host")


def test_token_without_access_to_the_repository(setup: Setup) -> None:
    setup.emulator.add_repo("visit-dav/other")
    setup.env["VISIT_GATEWAY_GITHUB_TOKEN"] = setup.emulator.add_token(
        BOT, repos=["visit-dav/other"])
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, f"can read {REPO}", "does not exist or the token cannot see it",
                 "github.repository")


def test_read_only_token_may_not_create_issues(setup: Setup) -> None:
    setup.emulator.add_collaborator(REPO, BOT, "read")
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, f"may create issues in {REPO}", "no push permission",
                 f"give {BOT}")


def test_roster_login_that_cannot_be_assigned(setup: Setup) -> None:
    example = (ROOT / "config" / "schedule.example.toml").read_text()
    assert 'github = "cyrush"' in example
    setup.schedule = setup.directory / "schedule.toml"  # the rotation names people by login
    setup.schedule.write_text(example.replace('"cyrush"', '"not-a-member"'))
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, "every roster member can be assigned", "not-a-member",
                 "collaborator")


def test_wrong_smtp_password(setup: Setup) -> None:
    setup.env["VISIT_GATEWAY_SMTP_PASSWORD"] = "not-the-smtp-password"
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, "SMTP connects", "refused",
                 "the password in $VISIT_GATEWAY_SMTP_PASSWORD")


def test_missing_webhook_secret(setup: Setup) -> None:
    del setup.env["VISIT_GATEWAY_WEBHOOK_SECRET"]
    code, output = setup.run()
    assert code == 1, output
    only_failure(output, "webhook secret", "no webhook secret is configured",
                 "VISIT_GATEWAY_WEBHOOK_SECRET")


def test_discussions_mode_checks_the_category_labels_and_permission(setup: Setup) -> None:
    setup_discussions(setup.emulator)
    setup.github_extra = DISCUSSIONS
    code, output = setup.run()
    assert code == 0, output
    for what in (f"ok   Discussions category 'Q&A' in {REPO} (answerable",
                 f"ok   discussion labels exist in {REPO} (SRE)",
                 f"ok   GitHub token may create discussions, comments and labels in {REPO} "
                 "(write permission)"):
        assert what in output, f"no {what!r} line:\n{output}"


def test_a_category_that_is_not_answerable_passes_and_says_so(setup: Setup) -> None:
    setup_discussions(setup.emulator)
    setup.github_extra = DISCUSSIONS.replace('"Q&A"', '"Ideas"')
    code, output = setup.run()
    assert code == 0, output
    assert "resolved only when its discussion is closed" in output


@pytest.mark.parametrize(("problem", "needles"), [
    ("unknown category", ("has no discussion category 'Help'", "'Q&A'", "'Ideas'",
                          "github.discussion_category")),
    ("missing label", ("has no label 'SRE'", "github.discussion_labels")),
    ("discussions off", ("Discussions are turned off", "github.discussion_repository")),
    ("read-only token", ("read permission: labels will be refused", f"give {BOT}")),
])
def test_discussions_mode_names_what_is_wrong(setup: Setup, problem: str,
                                              needles: tuple[str, ...]) -> None:
    emu = setup.emulator
    emu.enable_discussions(REPO)
    emu.add_discussion_category(REPO, "Q&A")
    emu.add_discussion_category(REPO, "Ideas")
    if problem != "missing label":
        emu.add_label(REPO, "SRE")
    if problem == "discussions off":
        emu.enable_discussions(REPO, False)
    setup.github_extra = DISCUSSIONS
    if problem == "unknown category":
        setup.github_extra = DISCUSSIONS.replace('"Q&A"', '"Help"')
    if problem == "read-only token":
        emu.add_collaborator(REPO, BOT, "read")
    code, output = setup.run()
    assert code == 1, output
    if problem == "read-only token":  # issues need push too: two lines, both naming the fix
        line = next(x for x in fail_lines(output) if "discussions" in x)
        assert all(n in line for n in needles) and "(fix: " in line, output
    else:
        only_failure(output, *needles)
