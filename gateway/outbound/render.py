"""Render the words of the gateway's mail and comments from Jinja2 templates.

Holds `Renderer`, the context values the templates take (`IssueRef`, `OpenIssue`, and
`schedule.Person` for people), `TEMPLATE_VARIABLES` (the contract: which variables each template
receives) and the filters the templates use. Templates are looked up first in an admin's
override directory, then in `gateway/outbound/templates/`. Mail templates (`.txt`) start with a
`Subject: ...` line and an empty line; comment templates (`.md`) are only a body.

Plain text, so autoescape is off; instead every `{{ value }}` is made safe for where it lands:
one line with no control characters in mail (a title cannot add a line or a header), and in
comments also with @mentions and HTML defused (a customer's title cannot ping anyone or forge
our marker). Only the `mention` filter writes a real `@login`. Datetimes print in the business
time zone, never UTC. An override template that is broken (syntax, unknown variable, a missing
Subject line) raises `ConfigError` naming the file, the line and the fix; `check()` finds that
at start. Must not send, read config, or decide *when* to say something (the jobs do).
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.schedule import DAY_NAMES, Person
from gateway.errors import ConfigError
from gateway.inbound.clean import neutralize
from gateway.inbound.outbox_rows import MATCHES
from gateway.outbound.mail import clean_body, clean_header_text

PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DOCS = "https://jinja.palletsprojects.com/en/stable/templates/"


@dataclass(frozen=True, slots=True)
class IssueRef:
    """The GitHub issue of a thread."""

    number: int
    title: str
    url: str  # html_url, https://github.com/owner/repo/issues/N (or discussions/N)
    kind: str = "issue"  # or "discussion": how mail names it


@dataclass(frozen=True, slots=True)
class OpenIssue:
    """One unresolved inquiry in the team handoff mail."""

    issue: IssueRef
    arrived: dt.datetime
    age: dt.timedelta  # wall-clock time since arrival
    business_age: dt.timedelta  # business time since arrival
    first_response_at: dt.datetime | None
    first_response_by: str | None  # GitHub login
    # What the handoff does with it (gateway.weekly.handoff.Disposition): reassigned, kept-label,
    # kept-assignee, already-incoming, same-primary or no-primary; and who holds it.
    disposition: str = "reassigned"
    assignee: str | None = None


# The contract with the jobs that render (the planners in gateway.weekly build these contexts):
# every name listed must be passed; extra names are allowed. Types: a person is a
# `schedule.Person`, a GitHub login (str) for someone not on the roster, or None for nobody;
# `issue` is an IssueRef or a dict with number, title and url; datetimes are aware; durations
# are timedeltas; `goal` is the response goal (4 business hours); `deadline` is arrival plus the
# goal in business time.
TEMPLATE_VARIABLES: Mapping[str, tuple[str, ...]] = {
    # customer_name: "" when unknown; subject: the customer's subject line.
    "ack.txt": ("customer_name", "subject", "issue", "primary", "deadline", "goal"),
    # handoff_at: the moment duty passes on; business_age: business time since arrival.
    "handoff.md": (
        "issue", "incoming", "backup", "outgoing", "handoff_at", "arrived", "deadline",
        "first_response_at", "first_response_by", "business_age",
    ),
    "handoff_customer.txt": (
        "customer_name", "subject", "issue", "outgoing", "incoming", "handoff_at",
    ),
    # issues: OpenIssue values (or dicts with the same names), oldest first.
    "handoff_team.txt": ("incoming", "backup", "outgoing", "handoff_at", "issues"),
    # percent: share of the goal used (75). Optional: past_deadline (bool).
    "reminder.md": ("primary", "backup", "arrived", "deadline", "goal", "percent"),
    "escalation.md": ("primary", "backup", "arrived", "deadline", "goal"),
    "escalation_mail.txt": ("primary", "backup", "issue", "arrived", "deadline", "goal"),
    # first_response_at/_by and response_time (business time to it): None if never answered.
    "postmortem.md": (
        "primary", "issue", "arrived", "first_response_at", "first_response_by", "resolved_at",
        "response_time",
    ),
    # A team member's GitHub comment, mailed (notify.relay_comments). comment: a TextBlock;
    # author: the person who wrote it; subject: the customer's subject line.
    "relay.txt": ("subject", "issue", "author", "comment"),
    # The first comment of a new discussion (github.notify_primary): a discussion has no
    # assignee, so it names who is on duty. Only `primary` may be mentioned. Optional:
    # known_issues, where the known-issue matches go (a placeholder the writer fills in).
    "notice.md": ("primary", "backup", "arrived", "deadline", "goal"),
    # The stale rule's warning: last_reply, the team's last answer; close_on, the earliest
    # close; days, process.stale_days; keep_label, process.stale_keep_label.
    "stale_warning.md": ("issue", "last_reply", "close_on", "days", "keep_label"),
    "stale_warning.txt": ("customer_name", "subject", "issue", "last_reply", "close_on"),
    # The Primary's temporary delegation (gateway.weekly.delegation), to the delegate once:
    # primary: who delegates; delegate: who takes over; backup: the Backup meanwhile (None:
    # nobody); start/until: when it is in force; number: the delegation's id (to cancel it).
    "delegation_mail.txt": ("primary", "delegate", "backup", "start", "until", "number"),
}


class TextBlock(str):
    """Lines of plain text a mail template prints as they are (a relayed comment): control
    characters go, line breaks stay. Any other value prints as one line."""

    __slots__ = ()


class Mention(str):
    """A `@login` the template asked for on purpose; the comment finaliser leaves it alone."""

    __slots__ = ()


TEMPLATES_KEY = "notify.templates_dir"  # the setting that names the override directory


class Renderer:
    """Renders the templates; build one at start and call `check()` before serving."""

    def __init__(self, calendar: BusinessCalendar, override_dir: Path | None = None) -> None:
        if override_dir is not None and not override_dir.is_dir():
            what = "is not a directory" if override_dir.exists() else "does not exist"
            raise ConfigError(
                TEMPLATES_KEY, f"{override_dir} {what}",
                "point it at the directory of your override templates, or leave it empty to "
                "use the built-in templates",
            )
        self._calendar = calendar
        self._override = override_dir.resolve() if override_dir is not None else None
        paths = [str(p) for p in (self._override, PACKAGE_TEMPLATES) if p is not None]
        loader = jinja2.FileSystemLoader(paths)
        self._mail_env = self._environment(loader, self._finalize_text)
        self._comment_env = self._environment(loader, self._finalize_comment)

    def render(self, name: str, **context: Any) -> tuple[str, str]:
        """(subject, body) of template `name`; the subject is "" for `.md` comment templates.

        Raises TypeError when a documented variable is missing (a caller bug), ValueError for
        an unknown template, and ConfigError when an override template is broken.
        """
        missing = [var for var in TEMPLATE_VARIABLES.get(name, ()) if var not in context]
        if missing:
            raise TypeError(f"template {name} needs {', '.join(missing)}")
        env = self._comment_env if name.endswith(".md") else self._mail_env
        try:
            template = env.get_template(name)
            text = template.render(**context)
        except jinja2.TemplateNotFound as exc:
            if exc.name == name:
                raise ValueError(f"no template named {name!r}") from None
            error = self._config_error(name, exc)
            if error is exc:
                raise
            raise error from None
        except Exception as exc:
            error = self._config_error(name, exc)
            if error is exc:
                raise
            raise error from None
        if name.endswith(".md"):
            return "", _tidy(text)
        return self._split_subject(template.filename or name, text)

    def render_comment(self, name: str, **context: Any) -> str:
        """The body of a `.md` comment template."""
        if not name.endswith(".md"):
            raise ValueError(f"{name} is a mail template; use render()")
        return self.render(name, **context)[1]

    def check(self) -> None:
        """Render every template with `sample_contexts` (everyone known, nobody on duty, people
        as bare logins), so a broken override fails at start, not when the first mail is due.
        Files in the override directory the gateway never uses (except `_partials`) are errors.
        """
        try:
            self._check()
        except OSError as exc:  # an override directory or file the daemon's user may not read
            raise ConfigError(TEMPLATES_KEY, f"cannot read a template in {self._override}: "
                              f"{exc.strerror or exc}",
                              "give the gateway's user read access to the directory and its "
                              "files (mode 0755 / 0644)") from exc

    def _check(self) -> None:
        if self._override is not None:
            for path in sorted(self._override.iterdir()):
                if path.is_file() and not path.name.startswith(("_", ".")) and (
                    path.name not in TEMPLATE_VARIABLES
                ):
                    raise ConfigError(
                        str(path), "the gateway has no template of this name",
                        f"name it one of {', '.join(TEMPLATE_VARIABLES)}, or start a partial's "
                        "name with '_'",
                    )
        for name in TEMPLATE_VARIABLES:
            for context in sample_contexts(name):
                self.render(name, **context)

    # -- environment -----------------------------------------------------------------------------

    def _environment(self, loader: jinja2.BaseLoader, finalize: Any) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=finalize,
        )
        env.filters.update(
            local=self._local, day=self._day, hours=hours, business_hours=business_hours,
            duration=duration, mention=mention, who=who, reply_subject=reply_subject,
        )
        env.globals["opening_hours"] = opening_hours(self._calendar)
        return env

    def _plain(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return self._local(value)
        if isinstance(value, dt.timedelta):
            return duration(value)
        return str(value)

    def _finalize_text(self, value: Any) -> str:
        if isinstance(value, TextBlock):
            return clean_body(value).rstrip("\n")
        return clean_header_text(self._plain(value), limit=2000)

    def _finalize_comment(self, value: Any) -> str:
        if isinstance(value, Mention):
            return str(value)
        return neutralize(self._finalize_text(value), escape_headings=False)

    def _local(self, value: dt.datetime) -> str:
        """`Monday Nov 30, 12:00 PST` in the business time zone."""
        t = self._calendar.local(value)
        return f"{DAY_NAMES[t.weekday()]} {_MONTHS[t.month - 1]} {t.day}, {t:%H:%M} {t.tzname()}"

    def _day(self, value: dt.datetime) -> str:
        """`Monday Nov 30` in the business time zone."""
        t = self._calendar.local(value)
        return f"{DAY_NAMES[t.weekday()]} {_MONTHS[t.month - 1]} {t.day}"

    # -- errors ----------------------------------------------------------------------------------

    def _split_subject(self, filename: str, text: str) -> tuple[str, str]:
        first, _, rest = text.partition("\n")
        blank, _, body = rest.partition("\n")
        if not first.startswith("Subject:") or blank.strip():
            problem = "a mail template must start with a 'Subject: ...' line and an empty line"
            if self._is_override(filename):
                raise ConfigError(f"{filename}:1", problem,
                                  "put the subject on the first line, then leave one line empty")
            raise ValueError(f"{filename}: {problem}")
        return first.removeprefix("Subject:").strip(), _tidy(body)

    def _is_override(self, filename: str) -> bool:
        if self._override is None:
            return False
        return Path(filename).resolve().is_relative_to(self._override)

    def _config_error(self, name: str, exc: Exception) -> Exception:
        """ConfigError for a problem in an override template; anything else is our bug and is
        returned unchanged (the built-in templates are tested)."""
        where: str | None
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
            where, line = exc.filename, exc.lineno
            problem = f"template syntax error: {exc.message}"
            fix = f"correct the Jinja2 syntax ({_DOCS}), or delete the file to use the built-in"
        else:
            where, line = _template_frame(exc, self._override)
            variables = ", ".join(TEMPLATE_VARIABLES.get(name, ())) or "(none documented)"
            if isinstance(exc, jinja2.UndefinedError):
                problem = f"unknown variable: {exc.message}"
            elif isinstance(exc, jinja2.TemplateNotFound):
                problem = f"includes {exc.name!r}, which does not exist"
            else:
                problem = f"{type(exc).__name__}: {exc}"
            fix = (f"{name} receives only {variables} (and opening_hours); use those, or delete "
                   "the file to use the built-in template")
        if where is None or not self._is_override(where):
            return exc
        return ConfigError(f"{where}:{line}", problem, fix)


def _template_frame(exc: BaseException, override: Path | None) -> tuple[str | None, int]:
    """The innermost template file and line in `exc`'s traceback (Jinja rewrites its frames
    to point at template lines); override files win over built-in ones."""
    found: tuple[str | None, int] = (None, 0)
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        path = Path(filename)
        if path.suffix in (".txt", ".md") and path.is_file():
            in_override = override is not None and path.resolve().is_relative_to(override)
            if in_override or found[0] is None:
                found = (filename, line)
    return found


def _tidy(text: str) -> str:
    """Trailing spaces off (but the "-- " signature separator), at most one empty line in a row,
    no empty lines at either end, one final newline."""
    lines: list[str] = []
    for raw_line in text.split("\n"):
        line = raw_line if raw_line == "-- " else raw_line.rstrip()
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


# -- filters (pure) ------------------------------------------------------------------------------


def mention(who: Person | str | None) -> Mention:
    """`@login` of a person (or a login); empty for nobody. Only for comment templates."""
    login = who.github if isinstance(who, Person) else (who or "")
    login = login.strip().lstrip("@")
    if login and not all(c.isascii() and (c.isalnum() or c == "-") for c in login):
        raise ValueError(f"{login!r} is not a GitHub login")
    return Mention(f"@{login}" if login else "")


def who(person: Person | str | None, fallback: str = "nobody") -> str:
    """A person's name; a login not on the roster as it is; `fallback` for nobody."""
    if isinstance(person, Person):
        return person.name
    return str(person) if person else fallback


