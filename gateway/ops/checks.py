"""`visit-gateway check-config`: is this configuration good enough to run the daemon?

Each check is a small function returning `Check` values; none raises for an expected failure (a
`ConfigError`, a refused login, a closed port): the problem and its fix go into the `Check`.
Offline checks read files only; the online ones (`--online`) log in to IMAP, GitHub and SMTP but
change nothing: no mail is flagged or sent, no issue is written. Secrets never appear in the
output: only setting names, hosts and user names do.

    ok   <what>[ (<detail>)]
    FAIL <what>: <reason> (fix: <fix>)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import github
import requests
import sqlalchemy as sa
from github import Auth, Github, GithubException

from gateway.config.loader import Config, load_config
from gateway.duty.businesstime import BusinessCalendar
from gateway.duty.load import business_calendar, duty_schedule
from gateway.duty.schedule import Schedule
from gateway.errors import ConfigError, GatewayError, TransientError
from gateway.inbound.imap import ImapAuthError, ImapMailbox
from gateway.ops.checks_host import (
    Check,
    check_database,
    check_service_can_read,
    failed,
    from_config_error,
    installed_unit_uses_dynamic_user,
    passed,
)
from gateway.outbound.attachment_repo import AttachmentRepository
from gateway.outbound.discussions import TRIAGE_OR_MORE, DiscussionTracker
from gateway.outbound.github import GitHubAuthError, GitHubTracker, RepositoryNotFound
from gateway.outbound.render import Renderer
from gateway.outbound.smtp import MailerSetupError, SmtpMailer
from gateway.web.listen import probe_listen

# -- offline --------------------------------------------------------------------------------------


def check_load(path: Path) -> tuple[Check, Config | None]:
    name = f"configuration {path} parses and validates"
    try:
        config = load_config(path)
    except ConfigError as exc:
        return from_config_error(name, exc), None
    return passed(name), config


def check_calendar(config: Config) -> tuple[Check, BusinessCalendar | None]:
    name = "business calendar ([business]) loads"
    try:
        calendar = business_calendar(config)
    except ConfigError as exc:
        return from_config_error(name, exc), None
    return passed(name, f"time zone {calendar.tz.key}"), calendar


def check_schedule(config: Config, calendar: BusinessCalendar) -> tuple[Check, Schedule | None]:
    if not config.raw.schedule.file:
        return passed("duty schedule", "none configured: new issues are not assigned"), None
    name = f"duty schedule {config.resolve(config.raw.schedule.file)} loads"
    try:
        schedule = duty_schedule(config, calendar)
    except ConfigError as exc:
        return from_config_error(name, exc), None
    people = len(schedule.people) if schedule else 0
    return passed(name, f"{people} people"), schedule


def check_templates(config: Config, calendar: BusinessCalendar) -> Check:
    templates_dir = config.raw.notify.templates_dir
    name = "templates render" + (f" (overrides in {config.resolve(templates_dir)})"
                                 if templates_dir else "")
    try:
        Renderer(calendar, config.resolve(templates_dir) if templates_dir else None).check()
    except ConfigError as exc:
        return from_config_error(name, exc)
    return passed(name)


# Where docs/systemd.md puts the secrets the unit hands over with LoadCredential=.
UNIT_CREDENTIALS = Path("/etc/visit-gateway/credentials")


def secret_fix(fix: str) -> str:
    """The fix for a missing secret. Run by hand, check-config does not see what the unit's
    LoadCredential= hands over; when that directory exists, say how to check with it."""
    if os.environ.get("CREDENTIALS_DIRECTORY"):
        return fix
    try:
        present = UNIT_CREDENTIALS.is_dir()
    except OSError:
        present = True
    if not present:
        return fix
    return (f"the service's secrets are in {UNIT_CREDENTIALS}, which this run did not read: "
            f"sudo env CREDENTIALS_DIRECTORY={UNIT_CREDENTIALS} visit-gateway check-config; "
            f"otherwise {fix}")


def check_web_listen(config: Config) -> Check:
    """The address and port are free (or the running gateway's), as binding at start needs."""
    web = config.raw.web
    name = f"web server can listen on {web.listen}:{web.port}"
    probe = probe_listen(web.listen, web.port)
    if probe.error is not None:
        return failed(name, probe.error.problem, probe.error.fix)
    return passed(name, probe.note)


def check_webhook_secret(config: Config) -> Check:
    name = "webhook secret is set"
    try:
        config.require_webhook_secret()
    except ConfigError as exc:
        return failed(name, exc.problem, secret_fix(exc.fix))
    return passed(name)


def check_github_credentials(config: Config) -> Check:
    """The token, or the App's ids and a private key that loads, without asking GitHub."""
    name = "GitHub credentials are set"
    try:
        config.github_auth()  # loads the App's private key, as the daemon does at start
    except ConfigError as exc:
        return failed(name, exc.problem, secret_fix(exc.fix))
    if config.github.auth != "app":
        return passed(name, "token")
    return passed(name, f"GitHub App {config.github.app_id}, installation "
                        f"{config.github.installation_id}")


# -- online ---------------------------------------------------------------------------------------


IMAP_NET_FIX = ("check imap.host, imap.port and imap.security, and that the server is "
                "reachable from this host")


def check_imap(config: Config) -> list[Check]:
    """Log in and select the folder (read-write, as the daemon does), then log out."""
    imap = config.imap
    name = (f"IMAP login as {imap.username!r} at {imap.host}:{imap.effective_port} and "
            f"select {imap.folder!r}")
    password = config.imap_password.get_secret_value() if config.imap_password else None
    if imap.auth == "password" and password is None:
        try:
            config.require_imap_password()
        except ConfigError as exc:
            return [failed(name, exc.problem, secret_fix(exc.fix))]
    try:
        mailbox = ImapMailbox(imap, password=password, token_provider=None,
                              base_dir=config.base_dir,
                              password_source=config.secret_source("imap.password"))
    except ConfigError as exc:
        return [from_config_error(name, exc)]
    try:
        mailbox.connect()
    except ImapAuthError as exc:
        return [failed(name, exc.problem, exc.fix or config.imap_auth_fix())]
    except TransientError as exc:
        return [failed(name, str(exc), IMAP_NET_FIX)]
    except ConfigError as exc:
        return [from_config_error(name, exc)]
    except GatewayError as exc:
        return [failed(name, str(exc), "change the imap setting the message names, or the "
                                       "account's rights on the server")]
    try:
        if not imap.idle:
            idle = passed("IMAP IDLE", f"disabled by imap.idle; polling every "
                                       f"{imap.poll_interval:g} s")
        elif mailbox.uses_idle:
            idle = passed("IMAP IDLE", "offered: new mail is seen at once")
        else:
            idle = passed("IMAP IDLE", f"not offered by the server; polling every "
                                       f"{imap.poll_interval:g} s")
    finally:
        mailbox.close()
    return [passed(name, f"UIDVALIDITY {mailbox.uidvalidity}"), idle]


def check_github(config: Config, schedule: Schedule | None, *,
                 roster: bool = True) -> list[Check]:
    """The token reads the repository, may create issues, and can assign every roster member
    (`roster=False`: the schedule did not load, so that last check is left out)."""
    gh = config.github
    read = f"GitHub token can read {gh.repository} at {gh.api_url}"
    try:
        auth = config.github_auth()
    except ConfigError as exc:
        return [failed(read, exc.problem, exc.fix)]
    tracker = GitHubTracker(api_url=gh.api_url, auth=auth, repository=gh.repository,
                            bot_login=gh.bot_login, timeout=gh.limits.request_timeout,
                            secondary_wait=gh.limits.secondary_wait)
    try:
        try:
            tracker.check_repository()
        except GitHubAuthError as exc:
            return [failed(read, str(exc), config.github_auth_fix())]
        except RepositoryNotFound as exc:
            return [failed(read, str(exc), "fix github.repository, or give the token's account "
                                           "(or fine-grained token) access to the repository")]
        except GatewayError as exc:
            return [failed(read, str(exc), "check github.api_url and that GitHub is reachable "
                                           "from this host")]
        checks = [passed(read), _check_push(config, auth)]
        if roster:
            checks.append(_check_roster(tracker, gh.repository, schedule))
        return checks
    finally:
        tracker.close()


def check_attachment_store(config: Config) -> Check:
    """Offline: what the attachment store is; a local directory must be writable."""
    section = config.raw.attachments
    name = "attachment store"
    if section.store == "none":
        return passed(name, "none: attachments are listed by name and size only")
    if section.store == "repository":
        if not section.repository:
            return passed(name, "not stored yet: attachments are listed by name only until "
                                "attachments.repository names a private repository")
        return passed(name, f"the repository {section.repository} (checked with --online)")
    directory = config.resolve(section.directory)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = directory / f".check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return failed(name, f"cannot write in {directory}: {exc.strerror}",
                      "create the directory and give the service's user write access to it, "
                      "or set attachments.directory")
    return passed(name, f"{directory}, linked under {section.public_url}/attachments/")


