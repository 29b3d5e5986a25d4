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
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from gateway.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/visit-gateway/gateway.toml")
CONFIG_ENV = "VISIT_GATEWAY_CONFIG"

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address like name@example.org")
    return value.lower()


class DatabaseSection(_Section):
    url: str = ""
    path: str = "/var/lib/visit-gateway/state.db"
    sqlite_synchronous: Literal["full", "normal"] = "full"


class ListSection(_Section):
    address: str = "visit-users@elist.ornl.gov"
    list_id: str = "visit-users.elist.ornl.gov"
    subject_prefix: str = "[visit-users]"
    footer_markers: tuple[str, ...] = ("visit-users mailing list",)

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_email(value)


class GitHubLimitsSection(_Section):
    min_write_interval: Annotated[float, Field(ge=0)] = 1.0
    writes_per_minute: Annotated[int, Field(ge=1)] = 80
    writes_per_hour: Annotated[int, Field(ge=1)] = 500
    secondary_wait: Annotated[float, Field(ge=0)] = 60.0
    request_timeout: Annotated[float, Field(gt=0)] = 30.0
    retry_base: Annotated[float, Field(gt=0)] = 2.0
    retry_max: Annotated[float, Field(gt=0)] = 600.0


class GitHubSection(_Section):
    repository: str = "visit-dav/live-customer-response"
    api_url: str = "https://api.github.com"
    web_url: str = "https://github.com"
    bot_login: str = "visit-users-bot"
    token: SecretStr | None = None
    token_file: str = ""
    auth: Literal["token", "app"] = "token"
    app_id: Annotated[int, Field(ge=0)] = 0
    installation_id: Annotated[int, Field(ge=0)] = 0
    private_key_file: str = ""
    labels: tuple[str, ...] = ("customer-response",)
    limits: GitHubLimitsSection = GitHubLimitsSection()

    @field_validator("repository")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not _REPO.match(value):
            raise ValueError(f"{value!r} is not an owner/name repository")
        return value

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def name(self) -> str:
        return self.repository.split("/")[1]


class MailSection(_Section):
    from_address: str = "visit-gateway@llnl.gov"
    from_name: str = "VisIt Customer Response"
    message_id_domain: str = "visit-gateway.llnl.gov"
    loop_header: str = "X-Visit-Gateway"
    loop_id: str = ""

    @field_validator("from_address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_email(value)

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a domain name like gateway.example.org")
        return value.lower()


class InboundSection(_Section):
    max_message_bytes: Annotated[int, Field(gt=0)] = 25 * 1024 * 1024
    show_full_address: bool = False
    ignore_precedence: tuple[str, ...] = ("bulk", "junk", "auto_reply")
    github_reply_by_email: Literal["ignore", "comment"] = "ignore"
    ignore_senders: tuple[str, ...] = ()
    max_body_chars: Annotated[int, Field(ge=1000, le=65536)] = 65000


class ImapSection(_Section):
    host: str = "localhost"
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: 993 for tls, else 143
    security: Literal["tls", "starttls", "plain"] = "tls"
    ca_file: str = ""
    username: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    password: SecretStr | None = None
    password_file: str = ""
    oauth2_token_file: str = ""
    oauth2_token_command: str = ""
    folder: str = "INBOX"
    processed: Literal["flag", "move"] = "flag"
    processed_flag: str = "$Gatewayed"
    processed_folder: str = "Gatewayed"
    idle: bool = True
    idle_renew_seconds: Annotated[int, Field(ge=60, le=1740)] = 1500
    poll_interval: Annotated[float, Field(gt=0)] = 60.0
    fetch_batch: Annotated[int, Field(ge=1, le=1000)] = 50
    timeout: Annotated[float, Field(gt=0)] = 60.0

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 993 if self.security == "tls" else 143


class SmtpSection(_Section):
    host: str = "localhost"
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: 465 for tls, 587 starttls, 25 plain
    security: Literal["tls", "starttls", "plain"] = "starttls"
    ca_file: str = ""
    username: str = ""
    password: SecretStr | None = None
    password_file: str = ""
    timeout: Annotated[float, Field(gt=0)] = 30.0

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"tls": 465, "starttls": 587, "plain": 25}[self.security]


