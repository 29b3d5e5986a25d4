"""The `visit-gateway` command line: argument parsing and dispatch, nothing else.

Every command takes `--config F` (default `$VISIT_GATEWAY_CONFIG`, else
/etc/visit-gateway/gateway.toml). Expected failures (a bad config, a missing file) print one
line naming the problem and the fix and exit 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from gateway import __version__
from gateway.clock import SystemClock
from gateway.config.loader import CONFIG_ENV, Config, default_config_path, load_config, parse_config
from gateway.errors import ConfigError, FatalError, GatewayError, UsageError
from gateway.log import configure

if TYPE_CHECKING:
    from gateway.duty.schedule import Schedule
    from gateway.store.db import Store

EXIT_USAGE = 2
EXIT_CONFIG = 78  # sysexits EX_CONFIG: systemd's RestartPreventExitStatus= keeps it from looping
EXIT_TEMPFAIL = 75  # sysexits EX_TEMPFAIL: lost the lead; Restart=on-failure brings it back


def parse_instant(text: str) -> dt.datetime:
    """ISO 8601 with an offset (2026-03-02T08:00-08:00 or ...Z); naive times are refused."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-03-02T08:00-08:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; write it like 2026-03-02T08:00-08:00 or with Z"
        )
    return value


def _config(args: argparse.Namespace) -> Config:
    return load_config(Path(args.config) if args.config else default_config_path())


def _replay_config(args: argparse.Namespace) -> Config:
    """A dry run needs no secrets and no servers: with no --config, no $VISIT_GATEWAY_CONFIG
    and nothing at the default path, it runs on the built-in defaults (and says so), so someone
    who just installed the package can see what it would do with their mail."""
    if args.config or not args.dry_run or os.environ.get(CONFIG_ENV):
        return _config(args)
    path = default_config_path()
    if path.exists():
        return _config(args)
    print(f"replay: no configuration at {path}: a dry run on the built-in defaults (pass "
          "--config for your list's settings)", file=sys.stderr)
    return parse_config("", source="built-in defaults", base_dir=Path.cwd())


def _open_existing_store(config: Config, command: str) -> Store:
    """The state database for an admin command that reads or repairs it. A SQLite file that
    does not exist is refused rather than created: an empty new database would answer every
    question with "nothing" (usually, database.path does not name the service's database)."""
    from gateway.store.db import Store

    path = config.database_file()
    if path is not None and not _exists(path, command):
        raise UsageError(
            f"{command}: there is no state database at {path} (fix: the service creates it on "
            f"first start; if it has run, set database.path in {config.source} to the "
            "service's database, /var/lib/visit-gateway/state.db under the shipped unit)")
    with _needs_sudo(command):
        return Store.open(config.database_url(), synchronous=config.database.sqlite_synchronous,
                          setting=config.database_setting())


SUDO_FIX = ("run it as root (sudo visit-gateway {command}): the service's database is in a "
            "directory only root may enter")


@contextlib.contextmanager
def _needs_sudo(command: str) -> Iterator[None]:
    """A database the OS would not let this user open: the admin forgot sudo (the service's
    database is root's). Other database problems stay ConfigErrors naming the key."""
    from gateway.store.errors import DatabaseUnavailable

    try:
        yield
    except DatabaseUnavailable as exc:
        if not exc.denied:
            raise
        raise UsageError(f"{command}: {exc.problem} "
                         f"(fix: {SUDO_FIX.format(command=command)})") from None


def _exists(path: Path, command: str) -> bool:
    """Whether the database file exists; a directory we may not enter is a clear error."""
    try:
        return path.exists()
    except PermissionError:
        raise UsageError(f"{command}: no permission to look at {path} "
                         f"(fix: {SUDO_FIX.format(command=command)})") from None


def cmd_replay(args: argparse.Namespace) -> int:
    from gateway.duty.load import load_duties
    from gateway.inbound.replay import run_replay
    from gateway.wiring import assignee_function, pipeline_settings

    config = _replay_config(args)
    duties = load_duties(config)
    if not args.dry_run and not args.state:
        state_url: str | None = config.database_url()
    else:
        state_url = f"sqlite:///{Path(args.state).resolve()}" if args.state else None
    counts = run_replay(
        [Path(p) for p in args.paths],
        settings=pipeline_settings(config, duties),
        assignee_for=assignee_function(config, duties),
        state_url=state_url,
        dry_run=args.dry_run,
        fmt=args.format,
        out=sys.stdout,
        now=SystemClock().now(),
    )
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no messages"
    print(
        f"replayed: {summary}"
        + (
            " (dry run: nothing was sent)"
            if args.dry_run
            else " (queued in the outbox for `visit-gateway run`)"
        ),
        file=sys.stderr,
    )
    return 0


