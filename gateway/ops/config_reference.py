"""Render the configuration reference, docs/configuration.md, from the configuration models.

Holds `render()` (the Markdown) and `main()` (prints it; run as
`python -m gateway.ops.config_reference > docs/configuration.md`). Keys, types, defaults and
bounds come from the models in `gateway.config.sections`, descriptions from their
`Field(description=)`.
Only what the models cannot say is written here: the keys of the free-form `[business]` table
(validated by `gateway.duty.business_config`) and where each secret is looked up. It must not read
files or the environment, and must not validate or interpret a configuration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gateway.config.loader import CONFIG_ENV, DEFAULT_CONFIG_PATH, RawConfig
from gateway.duty.business_config import _WEEKDAYS
from gateway.duty.businesstime import DEFAULT_SPANS, DEFAULT_TIMEZONE, BusinessCalendar

COMMAND = ".venv/bin/python -m gateway.ops.config_reference > docs/configuration.md"
UNSET = "*(unset)*"
_HEADER = ("key", "type", "default", "description")
_SIMPLE_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


class BusinessKey(NamedTuple):
    """One key of the `[business]` table: its type, default (a TOML value or None), meaning."""

    type: str
    default: Any
    description: str


class Secret(NamedTuple):
    """Where one secret is looked up, first match wins: credential, variable, file, inline."""

    what: str
    credential: str
    env: str
    file_key: str
    inline_key: str | None
    needed_when: str


BUSINESS_KEYS: dict[str, BusinessKey] = {
    "timezone": BusinessKey(
        "string", DEFAULT_TIMEZONE,
        "IANA time zone of the opening hours and the holiday dates; an unknown name gets a "
        "suggestion (PST suggests America/Los_Angeles)."),
    "hours": BusinessKey(
        "list of strings", [str(span) for span in DEFAULT_SPANS],
        'Daily opening spans "HH:MM-HH:MM" in local time, half-open; they may not overlap or '
        "cross midnight."),
    "weekdays": BusinessKey(
        "list of strings", [_WEEKDAYS[day] for day in sorted(BusinessCalendar().weekdays)],
        f"Working days: {', '.join(_WEEKDAYS)} (full names, any case, work too)."),
    "holidays": BusinessKey(
        "list of dates or tables", [],
        "Closures, meant for one-off ones: each a date or a table with date, annual or "
        "relative_to (every form: docs/schedule.md)."),
    "holidays_file": BusinessKey(
        "string", None,
        "A TOML file of [[holiday]] tables, relative to the config file's directory; its "
        "entries take the same forms as holidays."),
    "holidays_country": BusinessKey(
        "string", None,
        'National holidays from the holidays package: an ISO 3166 code it supports, e.g. "US". '
        "Unset: no national holidays."),
    "holidays_subdivision": BusinessKey(
        "string", None,
        'A subdivision of holidays_country whose holidays are added too, e.g. "CA"; needs '
        "holidays_country."),
    "holidays_add": BusinessKey(
        "list of dates or tables", [],
        "The lab's own holidays on top of the national base, in the same forms as holidays "
        '(e.g. { relative_to = "Thanksgiving Day", days_after = 1 }).'),
    "holidays_remove": BusinessKey(
        "list of strings or dates", [],
        "National holidays the lab works on: a name (every year, with its observed day) or a "
        "date; needs holidays_country. The lab's own additions always win."),
}

# gateway.config.loader has no lookup table to import: this mirrors its `_secret` calls, and
# tests/unit/ops/test_config_reference.py checks every row against what loading a config does.
SECRETS: tuple[Secret, ...] = (
    Secret("GitHub token", "github-token", "VISIT_GATEWAY_GITHUB_TOKEN", "github.token_file",
           "github.token", '`github.auth = "token"`'),
    Secret("GitHub App private key", "github-app-key", "VISIT_GATEWAY_GITHUB_APP_KEY",
           "github.private_key_file", None, '`github.auth = "app"`'),
    Secret("IMAP password", "imap-password", "VISIT_GATEWAY_IMAP_PASSWORD",
           "imap.password_file", "imap.password", '`imap.auth = "password"`'),
    Secret("SMTP password", "smtp-password", "VISIT_GATEWAY_SMTP_PASSWORD",
           "smtp.password_file", "smtp.password", "`smtp.username` is set"),
    Secret("webhook secret", "webhook-secret", "VISIT_GATEWAY_WEBHOOK_SECRET",
           "web.webhook_secret_file", "web.webhook_secret", "always, to start the daemon"),
)


def render() -> str:
    """The whole reference, Markdown, ending in one newline."""
    blocks = [_introduction(), _secrets()]
    for name, field in RawConfig.model_fields.items():
        section = _model_of(field)
        if section is not None:
            blocks.extend(_model_blocks(name, section))
        elif name == "business":
            blocks.append(_business())
        else:
            raise TypeError(f"no way to document the top-level key {name!r}")
    blocks.append(_see_also())
    return "\n\n".join(blocks) + "\n"


def main() -> None:
    print(render(), end="")


def _introduction() -> str:
    return f"""# Configuration reference

<!-- Generated by gateway/ops/config_reference.py from gateway/config/sections.py. Do not edit. -->

This page is generated from the code, so it cannot drift; do not edit it by hand. After
changing a key, regenerate it with

    {COMMAND}

