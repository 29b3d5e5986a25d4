"""docs/configuration.md: generated from the code, complete, and true to the models and parsers."""

from __future__ import annotations

import re
import tomllib
from dataclasses import astuple
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args, get_origin

import github.Auth
import pytest
from pydantic import BaseModel, Field, SecretStr
from pydantic.fields import FieldInfo

import gateway.config.loader
from gateway.config.loader import RawConfig, parse_config
from gateway.duty.business_config import _BUSINESS_KEYS, calendar_from_mapping
from gateway.errors import ConfigError
from gateway.ops import config_reference
from gateway.ops.config_reference import BUSINESS_KEYS, COMMAND, SECRETS, UNSET, Secret, render

from ...conftest import ROOT

DOC = ROOT / "docs" / "configuration.md"
_HEADING = re.compile(r"^## \[(?P<section>[a-z_.]+)\]$")
_CELL = re.compile(r"(?<!\\)\|")
_CONFIG_ATTRIBUTE = {
    "github.token": "github_token",
    "imap.password": "imap_password",
    "smtp.password": "smtp_password",
    "web.webhook_secret": "webhook_secret",
}


class Row(NamedTuple):
    type: str
    default: str
    description: str


def _rows(text: str) -> dict[str, Row]:
    """Every table row under a `## [section]` heading, by dotted key."""
    rows: dict[str, Row] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            match = _HEADING.match(line)
            section = match["section"] if match else None
        elif section and line.startswith("| `"):
            cells = [cell.strip().replace("\\|", "|") for cell in _CELL.split(line)[1:-1]]
            key = f"{section}.{cells[0].strip('`')}"
            assert key not in rows, f"{key} has two rows"
            rows[key] = Row(*cells[1:])
    return rows


def _fields(model: type[BaseModel] = RawConfig, prefix: str = "") -> dict[str, FieldInfo]:
    """Every key of the section models, dotted, with its field."""
    found: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _fields(annotation, f"{prefix}{name}.")
        elif model is not RawConfig:
            found[prefix + name] = field
    return found


def _sections(model: type[BaseModel] = RawConfig) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += [annotation, *_sections(annotation)]
    return found


def _toml_value(cell: str) -> Any:
    assert cell.startswith("`") and cell.endswith("`"), f"{cell!r} is not one code span"
    return tomllib.loads("x = " + cell[1:-1])["x"]


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    *tables, key = dotted.split(".")
    data: dict[str, Any] = {key: value}
    for table in reversed(tables):
        data = {table: data}
    return data


FIELDS = _fields()


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return _rows(DOC.read_text(encoding="utf-8"))


def test_doc_is_what_the_code_generates() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is out of date; regenerate it: {COMMAND}")


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    config_reference.main()
    assert capsys.readouterr().out == render()


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_every_key_has_a_description(key: str) -> None:
    description = FIELDS[key].description
    assert description and description.strip(), f"{key}: add Field(description=...)"


@pytest.mark.parametrize("model", _sections(), ids=lambda model: model.__name__)
def test_every_section_has_a_docstring(model: type[BaseModel]) -> None:
    assert model.__doc__ and model.__doc__.strip()


def test_every_key_has_exactly_one_row(rows: dict[str, Row]) -> None:
    expected = set(FIELDS) | {f"business.{key}" for key in _BUSINESS_KEYS}
    assert not expected - set(rows), f"keys without a row: {sorted(expected - set(rows))}"
    assert not set(rows) - expected, f"rows for no key: {sorted(set(rows) - expected)}"


def test_business_keys_are_the_parsers() -> None:
    assert set(BUSINESS_KEYS) == set(_BUSINESS_KEYS)


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_default_cell_is_the_model_default(key: str, rows: dict[str, Row]) -> None:
    default = FIELDS[key].default
    if default is None:
        assert rows[key].default == UNSET
        return
    value = _toml_value(rows[key].default)
    expected = list(default) if isinstance(default, tuple) else default
    assert (type(value), value) == (type(expected), expected)
    section = RawConfig.model_validate(_nested(key, value))
    for part in key.split("."):
        section = getattr(section, part)
    assert section == default


@pytest.mark.parametrize(
    ("key", "cell"),
    [
        ("imap.security", '`"tls"`'),
        ("github.limits.writes_per_minute", "`80`"),
        ("inbound.ignore_precedence", '`["bulk", "junk", "auto_reply"]`'),
        ("inbound.show_full_address", "`false`"),
        ("imap.timeout", "`60.0`"),
        ("github.token", UNSET),
        ("business.timezone", '`"America/Los_Angeles"`'),
    ],
)
def test_some_defaults_read_as_expected(key: str, cell: str, rows: dict[str, Row]) -> None:
    assert rows[key].default == cell


def test_business_defaults_are_what_an_empty_table_gives(rows: dict[str, Row]) -> None:
    shown = {key.removeprefix("business."): _toml_value(row.default)
             for key, row in rows.items()
             if key.startswith("business.") and row.default != UNSET}
    assert {"timezone", "hours", "weekdays"} <= set(shown)
    build = lambda table: calendar_from_mapping(table, source="t", base_dir=Path("."))  # noqa: E731
    assert build(shown) == build({})


