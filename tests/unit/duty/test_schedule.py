"""Schedule: rotation, weeks, overrides, ICS, precedence, assignment, and bad files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.duty.business_config import calendar_from_mapping
from gateway.duty.oncall import check_schedule
from gateway.duty.schedule import Schedule, assignee_at_arrival
from gateway.duty.schedule_file import load_schedule
from gateway.errors import ConfigError

LA = ZoneInfo("America/Los_Angeles")
H = dt.timedelta(hours=1)
CONFIG = Path(__file__).resolve().parents[3] / "config"
CAL = calendar_from_mapping({"holidays_country": "US"}, source="gateway.toml", base_dir=CONFIG)

ROSTER = """\
[[person]]
name = "Ann Alpha"
email = "ann@example.org"
github = "ann"

[[person]]
name = "Bob Beta"
email = "bob@example.org"
github = "bob"

[[person]]
name = "Cat Gamma"
email = "cat@example.org"
github = "cat"
experience = "new"

[[person]]
name = "Dan Delta"
email = "dan@example.org"
github = "dan"
experience = "new"
fraction = 0.5
"""
# Weeks from 2026-03-02: ann/bob, bob/cat, cat/ann, ann/bob, ...
ROTATION = """
[rotation]
primary = ["ann", "bob", "cat"]
start = 2026-03-02
"""


def la(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LA)


def load(tmp_path: Path, body: str, ics: str | None = None) -> Schedule:
    if ics is not None:
        (tmp_path / "team.ics").write_text(ics)
        body += '\n[calendar]\nics = "team.ics"\n'
    path = tmp_path / "schedule.toml"
    path.write_text(ROSTER + body)
    return load_schedule(path, calendar=CAL)


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\nDTSTAMP:20260101T000000Z\n{e.strip()}\nEND:VEVENT\n"
                   for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n"


def logins(people: object) -> list[str | None]:
    return [p.github if p else None for p in people]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Rotation and handoffs


def test_rotation_wraps_around(tmp_path: Path) -> None:
    weeks = load(tmp_path, ROTATION).weeks(la(2026, 3, 4, 12), 7)
    assert logins(w.primary for w in weeks) == ["ann", "bob", "cat", "ann", "bob", "cat", "ann"]
    assert logins(w.backup for w in weeks) == ["bob", "cat", "ann", "bob", "cat", "ann", "bob"]
    assert {w.primary_source for w in weeks} == {w.backup_source for w in weeks} == {"rotation"}
    assert [w.start for w in weeks[:3]] == [la(2026, 3, 2, 8), la(2026, 3, 9, 8),
                                            la(2026, 3, 16, 8)]


def test_separate_backup_order_and_repeated_names(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION.replace('"cat"]', '"cat", "ann"]\nbackup = ["dan", "cat"]'))
    weeks = s.weeks(la(2026, 3, 2, 8), 5)
    assert logins(w.primary for w in weeks) == ["ann", "bob", "cat", "ann", "ann"]
    assert logins(w.backup for w in weeks) == ["dan", "cat", "dan", "cat", "dan"]


@pytest.mark.parametrize(("handoff", "start", "t", "primary"), [
    ("mon 08:00", "2026-03-02", la(2026, 3, 9, 7, 59), "ann"),
    ("mon 08:00", "2026-03-02", la(2026, 3, 9, 8), "bob"),
    ("mon 08:00", "2026-03-02", la(2026, 3, 1, 23), None),  # before the rotation starts
    ("Tuesday 09:30", "2026-03-03", la(2026, 3, 10, 9, 29), "ann"),
    ("tue 09:30", "2026-03-03", la(2026, 3, 10, 9, 30), "bob"),
    ("sun 18:00", "2026-03-01", la(2026, 3, 8, 18), "bob"),  # just after spring forward
])
def test_handoff_moment(tmp_path: Path, handoff: str, start: str, t: dt.datetime,
                        primary: str | None) -> None:
    s = load(tmp_path, ROTATION.replace("2026-03-02", start) + f'handoff = "{handoff}"\n')
    assert logins([s.duty_at(t).primary]) == [primary]


def test_weeks_are_handoff_to_handoff_across_dst(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION)
    spring = s.duty_at(la(2026, 3, 5, 12))
    assert (spring.start, spring.end) == (la(2026, 3, 2, 8), la(2026, 3, 9, 8))
    assert spring.end - spring.start == 167 * H
    autumn = s.duty_at(la(2026, 10, 28, 12))
    assert autumn.end - autumn.start == 169 * H
    assert s.next_handoff(la(2026, 3, 9, 7, 59)) == la(2026, 3, 9, 8)
    assert s.next_handoff(la(2026, 3, 9, 8)) == la(2026, 3, 16, 8)  # strictly after
    assert s.week_start(la(2026, 3, 8, 23)) == la(2026, 3, 2, 8)


# ---------------------------------------------------------------------------------------------
# Explicit weeks, overrides, swaps


def test_explicit_week_replaces_only_the_roles_it_names(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION + '\n[[week]]\nstart = 2026-03-09\nprimary = "dan"\n')
    week = s.weeks(la(2026, 3, 9, 8), 1)[0]
    assert logins([week.primary, week.backup]) == ["dan", "cat"]
    assert (week.primary_source, week.backup_source) == ("week", "rotation")
    assert s.duty_at(la(2026, 3, 16, 9)).primary_source == "rotation"


OVERRIDE = """
[[override]]
from = {start}
until = {until}
role = "{role}"
person = "{person}"
"""


def override(start: str, until: str, person: str, role: str = "primary") -> str:
    return OVERRIDE.format(start=start, until=until, role=role, person=person)


def test_override_covering_part_of_a_week(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION + override("2026-03-04", "2026-03-05", "dan"))
    before, during, after = (s.duty_at(t) for t in (la(2026, 3, 2, 9), la(2026, 3, 4, 10),
                                                    la(2026, 3, 6, 9)))
    assert logins([before.primary, during.primary, after.primary]) == ["ann", "dan", "ann"]
    assert (during.start, during.end) == (la(2026, 3, 4), la(2026, 3, 6))  # until is inclusive
    assert (before.start, before.end) == (la(2026, 3, 2, 8), la(2026, 3, 4))
    assert (after.start, after.end) == (la(2026, 3, 6), la(2026, 3, 9, 8))
    assert (during.primary_source, during.backup_source) == ("override", "rotation")
    assert logins([during.backup]) == ["bob"]


def test_override_naming_the_same_person_does_not_split_the_stretch(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION + override("2026-03-04", "2026-03-04", "ann"))
    duty = s.duty_at(la(2026, 3, 4, 10))
    assert (duty.start, duty.end, duty.primary_source) == (la(2026, 3, 2, 8), la(2026, 3, 9, 8),
                                                           "override")


@pytest.mark.parametrize(("order", "at_noon", "at_ten"), [
    ("dan-then-cat", "cat", "dan"),   # the later-listed (cat, 12:00-17:00) wins inside its range
    ("cat-then-dan", "dan", "dan"),   # the later-listed (dan, whole days) hides cat entirely
])
def test_overlapping_overrides_later_listed_wins(tmp_path: Path, order: str, at_noon: str,
                                                 at_ten: str) -> None:
    wide = override("2026-03-03", "2026-03-05", "dan")
    narrow = override("2026-03-04T12:00:00-08:00", "2026-03-04T17:00:00-08:00", "cat")
    s = load(tmp_path, ROTATION + (wide + narrow if order == "dan-then-cat" else narrow + wide))
    assert logins([s.duty_at(la(2026, 3, 4, 13)).primary]) == [at_noon]
    assert logins([s.duty_at(la(2026, 3, 4, 10)).primary]) == [at_ten]


def test_swap_written_as_two_overrides(tmp_path: Path) -> None:
    # Ann (Primary week of 03-02) and Bob (Primary week of 03-09) swap a Thursday each.
    s = load(tmp_path, ROTATION + override("2026-03-05", "2026-03-05", "bob")
             + override("2026-03-12", "2026-03-12", "ann"))
    got = [s.duty_at(t).primary for t in (la(2026, 3, 4, 9), la(2026, 3, 5, 9),
                                          la(2026, 3, 11, 9), la(2026, 3, 12, 9))]
    assert logins(got) == ["ann", "bob", "bob", "ann"]
    # Bob is Primary and (by rotation) Backup on 03-05: the check reports it.
    report = check_schedule(s, CAL, la(2026, 3, 2, 9), 2)
    assert [p.message.split(" from ")[0] for p in report.problems if p.severity == "error"] == [
        "Bob Beta is both Primary and Backup"]


def test_local_date_times_and_offsets(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION + override("2026-03-04T13:00:00", "2026-03-04T15:00:00", "dan")
             + override("2026-03-05T21:00:00Z", "2026-03-05T23:00:00Z", "cat"))
    assert s.duty_at(la(2026, 3, 4, 13)).primary.github == "dan"  # type: ignore[union-attr]
    assert s.duty_at(la(2026, 3, 4, 15)).primary.github == "ann"  # type: ignore[union-attr]
    assert s.duty_at(la(2026, 3, 5, 13)).primary.github == "cat"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# ICS and precedence

WEEKLY_BACKUP = """
UID:dan-backup
SUMMARY:VisIt Backup - Dan
DTSTART;TZID=America/Los_Angeles:20260302T080000
DTEND;TZID=America/Los_Angeles:20260309T080000
RRULE:FREQ=WEEKLY
EXDATE;TZID=America/Los_Angeles:20260316T080000
"""
MOVED_BACKUP = """
UID:dan-backup
RECURRENCE-ID;TZID=America/Los_Angeles:20260323T080000
SUMMARY:VisIt Backup - Dan
DTSTART;TZID=America/Los_Angeles:20260324T080000
DTEND;TZID=America/Los_Angeles:20260330T080000
"""


@pytest.mark.parametrize(("t", "backup", "source"), [
    (la(2026, 3, 3, 9), "dan", "ics"),
    (la(2026, 3, 17, 9), "ann", "rotation"),  # EXDATE: the rotation's Backup
    (la(2026, 3, 23, 9), "bob", "rotation"),  # moved to Tuesday: Monday falls through
    (la(2026, 3, 24, 9), "dan", "ics"),
    (la(2026, 3, 31, 9), "dan", "ics"),
])
def test_ics_recurrence_exceptions(tmp_path: Path, t: dt.datetime, backup: str,
                                   source: str) -> None:
    s = load(tmp_path, ROTATION, ics=ics(WEEKLY_BACKUP, MOVED_BACKUP))
    duty = s.duty_at(t)
    assert (duty.backup.github if duty.backup else None, duty.backup_source) == (backup, source)


def test_ics_event_across_dst(tmp_path: Path) -> None:
    event = ("UID:x\nSUMMARY:Primary: Dan Delta\n"
             "DTSTART;TZID=America/Los_Angeles:20260306T120000\n"
             "DTEND;TZID=America/Los_Angeles:20260310T120000")
    s = load(tmp_path, ROTATION, ics=ics(event))
    friday, monday, tuesday = (s.duty_at(t) for t in (la(2026, 3, 6, 13), la(2026, 3, 9, 9),
                                                      la(2026, 3, 10, 13)))
    assert logins([friday.primary, monday.primary, tuesday.primary]) == ["dan", "dan", "bob"]
    assert (friday.start, friday.end) == (la(2026, 3, 6, 12), la(2026, 3, 9, 8))
    assert (monday.start, monday.end) == (la(2026, 3, 9, 8), la(2026, 3, 10, 12))
    assert monday.end - friday.start == 95 * H  # four days less the skipped hour


PRECEDENCE = {
    "rotation": "",
    "week": '\n[[week]]\nstart = 2026-03-02\nprimary = "bob"\n',
    "override": override("2026-03-04", "2026-03-04", "dan"),
}
ICS_CAT = ics("UID:p\nSUMMARY:Primary: cat\nDTSTART;VALUE=DATE:20260304\n"
              "DTEND;VALUE=DATE:20260305")


@pytest.mark.parametrize(("sources", "wednesday", "monday"), [
    ({"rotation"}, ("ann", "rotation"), ("ann", "rotation")),
    ({"rotation", "week"}, ("bob", "week"), ("bob", "week")),
    ({"rotation", "ics"}, ("cat", "ics"), ("ann", "rotation")),
    ({"rotation", "override"}, ("dan", "override"), ("ann", "rotation")),
    ({"rotation", "week", "ics"}, ("cat", "ics"), ("bob", "week")),
    ({"rotation", "week", "override"}, ("dan", "override"), ("bob", "week")),
    ({"rotation", "ics", "override"}, ("dan", "override"), ("ann", "rotation")),
    ({"rotation", "week", "ics", "override"}, ("dan", "override"), ("bob", "week")),
    ({"week"}, ("bob", "week"), ("bob", "week")),
    ({"ics"}, ("cat", "ics"), (None, "none")),
])
def test_precedence(tmp_path: Path, sources: set[str], wednesday: tuple[str | None, str],
                    monday: tuple[str | None, str]) -> None:
    body = (ROTATION if "rotation" in sources else "") + "".join(
        PRECEDENCE[s] for s in ("week", "override") if s in sources)
    s = load(tmp_path, body, ics=ICS_CAT if "ics" in sources else None)
    for t, expected in ((la(2026, 3, 4, 10), wednesday), (la(2026, 3, 2, 10), monday)):
        duty = s.duty_at(t)
        assert (duty.primary.github if duty.primary else None, duty.primary_source) == expected


# ---------------------------------------------------------------------------------------------
# Who gets a new inquiry


@pytest.mark.parametrize(("arrival", "assignee", "why"), [
    (la(2026, 3, 6, 16), "ann", "Friday afternoon: this week's Primary"),
    (la(2026, 3, 6, 18), "bob", "Friday evening: next week's Primary"),
    (la(2026, 3, 7, 10), "bob", "Saturday"),
    (la(2026, 3, 8, 23), "bob", "Sunday night"),
    (la(2026, 3, 9, 7), "bob", "Monday before the handoff"),
    (la(2026, 3, 4, 12, 30), "ann", "lunch hour"),
    (la(2026, 5, 21, 10), "cat", "Thursday before Memorial Day"),
    (la(2026, 5, 22, 17, 30), "ann", "Friday before Memorial Day: Tuesday's Primary"),
    (la(2026, 5, 25, 10), "ann", "on the holiday Monday itself"),
    (la(2026, 2, 27, 18), "ann", "before the rotation starts: the first week's Primary"),
])
def test_assignee_at_arrival(tmp_path: Path, arrival: dt.datetime, assignee: str,
                             why: str) -> None:
    s = load(tmp_path, ROTATION)
    person = assignee_at_arrival(arrival, CAL, s)
    assert person is not None and person.github == assignee, why


def test_assignee_follows_an_override_on_monday(tmp_path: Path) -> None:
    s = load(tmp_path, ROTATION + override("2026-03-09", "2026-03-09", "dan"))
    assert assignee_at_arrival(la(2026, 3, 7, 10), CAL, s).github == "dan"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Week summaries


@pytest.mark.parametrize(("start", "until", "primary", "source"), [
    ("2026-03-04", "2026-03-05", "ann", "rotation"),   # Wed-Thu: 2 of 5 days
    ("2026-03-02", "2026-03-04", "dan", "override"),   # Mon-Wed: 3 of 5 days
    ("2026-03-07", "2026-03-08", "ann", "rotation"),   # the weekend has no business time
])
def test_week_summary_is_the_majority_of_business_time(tmp_path: Path, start: str, until: str,
                                                       primary: str, source: str) -> None:
    s = load(tmp_path, ROTATION + override(start, until, "dan"))
    week = s.weeks(la(2026, 3, 3), 1)[0]
    assert (week.primary.github, week.primary_source) == (primary, source)  # type: ignore[union-attr]
    assert (week.start, week.end) == (la(2026, 3, 2, 8), la(2026, 3, 9, 8))


# ---------------------------------------------------------------------------------------------
# Bad files: each error names the file, the line, the key, and the fix

BAD = [
    ('[rotation\nprimary = ["ann"]\n', "schedule.toml:23: TOML syntax", "correct the TOML"),
    ('[[person]]\nname = "Eve"\nemail = "eve@example.org"\ngithub = "eve"\nfraction = 1.5\n',
     "schedule.toml:23: person[4].fraction: 1.5 is not a share", "e.g. 0.5"),
    ('[[person]]\nname = "Eve"\ngithub = "eve"\n', "schedule.toml:23: person[4].email: missing",
     'email = "'),
    ('[[person]]\nname = "Eve"\nemail = "eve"\ngithub = "eve"\n',
     "person[4].email: 'eve' is not an email address", "e.g. email"),
    ('[[person]]\nname = "Eve"\nemail = "e@x.org"\ngithub = "https://github.com/eve"\n',
     "person[4].github", "without @ or URL"),
    ('[[person]]\nname = "Eve"\nemail = "e@x.org"\ngithub = "eve"\nexperience = "senior"\n',
     "person[4].experience: 'senior' is not new or experienced", '"new" or "experienced"'),
    ('[[person]]\nname = "Eve"\nemail = "e@x.org"\ngithub = "ANN"\n',
     "schedule.toml:23: person[4].github: 'ANN' is also person[0]", "list each person once"),
    ('[[person]]\nname = "Eve"\nemail = "e@x.org"\ngithub = "eve"\nroles = 1\n',
     "person[4].roles: unknown key", "known keys: name, email"),
    ('[[person]]\nname = "Eve"\nemail = "e@x.org"\ngithub = "eve"\n'
     'time_off = [{ from = 2026-07-10, until = 2026-07-06 }]\n',
     "person[4].time_off[0].until: 2026-07-06 is before from 2026-07-10", "last day off"),
    ('\n[rotation]\nprimary = ["ann", "zed"]\nstart = 2026-03-02\n',
     "schedule.toml:24: rotation.primary[1]: no person 'zed' in the roster",
     "known: ann, bob, cat, dan"),
    ('\n[rotation]\nprimary = ["ann"]\nstart = 2026-03-03\n',
     "rotation.start: 2026-03-03 is a Tuesday, but handoffs are on Monday",
     "use start = 2026-03-02"),
    ('\n[rotation]\nprimary = ["ann"]\n', "rotation.start: missing", "start = 2026-01-05"),
    ('\n[rotation]\nprimary = ["ann"]\nstart = 2026-03-02\nhandoff = "monday 8am"\n',
     "rotation.handoff: 'monday 8am' is not a weekday and time", 'handoff = "mon 08:00"'),
    ('\n[rotation]\nprimary = []\nstart = 2026-03-02\n', "rotation.primary: must be a list",
     'primary = ["markcmiller86"'),
    ('\n[[week]]\nstart = 2026-03-04\nprimary = "ann"\n',
     "schedule.toml:24: week[0].start: 2026-03-04 is not a handoff day (Monday)",
     "start = 2026-03-02"),
    ('\n[[week]]\nstart = 2026-03-02\nprimary = "ann"\n\n[[week]]\nstart = 2026-03-02\n'
     'backup = "bob"\n', "schedule.toml:28: week[1].start: week 2026-03-02 is also week[0]",
     "merge the two"),
    ('\n[[week]]\nstart = 2026-03-02\n', "week[0]: names nobody", 'add primary = "..."'),
    (override("2026-03-05", "2026-03-04", "dan"), "schedule.toml:24: override[0].until: "
     "is not after from", "a date until is inclusive"),
    (override("2026-03-04", "2026-03-05", "dan", role="lead"), "override[0].role: 'lead' is not "
     "a role", 'role = "primary"'),
    (override("2026-03-04", "2026-03-05", "Dann"), "override[0].person: no person 'Dann'",
     "or add that person"),
    (override("2026-03-04", '"next week"', "dan"), "override[0].until: 'next week' is not a "
     "date", "2026-12-02T13:00:00-08:00"),
    ('\n[[overide]]\nrole = "primary"\n', "schedule.toml: overide: unknown key",
     "did you mean 'override'"),
    ('\n[calendar]\nics = "missing.ics"\n', "schedule.toml:24: calendar.ics: file not found: ",
     "export the team calendar"),
    ('\n[calendar]\nics = "https://example.org/team.ics"\n',
     "calendar.ics: https://example.org/team.ics is a URL", "download the .ics"),
]


@pytest.mark.parametrize(("body", "where", "fix"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_schedule_file(tmp_path: Path, body: str, where: str, fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    message = str(caught.value)
    assert message.startswith(str(tmp_path))
    assert where in message
    assert f"(fix: {fix}" in message or fix in message.split("(fix: ", 1)[1]


@pytest.mark.parametrize(("summary", "expected", "fix"), [
    ("Primary: Zed", "team.ics: event UID e1 on 2026-03-04 ('Primary: Zed'): Primary: no person "
     "'Zed' in the roster", "known: ann, bob, cat, dan"),
    ("Backup: Primary Mark", "team.ics: event UID e1 on 2026-03-04 ('Backup: Primary Mark'): "
     "Backup: no person", "or add that person"),
    ("Primary Ann", "team.ics: event UID e1 on 2026-03-04 ('Primary Ann'): cannot read",
     'write SUMMARY as "Primary: <name'),
])
def test_bad_ics_event_names_the_event(tmp_path: Path, summary: str, expected: str,
                                       fix: str) -> None:
    event = f"UID:e1\nSUMMARY:{summary}\nDTSTART;VALUE=DATE:20260304"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ROTATION, ics=ics(event))
    assert expected in str(caught.value)
    assert fix in str(caught.value).split("(fix: ", 1)[1]


def test_missing_schedule_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_schedule(tmp_path / "nope.toml", calendar=CAL)
    assert str(caught.value) == (
        f"{tmp_path}/nope.toml: schedule.file: schedule file not found: {tmp_path}/nope.toml "
        "(fix: copy config/schedule.example.toml there, or correct schedule.file in the gateway "
        "config)")


def test_first_names_resolve_only_when_unambiguous(tmp_path: Path) -> None:
    zoes = "".join(f'[[person]]\nname = "Zoe {n}"\nemail = "zoe{n}@example.org"\n'
                   f'github = "zoe{n}"\n' for n in ("One", "Two"))
    s = load(tmp_path, override("2026-03-04", "2026-03-04", "Bob"))
    assert s.overrides[0].person.github == "bob"
    with pytest.raises(ConfigError, match=r"override\[0\]\.person: 'Zoe' could be Zoe One or "
                       r"Zoe Two \(fix: "):
        load(tmp_path, zoes + override("2026-03-04", "2026-03-04", "Zoe"))


def test_ics_url_is_fetched_by_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "schedule.toml"
    path.write_text(ROSTER + ROTATION + '\n[calendar]\nics = "https://example.org/team.ics"\n')
    fetched: list[str] = []

    def fetch(url: str) -> str:
        fetched.append(url)
        return ICS_CAT

    s = load_schedule(path, calendar=CAL, fetch_url=fetch)
    assert fetched == ["https://example.org/team.ics"]
    assert s.duty_at(la(2026, 3, 4, 10)).primary_source == "ics"


# ---------------------------------------------------------------------------------------------
# The example files


def test_example_schedule_loads_and_checks_clean() -> None:
    s = load_schedule(CONFIG / "schedule.example.toml", calendar=CAL)
    assert [p.github for p in s.people] == ["markcmiller86", "cyrush", "biagas", "brugger1",
                                            "JustinPrivitera"]
    assert s.ics is None
    week = s.weeks(la(2026, 3, 2, 8), 1)[0]
    assert (week.primary.github, week.backup.github, week.primary_source) == (  # type: ignore[union-attr]
        "cyrush", "biagas", "week")
    assert s.duty_at(la(2026, 3, 25, 10)).primary.github == "JustinPrivitera"  # type: ignore[union-attr]
    report = check_schedule(s, CAL, la(2026, 1, 5, 8), 52)
    assert report.ok, report.problems


def test_example_with_its_calendar(tmp_path: Path) -> None:
    shutil.copy(CONFIG / "team-calendar.example.ics", tmp_path)
    text = (CONFIG / "schedule.example.toml").read_text()
    assert '# ics = "team-calendar.example.ics"' in text
    (tmp_path / "schedule.toml").write_text(text.replace("# ics = ", "ics = "))
    s = load_schedule(tmp_path / "schedule.toml", calendar=CAL)
    assert s.ics is not None
    backups = {t: s.duty_at(t) for t in (la(2026, 6, 9, 10), la(2026, 8, 4, 10),
                                         la(2026, 9, 28, 10), la(2026, 9, 29, 10))}
    assert [(d.backup.github, d.backup_source) for d in backups.values()] == [  # type: ignore[union-attr]
        ("biagas", "ics"), ("brugger1", "rotation"), ("brugger1", "rotation"), ("biagas", "ics")]
    pre_closure = s.duty_at(la(2026, 12, 22, 10))
    assert (pre_closure.primary.github, pre_closure.primary_source) == ("brugger1", "ics")  # type: ignore[union-attr]
    assert check_schedule(s, CAL, la(2026, 1, 5, 8), 52).ok
