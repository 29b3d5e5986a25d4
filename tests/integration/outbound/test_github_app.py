"""GitHub App authentication against the emulator: a JWT signed with the App's private key buys
an installation token, issues are created as `<slug>[bot]`, and an expired installation token
is replaced before it is used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.clock import ManualClock
from gateway.config.loader import parse_config
from gateway.errors import ConfigError
from gateway.inbound.thread import marker
from gateway.ops.checks import check_github_credentials
from gateway.outbound.github import GitHubTracker
from gateway.testing.github_emulator import Emulator

pytestmark = pytest.mark.integration
REPO = "visit-dav/live-customer-response"
BOT = "visit-gateway[bot]"


def app_world(tmp_path: Path, emu: Emulator) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "app.pem").write_bytes(pem)
    emu.add_repo(REPO)
    emu.add_app(4242, slug="visit-gateway", owner="visit-dav", public_key_pem=public.decode())
    emu.add_installation(99, 4242, "visit-dav", repos=[REPO])
    return tmp_path / "app.pem"


def config_text(url: str, pem: Path) -> str:
    return (f'[github]\nrepository = "{REPO}"\napi_url = "{url}"\nbot_login = "{BOT}"\n'
            f'auth = "app"\napp_id = 4242\ninstallation_id = 99\nprivate_key_file = "{pem}"\n')


def test_app_installation_creates_issues_as_the_bot(tmp_path: Path) -> None:
    emu = Emulator(seed=1)
    pem = app_world(tmp_path, emu)
    with emu.serve() as url:
        config = parse_config(config_text(url, pem), source="t.toml", base_dir=tmp_path, env={})
        tracker = GitHubTracker(api_url=url, auth=config.github_auth(), repository=REPO,
                                bot_login=BOT, timeout=5, secondary_wait=60)
        tracker.check_repository()
        body = "Question\n\n" + marker("mid:<app@univ.edu>")
        created = tracker.create_issue("Via the App", body, ["customer-response"], None)
        assert emu.issue(REPO, created.number).user == BOT
        found = tracker.find_issue(marker("mid:<app@univ.edu>"),
                                   dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        assert found is not None and found.number == created.number
        tracker.close()


def test_an_expired_installation_token_is_replaced(tmp_path: Path) -> None:
    # The emulator's clock is two hours behind: every token it mints has already expired by
    # the client's clock, so the client must mint a new one for each use.
    emu = Emulator(seed=1, clock=ManualClock(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
    pem = app_world(tmp_path, emu)
    with emu.serve() as url:
        config = parse_config(config_text(url, pem), source="t.toml", base_dir=tmp_path, env={})
        tracker = GitHubTracker(api_url=url, auth=config.github_auth(), repository=REPO,
                                bot_login=BOT, timeout=5, secondary_wait=60)
        tracker.check_repository()
        tracker.create_issue("One", "x", [], None)
        tracker.create_issue("Two", "y", [], None)
        tracker.close()
    minted = [r for r in emu.request_log() if r.path.endswith("/access_tokens")]
    assert len(minted) >= 2
    assert all(r.status in (200, 201) for r in emu.request_log())
    assert [i.title for i in emu.issues(REPO)] == ["One", "Two"]


def test_app_settings_missing_name_the_key(tmp_path: Path) -> None:
    config = parse_config('[github]\nauth = "app"\n', source="t.toml", base_dir=tmp_path, env={})
    with pytest.raises(ConfigError, match="app_id"):
        config.github_auth()
    config = parse_config('[github]\nauth = "app"\napp_id = 1\ninstallation_id = 2\n',
                          source="t.toml", base_dir=tmp_path, env={})
    with pytest.raises(ConfigError, match="private_key_file"):
        config.github_auth()


def test_check_config_loads_the_app_key_offline(tmp_path: Path) -> None:
    pem = app_world(tmp_path, Emulator(seed=1))
    url = "https://api.github.com"

    def check(text: str) -> str:
        config = parse_config(text, source="t.toml", base_dir=tmp_path, env={})
        return check_github_credentials(config).line()

    assert check(config_text(url, pem)) == (
        "ok   GitHub credentials are set (GitHub App 4242, installation 99)")
    (tmp_path / "broken.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n"
                                         "-----END PRIVATE KEY-----\n")
    line = check(config_text(url, tmp_path / "broken.pem"))
    assert line.startswith("FAIL GitHub credentials are set: the GitHub App private key does "
                           "not load") and "generate a new private key" in line
    line = check(config_text(url, tmp_path / "absent.pem"))
    assert line.startswith("FAIL") and "absent.pem" in line
    line = check('[github]\nauth = "app"\napp_id = 4242\ninstallation_id = 99\n')
    assert line.startswith("FAIL") and "no GitHub App private key" in line
    line = check("")
    assert line.startswith("FAIL") and "VISIT_GATEWAY_GITHUB_TOKEN" in line
    assert "not a key" not in line