The gateway reads one TOML file: the one named by `--config F` (every command takes it),
else `${CONFIG_ENV}`, else `{DEFAULT_CONFIG_PATH}`. Every key is optional and
defaults to the value shown. Relative paths in the file resolve from the config file's
directory.

The whole file is checked: a key the gateway does not know is an error that suggests the
closest known one ("did you mean 'repository'?"), and every bad value is an error naming the
dotted key and the fix. `visit-gateway check-config` checks the file and the files it names
without starting the gateway; with `--online` it also logs in to the servers.

Types: a *number* is an integer or a decimal (`60` or `60.0`); where the type is a list of
quoted values, the key takes exactly one of them; a *secret* is best kept out of the file
(see [Secrets](#secrets))."""


def _secrets() -> str:
    rows = [
        (s.what, f"`{s.credential}`", f"`{s.env}`", f"`{s.file_key}`",
         f"`{s.inline_key}`" if s.inline_key else "none", s.needed_when)
        for s in SECRETS
    ]
    header = ("secret", "credential", "environment variable", "file key", "inline key",
              "needed when")
    return f"""## Secrets

Each secret is read from the first of these that is set:

1. `$CREDENTIALS_DIRECTORY/<credential>`, a systemd credential (`LoadCredential=`);
2. the environment variable;
3. the file named by the file key (relative to the config file's directory);
4. the inline key in the config file (discouraged).

Surrounding whitespace is stripped, except from an inline value; an empty file named by a file
key is an error, while an empty credential or a blank environment variable counts as unset.
Secrets are never logged. The GitHub App key is read when the gateway signs in to GitHub (and
by `check-config`), and has no inline form.

{_table(header, rows)}"""


def _business() -> str:
    rows = [
        (f"`{name}`", key.type, _default_cell(key.default), _plain(key.description))
        for name, key in BUSINESS_KEYS.items()
    ]
    return f"""## [business]

Business time: the response goal (`notify.goal_hours`) is counted only inside these hours.
Every holiday form, and how business time is counted: [schedule.md](schedule.md).

{_table(_HEADER, rows)}"""


def _see_also() -> str:
    return """## See also

- [config/gateway.example.toml](../config/gateway.example.toml): an annotated example
  configuration.
- [schedule.md](schedule.md): the schedule file format, business hours and holidays."""


def _model_blocks(dotted: str, model: type[BaseModel]) -> list[str]:
    rows = []
    nested = []
    for name, field in model.model_fields.items():
        sub = _model_of(field)
        if sub is not None:
            nested.extend(_model_blocks(f"{dotted}.{name}", sub))
        else:
            rows.append(_row(name, field))
    block = f"## [{dotted}]\n\n{_intro(model)}\n\n{_table(_HEADER, rows)}"
    return [block, *nested]


def _intro(model: type[BaseModel]) -> str:
    doc = model.__doc__
    if not doc or not doc.strip():
        raise ValueError(f"{model.__name__} has no docstring to introduce its section")
    return " ".join(doc.split())


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _row(name: str, field: FieldInfo) -> tuple[str, ...]:
    description = field.description or ""
    if not description.strip():
        raise ValueError(f"the key {name!r} has no description")
    bounds = _bounds(field.metadata)
    description = _plain(description + (f" Must be {bounds}." if bounds else ""))
    return f"`{name}`", _type_text(field.annotation), _default_cell(field.default), description


def _type_text(annotation: Any) -> str:
    if annotation in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[annotation]
    args = get_args(annotation)
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{_toml(value)}`" for value in args)
    if get_origin(annotation) is tuple and args == (str, ...):
        return "list of strings"
    if SecretStr in args and type(None) in args:
        return "secret"
    raise TypeError(f"no way to document the type {annotation!r}")


def _bounds(metadata: list[Any]) -> str:
    unknown = [item for item in metadata if not isinstance(item, Ge | Gt | Le | Lt)]
    if unknown:
        raise TypeError(f"no way to document the constraint {unknown[0]!r}")
    low = next((item for item in metadata if isinstance(item, Ge | Gt)), None)
    high = next((item for item in metadata if isinstance(item, Le | Lt)), None)
    if isinstance(low, Ge) and isinstance(high, Le):
        return f"{low.ge}\N{EN DASH}{high.le}"
    if isinstance(low, Gt) and isinstance(high, Lt):
        return f"between {low.gt} and {high.lt} exclusive"
    return " and ".join(_bound(item) for item in (low, high) if item is not None)


def _bound(item: Ge | Gt | Le | Lt) -> str:
    if isinstance(item, Ge):
        return f"≥ {item.ge}"
    if isinstance(item, Gt):
        return f"> {item.gt}"
    if isinstance(item, Le):
        return f"≤ {item.le}"
    return f"< {item.lt}"


def _default_cell(value: Any) -> str:
    return UNSET if value is None else f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    """`value` written as TOML: a string, boolean, integer, float, or list of these."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"no way to write {value!r} as TOML")


def _plain(text: str) -> str:
    """One line of text for a table cell, with no `<` that Markdown would take for HTML."""
    return " ".join(text.split()).replace("<", "&lt;")


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [header, tuple("---" for _ in header), *rows]
    return "\n".join("| " + " | ".join(map(_escape, line)) + " |" for line in lines)


if __name__ == "__main__":
    main()
