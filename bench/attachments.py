"""Benchmark: take in a message with one large attachment, end to end (issue 17).

For each size (default 1, 10 and 25 MB; 25 MB is the default cap per file) a fresh daemon
(`visit-gateway run`, real Dovecot, the GitHub emulator over HTTP with a private attachment
repository) reads one mail with one random binary attachment of that size, stores the file
through the Git Data API and opens the issue that links it. Printed per size: the time from
APPEND to the issue existing (the file is stored before the issue that links it is written),
and the daemon's peak RSS (VmHWM) beside its RSS when idle before the mail, so the growth per
MB of attachment shows how many copies are held. The raw message is 1.37 bytes per byte of
attachment (base64): it is kept in the database, read back by the writer, and the file's bytes
are decoded from it, so "one copy in memory" is about 1.37 + 1 + the base64 of the blob sent.

    .venv/bin/python bench/attachments.py [--sizes 1 10 25]

Prints figures; never pass/fail. Needs Dovecot (scripts/install-test-servers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.testing.dovecot import DovecotServer  # noqa: E402
from gateway.testing.github_emulator import Emulator  # noqa: E402
from tests.integration.daemon import (  # noqa: E402
    BOT,
    REPO,
    Daemon,
    setup_github,
    wait_for,
    write_config,
)

ATTACH = "visit-dav/visit-attachments"
MB = 1024 * 1024


def message(size_mb: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Jane Roe <jane.roe@univ.edu>"
    mail["To"] = "visit-users@elist.ornl.gov"
    mail["Subject"] = f"[visit-users] A {size_mb} MB data file"
    mail["Message-ID"] = f"<bench-att-{size_mb}-{time.time_ns()}@univ.edu>"
    mail.set_content("The data file that reproduces it is attached.")
    mail.add_attachment(os.urandom(size_mb * MB), maintype="application",
                        subtype="octet-stream", filename="reproducer.silo")
    return mail.as_bytes()


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one(size_mb: int) -> tuple[float, float, float, int]:
    """(seconds APPEND -> issue, idle RSS MB, peak RSS MB, raw message bytes)."""
    mail = message(size_mb)
    emu = Emulator(seed=5)
    token = setup_github(emu)
    emu.add_repo(ATTACH, private=True)
    emu.add_collaborator(ATTACH, BOT, "write")
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as dovecot, \
            emu.serve() as url:
        config = write_config(Path(tmp), dovecot, url, poll_interval=0.5,
                              extra=f'\n[attachments]\nrepository = "{ATTACH}"\n')
        daemon = Daemon(config, token=token, password=dovecot.password,
                        log=Path(tmp) / "daemon.log")
        daemon.start()
        try:
            wait_for(lambda: '"imap.connected"' in daemon.output(), 30, "IMAP", daemon)
            time.sleep(1.0)
            assert daemon.process is not None
            idle = status_mb(daemon.process.pid, "VmRSS")
            started = time.monotonic()
            dovecot.append("INBOX", mail)
            wait_for(lambda: len(emu.issues(REPO)) == 1, 300, "the issue", daemon)
            took = time.monotonic() - started
            peak = status_mb(daemon.process.pid, "VmHWM")
            assert "reproducer.silo" in emu.issues(REPO)[0].body
            daemon.stop()
        finally:
            daemon.close()
    return took, idle, peak, len(mail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 25])
    args = parser.parse_args()
    print(f"{'attachment':>10}  {'raw mail':>9}  {'APPEND->issue':>13}  {'idle RSS':>9}  "
          f"{'peak RSS':>9}  {'growth':>8}  {'per MB':>6}")
    for size in args.sizes:
        took, idle, peak, raw = one(size)
        growth = peak - idle
        print(f"{size:>7} MB  {raw / MB:>6.1f} MB  {took:>11.2f} s  {idle:>6.1f} MB  "
              f"{peak:>6.1f} MB  {growth:>5.1f} MB  {growth / size:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