def check_attachment_repository(config: Config) -> Check:
    """Online, for a repository store: it exists, is private, and the token may write to it."""
    section, gh = config.raw.attachments, config.github
    name = f"attachment repository {section.repository}"
    try:
        auth = config.github_auth()
    except ConfigError as exc:
        return failed(name, exc.problem, exc.fix)
    repository = AttachmentRepository(
        api_url=gh.api_url, repository=section.repository, branch=section.branch, auth=auth,
        timeout=gh.limits.request_timeout, web_url=gh.web_url,
        secondary_wait=gh.limits.secondary_wait)
    try:
        ok, why = repository.check()
    except GitHubAuthError as exc:
        return failed(name, str(exc), config.github_auth_fix())
    except GatewayError as exc:
        return failed(name, str(exc), "check github.api_url and that GitHub is reachable "
                                      "from this host")
    finally:
        repository.close()
    if ok:
        return passed(name, why)
    return failed(name, why, f"make {section.repository} private and give {gh.bot_login} (the "
                             "token's account) write access to it, or set "
                             "attachments.repository")


def check_database_online(config: Config) -> Check:
    """A database server: it answers, and its schema is this version's (or older: the daemon
    migrates it at start); who leads, when instances share it. Writes nothing."""
    from gateway.store.engine import create_engine
    from gateway.store.leader import read_lease
    from gateway.store.migrate import current_revision, head_revision, known_revision

    setting = config.database_setting()
    name = "database server answers"
    try:
        engine = create_engine(config.database_url(), setting=setting)
    except ConfigError as exc:
        return from_config_error(name, exc)
    try:
        current = current_revision(engine)
        head = head_revision()
        if current == head:
            schema = f"schema at this version's revision {head}"
        elif current is None:
            schema = "no tables yet: the daemon creates them at start"
        elif known_revision(current):
            schema = f"schema at {current}: the daemon migrates it to {head} at start"
        else:
            return failed(name, f"the schema is at revision {current}, made by a newer "
                                "visit-gateway than this one",
                          "upgrade this host's visit-gateway (docs/postgresql.md, Upgrading)")
        leader = ""
        if current is not None and engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                lease = read_lease(conn.execution_options(readonly=True))
                conn.rollback()
            if lease is not None and lease.holder and lease.age is not None:
                leader = (f"; {lease.holder} leads (epoch {lease.epoch}, lease renewed "
                          f"{lease.age.total_seconds():.0f} s ago)")
    except sa.exc.SQLAlchemyError as exc:
        return failed(name, f"no answer ({type(exc).__name__})",
                      f"check {setting}, that the server is reachable from this host and that "
                      "the role may log in (its password: docs/postgresql.md)")
    finally:
        engine.dispose()
    return passed(name, schema + leader)


