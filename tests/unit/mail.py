"""Build small raw messages for unit tests (realistic headers without a fixture file)."""

from __future__ import annotations

from gateway.inbound.parse import parse_email
from gateway.models import Email

LIST = "visit-users@elist.ornl.gov"


def raw(headers: dict[str, str], body: str = "Hello\n") -> bytes:
    base = {
        "From": "Jane Roe <jane.roe@univ.edu>",
        "To": LIST,
        "Subject": "[visit-users] A question",
        "Date": "Tue, 3 Mar 2026 09:14:00 -0800",
        "Message-ID": "<q1@univ.edu>",
        "List-Id": "VisIt Users <visit-users.elist.ornl.gov>",
        "Precedence": "list",
        "Content-Type": "text/plain; charset=utf-8",
    }
    for name, value in headers.items():
        if value == "":
            base.pop(name, None)
        else:
            base[name] = value
    head = "".join(f"{name}: {value}\r\n" for name, value in base.items())
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


def email(headers: dict[str, str] | None = None, body: str = "Hello\n") -> Email:
    return parse_email(raw(headers or {}, body), list_address=LIST)