class NotifySection(_Section):
    acknowledge: bool = True
    handoff: bool = True
    keep_label: str = "handoff:keep"
    reminders: bool = True
    reminder_share: Annotated[float, Field(gt=0, lt=1)] = 0.75
    goal_hours: Annotated[float, Field(gt=0)] = 4.0
    serious_label: str = "incident:serious"
    postmortem: bool = True
    templates_dir: str = ""
    tick_seconds: Annotated[float, Field(gt=0)] = 60.0


class WebSection(_Section):
    listen: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8787
    webhook_secret: SecretStr | None = None
    webhook_secret_file: str = ""
    max_body_bytes: Annotated[int, Field(gt=0)] = 25 * 1024 * 1024


class TrackingSection(_Section):
    reconcile_interval: Annotated[float, Field(gt=0)] = 300.0
    first_lookback_hours: Annotated[float, Field(gt=0)] = 72.0
    poll_stale_after: Annotated[float, Field(gt=0)] = 900.0


class LogSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class ScheduleSection(_Section):
    file: str = ""


class RawConfig(_Section):
    database: DatabaseSection = DatabaseSection()
    list: ListSection = ListSection()
    github: GitHubSection = GitHubSection()
    mail: MailSection = MailSection()
    imap: ImapSection = ImapSection()
    inbound: InboundSection = InboundSection()
    smtp: SmtpSection = SmtpSection()
    notify: NotifySection = NotifySection()
    web: WebSection = WebSection()
    tracking: TrackingSection = TrackingSection()
    log: LogSection = LogSection()
    schedule: ScheduleSection = ScheduleSection()
    business: dict[str, Any] = {}


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
        key = _secret("github-app-key", "GITHUB_APP_KEY", None, gh.private_key_file,
                      key="github.private_key", env=os.environ, base_dir=self.base_dir,
                      source=self.source)
        if key is None:
            raise ConfigError("github.private_key_file", "no GitHub App private key",
                              "download a .pem from the App's settings and point "
                              "github.private_key_file (or a github-app-key credential) at it",
                              source=self.source)
        return Auth.AppAuth(gh.app_id, key.get_secret_value()).get_installation_auth(
            gh.installation_id)

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
    token = _secret(
        "github-token",
        "GITHUB_TOKEN",
        raw.github.token,
        raw.github.token_file,
        key="github.token",
        env=env,
        base_dir=base_dir,
        source=source,
    )
    password = _secret(
        "imap-password", "IMAP_PASSWORD", raw.imap.password, raw.imap.password_file,
        key="imap.password", env=env, base_dir=base_dir, source=source,
    )
    webhook = _secret(
        "webhook-secret", "WEBHOOK_SECRET", raw.web.webhook_secret, raw.web.webhook_secret_file,
        key="web.webhook_secret", env=env, base_dir=base_dir, source=source,
    )
    smtp_password = _secret(
        "smtp-password", "SMTP_PASSWORD", raw.smtp.password, raw.smtp.password_file,
        key="smtp.password", env=env, base_dir=base_dir, source=source,
    )
    return Config(raw=raw, source=source, base_dir=base_dir, github_token=token,
                  imap_password=password, webhook_secret=webhook, smtp_password=smtp_password)


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
) -> SecretStr | None:
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / cred_name).is_file():
        return SecretStr((Path(cred_dir) / cred_name).read_text(encoding="utf-8").strip())
    env_value = env.get(f"VISIT_GATEWAY_{env_suffix}")
    if env_value:
        return SecretStr(env_value.strip())
    if file_setting:
        file_path = Path(file_setting).expanduser()
        file_path = file_path if file_path.is_absolute() else base_dir / file_path
        try:
            return SecretStr(file_path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"{key}_file",
                f"cannot read {file_path}: {exc.strerror}",
                "point it at a readable file holding only the secret",
                source=source,
            ) from None
    return inline


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
