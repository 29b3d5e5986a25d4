"""One instance per SQLite database (issue 18): an exclusive lock on `<database>.lock`.

SQLite deployments are single-instance: two daemons on one file would both read the mailbox
and both write to GitHub. `hold` takes a non-blocking exclusive `flock` on a file beside the
database for as long as the process lives (the kernel drops it when the process dies, however
it dies, so a kill -9 never leaves a stale lock); a second `visit-gateway run` on the same file
is refused at once, naming the first one's pid. Several instances need PostgreSQL
(`gateway.store.leader`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from gateway.errors import FatalError


def hold(database: Path) -> IO[bytes]:
    """The open, locked file; keep it for the life of the process. FatalError when another
    process holds it."""
    path = database.with_name(database.name + ".lock")
    try:
        handle = open(path, "a+b")  # noqa: SIM115  # held open for the life of the process
    except OSError as exc:
        raise FatalError(f"cannot open {path}: {exc.strerror} (fix: give the service's user "
                         "write access to the database's directory)") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read(32).decode("ascii", "replace").strip() or "unknown"
        handle.close()
        raise FatalError(
            f"another visit-gateway run (pid {holder}) is using the SQLite database {database} "
            "(fix: stop it first; several instances need a PostgreSQL database.url)") from None
    with contextlib.suppress(OSError):
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
    return handle