def check_discussions(config: Config) -> list[Check]:
    """With a discussion category configured: Discussions are on, the category and the labels
    exist, and the token may write there (create discussions and comments: read access;
    labels: triage or more)."""
    gh = config.github
    repository = gh.discussions_repository
    where = f"Discussions category {gh.discussion_category!r} in {repository}"
    try:
        auth = config.github_auth()
    except ConfigError as exc:
        return [failed(where, exc.problem, exc.fix)]
    tracker = DiscussionTracker(api_url=gh.api_url, auth=auth, repository=repository,
                                bot_login=gh.bot_login, timeout=gh.limits.request_timeout,
                                secondary_wait=gh.limits.secondary_wait)
    try:
        try:
            ids = tracker.setup(gh.discussion_category, gh.discussion_labels)
        except ConfigError as exc:
            return [from_config_error(where, exc)]
        except GitHubAuthError as exc:
            return [failed(where, str(exc), config.github_auth_fix())]
        except RepositoryNotFound as exc:
            return [failed(where, str(exc), "fix github.discussion_repository, or give the "
                                            "token's account access to the repository")]
        except GatewayError as exc:
            return [failed(where, str(exc), "check github.api_url and that GitHub is "
                                            "reachable from this host")]
    finally:
        tracker.close()
    answerable = ("answerable: marking an answer resolves an inquiry" if ids.answerable else
                  "not answerable: an inquiry is resolved only when its discussion is closed")
    checks = [passed(where, answerable)]
    labels = ", ".join(gh.discussion_labels) or "none configured"
    checks.append(passed(f"discussion labels exist in {repository}", labels))
    permission = ids.viewer_permission or "none"
    may = f"GitHub token may create discussions, comments and labels in {repository}"
    fix = (f"give {gh.bot_login} (the token's account) triage or write access to {repository}"
           " (labels need triage)")
    if permission in TRIAGE_OR_MORE:
        checks.append(passed(may, f"{permission.lower()} permission"))
    elif gh.discussion_labels:
        checks.append(failed(may, f"{permission.lower()} permission: labels will be refused",
                             fix))
    else:
        checks.append(passed(may, f"{permission.lower()} permission (no labels configured)"))
    return checks


