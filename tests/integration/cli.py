"""Run `visit-gateway` in this process, the way a test would run it as a subprocess.

`run_cli("outbox", "list", "--config", F)` calls `gateway.cli.main` with its own standard
streams and environment, and gives back what `subprocess.run(..., capture_output=True)` gives:
the exit status, and stdout and stderr as text (or bytes with `text=False`). An exception the
command does not turn into an exit status propagates, where a subprocess would print a
traceback; both fail the test.

Why not a subprocess: starting one costs 0.6-1 s of imports (SQLAlchemy, alembic, PyGithub),
several seconds on a loaded machine or under faketime, for a call that itself takes
milliseconds; the command-line tests made about a hundred of them. What a subprocess checks
and this does not (the console script, the interpreter's exit) is covered by the tests that
start the real command (tests/integration/ops/test_cli_entry.py, test_start_refusals.py).

Process-wide state the command touches is put back afterwards: the standard streams, the
environment (when `env` is given) and structlog's configuration.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Literal, overload

import structlog

from gateway import cli

Done = subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]


@overload
def run_cli(*argv: str, stdin: bytes | str = b"", env: Mapping[str, str] | None = None,
            text: Literal[True] = True) -> subprocess.CompletedProcess[str]: ...


@overload
def run_cli(*argv: str, stdin: bytes | str = b"", env: Mapping[str, str] | None = None,
            text: Literal[False]) -> subprocess.CompletedProcess[bytes]: ...


def run_cli(*argv: str, stdin: bytes | str = b"", env: Mapping[str, str] | None = None,
            text: bool = True) -> Done:
    """Run `visit-gateway ARGV` here; `env` replaces the environment for the call."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    streams = {name: io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
               for name in ("stdout", "stderr")}
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_env = dict(os.environ) if env is not None else None
    saved_log = structlog.get_config()
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    sys.stdout, sys.stderr = streams["stdout"], streams["stderr"]
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        try:
            status = cli.main(list(argv))
        except SystemExit as exc:  # argparse's usage errors and --help
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        if saved_env is not None:
            os.environ.clear()
            os.environ.update(saved_env)
        structlog.configure(**saved_log)
    out, err = (_bytes(streams[name]) for name in ("stdout", "stderr"))
    if text:
        return subprocess.CompletedProcess(list(argv), status, _text(out), _text(err))
    return subprocess.CompletedProcess(list(argv), status, out, err)


def _bytes(stream: io.TextIOWrapper) -> bytes:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue()


def _text(data: bytes) -> str:
    """As `subprocess.run(text=True)` reads a pipe: UTF-8, universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