def cmd_log_inquiry(args: argparse.Namespace) -> int:
    from gateway.components import make_notifier
    from gateway.duty.load import load_duties
    from gateway.duty.schedule import assignee_at_arrival, find_person
    from gateway.inbound import hotline
    from gateway.inbound.log_inquiry import describe, log_inquiry
    from gateway.inbound.pipeline import Pipeline
    from gateway.wiring import assignee_function, pipeline_settings

    try:
        at = hotline.parse_arrival(parse_instant(args.at), SystemClock().now())
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"log-inquiry: --at {exc}") from None
    customer = hotline.parse_customer(args.customer)
    subject, via = hotline.check_subject(args.subject), hotline.check_via(args.via)
    config = _config(args)
    if customer.addr in (config.list.address.lower(), config.mail.from_address.lower()):
        raise UsageError(f"log-inquiry: --customer {customer.addr} is the list's or the "
                         "gateway's own address; give the caller's")
    notes = _read_notes(args.body_file, config.inbound.max_message_bytes)
    duties = load_duties(config)
    if duties.schedule is None:
        raise UsageError("log-inquiry: --by names a roster member, and no schedule.file is "
                         f"configured in {config.source}")
    primary = assignee_at_arrival(at, duties.calendar, duties.schedule)
    hint = f"; the Primary at that time is {primary.github}" if primary else ""
    if not args.by:
        raise UsageError("log-inquiry: --by is required: the GitHub login of the roster member "
                         f"who took the call{hint}")
    try:
        by = find_person(duties.schedule.people, args.by)
    except LookupError as exc:
        raise UsageError(f"log-inquiry: --by: {exc} (give a roster member's GitHub login{hint})"
                         ) from None
    call = hotline.HotlineCall(customer, at, subject, notes,
                               hotline.Logged(via, by.github, by.name, ack=args.ack))
    store = _open_existing_store(config, "log-inquiry")
    try:
        pipeline = Pipeline(store, pipeline_settings(config, duties),
                            assignee_function(config, duties),
                            notice_for=make_notifier(config, store, duties).primary_notice)
        result = log_inquiry(pipeline, call, message_id_domain=config.mail.message_id_domain,
                             now=SystemClock().now())
    finally:
        store.close()
    print("\n".join(describe(result, call, duties.calendar.tz)))
    return 0 if result.outcome is None or result.created is not None else 1


