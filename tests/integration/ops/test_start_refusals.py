"""Problems only an admin can fix, met at start: `visit-gateway run` prints one line naming the
key and the fix and exits 78 (EX_CONFIG, the unit's RestartPreventExitStatus=), never a
traceback and exit 1 (systemd would restart it every 10 s); `check-config` reports each as a
FAIL line. Each runs the CLI as a subprocess. No server is needed: GitHub and IMAP point at
closed local ports (unreachable at start is not fatal), so the run gets as far as the problem.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.daemon import REPO, ROOT, free_port

pytestmark = pytest.mark.integration

EX_CONFIG = 78
RUN_TIMEOUT = 30  # seconds; a refused start takes 1-2


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def line(self) -> str:
        """The one line the admin reads (stderr), after checking it is one and no traceback."""
        assert "Traceback" not in self.stdout + self.stderr, self.stdout + self.stderr
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        return lines[0]

    def fail_lines(self) -> list[str]:
        assert "Traceback" not in self.stdout + self.stderr, self.stdout + self.stderr
        return [line for line in self.stdout.splitlines() if line.startswith("FAIL ")]


@dataclass
class Site:
    directory: Path
    env: dict[str, str]
    database: str = ""
    web_port: int = 0
    github: str = ""
    extra: str = ""
    tail: bytes = b""

    def config(self) -> Path:
        path = self.directory / "gateway.toml"
        database = self.database or f'path = "{self.directory / "state.db"}"'
        path.write_text(f"""
[database]
{database}

[imap]
host = "127.0.0.1"
port = {free_port()}
security = "plain"
username = "gateway"
timeout = 2

[github]
{self.github}
repository = "{REPO}"
api_url = "http://127.0.0.1:{free_port()}"

[github.limits]
request_timeout = 2

[schedule]
file = "{ROOT / 'config' / 'schedule.example.toml'}"

[web]
listen = "127.0.0.1"
port = {self.web_port or free_port()}