def reply_subject(subject: str) -> str:
    """`Re: <subject>`, unless it already starts with a reply prefix (Re:, RE:, AW:, SV:)."""
    subject = subject.strip()
    if subject[:3].lower() in ("re:", "aw:", "sv:"):
        return subject
    return f"Re: {subject}" if subject else "Re: your message"


def hours(value: dt.timedelta) -> str:
    """`3.5` for three and a half hours; whole hours without a decimal point."""
    amount = round(value.total_seconds() / 3600, 1)
    return f"{amount:g}"


def business_hours(value: dt.timedelta) -> str:
    """`1 business hour`, `38 business hours`, `3.5 business hours`."""
    amount = hours(value)
    return f"{amount} business hour{'' if amount == '1' else 's'}"


def duration(value: dt.timedelta) -> str:
    """`2 days 3 h`, `5 h 20 min`, `45 min`: a wall-clock span for people."""
    minutes = max(0, int(value.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    whole_hours, minutes = divmod(minutes, 60)
    if days:
        text = f"{days} day{'s' if days != 1 else ''}"
        return f"{text} {whole_hours} h" if whole_hours else text
    if whole_hours:
        return f"{whole_hours} h {minutes} min" if minutes else f"{whole_hours} h"
    return f"{minutes} min"


def opening_hours(calendar: BusinessCalendar) -> str:
    """`Monday to Friday, 08:00-12:00 and 13:00-17:00 Los Angeles time, except holidays`."""
    days = sorted(calendar.weekdays)
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        day_text = f"{DAY_NAMES[days[0]]} to {DAY_NAMES[days[-1]]}"
    else:
        day_text = ", ".join(DAY_NAMES[d] for d in days)
    spans = [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in calendar.spans]
    span_text = spans[0] if len(spans) == 1 else ", ".join(spans[:-1]) + " and " + spans[-1]
    place = calendar.tz.key.rsplit("/", 1)[-1].replace("_", " ")
    return f"{day_text}, {span_text} {place} time, except holidays"


# -- sample values: what `check()` renders overrides with ----------------------------------------

_ALICE = Person("Alice Primary", "alice@llnl.gov", "alice-p")
_BOB = Person("Bob Backup", "bob@llnl.gov", "bob-b")
_CAROL = Person("Carol Outgoing", "carol@llnl.gov", "carol-o")
_ISSUE = IssueRef(12, "Crash when opening a Silo file",
                  "https://github.com/visit-dav/live-customer-response/issues/12")
_T0 = dt.datetime(2026, 11, 30, 17, 12, tzinfo=dt.UTC)
_HOUR = dt.timedelta(hours=1)


def sample_contexts(name: str) -> list[dict[str, Any]]:
    """Realistic values for template `name`: everyone known; nobody on duty and nothing
    answered; and people who are only GitHub logins (not on the roster)."""
    open_issue = OpenIssue(_ISSUE, _T0, 7 * 24 * _HOUR, 38 * _HOUR, _T0 + _HOUR, "alice-p")
    unanswered = OpenIssue(IssueRef(15, "Slow render", _ISSUE.url[:-2] + "15"), _T0 + 50 * _HOUR,
                           4 * 24 * _HOUR, 26 * _HOUR, None, None)
    kept = OpenIssue(IssueRef(16, "Plugin build", _ISSUE.url[:-2] + "16"), _T0 + 60 * _HOUR,
                     3 * 24 * _HOUR, 20 * _HOUR, None, None, "kept-label", "bob-b")
    full: dict[str, Any] = {
        "customer_name": "Jane Roe", "subject": "[visit-users] " + _ISSUE.title,
        "issue": _ISSUE, "primary": _ALICE, "backup": _BOB, "incoming": _ALICE,
        "outgoing": _CAROL, "arrived": _T0, "deadline": _T0 + 4 * _HOUR, "goal": 4 * _HOUR,
        "percent": 75, "handoff_at": _T0 + 7 * 24 * _HOUR,
        "issues": [open_issue, unanswered, kept], "first_response_at": _T0 + _HOUR,
        "first_response_by": "alice-p", "resolved_at": _T0 + 30 * _HOUR,
        "response_time": _HOUR, "business_age": 38 * _HOUR, "author": _ALICE,
        "comment": TextBlock("Which version of VisIt is this?\n\nPlease run:\n\n```\n"
                             "visit -version\n```"),
        "delegate": _BOB, "start": _T0 + 4 * _HOUR, "until": _T0 + 8 * _HOUR, "number": 3,
        "last_reply": _T0 + _HOUR, "close_on": _T0 + 21 * 24 * _HOUR, "days": 21,
        "keep_label": "stale:keep",
        "known_issues": MATCHES,
    }
    nobody = full | {
        "customer_name": "", "primary": None, "backup": None, "incoming": None, "outgoing": None,
        "issues": [], "first_response_at": None, "first_response_by": None,
        "response_time": None, "author": None, "known_issues": "",
    }
    logins = full | {"primary": "dave-x", "backup": "erin-y", "incoming": "dave-x",
                     "delegate": "erin-y",
                     "outgoing": "frank-z", "issue": {"number": 12, "title": _ISSUE.title,
                                                      "url": _ISSUE.url}, "author": "dave-x"}
    return [full, nobody, logins]
