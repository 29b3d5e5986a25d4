"""Config: every problem names the key and the fix; secrets come from the documented places."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.config.loader import RawConfig, load_config, parse_config
from gateway.errors import ConfigError

from ...conftest import EXAMPLE_CONFIG


def _parse(text: str, env: dict[str, str] | None = None, base: Path = Path(".")) -> object:
    return parse_config(text, source="gateway.toml", base_dir=base, env=env or {})


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[github]\nrepositry = "a/b"\n', "github.repositry", "did you mean 'repository'"),
        ("[imapp]\nhost = 1\n", "imapp", "unknown key"),
        ('[github]\nrepository = "no-slash"\n', "github.repository", "owner/name"),
        ("[inbound]\nmax_message_bytes = 0\n", "inbound.max_message_bytes", "greater than 0"),
        ('[list]\naddress = "nobody"\n', "list.address", "not an email address"),
        ('[log]\nlevel = "loud"\n', "log.level", "'debug', 'info', 'warning' or 'error'"),
        ('[mail]\nmessage_id_domain = "x"\n', "mail.message_id_domain", "domain name"),
        ("[github\n", "toml", "line 1"),
        ("[github.limits]\nsecondary_wait = 5\n", "github.limits.secondary_wait",
         "greater than or equal to 60"),
        ('[list]\nlist_id = "visit-users.elist.ornl.gov"\n', "list.list_id", "unknown key"),
    ],
)
def test_bad_config_names_key_and_fix(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(text)
    assert info.value.key == key
    assert words in str(info.value)
    assert str(info.value).startswith("gateway.toml: ")
    assert "fix:" in str(info.value)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.example\.toml"):
        load_config(tmp_path / "nope.toml", env={})


def test_secret_order(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "github-token").write_text("from-credential\n")
    text = '[github]\ntoken = "inline"\ntoken_file = "token"\n'
    cfg = _parse(text, {"CREDENTIALS_DIRECTORY": str(creds),
                        "VISIT_GATEWAY_GITHUB_TOKEN": "from-env"}, tmp_path)
    assert cfg.github_token.get_secret_value() == "from-credential"  # type: ignore[attr-defined]
    cfg = _parse(text, {"VISIT_GATEWAY_GITHUB_TOKEN": "from-env"}, tmp_path)
    assert cfg.github_token.get_secret_value() == "from-env"  # type: ignore[attr-defined]
    cfg = _parse(text, {}, tmp_path)
    assert cfg.github_token.get_secret_value() == "from-file"  # type: ignore[attr-defined]
    cfg = _parse('[github]\ntoken = "inline"\n', {}, tmp_path)
    assert cfg.github_token.get_secret_value() == "inline"  # type: ignore[attr-defined]
    assert "inline" not in repr(cfg)


def test_unreadable_token_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _parse('[github]\ntoken_file = "missing"\n', {}, tmp_path)
    assert info.value.key == "github.token_file"


def test_an_empty_secret_file_is_an_error_not_an_empty_secret(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ConfigError, match=r"token is empty.*fix: put the secret in it") as info:
        _parse('[github]\ntoken_file = "token"\n', {}, tmp_path)
    assert info.value.key == "github.token_file"
    creds = tmp_path / "creds"
    creds.mkdir()
    # An empty systemd credential counts as unset (the unit loads all four; a relay without
    # login leaves smtp-password empty), so a needed one is reported as missing.
    (creds / "imap-password").write_text("")
    (creds / "smtp-password").write_text("\n")
    cfg = _parse("", {"CREDENTIALS_DIRECTORY": str(creds)}, tmp_path)
    assert cfg.smtp_password is None  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="no IMAP password is configured"):
        cfg.require_imap_password()  # type: ignore[attr-defined]
    # A blank environment variable is not set: the file is used.
    (tmp_path / "token").write_text("t0ken\n")
    cfg = _parse('[github]\ntoken_file = "token"\n', {"VISIT_GATEWAY_GITHUB_TOKEN": " "},
                 tmp_path)
    assert cfg.github_token.get_secret_value() == "t0ken"  # type: ignore[attr-defined]


def test_missing_token_is_reported_only_when_needed() -> None:
    cfg = _parse("")
    with pytest.raises(ConfigError, match="VISIT_GATEWAY_GITHUB_TOKEN"):
        cfg.require_github_token()  # type: ignore[attr-defined]


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        elif name not in ("token", "password", "webhook_secret"):  # secrets: never in it
            keys.add(prefix + name)
    return keys


def _toml_keys(data: dict[str, object], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _toml_keys(value, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_config_documents_every_key() -> None:
    documented = _toml_keys(tomllib.loads(EXAMPLE_CONFIG.read_text()))
    missing = {k for k in _keys(RawConfig) if k != "business"} - documented
    assert not missing, f"keys missing from config/gateway.example.toml: {sorted(missing)}"
    load_config(EXAMPLE_CONFIG, env={})


def test_each_secret_remembers_where_it_was_read_from(tmp_path: Path) -> None:
    """Fixes for refused credentials name the place the admin must edit."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "github-token").write_text("ghp_from_credential\n")
    (credentials / "smtp-password").write_text("")  # empty: unset, so the next source counts
    (tmp_path / "webhook").write_text("from-file\n")
    text = ('[web]\nwebhook_secret_file = "webhook"\n'
            '[smtp]\npassword = "inline-password"\n')
    config = parse_config(text, source="gateway.toml", base_dir=tmp_path,
                          env={"CREDENTIALS_DIRECTORY": str(credentials),
                               "VISIT_GATEWAY_IMAP_PASSWORD": "from-env"})
    assert config.secret_sources == {
        "github.token": "the systemd credential github-token (the file its LoadCredential= "
                        "line names)",
        "imap.password": "$VISIT_GATEWAY_IMAP_PASSWORD",
        "web.webhook_secret": f"{tmp_path / 'webhook'} (web.webhook_secret_file)",
        "smtp.password": "smtp.password in gateway.toml",
    }
    assert config.github_auth_fix().startswith("replace the token in the systemd credential")
    assert config.imap_auth_fix() == ("check imap.username, and the password in "
                                      "$VISIT_GATEWAY_IMAP_PASSWORD")
    bare = parse_config("", source="gateway.toml", base_dir=tmp_path, env={})
    assert bare.secret_sources == {} and bare.secret_source("imap.password") == (
        "imap.password (not set)")


