"""The installed `visit-gateway` command itself, as a shell starts it.

The command-line tests call `gateway.cli.main` in this process (`gateway.testing.cli`): this is
what they do not check, the console script the package installs, its streams and its exit
status as a process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway import __version__

from ...conftest import EXAMPLE_CONFIG

COMMAND = Path(sys.executable).parent / "visit-gateway"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_console_script_runs_a_command_and_exits_0() -> None:
    assert run("--version").stdout.strip() == f"visit-gateway {__version__}"
    done = run("schedule", "check", "--config", str(EXAMPLE_CONFIG))
    assert done.returncode == 0, done.stderr
    assert done.stdout


def test_a_usage_error_is_exit_2_with_one_line_and_no_traceback() -> None:
    done = run("oncall", "--at", "next tuesday", "--config", str(EXAMPLE_CONFIG))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr and "--at" in done.stderr
