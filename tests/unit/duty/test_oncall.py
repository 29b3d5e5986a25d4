"""On-call text and the schedule check: problems, load table, rendering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.duty.business_config import calendar_from_mapping
from gateway.duty.oncall import Problem, check_schedule, describe_oncall, render_report
from gateway.duty.schedule import Schedule
from gateway.duty.schedule_file import load_schedule

LA = ZoneInfo("America/Los_Angeles")
CAL = calendar_from_mapping({"holidays_country": "US"}, source="gateway.toml", base_dir=Path())


def la(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LA)


def person(name: str, login: str, extra: str = "") -> str:
    return (f'[[person]]\nname = "{name}"\nemail = "{login}@example.org"\ngithub = "{login}"\n'
            f"{extra}\n")


ROSTER = (person("Ann Alpha", "ann") + person("Bob Beta", "bob")
          + person("Cat Gamma", "cat", 'experience = "new"')
          + person("Dan Delta", "dan", 'experience = "new"\nfraction = 0.5'))


def rotation(*logins: str) -> str:
    names = ", ".join(f'"{x}"' for x in logins)
    return f"\n[rotation]\nprimary = [{names}]\nstart = 2026-03-02\n"


def override(start: str, until: str, who: str, role: str = "primary") -> str:
    return (f'\n[[override]]\nfrom = {start}\nuntil = {until}\nrole = "{role}"\n'
            f'person = "{who}"\n')


def load(tmp_path: Path, body: str, roster: str = ROSTER) -> Schedule:
    path = tmp_path / "schedule.toml"
    path.write_text(roster + body)
    return load_schedule(path, calendar=CAL)


def test_describe_oncall(tmp_path: Path) -> None:
    s = load(tmp_path, rotation("ann", "bob", "cat") + override("2026-03-04", "2026-03-05", "dan")
             + override("2026-03-13T12:30:00", "2026-03-13T14:00:00", "ann", role="backup"))
    assert describe_oncall(s, la(2026, 3, 4, 10), 3) == """\
On duty at Wed 2026-03-04 10:00 PST:
  Primary  Dan Delta (dan)                    until Fri 2026-03-06 00:00 PST  (override)
  Backup   Bob Beta (bob)                     until Mon 2026-03-09 08:00 PDT  (rotation)