def _check_push(config: Config, auth: Auth.Auth) -> Check:
    gh = config.github
    name = f"GitHub token may create issues in {gh.repository}"
    fix = (f"give {gh.bot_login} (the token's account) write access to {gh.repository}, or "
           "use a token with the Issues: write permission")
    client = Github(base_url=gh.api_url, auth=auth, retry=None,
                    timeout=int(gh.limits.request_timeout))
    try:
        repo = client.get_repo(gh.repository)
        permissions = repo.permissions
        if permissions is not None:
            if permissions.push:
                return passed(name, "push permission")
            return failed(name, "the token's account has no push permission", fix)
        # No `permissions` in the answer (an installation token): ask about the bot instead.
        level = repo.get_collaborator_permission(gh.bot_login)
    except GithubException as exc:
        status = exc.status
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        return failed(name, f"GitHub answered {status}: {message or 'no message'}", fix)
    except requests.exceptions.RequestException as exc:
        return failed(name, f"no answer from GitHub ({type(exc).__name__})",
                      "check github.api_url and that GitHub is reachable from this host")
    finally:
        client.close()
    if level in ("admin", "maintain", "write"):
        return passed(name, f"{gh.bot_login} has {level} permission")
    return failed(name, f"{gh.bot_login} has {level} permission", fix)


def _check_roster(tracker: GitHubTracker, repository: str, schedule: Schedule | None) -> Check:
    name = f"every roster member can be assigned issues in {repository}"
    if schedule is None:
        return passed(name, "no duty schedule: nobody to check")
    refused: list[str] = []
    try:
        for person in schedule.people:
            if not tracker.can_assign(person.github):
                refused.append(f"{person.github} ({person.name})")
    except GatewayError as exc:
        return failed(name, f"cannot ask GitHub: {exc}", "run the check again when GitHub "
                                                         "answers")
    except github.GithubException as exc:  # pragma: no cover - can_assign translates these
        return failed(name, f"GitHub answered {exc.status}", "run the check again")
    if refused:
        return failed(name, f"GitHub will not assign {', '.join(refused)}",
                      f"add each as a collaborator of {repository} (triage or more), or "
                      "correct their github = login in the schedule file")
    return passed(name, f"{len(schedule.people)} people")