@pytest.mark.parametrize(
    ("key", "cell"),
    [
        ("imap.security", '`"tls"`, `"starttls"`, `"plain"`'),
        ("github.token", "secret"),
        ("list.footer_markers", "list of strings"),
        ("imap.port", "integer"),
        ("imap.timeout", "number"),
        ("imap.idle", "boolean"),
        ("imap.host", "string"),
    ],
)
def test_type_cells(key: str, cell: str, rows: dict[str, Row]) -> None:
    assert rows[key].type == cell


@pytest.mark.parametrize(
    "key", sorted(k for k, f in FIELDS.items() if get_origin(f.annotation) is Literal))
def test_choice_types_list_every_allowed_value(key: str, rows: dict[str, Row]) -> None:
    allowed = [_toml_value(cell) for cell in rows[key].type.split(", ")]
    assert allowed == list(get_args(FIELDS[key].annotation))


@pytest.mark.parametrize(
    ("key", "sentence"),
    [
        ("imap.port", "Must be 0\N{EN DASH}65535."),
        ("inbound.max_body_chars", "Must be 1000\N{EN DASH}65536."),
        ("notify.reminder_share", "Must be between 0 and 1 exclusive."),
        ("github.limits.writes_per_minute", "Must be ≥ 1."),
        ("imap.timeout", "Must be > 0."),
    ],
)
def test_bounds_are_appended(key: str, sentence: str, rows: dict[str, Row]) -> None:
    assert rows[key].description.endswith(" " + sentence)


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_bounds_sentence_only_where_there_are_bounds(key: str, rows: dict[str, Row]) -> None:
    bounds = [str(value) for item in FIELDS[key].metadata for value in astuple(item)]
    sentence = re.search(r" Must be ([^.]*)\.$", rows[key].description)
    if not bounds:
        assert sentence is None
        return
    assert sentence is not None
    assert re.findall(r"\d+(?:\.\d+)?", sentence[1]) == bounds


def test_secret_table_covers_every_secret_key() -> None:
    secret_keys = {k for k, f in FIELDS.items() if SecretStr in get_args(f.annotation)}
    assert {s.inline_key for s in SECRETS if s.inline_key} == secret_keys
    for secret in SECRETS:
        assert FIELDS[secret.file_key].annotation is str
        assert secret.env.startswith("VISIT_GATEWAY_")


def _secret_setup(tmp_path: Path, secret: Secret) -> Path:
    (tmp_path / "secret.txt").write_text("from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / secret.credential).write_text("from-credential\n")
    return creds


@pytest.mark.parametrize("secret", [s for s in SECRETS if s.inline_key],
                         ids=lambda s: s.credential)
def test_secret_is_looked_up_in_the_documented_order(secret: Secret, tmp_path: Path) -> None:
    creds = _secret_setup(tmp_path, secret)
    assert secret.inline_key is not None
    section, inline = secret.inline_key.split(".")
    file_section, file_key = secret.file_key.split(".")
    assert file_section == section
    with_file = f'[{section}]\n{inline} = "inline"\n{file_key} = "secret.txt"\n'

    def found(text: str, env: dict[str, str]) -> str | None:
        config = parse_config(text, source="t.toml", base_dir=tmp_path, env=env)
        value = getattr(config, _CONFIG_ATTRIBUTE[secret.inline_key or ""])
        return value.get_secret_value() if value is not None else None

    assert found(with_file, {"CREDENTIALS_DIRECTORY": str(creds),
                             secret.env: "from-env"}) == "from-credential"
    assert found(with_file, {secret.env: "from-env"}) == "from-env"
    assert found(with_file, {}) == "from-file"
    assert found(f'[{section}]\n{inline} = "inline"\n', {}) == "inline"
    assert found("", {}) is None


def test_app_key_is_looked_up_in_the_documented_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = next(s for s in SECRETS if s.credential == "github-app-key")
    assert secret.inline_key is None
    creds = _secret_setup(tmp_path, secret)
    seen: list[str] = []

    class FakeAppAuth:
        def __init__(self, app_id: int, key: str) -> None:
            seen.append(key)

        def get_installation_auth(self, installation_id: int) -> None:
            return None

    monkeypatch.setattr(github.Auth, "AppAuth", FakeAppAuth)
    # The lookup order is the subject here; whether a key loads is tested in test_config.py.
    monkeypatch.setattr(gateway.config.loader, "_check_app_key", lambda *_args: None)
    section, file_key = secret.file_key.split(".")
    text = f'[{section}]\nauth = "app"\napp_id = 1\ninstallation_id = 2\n'
    config = parse_config(text + f'{file_key} = "secret.txt"\n', source="t.toml",
                          base_dir=tmp_path, env={})
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv(secret.env, "from-env")
    config.github_auth()
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    config.github_auth()
    monkeypatch.delenv(secret.env)
    config.github_auth()
    assert seen == ["from-credential", "from-env", "from-file"]
    bare = parse_config(text, source="t.toml", base_dir=tmp_path, env={})
    with pytest.raises(ConfigError) as info:
        bare.github_auth()
    assert info.value.key == secret.file_key


class _Undocumented(BaseModel):
    """A section whose key has no description."""

    x: int = 1


class _Untyped(BaseModel):
    """A section whose key has a type the reference cannot show."""

    x: dict[str, int] = Field(default={}, description="A table.")


@pytest.mark.parametrize(
    ("model", "error", "words"),
    [(_Undocumented, ValueError, "'x' has no description"),
     (_Untyped, TypeError, "no way to document the type")],
)
def test_generator_refuses_what_it_cannot_document(
    model: type[BaseModel], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        config_reference._model_blocks("x", model)
