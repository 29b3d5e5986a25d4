"""Benchmark: time and peak RSS to take in a message with one large attachment (issue 17).

For each size N (MB of random binary attachment, base64 on the wire as mail clients send it:
76-character CRLF lines, so the message is ~1.37 N MB), builds the message once, writes it to a
temporary file, and in a fresh child process per size and phase reads it and measures:

  parse   parse_email(raw)
  data    iterating attachment_data(raw), each attachment's bytes dropped before the next
  one     attachment_at(raw, 0)

The child imports the gateway and parses a small message first (so imports and caches are not
counted), records its RSS, reads the raw message, records RSS again, resets the peak
(/proc/self/clear_refs, falling back to ru_maxrss where that is refused), runs the phase and
reads the peak (VmHWM). The table shows the wall time, the peak over the RSS before the raw
message was read (so it includes the raw message, the one copy that cannot be avoided), the
peak over the RSS with the raw message held, and that last figure per MB of attachment. The
last line fits a slope across the sizes: MB of peak RSS per MB of attachment, beyond the raw.

    .venv/bin/python bench/attachment_memory.py [--sizes 1 5 10 25 50] [--phases parse data]

Prints figures; never pass/fail. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST = "visit-users@elist.ornl.gov"
MB = 1 << 20


def message(size: int) -> bytes:
    """A question with an attachment of `size` random bytes."""
    data = os.urandom(size)
    wire = base64.encodebytes(data).replace(b"\n", b"\r\n")
    del data
    head = (
        b"From: Ana Lima <ana.lima@univ.edu>\r\nTo: " + LIST.encode() + b"\r\n"
        b"Subject: Crash reading this file\r\nMessage-ID: <big-attachment@univ.edu>\r\n"
        b"Date: Tue, 17 Mar 2026 09:14:00 +0000\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"==sep==\"\r\n\r\n"
        b"--==sep==\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"VisIt crashes when it opens the attached file.\r\n"
        b"--==sep==\r\nContent-Type: application/octet-stream; name=\"mesh.silo\"\r\n"
        b"Content-Disposition: attachment; filename=\"mesh.silo\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head + wire + b"--==sep==--\r\n"


def _status(field: str) -> float:
    """A field of /proc/self/status, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def _child(phase: str, path: Path) -> None:
    from gateway.inbound.attachment_data import attachment_at, attachment_data
    from gateway.inbound.parse import parse_email

    parse_email(message(1024), list_address=LIST)  # imports, caches
    before = _status("VmRSS")
    raw = path.read_bytes()
    held = _status("VmRSS")
    if not _reset_peak():
        held = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if phase == "parse":
        parse_email(raw, list_address=LIST)
    elif phase == "data":
        for data in attachment_data(raw):
            del data
    else:
        attachment_at(raw, 0)
    seconds = time.perf_counter() - start
    peak = max(_status("VmHWM"), held)
    print(json.dumps({"seconds": seconds, "before": before, "held": held, "peak": peak,
                      "raw": len(raw) / MB}))


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    top = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return top / sum((x - mean_x) ** 2 for x, _ in points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10, 25, 50],
                        help="attachment sizes in MB")
    parser.add_argument("--phases", nargs="+", default=["parse", "data"],
                        choices=["parse", "data", "one"])
    parser.add_argument("--child", nargs=2, metavar=("PHASE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    print(f"{'phase':<6} {'att MB':>6} {'raw MB':>7} {'time s':>7} {'peak-base':>9} "
          f"{'peak-raw':>9} {'per att MB':>10}")
    points: dict[str, list[tuple[float, float]]] = {phase: [] for phase in args.phases}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"{size}.eml"
            path.write_bytes(message(size * MB))
            for phase in args.phases:
                out = subprocess.run([sys.executable, __file__, "--child", phase, str(path)],
                                     check=True, capture_output=True, text=True)
                got = json.loads(out.stdout)
                over_raw = got["peak"] - got["held"]
                points[phase].append((size, over_raw))
                print(f"{phase:<6} {size:>6} {got['raw']:>7.1f} {got['seconds']:>7.2f} "
                      f"{got['peak'] - got['before']:>9.1f} {over_raw:>9.1f} "
                      f"{over_raw / size:>10.2f}")
            path.unlink()
    for phase, fitted in points.items():
        print(f"{phase}: peak RSS grows {_slope(fitted):.2f} MB per MB of attachment "
              "beyond the raw message (least squares over the sizes)")


if __name__ == "__main__":
    main()
