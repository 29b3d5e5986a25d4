"""The house rules of `gateway/` (gateway/layers.py): imports go down, never up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.layers import BASE, PACKAGES, ROOT, TEST_SUPPORT

GATEWAY = Path(__file__).resolve().parents[3] / "gateway"


def part_of(module: str) -> str | None:
    """The house part a dotted `gateway...` module belongs to (None: not ours)."""
    parts = module.split(".")
    if parts[0] != "gateway":
        return None
    if len(parts) == 1:
        return "gateway"  # `from gateway import __version__`
    return parts[1]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (type-checking-only imports included: they are still a
    dependency a reader must follow)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                       if node.module == "gateway")
    return out


def rank(part: str) -> int:
    if part in BASE or part == "gateway":
        return -1
    if part in PACKAGES:
        return PACKAGES.index(part)
    if part in ROOT:
        return len(PACKAGES)
    if part == TEST_SUPPORT:
        return len(PACKAGES) + 1
    raise AssertionError(f"gateway/{part} is in no layer: add it to gateway/layers.py")


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        here = part_of(".".join(rel.parts))
        assert here is not None
        if here == "__init__" or here == "__main__":
            continue
        for line, module in imports_of(path):
            there = part_of(module)
            if there is None or there == here or there in ("__version__",):
                continue
            if rank(there) > rank(here) or (there in ROOT and here not in ROOT):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module} "
                             f"({here} may not import {there})")
    return found


def test_every_part_of_the_house_is_in_a_layer() -> None:
    parts = {p.stem if p.is_file() else p.name for p in GATEWAY.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    parts -= {"__init__", "__main__"}
    assert parts == {*BASE, *PACKAGES, *ROOT, TEST_SUPPORT}


def test_imports_only_go_down() -> None:
    assert violations(GATEWAY) == []


@pytest.mark.parametrize(("here", "source", "bad"), [
    ("config/x.py", "from gateway.duty.businesstime import BusinessCalendar\n", True),
    ("inbound/x.py", "from gateway.tracking.rules import GOAL\n", True),
    ("ops/x.py", "from gateway.wiring import pipeline_settings\n", True),
    ("inbound/x.py", "import gateway.testing.memory_mailbox\n", True),
    ("web/x.py", "from gateway.tracking import payload\n", False),
    ("inbound/x.py", "from gateway.store.db import Store\n", False),
    ("models.py", "from gateway.config import loader\n", True),
])
def test_the_check_catches_an_upward_import(tmp_path: Path, here: str, source: str,
                                            bad: bool) -> None:
    root = tmp_path / "gateway"
    target = root / here
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    assert bool(violations(root)) is bad