[log]
format = "json"
{self.extra}
""")
        if self.tail:
            path.write_bytes(path.read_bytes() + self.tail)
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config())]

    def run(self, *args: str, wrap: Sequence[str] = ()) -> Result:
        """Run a command; a daemon still running after RUN_TIMEOUT seconds (retrying what it
        should have refused) is stopped and reported with code -1."""
        try:
            done = subprocess.run([*wrap, *self.command(*args)], capture_output=True,
                                  text=True, env=self.env, cwd=ROOT, timeout=RUN_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            return Result(-1, _text(exc.stdout), _text(exc.stderr))
        return Result(done.returncode, done.stdout, done.stderr)


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


@pytest.fixture
def site(tmp_path: Path) -> Site:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VISIT_GATEWAY_") and k not in ("CREDENTIALS_DIRECTORY",
                                                               "STATE_DIRECTORY")}
    env.update({"VISIT_GATEWAY_GITHUB_TOKEN": "ghp_" + "a" * 36,
                "VISIT_GATEWAY_IMAP_PASSWORD": "imap-password",
                "VISIT_GATEWAY_WEBHOOK_SECRET": "webhook-secret"})
    return Site(tmp_path, env)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


# -- 1. the web port is taken ---------------------------------------------------------------------


def test_web_port_in_use(site: Site, taken_port: int) -> None:
    site.web_port = taken_port
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert f"web.port: 127.0.0.1:{taken_port} is already in use" in result.line
    assert "(fix: " in result.line and "ss -ltnp" in result.line
    [line] = site.run("check-config").fail_lines()
    assert line.startswith(f"FAIL web server can listen on 127.0.0.1:{taken_port}: ")
    assert "already in use" in line and "(fix: " in line


def test_check_config_accepts_the_port_of_the_running_gateway(site: Site) -> None:
    """An admin runs check-config beside the running service: its own port is not a problem."""
    class Healthz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            body = json.dumps({"ok": False, "checks": {"imap": {}, "outbox": {}}}).encode()
            self.send_response(503)  # unhealthy (IMAP down) but it is the gateway
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = int(server.server_address[1])
        site.web_port = port
        result = site.run("check-config")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert result.fail_lines() == [], result.stdout
    assert f"ok   web server can listen on 127.0.0.1:{port} (in use by a running " \
           "visit-gateway" in result.stdout


# -- 2. the database directory is read-only -------------------------------------------------------


def read_only_bind(directory: Path) -> list[str]:
    """A command prefix that runs the rest with `directory` mounted read-only, as the unit's
    ProtectSystem=strict leaves every path outside StateDirectory=. (Tests run as root, to
    whom a chmod'ed directory is still writable; a read-only mount is not.)"""
    unshare = shutil.which("unshare")
    assert unshare, "the read-only database test needs unshare(1): apt-get install util-linux"
    probe = subprocess.run([unshare, "--mount", "true"], capture_output=True, text=True,
                           check=False)
    assert probe.returncode == 0, ("the read-only database test runs as root (CAP_SYS_ADMIN) "
                                   f"to make a private read-only mount: {probe.stderr}")
    script = f'mount --bind -o ro "{directory}" "{directory}" && exec "$@"'
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


@pytest.mark.parametrize("exists", [False, True], ids=["new", "existing"])
def test_database_directory_read_only(site: Site, exists: bool) -> None:
    data = site.directory / "data"
    data.mkdir()
    site.database = f'url = "sqlite:///{data / "state.db"}"'
    if exists:
        assert site.run("db", "upgrade").code == 0
    result = site.run("run", wrap=read_only_bind(data))
    assert result.code == EX_CONFIG, result
    assert f"database.url: {data} is on a read-only file system" in result.line
    assert "(fix: " in result.line
    [line] = site.run("check-config", wrap=read_only_bind(data)).fail_lines()
    assert f"database directory {data} is writable: " in line
    assert "read-only file system" in line and "(fix: " in line


# -- 3. database.path under a regular file --------------------------------------------------------


def test_database_path_under_a_regular_file(site: Site) -> None:
    (site.directory / "a-file").write_text("not a directory\n")
    site.database = f'path = "{site.directory / "a-file" / "state.db"}"'
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert f"database.path: {site.directory / 'a-file'} is a file, not a directory" \
        in result.line
    assert "(fix: " in result.line
    [line] = site.run("check-config").fail_lines()
    assert f"{site.directory / 'a-file'} is a file, not a directory" in line
    result = site.run("db", "upgrade")
    assert result.code == 2 and "database.path" in result.line


# -- 4. an invalid GitHub App private key ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["garbage", "ec-key"])
def test_github_app_private_key_that_does_not_load(site: Site, kind: str) -> None:
    key = site.directory / "app.pem"
    if kind == "garbage":
        key.write_text("-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n"
                       "-----END RSA PRIVATE KEY-----\n")
    else:  # a real key, but GitHub signs App JWTs with RS256 only
        key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    site.github = 'auth = "app"\napp_id = 12\ninstallation_id = 34\nprivate_key_file = "app.pem"'
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert ("github.private_key_file: the GitHub App private key does not load: "
            f"{key} (github.private_key_file) is not ") in result.line
    assert "(fix: " in result.line
    [line] = site.run("check-config").fail_lines()
    assert line.startswith("FAIL GitHub credentials are set: the GitHub App private key does "
                           f"not load: {key}")


# -- 6. a config file that is not UTF-8 -----------------------------------------------------------


def test_config_file_not_utf8(site: Site) -> None:
    site.tail = "# Caf\u00e9 team\n".encode("latin-1")
    path = site.config()
    line_no = path.read_bytes().count(b"\n")
    for command in (["run"], ["db", "current"]):
        result = site.run(*command)
        assert result.code == (EX_CONFIG if command == ["run"] else 2), result
        assert f"config: {path} is not UTF-8 text (line {line_no}" in result.line
        assert "(fix: save it as UTF-8" in result.line
    [line] = site.run("check-config").fail_lines()
    assert f"is not UTF-8 text (line {line_no}" in line


# -- 7. a database driver that is not installed ---------------------------------------------------


def test_database_driver_not_installed(site: Site) -> None:
    # psycopg (3) is a dependency; psycopg2, which a bare postgresql:// URL picks, is not.
    site.database = 'url = "postgresql+psycopg2://gateway:pw@127.0.0.1/gateway"'
    with pytest.raises(ImportError):
        import psycopg2  # noqa: F401  # the test means a driver this venv lacks
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert "database.url: the postgresql+psycopg2 driver (Python module psycopg2) is not " \
           "installed" in result.line
    assert "psycopg2-binary" in result.line
    assert "(fix: " in result.line and "pip install" in result.line
    assert "gateway:pw" not in result.stdout + result.stderr  # the URL's password
    for command in (["db", "current"], ["db", "upgrade"], ["outbox", "list"]):
        result = site.run(*command)
        assert result.code == 2, result
        assert "is not installed" in result.line
    [line] = site.run("check-config").fail_lines()
    assert "database" in line and "is not installed" in line


# -- 8. a GitHub token with a line break or a space -----------------------------------------------


@pytest.mark.parametrize("token", ["ghp_first\nghp_second", "ghp_token with-a-space",
                                   "ghp_tab\there"])
def test_github_token_with_whitespace_inside(site: Site, token: str) -> None:
    token_file = site.directory / "github-token"
    token_file.write_text(token + "\n")
    del site.env["VISIT_GATEWAY_GITHUB_TOKEN"]
    site.github = 'token_file = "github-token"'
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert f"github.token: the token in {token_file} (github.token_file) contains " \
           in result.line
    assert "(fix: " in result.line
    assert "ghp_" not in result.stdout + result.stderr
    [line] = site.run("check-config").fail_lines()
    assert "github.token" in line and "ghp_" not in line


# -- 9. a missing templates_dir -------------------------------------------------------------------


def test_missing_templates_dir_names_the_key(site: Site) -> None:
    site.extra = '[notify]\ntemplates_dir = "no-such-templates"\n'
    result = site.run("run")
    assert result.code == EX_CONFIG, result
    assert (f"notify.templates_dir: {site.directory / 'no-such-templates'} does not exist"
            in result.line)
    [line] = site.run("check-config").fail_lines()
    assert "notify.templates_dir" in line and "(fix: " in line
