"""Hotline records: an inquiry by phone or in person, written down as an RFC 5322 message.

`visit-gateway log-inquiry` turns what a team member types (the customer, when they called or
came by, a subject, how, notes) into a message that takes the same durable path as mail: stored
under its key, decided by the pipeline, written to GitHub from the outbox. This module holds
the pure parts: the checks of the inputs (`parse_customer`, `parse_arrival`, `check_subject`,
`check_via`), the record (`HotlineCall`) and its message (`hotline_message`) with a stable
Message-ID (`hotline_message_id`: the same call logged twice is one message, so one inquiry),
and the label the pipeline reads back (`Logged`, `logged_label`).

The label headers (`X-Visit-Gateway-Via`, `-Logged-By`, `-Ack`) are only a label: anyone can
write them in a mail. They are read only from a record that `log-inquiry` stored itself
(`is_hotline_source`: the store's folder `HOTLINE_FOLDER` and no IMAP UID), never from mail
that came from the mailbox or `replay`, which is handled like any other mail whatever headers
it carries. Hotline Message-IDs are at `hotline.<mail.message_id_domain>`, never at the
gateway's own domain, which the classifier reads as our own outgoing mail.

No I/O, no clock (`now` is passed in): `gateway.inbound.log_inquiry` runs a record through the
pipeline.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from gateway.errors import UsageError
from gateway.models import Address, Email

VIAS = ("phone", "walk-in")
VIA_HEADER = "X-Visit-Gateway-Via"
BY_HEADER = "X-Visit-Gateway-Logged-By"  # "Name <login>": the team member who logged it
ACK_HEADER = "X-Visit-Gateway-Ack"  # "yes": the caller gets the acknowledgement and later mail
# The store's `folder` of a record log-inquiry stored (an IMAP copy always has a UID as well).
HOTLINE_FOLDER = "(log-inquiry)"
# A time a little ahead of the machine's clock is a watch set fast, not a mistake.
FUTURE_SLACK = dt.timedelta(minutes=10)
MAX_SUBJECT = 256  # GitHub's limit for an issue title
MAX_NAME = 200
_POLICY = email.policy.SMTP  # CRLF line endings, as a mailbox hands mail over
_BY = re.compile(r"^(?P<name>.*?)\s*<(?P<login>[^<>\s]+)>\s*$")


@dataclass(frozen=True, slots=True)
class Logged:
    """What the label of a hotline record says: how the customer came (`via`), who logged it
    (GitHub login and roster name), and whether the customer wants mail from the gateway."""

    via: str
    login: str
    name: str = ""
    ack: bool = False


@dataclass(frozen=True, slots=True)
class HotlineCall:
    """One inquiry by phone or in person, as checked inputs. `at` is when it came in (aware,
    whole seconds); `notes` may be empty."""

    customer: Address
    at: dt.datetime
    subject: str
    notes: str
    logged: Logged


def parse_customer(text: str) -> Address:
    """`Jane Roe <jane@univ.edu>` or a bare address, as an `Address` (address lower-cased)."""
    if "@" not in text:
        raise UsageError(f"log-inquiry: --customer {text!r} has no email address; write it as "
                         '"Jane Roe <jane@univ.edu>"')
    found = getaddresses([text])
    if len(found) != 1 or not found[0][1]:
        raise UsageError(f"log-inquiry: --customer {text!r} is not one address; write it as "
                         '"Jane Roe <jane@univ.edu>" or jane@univ.edu (a name with a comma '
                         'in double quotes)')
    name, addr = found[0]
    local, at, domain = addr.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or not addr.isascii() or any(
            char.isspace() or not char.isprintable() for char in addr):
        raise UsageError(f"log-inquiry: --customer {text!r}: {addr!r} is not an email address "
                         "such as jane@univ.edu")
    name = " ".join(name.split())
    if len(name) > MAX_NAME or not name.isprintable():
        raise UsageError(f"log-inquiry: --customer: the name must be one line of at most "
                         f"{MAX_NAME} characters")
    return Address(name, addr.lower())


def parse_arrival(value: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the call came in: aware, not later than `now` (plus FUTURE_SLACK), whole seconds
    (a Date header has no fractions, and the Message-ID hashes the instant)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"log-inquiry: --at {value.isoformat()} has no UTC offset; write it "
                         "like 2026-03-02T08:00-08:00 or with Z")
    if value > now + FUTURE_SLACK:
        raise UsageError(f"log-inquiry: --at {value.isoformat()} is in the future (now: "
                         f"{now.astimezone(value.tzinfo).isoformat(timespec='minutes')}); give "
                         "the time the call came in")
    return value.replace(microsecond=0)


def check_subject(text: str) -> str:
    """One line of 1 to MAX_SUBJECT characters, spaces collapsed."""
    subject = " ".join(text.split())
    if not subject or len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise UsageError(f"log-inquiry: --subject must be one line of 1 to {MAX_SUBJECT} "
                         "characters")
    return subject


def check_via(text: str) -> str:
    via = text.strip().lower()
    if via not in VIAS:
        raise UsageError(f"log-inquiry: --via {text!r}: write {' or '.join(VIAS)}")
    return via


def hotline_message_id(customer: str, at: dt.datetime, subject: str, via: str,
                       domain: str) -> str:
    """`<hotline-<sha256 of customer|T|subject|via>@hotline.<domain>>`: the same inputs (the
    address in any case, the instant in any offset) give the same id. Not at `domain` itself:
    an id there is the gateway's own outgoing mail (`classify.is_own_mail`)."""
    basis = "|".join((customer.lower(), at.astimezone(dt.UTC).isoformat(), subject, via))
    digest = hashlib.sha256(basis.encode("utf-8")).hexdigest()
    return f"<hotline-{digest}@hotline.{domain.lower()}>"


