"""TOML files: reading one with errors that point at a line, and the checks loaders share.

Holds `is_file`, `read_toml`, `table_line` and `check_keys`, used by `business_config` (the
`[business]` table and the holidays file) and `schedule_file` (the schedule), and `not_utf8`,
which `config` shares. Every problem is a ConfigError naming the file and, where it can, the
line. The only I/O is reading the file it is
given; it must not know what any table means: that belongs to the loaders.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def is_file(path: Path) -> bool:
    """`path.is_file()`, except that a path behind a directory we may not enter counts as a
    file, so that reading it reports the permission problem: Path.is_file raises
    PermissionError there, which would end the daemon with a traceback."""
    try:
        return path.is_file()
    except PermissionError:
        return True


UTF8_FIX = ("save it as UTF-8 (TOML files are UTF-8): iconv -f latin1 -t utf-8 {path} > "
            "{path}.new, check it, then move it over the old one")


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The problem with a file that is not UTF-8, naming the first bad line: a Latin-1 or
    Windows-1252 accent in a comment is the usual cause."""
    data = exc.object
    line = data[:exc.start].count(b"\n") + 1
    return f"{path} is not UTF-8 text (line {line}: byte 0x{data[exc.start]:02x})"


def read_toml(path: Path, *, what: str, key: str = "file") -> tuple[dict[str, Any], str]:
    """Parse a TOML file; returns (data, text). Syntax errors name the file and line; `key`
    is the setting that names the file, for errors about the file itself."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(key, f"{what} not found", "create it or correct the path",
                          source=str(path)) from None
    except PermissionError:
        raise ConfigError(key, f"{what} {path}: permission denied",
                          f"make it readable by the gateway's user: chmod o+r {path}, and o+x "
                          "on each directory above it (docs/systemd.md, \"File modes\")",
                          source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(key, f"{what}: {not_utf8(path, exc)}", UTF8_FIX.format(path=path),
                          source=str(path)) from None
    except OSError as exc:
        raise ConfigError(key, f"cannot read {what}: {exc}",
                          "check the file's permissions", source=str(path)) from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOML_POSITION.search(message)
        line = f":{pos.group(1)}" if pos else ""
        problem = _TOML_POSITION.sub(f"(column {pos.group(2)})" if pos else "", message).strip()
        raise ConfigError("TOML syntax", problem,
                          "correct the TOML at that line (https://toml.io)",
                          source=f"{path}{line}") from exc


def table_line(text: str, table: str, index: int | None = None) -> int | None:
    """Line number (1-based) of the ``[table]`` header, or of the `index`-th ``[[table]]``."""
    brackets = (r"\[", r"\]") if index is None else (r"\[\[", r"\]\]")
    pattern = re.compile(rf"^[ \t]*{brackets[0]}[ \t]*{re.escape(table)}[ \t]*{brackets[1]}",
                         re.MULTILINE)
    for i, match in enumerate(pattern.finditer(text)):
        if index is None or i == index:
            return text.count("\n", 0, match.start()) + 1
    return None


def check_keys(table: Mapping[str, Any], allowed: Sequence[str], *, prefix: str,
               source: str) -> None:
    """Reject unknown keys, suggesting the closest known one."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{prefix}{key}", "unknown key",
                              f"{hint}known keys: {', '.join(allowed)}", source=source)
