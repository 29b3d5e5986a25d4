"""Effort: ``/spend`` quick actions in issue comments (GitLab's convention, docs.gitlab.com
"Time tracking").

Holds `parse_spend` and its values `Spend`, `SpendProblem`, `SpendLines`. Pure: no I/O, no
clock; the comment's instant and the team's time zone are passed in. It must not decide whose
comments count or store anything (`tracking_service` does).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NamedTuple

_MINUTES = {"w": 5 * 8 * 60, "d": 8 * 60, "h": 60, "m": 1}  # GitLab: 1w = 5d, 1d = 8h
_COMMAND = re.compile(r"^ {0,3}/spen[dt](?:\s+(?P<args>.*?))?\s*$")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION_WORD = re.compile(r"(?:\d+[a-z]+)+")
_PART = re.compile(r"(\d+)([a-z]+)")


@dataclass(frozen=True, slots=True)
class Spend:
    """Time spent on `day` (local), in minutes; negative corrects an earlier entry."""

    minutes: int
    day: dt.date


@dataclass(frozen=True, slots=True)
class SpendProblem:
    """A ``/spend`` line that could not be read: the line as written and why."""

    line: str
    reason: str


class SpendLines(NamedTuple):
    spends: tuple[Spend, ...]
    problems: tuple[SpendProblem, ...]


def parse_spend(body: str, at: dt.datetime, tz: dt.tzinfo) -> SpendLines:
    """The ``/spend`` (or ``/spent``) lines of a comment posted at `at`, and the bad ones.

    One command per line: ``/spend 1h30m``, ``/spend 1h 30m``, ``/spend -30m``, ``/spend 1d``
    (8h; 1w is 5d), optionally followed by the day it was spent, ``/spend 1h 2026-03-04``;
    otherwise the comment's local date in `tz`. Units are w, d, h, m, largest first, whole
    numbers. Lines in fenced code blocks and quoted lines (``>``, as in a quoted email) are
    not commands. Unreadable commands are returned as problems, never raised.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"parse_spend at must be an aware datetime, got naive {at.isoformat()}")
    today = at.astimezone(tz).date()
    spends: list[Spend] = []
    problems: list[SpendProblem] = []
    fence: str | None = None
    for line in body.splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening["fence"][0] == fence[0] and len(opening["fence"]) >= len(
                    fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        if opening:
            fence = opening["fence"]
            continue
        # Anchored at the line start: a quoted line (``> /spend 1h``) is not a command, nor
        # are /spending or /spend: ...
        command = _COMMAND.match(line)
        if command is None:
            continue
        result = _read_spend(command["args"] or "", today)
        if isinstance(result, str):
            problems.append(SpendProblem(line.strip(), result))
        else:
            spends.append(result)
    return SpendLines(tuple(spends), tuple(problems))


def _read_spend(args: str, today: dt.date) -> Spend | str:
    words = args.lower().split()
    day = today
    if words and _DATE.match(words[-1]):
        try:
            day = dt.date.fromisoformat(words.pop())
        except ValueError:
            return f"{args.split()[-1]} is not a date"
        if day > today:
            return f"{day} is after the day of the comment ({today})"
    if not words:
        return "no duration: write e.g. /spend 1h30m"
    sign = -1 if words[0].startswith("-") else 1
    words[0] = words[0].removeprefix("-")
    if not all(_DURATION_WORD.fullmatch(word) for word in words):
        return f"cannot read {args.strip()!r} as a duration: write e.g. 1h30m, 45m, 1d"
    minutes, last = 0, None
    for part in _PART.finditer("".join(words)):
        number, unit = int(part[1]), part[2]
        if unit not in _MINUTES:
            return f"unknown unit {unit!r}: use w, d, h or m"
        if last is not None and _MINUTES[unit] >= _MINUTES[last]:
            return "units must each appear once, largest first (1d2h30m)"
        minutes, last = minutes + number * _MINUTES[unit], unit
    if minutes == 0:
        return "a zero duration records nothing"
    return Spend(sign * minutes, day)