def test_a_config_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes('[list]\n# Équipe VisIt\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "config"
    assert info.value.problem == f"{path} is not UTF-8 text (line 2: byte 0xc9)"
    assert info.value.fix.startswith("save it as UTF-8")


@pytest.mark.parametrize(("value", "what"), [
    ("ghp_one\nghp_two", "a line break"), ("ghp_one ghp_two", "a space"),
    ("ghp_one\tx", "a tab"), ("ghp_\x01x", "a control character"),
    ("ghp_caf\u00e9", "a non-ASCII character"),
])
def test_a_github_token_with_whitespace_names_where_it_came_from(
        tmp_path: Path, value: str, what: str) -> None:
    """requests refuses such a header value and the writer would retry it forever, as if
    GitHub were down: refused at start instead, naming the place to edit."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "github-token").write_text(value + "\n")
    (tmp_path / "token").write_text(value + "\n")
    cases = [
        ("", {"CREDENTIALS_DIRECTORY": str(credentials)}, "the systemd credential github-token"),
        ("", {"VISIT_GATEWAY_GITHUB_TOKEN": value}, "$VISIT_GATEWAY_GITHUB_TOKEN"),
        ('[github]\ntoken_file = "token"\n', {}, f"{tmp_path / 'token'} (github.token_file)"),
        (f"[github]\ntoken = {json.dumps(value)}\n", {}, "github.token in gateway.toml"),
    ]
    for text, env, where in cases:
        with pytest.raises(ConfigError) as info:
            _parse(text, env, tmp_path)
        assert info.value.key == "github.token"
        assert info.value.problem.startswith(f"the token in {where}"), info.value.problem
        assert info.value.problem.endswith(f"contains {what}"), info.value.problem
        assert "ghp_one" not in str(info.value) and "ghp_" not in info.value.problem


def test_passwords_may_hold_spaces_and_any_letter_but_no_line_break(tmp_path: Path) -> None:
    cfg = _parse("", {"VISIT_GATEWAY_IMAP_PASSWORD": "Pässwörd mit Leerzeichen",
                      "VISIT_GATEWAY_SMTP_PASSWORD": "ünïcode"})
    assert cfg.imap_password.get_secret_value() == "Pässwörd mit Leerzeichen"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"imap.password: the secret in "
                                          r"\$VISIT_GATEWAY_IMAP_PASSWORD contains a line break"):
        _parse("", {"VISIT_GATEWAY_IMAP_PASSWORD": "first\nsecond"})


def _app_config(tmp_path: Path, pem: bytes) -> object:
    (tmp_path / "app.pem").write_bytes(pem)
    return _parse('[github]\nauth = "app"\napp_id = 1\ninstallation_id = 2\n'
                  'private_key_file = "app.pem"\n', {}, tmp_path)


def test_the_github_app_key_is_loaded_at_start(tmp_path: Path) -> None:
    """PyGithub signs the JWT only at the first request, so a bad key used to surface as a
    traceback (jwt's InvalidKeyError) after start; now github_auth() refuses it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    assert _app_config(tmp_path, good).github_auth() is not None  # type: ignore[attr-defined]
    encrypted = key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"passphrase"))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    for pem, problem in ((encrypted, "is encrypted with a passphrase"),
                         (public, "is not a PEM private key"),
                         (b"ghp_not_a_key\n", "is not a PEM private key")):
        with pytest.raises(ConfigError) as info:
            _app_config(tmp_path, pem).github_auth()  # type: ignore[attr-defined]
        assert info.value.key == "github.private_key_file"
        assert info.value.problem == ("the GitHub App private key does not load: "
                                      f"{tmp_path / 'app.pem'} (github.private_key_file) "
                                      f"{problem}")
        assert "App's settings page" in info.value.fix