Coming 3 weeks (handoff Mon 08:00, America/Los_Angeles):
  Week of     Primary          Backup           From      Also
  2026-03-02  Ann Alpha (ann)  Bob Beta (bob)   rotation  Primary Dan Delta (dan) Wed 03-04 08:00-Thu 03-05 17:00
  2026-03-09  Bob Beta (bob)   Cat Gamma (cat)  rotation  Backup Ann Alpha (ann) Fri 03-13 13:00-Fri 03-13 14:00
  2026-03-16  Cat Gamma (cat)  Ann Alpha (ann)  rotation"""  # noqa: E501


def test_describe_oncall_with_nobody_and_mixed_sources(tmp_path: Path) -> None:
    s = load(tmp_path, '\n[[week]]\nstart = 2026-03-09\nprimary = "bob"\n')
    text = describe_oncall(s, la(2026, 3, 10, 9), 2)
    assert "  Primary  Bob Beta (bob)" in text
    assert "  Backup   nobody" in text
    assert "  2026-03-09  Bob Beta (bob)  nobody  week/none" in text
    assert "  2026-03-16  nobody          nobody  none" in text


ANN_OFF = person("Ann Alpha", "ann", 'time_off = [{ from = 2026-03-04, until = 2026-03-05, '
                                     'reason = "conference" }, 2026-03-07]')

CHECKS = [
    # (roster, body, expected problems)
    (ROSTER, rotation("ann", "bob", "cat"), []),
    (ROSTER, '\n[[week]]\nstart = 2026-03-02\nprimary = "ann"\nbackup = "bob"\n', [
        ("error", "2026-03-09",
         "nobody is Primary from Mon 2026-03-09 08:00 PDT to Fri 2026-03-13 17:00 PDT"),
        ("warning", "2026-03-09",
         "nobody is Backup from Mon 2026-03-09 08:00 PDT to Fri 2026-03-13 17:00 PDT"),
    ]),
    (ROSTER, rotation("ann", "bob") + override("2026-03-10", "2026-03-10", "cat", "backup")
     + override("2026-03-11T09:00:00", "2026-03-11T10:00:00", "bob", "backup"), [
        ("error", "2026-03-09",
         "Bob Beta is both Primary and Backup from Wed 2026-03-11 09:00 PDT to "
         "Wed 2026-03-11 10:00 PDT"),
    ]),
    (ROSTER, rotation("ann", "ann", "bob") + 'backup = ["bob", "cat", "ann"]\n', [
        ("warning", "2026-03-09", "Ann Alpha is Primary two weeks running (also the week of "
                                  "2026-03-02)"),
    ]),
    (ROSTER, rotation("cat", "dan", "ann"), [
        ("warning", "2026-03-02", "new Primary Cat Gamma is paired with new Backup Dan Delta "
                                  "from Mon 2026-03-02 08:00 PST to Fri 2026-03-06 17:00 PST"),
    ]),
    # Ann's time off is Wed-Thu of her Primary week; Saturday 03-07 is off but closed anyway.
    (ANN_OFF + person("Bob Beta", "bob") + person("Cat Gamma", "cat"),
     rotation("ann", "bob", "cat"), [
        ("error", "2026-03-02", "Ann Alpha is Primary during time off 2026-03-04 to 2026-03-05 "
                                "(conference) from Wed 2026-03-04 08:00 PST to "
                                "Thu 2026-03-05 17:00 PST"),
    ]),
    # ... and a swap that covers it clears the error.
    (ANN_OFF + person("Bob Beta", "bob") + person("Cat Gamma", "cat"),
     rotation("ann", "bob", "cat") + override("2026-03-04", "2026-03-05", "cat"), []),
]


@pytest.mark.parametrize(("roster", "body", "expected"), CHECKS)
def test_check_schedule_finds_problems(tmp_path: Path, roster: str, body: str,
                                       expected: list[tuple[str, str, str]]) -> None:
    s = load(tmp_path, body, roster)
    report = check_schedule(s, CAL, la(2026, 3, 2, 9), 2)
    assert report.problems == tuple(
        Problem(sev, dt.date.fromisoformat(week), msg) for sev, week, msg in expected)  # type: ignore[arg-type]
    assert report.ok == all(sev != "error" for sev, _, _ in expected)


def test_load_table_splits_shared_weeks_by_business_time(tmp_path: Path) -> None:
    s = load(tmp_path, rotation("ann", "bob", "cat") + override("2026-03-04", "2026-03-05", "dan"))
    report = check_schedule(s, CAL, la(2026, 3, 2, 9), 6)
    rows = {r.person.github: (r.primary_weeks, r.backup_weeks, r.expected_weeks)
            for r in report.load}
    # Dan covers 2 of Ann's 5 days; expected = 6 weeks x fraction / 3.5.
    assert rows == {"ann": (1.6, 2.0, 1.714), "bob": (2.0, 2.0, 1.714),
                    "cat": (2.0, 2.0, 1.714), "dan": (0.4, 0.0, 0.857)}


def test_render_report(tmp_path: Path) -> None:
    s = load(tmp_path, rotation("ann", "bob"))
    report = check_schedule(s, CAL, la(2026, 3, 2, 9), 2)
    assert report.ok
    assert render_report(report) == """\
Schedule check, 2 weeks from 2026-03-02: 0 errors, 0 warnings

Load over 2 weeks (expected = weeks x fraction / sum of fractions):
  Person           Fraction  Primary  Backup  Expected
  Ann Alpha (ann)  1.00      1.0      1.0     0.6
  Bob Beta (bob)   1.00      1.0      1.0     0.6
  Cat Gamma (cat)  1.00      0.0      0.0     0.6
  Dan Delta (dan)  0.50      0.0      0.0     0.3
OK"""
    failing = check_schedule(load(tmp_path, rotation("ann")), CAL, la(2026, 3, 2, 9), 1)
    text = render_report(failing)
    assert not failing.ok
    assert text.splitlines()[:2] == [
        "Schedule check, 1 week from 2026-03-02: 1 error, 0 warnings",
        "  error    week of 2026-03-02  Ann Alpha is both Primary and Backup from "
        "Mon 2026-03-02 08:00 PST to Fri 2026-03-06 17:00 PST",
    ]
    assert text.endswith("NOT OK: fix the errors above")
