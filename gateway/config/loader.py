"""Load the gateway's TOML configuration once, validate all of it, and hand out a frozen Config.

Every wrong key or value becomes a `ConfigError` naming the dotted key and the fix; a typo in a
key name gets a "did you mean" suggestion. Secrets (tokens, passwords, webhook secret) come from,
in order: `$CREDENTIALS_DIRECTORY/<name>` (systemd `LoadCredential=`), the environment variable
`VISIT_GATEWAY_<NAME>`, the `<key>_file` setting, then the inline `<key>` value (discouraged).
They are kept as `SecretStr`, so they never appear in reprs or logs.

No other module reads files or the environment for configuration: the composition root loads a
Config and passes the pieces each component needs.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

# The sections are re-exported: components import the section they need from here.
from gateway.config.sections import (
    DatabaseSection,
    GitHubLimitsSection,
    GitHubSection,
    ImapSection,
    InboundSection,
    ListSection,
    LogSection,
    MailSection,
    NotifySection,
    RawConfig,
    ScheduleSection,
    SmtpSection,
    TrackingSection,
    WebSection,
)
from gateway.config.tomlfile import UTF8_FIX, not_utf8
from gateway.errors import ConfigError

__all__ = [
    "CONFIG_ENV", "DEFAULT_CONFIG_PATH", "Config", "DatabaseSection", "GitHubLimitsSection",
    "GitHubSection", "ImapSection", "InboundSection", "ListSection", "LogSection", "MailSection",
    "NotifySection", "RawConfig", "ScheduleSection", "SmtpSection", "TrackingSection",
    "WebSection", "default_config_path", "load_config", "parse_config",
]

DEFAULT_CONFIG_PATH = Path("/etc/visit-gateway/gateway.toml")
CONFIG_ENV = "VISIT_GATEWAY_CONFIG"

class Config(BaseModel):
    """The validated configuration: sections plus the directory relative paths resolve from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    raw: RawConfig
    source: str
    base_dir: Path
    github_token: SecretStr | None = None
    imap_password: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    smtp_password: SecretStr | None = None
    # Where each secret that is set was read from, for fixes that name the right place.
    secret_sources: dict[str, str] = {}

    def secret_source(self, key: str) -> str:
        """Where the secret `key` (e.g. "github.token") came from, in words for a fix."""
        return self.secret_sources.get(key, f"{key} (not set)")

    def github_auth_fix(self) -> str:
        """The fix for credentials GitHub refused, naming where they were read from."""
        if self.raw.github.auth == "app":
            return ("check github.app_id, github.installation_id and the App's private key (the "
                    "App must be installed on the repository)")
        return (f"replace the token in {self.secret_source('github.token')} with a valid one "
                "that has access to the repository")

    def imap_auth_fix(self) -> str:
        """The fix for a refused IMAP login, naming where the password was read from."""
        if self.raw.imap.auth == "xoauth2":
            return ("check imap.username, and that the OAuth2 token (imap.oauth2_token_file or "
                    "_command) is current and grants IMAP access")
        return f"check imap.username, and the password in {self.secret_source('imap.password')}"

    @property
    def database(self) -> DatabaseSection:
        return self.raw.database

    @property
    def list(self) -> ListSection:
        return self.raw.list

    @property
    def github(self) -> GitHubSection:
        return self.raw.github

    @property
    def mail(self) -> MailSection:
        return self.raw.mail

    @property
    def imap(self) -> ImapSection:
        return self.raw.imap

    @property
    def inbound(self) -> InboundSection:
        return self.raw.inbound

    @property
    def log(self) -> LogSection:
        return self.raw.log

    @property
    def loop_id(self) -> str:
        return self.raw.mail.loop_id or self.raw.github.repository

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def database_url(self) -> str:
        if self.raw.database.url:
            return self.raw.database.url
        state_dir = os.environ.get("STATE_DIRECTORY")
        path = Path(state_dir) / "state.db" if state_dir else self.resolve(self.raw.database.path)
        return f"sqlite:///{path}"

    def database_setting(self) -> str:
        """The setting that places the state database, for errors about it."""
        if self.raw.database.url:
            return "database.url"
        if os.environ.get("STATE_DIRECTORY"):
            return "$STATE_DIRECTORY (the unit's StateDirectory=)"
        return "database.path"

    def database_file(self) -> Path | None:
        """The SQLite file of the state database (None for an in-memory or non-SQLite one)."""
        url = self.database_url()
        if not url.startswith("sqlite:"):
            return None
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = path.split("?", 1)[0]
        if not path or path == ":memory:":
            return None
        return Path(path)

    def require_imap_password(self) -> SecretStr:
        if self.imap_password is None:
            raise ConfigError(
                "imap.password",
                "no IMAP password is configured",
                "set imap.password_file, VISIT_GATEWAY_IMAP_PASSWORD, or a systemd credential "
                "named imap-password",
                source=self.source,
            )
        return self.imap_password

    def require_webhook_secret(self) -> SecretStr:
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ConfigError(
                "web.webhook_secret", "no webhook secret is configured",
                "set web.webhook_secret_file, VISIT_GATEWAY_WEBHOOK_SECRET, or a systemd "
                "credential named webhook-secret, and the same secret on GitHub's webhook",
                source=self.source,
            )
        return self.webhook_secret

    def github_auth(self) -> Any:
        """PyGithub auth for the configured method: a token, or a GitHub App installation."""
        from github import Auth

        gh = self.raw.github
        if gh.auth == "token":
            return Auth.Token(self.require_github_token().get_secret_value())
        if not gh.app_id or not gh.installation_id:
            raise ConfigError("github.app_id", "github.auth is \"app\" but app_id or "
                              "installation_id is 0",
                              "set both from the App's settings page and its installation URL",
                              source=self.source)
        key = self.github_app_key()
        return Auth.AppAuth(gh.app_id, key.get_secret_value()).get_installation_auth(
            gh.installation_id)

    def github_app_key(self) -> SecretStr:
        """The GitHub App's private key (PEM), read when needed: credential github-app-key,
        then $VISIT_GATEWAY_GITHUB_APP_KEY, then github.private_key_file. A key that does not
        load as an RSA private key is a ConfigError."""
        key, where = _secret("github-app-key", "GITHUB_APP_KEY", None,
                             self.raw.github.private_key_file, key="github.private_key",
                             env=os.environ, base_dir=self.base_dir, source=self.source)
        if key is None:
            raise ConfigError("github.private_key_file", "no GitHub App private key",
                              "download a .pem from the App's settings and point "
                              "github.private_key_file (or a github-app-key credential) at it",
                              source=self.source)
        _check_app_key(key.get_secret_value(), where, self.source)
        return key

    def require_github_token(self) -> SecretStr:
        if self.github_token is None:
            raise ConfigError(
                "github.token",
                "no GitHub token is configured",
                "set github.token_file, VISIT_GATEWAY_GITHUB_TOKEN, or a systemd credential "
                "named github-token",
                source=self.source,
            )
        return self.github_token


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the configuration at `path` (or the default location)."""
    env = os.environ if env is None else env
    path = path or default_config_path()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config",
            f"file {path} does not exist",
            f"create it from config/gateway.example.toml or pass --config / set {CONFIG_ENV}",
        ) from None
    except OSError as exc:
        raise ConfigError(
            "config", f"cannot read {path}: {exc.strerror}", "check permissions"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config", not_utf8(path, exc), UTF8_FIX.format(path=path)) from None
    return parse_config(text, source=source, base_dir=path.parent, env=env)


def parse_config(
    text: str, *, source: str, base_dir: Path, env: Mapping[str, str] | None = None
) -> Config:
    env = os.environ if env is None else env
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "toml", str(exc), "fix the TOML syntax at that line", source=source
        ) from None
    try:
        raw = RawConfig.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, data, source) from None
    if raw.github.target == "discussions" and not raw.github.discussion_category.strip():
        raise ConfigError("github.discussion_category",
                          'github.target is "discussions" but no category is named',
                          "set it to the name of the Discussions category for inquiries "
                          '(as GitHub shows it), or set github.target = "issues"', source=source)
    if raw.attachments.store == "local" and not raw.attachments.public_url:
        raise ConfigError("attachments.public_url",
                          'attachments.store is "local" but links have no address to start with',
                          "set it to the https:// address people reach this daemon's web server "
                          'at (the reverse proxy), or set attachments.store = "repository"',
                          source=source)
    sources: dict[str, str] = {}

    def secret(cred_name: str, env_suffix: str, inline: SecretStr | None, file_setting: str,
               key: str) -> SecretStr | None:
        value, where = _secret(cred_name, env_suffix, inline, file_setting, key=key, env=env,
                               base_dir=base_dir, source=source)
        if value is not None:
            _check_characters(key, value.get_secret_value(), where, source)
            sources[key] = where
        return value

    token = secret("github-token", "GITHUB_TOKEN", raw.github.token, raw.github.token_file,
                   "github.token")
    password = secret("imap-password", "IMAP_PASSWORD", raw.imap.password,
                      raw.imap.password_file, "imap.password")
    webhook = secret("webhook-secret", "WEBHOOK_SECRET", raw.web.webhook_secret,
                     raw.web.webhook_secret_file, "web.webhook_secret")
    smtp_password = secret("smtp-password", "SMTP_PASSWORD", raw.smtp.password,
                           raw.smtp.password_file, "smtp.password")
    return Config(raw=raw, source=source, base_dir=base_dir, github_token=token,
                  imap_password=password, webhook_secret=webhook, smtp_password=smtp_password,
                  secret_sources=sources)


def _secret(
    cred_name: str,
    env_suffix: str,
    inline: SecretStr | None,
    file_setting: str,
    *,
    key: str,
    env: Mapping[str, str],
    base_dir: Path,
    source: str,
) -> tuple[SecretStr | None, str]:
    """The secret and, in words, where it was found (first match wins)."""
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / cred_name).is_file():
        # The shipped unit loads every credential, so an unneeded one (smtp-password for a relay
        # without login) is an empty file: that counts as unset, like a blank variable.
        where = f"the systemd credential {cred_name} (the file its LoadCredential= line names)"
        text = _read_secret(Path(cred_dir) / cred_name, key=key, where=where, source=source)
        if text:
            return SecretStr(text), where
    env_value = env.get(f"VISIT_GATEWAY_{env_suffix}")
    if env_value and env_value.strip():
        return SecretStr(env_value.strip()), f"$VISIT_GATEWAY_{env_suffix}"
    if file_setting:
        file_path = Path(file_setting).expanduser()
        file_path = file_path if file_path.is_absolute() else base_dir / file_path
        text = _read_secret(file_path, key=f"{key}_file", where=str(file_path), source=source)
        if not text:
            raise ConfigError(f"{key}_file", f"{file_path} is empty",
                              "put the secret in it (one line, nothing else)", source=source)
        return SecretStr(text), f"{file_path} ({key}_file)"
    return inline, f"{key} in {source}"


def _read_secret(path: Path, *, key: str, where: str, source: str) -> str:
    """The stripped text of a secret file; an unreadable or non-UTF-8 one names `key`."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {where}: {exc.strerror}",
                          "point it at a readable file holding only the secret",
                          source=source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(key, not_utf8(path, exc), "put only the secret in it, as UTF-8 text",
                          source=source) from None


