"""Benchmark of composing an outbound mail (`gateway.outbound.mail.compose`), CPU only.

Composes one realistic acknowledgement (a customer with a display name, one Cc, a subject,
In-Reply-To and References, a body of a few hundred characters) --calls times, after a
warm-up, and prints the mean time a call. With --fresh-recipients every call writes to a
different customer, so the headers kept between calls (`_kept`) serve only our own From,
Reply-To and the fixed headers: the case of a backlog of first messages from different people.

    .venv/bin/python bench/compose.py [--calls 2000] [--fresh-recipients]

Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.outbound.mail import (
    MailIdentity,
    OutboundMail,
    compose,
    message_id_for,
)

IDENTITY = MailIdentity(
    from_address="visit-gateway@llnl.gov",
    from_name="VisIt Customer Response",
    reply_to="visit-users@elist.ornl.gov",
    loop_header="X-Visit-Gateway",
    loop_id="visit-dav/live-customer-response",
    message_id_domain="visit-gateway.llnl.gov",
)
BODY = ("Hello Jane,\n\nThank you for writing to the VisIt team. Your question is now issue "
        "#123:\nhttps://github.com/visit-dav/live-customer-response/issues/123\n\nAlice Primary "
        "is looking at it and will answer within four business hours (by Monday 13:12 PST).\n"
        "\nThe VisIt team\n")
DATE = dt.datetime(2026, 12, 7, 17, 12, tzinfo=dt.UTC)


def mail(n: int, fresh: bool) -> OutboundMail:
    customer = f"jane.roe{n if fresh else ''}@univ.edu"
    return OutboundMail(
        kind="ack", to=(("Jane Roe", customer),), cc=(("Bob Colleague", "bob@lab.gov"),),
        subject=f"Re: [visit-users] Crash when opening a Silo file with {n} domains",
        body=BODY, in_reply_to=f"<q{n}@univ.edu>", references=(f"<q{n}@univ.edu>",),
        auto_submitted="auto-replied", thread_id=f"th-{n:012x}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--fresh-recipients", action="store_true")
    args = parser.parse_args()
    mails = [mail(n, args.fresh_recipients) for n in range(args.calls + 200)]
    ids = [message_id_for(f"mail:ack:{n}", IDENTITY.message_id_domain)
           for n in range(len(mails))]
    for n in range(200):  # warm-up
        compose(mails[n], IDENTITY, ids[n], DATE)
    start = time.process_time()
    for n in range(200, len(mails)):
        compose(mails[n], IDENTITY, ids[n], DATE)
    spent = time.process_time() - start
    recipients = "a new customer each time" if args.fresh_recipients else "one customer"
    print(f"compose, {args.calls} acknowledgements to {recipients}: "
          f"{1e6 * spent / args.calls:.0f} µs of CPU a message")


if __name__ == "__main__":
    main()