def _read_notes(path: str | None, limit: int) -> str:
    """The notes of `log-inquiry --body-file` (`-`: standard input), UTF-8 text."""
    if not path:
        return ""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"log-inquiry: --body-file {path}: {exc.strerror or exc}") from None
    if len(data) > limit // 2:
        raise UsageError(f"log-inquiry: --body-file {path} has {len(data):,} bytes; at most "
                         f"{limit // 2:,} (inbound.max_message_bytes / 2)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"log-inquiry: --body-file {path} is not UTF-8 text") from None


def cmd_db(args: argparse.Namespace) -> int:
    import sqlalchemy.exc

    from gateway.store.engine import create_engine
    from gateway.store.errors import connect_error
    from gateway.store.migrate import current_revision, head_revision, upgrade

    config = _config(args)
    if args.db_command == "copy":
        return _db_copy(args, config)
    path = config.database_file()
    where = str(path) if path is not None else config.database_url().split(":", 1)[0]
    if args.db_command == "current" and path is not None and not _exists(path, "db current"):
        print(f"{where}: no database yet, head {head_revision()}")
        return 0
    url, setting = config.database_url(), config.database_setting()
    with _needs_sudo(f"db {args.db_command}"):
        engine = create_engine(url, synchronous=config.database.sqlite_synchronous,
                               setting=setting)
        try:
            if args.db_command == "upgrade":
                before = current_revision(engine)
                upgrade(engine)
                print(f"{where}: at revision {current_revision(engine)} "
                      f"(was {before or 'empty'})")
            else:
                print(f"{where}: current {current_revision(engine) or 'empty'}, "
                      f"head {head_revision()}")
        except sqlalchemy.exc.OperationalError as exc:
            raise connect_error(url, setting, exc) from None
        finally:
            engine.dispose()
    return 0


def _db_copy(args: argparse.Namespace, config: Config) -> int:
    """`db copy --to URL`: the configured database (migrated to head first) copied into the
    database at URL (migrated to head), verified table by table. Stop the service first: what
    it writes during the copy is not copied."""
    import sqlalchemy as sa

    from gateway.store.copy import TargetNotEmpty, copy_database
    from gateway.store.engine import create_engine
    from gateway.store.errors import connect_error
    from gateway.store.migrate import upgrade

    if not args.to:
        raise UsageError("db copy: say where to with --to URL (e.g. --to "
                         "postgresql+psycopg://gateway@db.example.org/gateway)")
    if args.to == config.database_url():
        raise UsageError("db copy: --to names the configured database itself")
    store = _open_existing_store(config, "db copy")
    target = create_engine(args.to, setting="--to")
    shown = sa.engine.make_url(args.to).render_as_string(hide_password=True)
    try:
        try:
            upgrade(target)
        except sa.exc.OperationalError as exc:
            raise connect_error(args.to, "--to", exc) from None
        source = sa.engine.make_url(config.database_url()).render_as_string(hide_password=True)
        print(f"copying {source} to {shown}")
        try:
            copies = copy_database(store.engine, target, replace=args.replace)
        except TargetNotEmpty as exc:
            raise UsageError(f"db copy: {shown} already holds rows (in {exc}) (fix: copy into "
                             "a new, empty database, or pass --replace to delete them in the "
                             "copy's transaction)") from None
    finally:
        target.dispose()
        store.close()
    width = max(len(c.table) for c in copies)
    for c in copies:
        if c.same:
            print(f"  {c.table:<{width}} {c.source.rows:>9} rows  digest {c.source.digest[:16]}"
                  "  same")
        else:
            print(f"  {c.table:<{width}} DIFFERS: source {c.source.rows} rows digest "
                  f"{c.source.digest[:16]}, target {c.target.rows} rows digest "
                  f"{c.target.digest[:16]}")
    bad = [c.table for c in copies if not c.same]
    rows = sum(c.source.rows for c in copies)
    if bad:
        print(f"db copy: the copy differs from the source in {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"copied {rows} rows in {len(copies)} tables; every table verified (counts and digests "
          "of every row)")
    return 0


def cmd_oncall(args: argparse.Namespace) -> int:
    from gateway.duty.load import require_schedule
    from gateway.duty.oncall import describe_oncall

    config = _config(args)
    _calendar, schedule = require_schedule(config)
    at = args.at or SystemClock().now()
    schedule = _delegated(config, schedule, at - WEEK, at + (args.weeks + 1) * WEEK, "oncall")
    print(describe_oncall(schedule, at, args.weeks))
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from gateway.duty.load import require_schedule
    from gateway.duty.oncall import check_schedule, render_report

    config = _config(args)
    calendar, schedule = require_schedule(config)
    start = args.start or SystemClock().now()
    schedule = _delegated(config, schedule, start - 2 * WEEK, start + (args.weeks + 1) * WEEK,
                          "schedule check")
    report = check_schedule(schedule, calendar, start, args.weeks)
    print(render_report(report))
    return 0 if report.ok else 1


WEEK = dt.timedelta(days=7)


def _delegated(config: Config, schedule: Schedule, lo: dt.datetime, hi: dt.datetime,
               command: str) -> Schedule:
    """`schedule` with the Primary's delegations recorded in the state database over [lo, hi)
    in force. No database yet (a workstation): the schedule file alone. One this user may not
    open: the schedule file alone, and a line on stderr that says so."""
    from gateway.duty.delegation import with_delegations
    from gateway.weekly.delegation import recorded_between

    path = config.database_file()
    try:
        if path is not None and not _exists(path, command):
            return schedule
        store = _open_existing_store(config, command)
    except GatewayError as exc:
        print(f"visit-gateway: delegations not shown: {exc}", file=sys.stderr)
        return schedule
    try:
        with store.read() as tx:
            return with_delegations(schedule, recorded_between(tx, lo, hi))
    finally:
        store.close()


def cmd_delegate(args: argparse.Namespace) -> int:
    """`delegate --until T [--to L] [--from T] [--by L]`, `--list`, `--cancel ID`."""
    from gateway.duty.delegation import Refusal
    from gateway.duty.load import require_schedule
    from gateway.outbound.render import Renderer
    from gateway.store.delegations import delegations_between
    from gateway.weekly.delegation import cancel, delegate, describe_rows

    config = _config(args)
    calendar, schedule = require_schedule(config)
    now = args.at or SystemClock().now()
    if args.until is None and (args.to or args.start or args.by):
        raise UsageError("delegate: --to, --from and --by go with --until")
    templates = config.raw.notify.templates_dir
    renderer = Renderer(calendar, config.resolve(templates) if templates else None)
    store = _open_existing_store(config, "delegate")
    try:
        if args.list:
            with store.read() as tx:
                rows = delegations_between(tx, schedule.week_start(now), now + 52 * WEEK,
                                           with_cancelled=True)
            print("\n".join(describe_rows(rows, calendar.tz, now))
                  or "no delegations this week or later")
            return 0
        if args.cancel is not None:
            ended = cancel(store, args.cancel, now, _os_user())
            if isinstance(ended, Refusal):
                raise UsageError(f"delegate: {ended}")
            print(f"delegation #{ended.id} {'cancelled' if ended.void else 'ended'}")
            return 0
        done = delegate(store, schedule, renderer, args.by, args.until, now, "cli",
                        to_login=args.to, start=args.start, created_by=_os_user())
    finally:
        store.close()
    if isinstance(done, Refusal):
        raise UsageError(f"delegate: {done}")
    print(done.describe(calendar.tz))
    if done.created:
        print(f"{done.taker.name} is told by mail (queued for `visit-gateway run` to send)")
    return 0


def _os_user() -> str:
    """Who ran the command: the admin behind sudo, else this user."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except OSError:  # no name for this uid (a container)
        return f"uid {os.getuid()}"


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio
    import gc

    # The daemon's imports make some 200,000 objects that live as long as it does: collecting
    # while they are made finds nothing to free and cost 150 ms of a 0.8 s start. Collection
    # resumes after them, and never again walks them (`gc.freeze`).
    gc.disable()
    try:
        from gateway import app
    finally:
        gc.freeze()
        gc.enable()

    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"visit-gateway: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure(args.log_level or config.log.level, config.log.format, stream=sys.stdout)
    try:
        asyncio.run(app.run(config))
    except app.LeadershipLost:
        print("visit-gateway: another instance took the lead; stopping (systemd restarts this "
              "one as a standby)", file=sys.stderr)
        return EXIT_TEMPFAIL
    except (FatalError, ConfigError) as exc:
        structlog.get_logger("gateway.app").error("gateway.fatal", reason=str(exc))
        print(f"visit-gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from gateway.outbound.outbox import RESTORE_WINDOW, Outbox

    config = _config(args)
    store = _open_existing_store(config, f"outbox {args.outbox_command}")
    try:
        box = Outbox(store)
        now = SystemClock().now()
        if args.outbox_command == "list":
            items = box.items(status=args.status, limit=args.limit)
            # Keys in full: they are what `retry KEY` and `drop KEY` take.
            width = max([len("key"), *(len(item.key) for item in items)])
            print(f"{'key':<{width}} {'kind':<13} {'status':<8} {'tries':>5}  note")
            for item in reversed(items):
                note = item.last_error or (f"issue #{item.issue_number}"
                                           if item.issue_number else "")
                if item.waits_for_issue:
                    note = note or "waits for its issue"
                print(f"{item.key:<{width}} {item.kind:<13} {item.status:<8} "
                      f"{item.attempts:>5}  {note[:80]}")
            return 0
        if args.outbox_command == "recheck":
            count = box.recheck(now)
            print(f"recheck: {count} pending GitHub writes will look for their marker first, "
                  f"and so will the writes queued in the next "
                  f"{RESTORE_WINDOW.total_seconds() / 3600:g} h (mail read again after a restore)")
            return 0
        if not args.key:
            raise UsageError(f"outbox {args.outbox_command} needs a KEY (see `outbox list`)")
        if args.outbox_command == "retry":
            changed = box.retry(args.key, now)
        else:
            changed = box.drop(args.key, now)
        if not changed:
            raise UsageError(f"outbox: no open or failed row with key {args.key!r}")
        print(f"{args.outbox_command}: {args.key}")
        return 0
    finally:
        store.close()


def cmd_quarantine(args: argparse.Namespace) -> int:
    from gateway.inbound.quarantine import quarantined, quarantined_raw

    config = _config(args)
    store = _open_existing_store(config, f"quarantine {args.quarantine_command}")
    try:
        if args.quarantine_command == "list":
            rows = quarantined(store, limit=args.limit)
            width = max([len("key"), *(len(row.key) for row in rows)])
            print(f"{'key':<{width}} {'received (UTC)':<16} {'size':>9}  reason: detail")
            for row in rows:
                when = row.received_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
                print(f"{row.key:<{width}} {when:<16} {row.size:>9}  "
                      f"{row.reason}: {row.detail[:100]}")
            return 0
        if not args.key:
            raise UsageError("quarantine show needs a KEY (see `quarantine list`)")
        raw = quarantined_raw(store, args.key)
        if raw is None:
            raise UsageError(f"quarantine: no quarantined message with key {args.key!r}")
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return 0
    finally:
        store.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    from gateway.ops.checks import run_checks, summary

    path = Path(args.config) if args.config else default_config_path()
    results = []
    for check in run_checks(path, online=args.online):
        results.append(check)
        print(check.line(), flush=True)
    print(summary(results, online=args.online))
    return 0 if all(check.ok for check in results) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from gateway.duty.load import require_schedule
    from gateway.report.aggregate import build_report
    from gateway.report.data import default_range, load_rows, recent_weeks, report_weeks
    from gateway.report.render import RENDERERS

    config = _config(args)
    calendar, schedule = require_schedule(config)
    now = args.at or SystemClock().now()
    if args.since is None and args.until is None:
        weeks = recent_weeks(schedule, now)
    else:
        since, until = default_range(calendar.local(now).date())
        since, until = args.since or since, args.until or until
        if until < since:
            raise UsageError(f"report: --until {until} is before --since {since}")
        weeks = report_weeks(schedule, calendar, since, until)
    store = _open_existing_store(config, "report")
    try:
        rows = load_rows(store, before=weeks[-1].end)
    finally:
        store.close()
    report = build_report(rows.threads, rows.effort, rows.handoffs, weeks, schedule.people,
                          calendar, as_of=min(now, weeks[-1].end),
                          goal=dt.timedelta(hours=config.raw.notify.goal_hours),
                          promotions=rows.promotions, attachments=rows.attachments)
    text = RENDERERS[args.format](report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def parse_date(text: str) -> dt.date:
    """An ISO date, 2026-03-02."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date such as 2026-03-02"
                                         ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visit-gateway",
        description="Bridge the visit-users mailing list to GitHub issues.",
    )
    parser.add_argument("--version", action="version", version=f"visit-gateway {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="F",
        help="configuration file (default: $VISIT_GATEWAY_CONFIG, else "
        "/etc/visit-gateway/gateway.toml)",
    )
    common.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=None,
        help="override log.level for this command",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = sub.add_parser(
        "replay",
        parents=[common],
        help="run saved mail (.eml, directory, mbox, Maildir) through the pipeline",
    )
    replay.add_argument("paths", nargs="+", metavar="PATH")
    replay.add_argument(
        "--state",
        metavar="DB",
        help="state database file (default with --dry-run: a throwaway one)",
    )
    replay.add_argument(
        "--dry-run",
        action="store_true",
        help="no GitHub or SMTP call; nothing is queued for delivery",
    )
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.set_defaults(func=cmd_replay, default_level="error")  # verdicts are the output

    inquiry = sub.add_parser("log-inquiry", parents=[common],
                             help="log an inquiry by phone or in person: opened like mail "
                                  "arriving at --at (queued for `visit-gateway run`)")
    inquiry.add_argument("--customer", required=True, metavar='"NAME <ADDRESS>"')
    inquiry.add_argument("--at", required=True, metavar="T",
                         help="when the call came in, ISO 8601 with offset")
    inquiry.add_argument("--subject", required=True, metavar="S")
    inquiry.add_argument("--via", required=True, metavar="phone|walk-in")
    inquiry.add_argument("--body-file", metavar="F", help="the notes, UTF-8 text (-: stdin)")
    inquiry.add_argument("--by", metavar="LOGIN", help="who took it: a roster member (required)")
    inquiry.add_argument("--ack", action="store_true",
                         help="mail the customer the acknowledgement (and later notices)")
    inquiry.set_defaults(func=cmd_log_inquiry, default_level="warning")

    run = sub.add_parser("run", parents=[common],
                         help="run the daemon: IMAP in, GitHub out (stops on SIGTERM/SIGINT)")
    run.set_defaults(func=cmd_run, default_level="info")

    box = sub.add_parser("outbox", parents=[common],
                         help="pending writes: list | retry KEY | drop KEY | recheck")
    box.add_argument("outbox_command", choices=["list", "retry", "drop", "recheck"])
    box.add_argument("key", nargs="?", metavar="KEY")
    box.add_argument("--status", choices=["pending", "sending", "done", "failed", "dropped"])
    box.add_argument("--limit", type=int, default=50)
    box.set_defaults(func=cmd_outbox, default_level="warning")

    quarantine = sub.add_parser("quarantine", parents=[common],
                                help="mail kept but not posted: list | show KEY (raw message)")
    quarantine.add_argument("quarantine_command", choices=["list", "show"])
    quarantine.add_argument("key", nargs="?", metavar="KEY")
    quarantine.add_argument("--limit", type=int, default=50)
    quarantine.set_defaults(func=cmd_quarantine, default_level="warning")

    oncall = sub.add_parser("oncall", parents=[common],
                            help="who is Primary and Backup now (or at --at), and the coming weeks")
    oncall.add_argument("--at", type=parse_instant, metavar="T",
                        help="ISO 8601 time with offset, e.g. 2026-12-07T09:00-08:00")
    oncall.add_argument("--weeks", type=int, default=4, metavar="N",
                        help="coming weeks to list (default 4)")
    oncall.set_defaults(func=cmd_oncall, default_level="warning")

    delegate = sub.add_parser("delegate", parents=[common],
                              help="the Primary hands the role over for a while: --until T "
                                   "[--to LOGIN] | --list | --cancel ID")
    action = delegate.add_mutually_exclusive_group(required=True)
    action.add_argument("--until", type=parse_instant, metavar="T",
                        help="when it ends, ISO 8601 with offset (cut at the next handoff)")
    action.add_argument("--list", action="store_true",
                        help="this week's delegations and those to come")
    action.add_argument("--cancel", type=int, metavar="ID", help="end delegation ID now")
    delegate.add_argument("--to", metavar="LOGIN",
                          help="who takes over (default: the Backup on duty at --from)")
    delegate.add_argument("--from", dest="start", type=parse_instant, metavar="T",
                          help="when it starts (default: now)")
    delegate.add_argument("--by", metavar="LOGIN",
                          help="the Primary who delegates (default: the Primary at --from)")
    delegate.add_argument("--at", type=parse_instant, metavar="T",
                          help="act as if it were T (default: now)")
    delegate.set_defaults(func=cmd_delegate, default_level="warning")

    schedule = sub.add_parser("schedule", parents=[common],
                              help="check the duty schedule: gaps, conflicts, load per person")
    schedule.add_argument("schedule_command", choices=["check"])
    schedule.add_argument("--weeks", type=int, default=12, metavar="N",
                          help="weeks to check (default 12)")
    schedule.add_argument("--from", dest="start", type=parse_instant, metavar="T",
                          help="start of the horizon (default: now)")
    schedule.set_defaults(func=cmd_schedule, default_level="warning")

    db = sub.add_parser("db", parents=[common],
                        help="database schema: upgrade | current; copy --to URL (e.g. SQLite to "
                             "PostgreSQL)")
    db.add_argument("db_command", choices=["upgrade", "current", "copy"])
    db.add_argument("--to", metavar="URL",
                    help="copy: the database to copy into (migrated to head; must hold no rows)")
    db.add_argument("--replace", action="store_true",
                    help="copy: delete the rows the target holds, in the copy's transaction")
    db.set_defaults(func=cmd_db, default_level="warning")

    report = sub.add_parser("report", parents=[common],
                            help="response times and load per rotation week, person and label")
    report.add_argument("--at", type=parse_instant, metavar="T",
                        help="report as it stood at T, ISO 8601 with offset (default: now)")
    report.add_argument("--since", type=parse_date, metavar="D",
                        help="first local day, ISO (default: 11 weeks before today)")
    report.add_argument("--until", type=parse_date, metavar="D",
                        help="last local day, ISO (default: today)")
    report.add_argument("--format", choices=["table", "csv", "json", "html"], default="table")
    report.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    report.set_defaults(func=cmd_report, default_level="warning")

    check = sub.add_parser("check-config", parents=[common],
                           help="check the configuration (and with --online the servers); "
                                "one line per check, exit 1 if any fails")
    check.add_argument("--online", action="store_true",
                       help="also log in to IMAP, GitHub and SMTP (nothing is sent or changed)")
    check.set_defaults(func=cmd_check_config, default_level="error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(args.log_level or args.default_level, "auto", stream=sys.stderr)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as exc:
        print(f"visit-gateway: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"visit-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GatewayError as exc:
        print(f"visit-gateway: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:  # a file or directory this user may not use: no traceback
        print(f"visit-gateway: permission denied: {exc.filename or exc} (fix: run it as a user "
              "that may read and write it; admin commands: sudo)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
