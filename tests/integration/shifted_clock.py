"""`python -m tests.integration.shifted_clock INSTANT ARGS...`: run `gateway.cli ARGS` as its own
process with the gateway's clock starting at INSTANT (ISO 8601 with a zone) and ticking at the
real rate, so a test can watch a job fall due on a chosen day.

Every component takes its time from `gateway.clock.SystemClock`, which this replaces before
the command starts; nothing else changes. libfaketime cannot do this for the daemon: its 0.9.10
(Debian 12) never returns from a `threading.Event.wait(timeout)`, which the daemon's loops use.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from gateway import clock


def main() -> int:
    start = dt.datetime.fromisoformat(sys.argv[1]).astimezone(dt.UTC)
    began = time.monotonic()

    def now(_self: clock.SystemClock) -> dt.datetime:
        return start + dt.timedelta(seconds=time.monotonic() - began)

    clock.SystemClock.now = now  # type: ignore[method-assign]
    from gateway.cli import main as cli

    return cli(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
