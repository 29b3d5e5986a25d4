"""The Primary's temporary delegation of duty: the value, the checks, the effect on a schedule.

VisIt's process lets the Primary hand the role to the Backup for a while "by mutual agreement"
(customer-response-process.rst, "Roles"). While a `Delegation` is in force the delegate is the
Primary for every purpose (assignment, reminders, escalations, `oncall`), and the delegating
Primary takes the Backup's place when the delegate held it (or nobody did). `with_delegations`
does that by appending overrides after the schedule file's (later-listed wins), and only over
the stretches where the delegating person is the Primary without delegations: a schedule edited
since (a swap) is not overruled. `plan_delegation` checks a new one (`Planned` or `Refusal`):
only the Primary delegates, to someone on the roster, and never past the next handoff (a longer
one is cut there); `Delegated` is what recording one returns. Delegations do not chain: each
is checked and applied against the schedule without delegations.

Pure: no I/O, no clock, no store. The store's rows become these values in
`gateway.weekly.delegation`, which also records them and tells the delegate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.duty.schedule import Override, Person, Schedule, find_person

DELEGATION = "delegation"  # the source `Duty` reports for a role held by delegation


@dataclass(frozen=True, slots=True)
class Delegation:
    """`from_login` hands the Primary role to `to_login` over [start, until) (aware)."""

    from_login: str
    to_login: str
    start: dt.datetime
    until: dt.datetime
    id: int | None = None  # the store's number; None before it is recorded

    def __post_init__(self) -> None:
        for t in (self.start, self.until):
            if t.tzinfo is None or t.utcoffset() is None:
                raise ValueError(f"a delegation needs aware datetimes, got {t!r}")

    @property
    def label(self) -> str:
        return f"#{self.id}" if self.id is not None else "new"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delegation cannot be made, in words for the person who asked."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class Planned:
    """A delegation that passed the checks. With an `id`, the same one (or one covering it)
    is already recorded and nothing is to be added."""

    delegation: Delegation
    giver: Person
    taker: Person
    backup: Person | None  # the Backup while it is in force
    requested_until: dt.datetime

    @property
    def cut(self) -> bool:
        """`until` was cut at the next handoff."""
        return self.delegation.until < self.requested_until

    @property
    def recorded(self) -> bool:
        return self.delegation.id is not None


@dataclass(frozen=True, slots=True)
class Delegated:
    """The outcome of delegating (`gateway.weekly.delegation.delegate`): a delegation
    recorded (`created`), or found already recorded (the same one given again: nothing was
    added or queued). `cut`: its `until` was cut at the next handoff."""

    delegation: Delegation
    giver: Person
    taker: Person
    backup: Person | None
    created: bool
    cut: bool

    def describe(self, tz: dt.tzinfo) -> str:
        d = self.delegation
        text = (f"delegation #{d.id}: {self.taker.name} ({self.taker.github}) is Primary for "
                f"{self.giver.name} ({self.giver.github}) from {_when(d.start, tz)} until "
                f"{_when(d.until, tz)}")
        if self.cut:
            text += " (cut at the handoff: a delegation does not outlive the duty week)"
        if not self.created:
            text += " (already recorded: nothing added)"
        return text


def with_delegations(schedule: Schedule, delegations: Sequence[Delegation]) -> Schedule:
    """`schedule` with each delegation in force: over [start, until), wherever its giver is
    the Primary in `schedule`, the delegate is Primary, and the giver is Backup where the
    delegate was Backup or nobody was. A delegation naming someone no longer on the roster
    has no effect."""
    extra: list[Override] = []
    for delegation in delegations:
        extra += _overrides(schedule, delegation)
    if not extra:
        return schedule
    return replace(schedule, overrides=schedule.overrides + tuple(extra))


def delegation_at(schedule: Schedule, t: dt.datetime) -> Override | None:
    """The delegation override that makes the Primary at `t`, if the Primary holds by one
    (its `person` is the delegate, `on_behalf_of` the giver)."""
    override = schedule.override_at("primary", t)
    return override if override is not None and override.source == DELEGATION else None


def plan_delegation(schedule: Schedule, recorded: Sequence[Delegation], *, by: str | None,
                    to: str | None, start: dt.datetime, until: dt.datetime,
                    now: dt.datetime) -> Planned | Refusal:
    """Check a new delegation against `schedule` (without delegations) and those `recorded`.

    `by` (default: the Primary at `start`) must be the Primary at `start`; `to` (default: the
    Backup at `start`) must be on the roster and someone else. `start` may not be before `now`,
    `until` must be after `start`; an `until` past the next handoff is cut there (a delegation
    does not outlive the duty week: the next Primary owes nothing to this one's agreement).
    The same delegation as a recorded one, or one a recorded one covers, is that one
    (`Planned.recorded`); one that overlaps another of the same giver is refused.
    """
    tz = schedule.calendar.tz
    if start < now:
        return Refusal(f"the delegation would start in the past ({_when(start, tz)}); "
                       "start it now or later")
    if until <= start:
        return Refusal(f"until ({_when(until, tz)}) must be after the start "
                       f"({_when(start, tz)})")
    duty = schedule.duty_at(start)
    try:
        giver = find_person(schedule.people, by) if by else duty.primary
        taker = find_person(schedule.people, to) if to else duty.backup
    except LookupError as exc:
        return Refusal(f"{exc.args[0]}: name a roster member by GitHub login")
    if giver is None:
        return Refusal(f"nobody is Primary at {_when(start, tz)}: there is no duty to delegate")
    if duty.primary != giver:
        return Refusal(f"{_who(giver)} is not the Primary at {_when(start, tz)} "
                       f"({_who(duty.primary)} is): only the Primary may delegate")
    if taker is None:
        return Refusal(f"nobody is Backup at {_when(start, tz)} to take over: name who does")
    if taker == giver:
        return Refusal(f"{_who(giver)} cannot delegate to themselves")
    handoff = schedule.next_handoff(start)
    delegation = Delegation(giver.github, taker.github, start, min(until, handoff))
    for other in recorded:
        if (other.from_login.casefold() != giver.github.casefold()
                or other.until <= delegation.start or delegation.until <= other.start):
            continue
        if (other.to_login.casefold() == taker.github.casefold()
                and other.start <= delegation.start and delegation.until <= other.until):
            delegation = other
            break
        return Refusal(f"{_who(giver)} already delegates to {other.to_login} from "
                       f"{_when(other.start, tz)} until {_when(other.until, tz)} "
                       f"({other.label}): cancel that one first")
    backup = giver if duty.backup in (None, taker) else duty.backup
    return Planned(delegation, giver, taker, backup, until)


def _overrides(schedule: Schedule, delegation: Delegation) -> list[Override]:
    try:
        giver = find_person(schedule.people, delegation.from_login)
        taker = find_person(schedule.people, delegation.to_login)
    except LookupError:
        return []
    if giver == taker:
        return []
    out: list[Override] = []
    t = delegation.start
    while t < delegation.until:
        for piece in schedule.week_duties(t):
            lo, hi = max(piece.start, delegation.start), min(piece.end, delegation.until)
            if lo >= hi or piece.primary != giver:
                continue
            out.append(Override(lo, hi, "primary", taker,
                                f"delegated by {giver.name}, {delegation.label}",
                                DELEGATION, giver))
            if piece.backup in (None, taker):
                out.append(Override(lo, hi, "backup", giver,
                                    f"delegating to {taker.name}, {delegation.label}",
                                    DELEGATION, giver))
        t = schedule.next_handoff(t)
    return _merged(out)


def _merged(overrides: list[Override]) -> list[Override]:
    """Join overrides of the same role and person that follow each other."""
    out: list[Override] = []
    for item in sorted(overrides, key=lambda o: (o.role, o.start)):
        last = out[-1] if out else None
        if last is not None and (last.role, last.person, last.end) == (item.role, item.person,
                                                                        item.start):
            out[-1] = replace(last, end=item.end)
        else:
            out.append(item)
    return out


def _who(person: Person | None) -> str:
    return f"{person.name} ({person.github})" if person else "nobody"


def _when(t: dt.datetime, tz: dt.tzinfo) -> str:
    return f"{t.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"