def check_smtp(config: Config) -> Check:
    """Connect, (STARTTLS,) log in and QUIT: nothing is sent."""
    smtp = config.raw.smtp
    who = f" as {smtp.username!r}" if smtp.username else ""
    name = f"SMTP connects to {smtp.host}:{smtp.effective_port} ({smtp.security}){who}"
    try:
        mailer = SmtpMailer(smtp.host, smtp.effective_port, smtp.security, smtp.username,
                            config.smtp_password.get_secret_value() if config.smtp_password
                            else None, smtp.timeout,
                            config.resolve(smtp.ca_file) if smtp.ca_file else None)
        mailer.check()
    except ConfigError as exc:
        return from_config_error(name, exc)
    except MailerSetupError as exc:
        password = (f"the password in {config.secret_source('smtp.password')}"
                    if config.smtp_password else "the SMTP password (none is set)")
        return failed(name, str(exc), f"set smtp.username, {password}, smtp.security and "
                                      "smtp.ca_file to what the server expects")
    except GatewayError as exc:
        return failed(name, str(exc), "check smtp.host, smtp.port and smtp.security, and that "
                                      "the server is reachable from this host")
    return passed(name)


# -- the whole run --------------------------------------------------------------------------------


def _guarded(name: str, run: Callable[[], list[Check]]) -> list[Check]:
    """A bug in one check becomes one failed line, not a traceback that hides the others."""
    try:
        return run()
    except Exception as exc:
        return [failed(name, f"unexpected {type(exc).__name__}: {str(exc)[:200]}",
                       "this is a bug in visit-gateway; please report it with this line")]


def run_checks(path: Path, *, online: bool = False) -> Iterator[Check]:
    """Every check, in order, as it completes (a broken config stops the rest)."""
    first, config = check_load(path)
    yield first
    if config is None:
        return
    cal_check, calendar = check_calendar(config)
    yield cal_check
    schedule: Schedule | None = None
    schedule_ok = False
    if calendar is not None:
        sched_check, schedule = check_schedule(config, calendar)
        schedule_ok = sched_check.ok
        yield sched_check
        yield from _guarded("templates render", lambda: [check_templates(config, calendar)])
    yield from _guarded("database", lambda: [check_database(config)])
    if os.geteuid() == 0 and installed_unit_uses_dynamic_user():
        yield from _guarded("the service's user can read its files",
                            lambda: [check_service_can_read(config)])
    yield check_web_listen(config)
    yield check_webhook_secret(config)
    yield check_github_credentials(config)
    yield from _guarded("attachment store", lambda: [check_attachment_store(config)])
    if not online:
        return
    if config.database_file() is None:
        yield from _guarded("database server", lambda: [check_database_online(config)])
    yield from _guarded("IMAP", lambda: check_imap(config))
    yield from _guarded("GitHub", lambda: check_github(config, schedule, roster=schedule_ok))
    if config.github.discussion_category:
        yield from _guarded("GitHub Discussions", lambda: check_discussions(config))
    if config.raw.attachments.store == "repository" and config.raw.attachments.repository:
        yield from _guarded("attachment repository",
                            lambda: [check_attachment_repository(config)])
    yield from _guarded("SMTP", lambda: [check_smtp(config)])


def summary(checks: list[Check], *, online: bool) -> str:
    bad = sum(1 for check in checks if not check.ok)
    scope = "" if online else " (offline only; add --online to log in to the servers)"
    if bad:
        return f"{bad} of {len(checks)} checks failed{scope}"
    return f"all {len(checks)} checks passed{scope}"