# What a secret may not contain. A GitHub token goes into an HTTP header (RFC 9110 section 5.5:
# no control characters) and is letters, digits and _ only, so any space means two tokens or a
# pasted line; a password may hold spaces and any letter, but never a line break or other
# control character (IMAP and SMTP send it inside one command line).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_TOKEN = re.compile(r"[^\x21-\x7e]")
_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space",
          "\x00": "a NUL byte"}


def _check_characters(key: str, value: str, where: str, source: str) -> None:
    pattern = _NOT_TOKEN if key == "github.token" else _CONTROL
    found = pattern.search(value)
    if found is None:
        return
    char = found.group()
    what = _NAMES.get(char) or ("a control character" if char.isascii()
                                else "a non-ASCII character")
    noun = "token" if key == "github.token" else "secret"
    fix = (f"keep only the {noun} itself in {where}, on one line"
           + (" (a GitHub token is letters, digits and _ only)" if noun == "token" else ""))
    raise ConfigError(key, f"the {noun} in {where} contains {what}", fix, source=source)


def _check_app_key(pem: str, where: str, source: str) -> None:
    """The App's key must load and be RSA: GitHub App JWTs are signed with RS256 (docs:
    "Generating a JSON Web Token (JWT) for a GitHub App"). PyGithub would only find out at the
    first request, and then on every retry."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        problem = "is encrypted with a passphrase"
    except (ValueError, UnsupportedAlgorithm):
        problem = "is not a PEM private key"
    else:
        if isinstance(key, rsa.RSAPrivateKey):
            return
        problem = "is not an RSA key (GitHub Apps sign with RSA)"
    raise ConfigError("github.private_key_file",
                      f"the GitHub App private key does not load: {where} {problem}",
                      "generate a new private key on the App's settings page and use its .pem "
                      "file unchanged", source=source)


def _translate(exc: ValidationError, data: Mapping[str, Any], source: str) -> ConfigError:
    problems: list[str] = []
    first_key = "config"
    for index, err in enumerate(exc.errors()):
        loc = [str(part) for part in err["loc"] if not isinstance(part, int)]
        key = ".".join(loc) or "config"
        if index == 0:
            first_key = key
        if err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key{_suggest(loc)}")
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            problems.append(f"{key}: {message}{shown}")
    problem = problems[0].split(": ", 1)[1]
    more = "" if len(problems) == 1 else "; also " + "; ".join(problems[1:])
    fix = "see config/gateway.example.toml for every key and its meaning"
    return ConfigError(first_key, problem + more, fix, source=source)


def _suggest(loc: list[str]) -> str:
    model: type[BaseModel] = RawConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
    return (
        f"; did you mean {close[0]!r}?"
        if close
        else f"; known keys: {', '.join(model.model_fields)}"
    )