def hotline_message(call: HotlineCall, message_id_domain: str) -> bytes:
    """The record as a text/plain message: From the customer, Date the arrival, the subject,
    the stable Message-ID, the label headers, the notes as its body. Nothing in it depends on
    when it is made, so the same call gives the same bytes."""
    message = EmailMessage(policy=_POLICY)
    customer = call.customer
    message["From"] = HeaderAddress(display_name=customer.name, addr_spec=customer.addr)
    message["Date"] = format_datetime(call.at)
    message["Subject"] = call.subject
    message["Message-ID"] = hotline_message_id(customer.addr, call.at, call.subject,
                                               call.logged.via, message_id_domain)
    logged = call.logged
    message[VIA_HEADER] = logged.via
    message[BY_HEADER] = f"{logged.name} <{logged.login}>" if logged.name else f"<{logged.login}>"
    message[ACK_HEADER] = "yes" if logged.ack else "no"
    notes = "\n".join(line.rstrip() for line in call.notes.replace("\r\n", "\n").split("\n"))
    message.set_content(notes.strip("\n") + "\n", charset="utf-8")
    return message.as_bytes()


def is_hotline_source(folder: str | None, uid: int | None) -> bool:
    """Whether a stored message is a record `log-inquiry` stored (not mail from the mailbox,
    which always has a UID, nor from `replay`, which has no folder)."""
    return folder == HOTLINE_FOLDER and uid is None


def logged_label(email: Email) -> Logged | None:
    """The label of a hotline record, or None when it has none (or a broken one). Call it only
    for a message `is_hotline_source` vouches for: on other mail the headers mean nothing."""
    via = (email.header(VIA_HEADER) or "").strip().lower()
    found = _BY.match(email.header(BY_HEADER) or "")
    if via not in VIAS or found is None:
        return None
    ack = (email.header(ACK_HEADER) or "").strip().lower() == "yes"
    return Logged(via, found["login"], found["name"].strip(), ack)
