"""What `visit-gateway run` is made of: every component built from the Config, and the small
adapters that join them (the webhook handler, the health probe, the jobs ticker, the systemd
status line).

`build` opens the store and wires the IMAP source, pipeline, GitHub writer, tracking service,
reconciler, notifier and mail sender together; `check_github` refuses a wrong token or repository
at start. Nothing here starts a thread or a server: `gateway.app` runs what this builds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from gateway.clock import Clock
from gateway.config.loader import Config
from gateway.duty.load import Duties, load_duties
from gateway.errors import ConfigError, FatalError, GatewayError
from gateway.inbound.imap import ImapMailbox
from gateway.inbound.pipeline import Pipeline
from gateway.inbound.replyable import RecentReplyables
from gateway.inbound.source import MailSource, SourceStatus
from gateway.outbound.attachment_repo import AttachmentRepository
from gateway.outbound.attachment_store import AttachmentStores
from gateway.outbound.discussions import DiscussionTracker
from gateway.outbound.github import GitHubAuthError, GitHubTracker, RepositoryNotFound
from gateway.outbound.known_issues import search_budget
from gateway.outbound.local_store import LocalStore
from gateway.outbound.mail import MailIdentity
from gateway.outbound.outbox import MAIL_KINDS, Outbox
from gateway.outbound.pacing import WriteBudget
from gateway.outbound.render import Renderer
from gateway.outbound.sender import MailSender
from gateway.outbound.smtp import SmtpMailer
from gateway.outbound.writer import GitHubWriter, WriterStatus
from gateway.store.db import Store
from gateway.store.leader import Leadership
from gateway.tracking.discussion_reconcile import DiscussionReconciler
from gateway.tracking.reconcile import Reconciler
from gateway.tracking.rules import Rules
from gateway.tracking.service import DiscussionScope, IncomingDelivery, TrackingService
from gateway.web.attachments import AttachmentLinks
from gateway.web.committer import GroupCommitter
from gateway.web.health import Health, MailHealth, assess_health
from gateway.web.metrics import GatewayMetrics
from gateway.web.server import Delivery, DeliveryResult
from gateway.weekly.commands import CommandContext, CommandHandler
from gateway.weekly.notify import Notifier, NotifyContext
from gateway.weekly.stale import StaleSettings
from gateway.wiring import (
    assignee_function,
    attachment_settings,
    link_secret,
    pipeline_settings,
)

log = structlog.get_logger("gateway.app")


@dataclass(slots=True)
class Components:
    store: Store
    pipeline: Pipeline
    source: MailSource
    writer: GitHubWriter
    source_status: SourceStatus
    writer_status: WriterStatus
    tracking: TrackingService
    reconciler: Reconciler
    discussion_reconcile: Callable[[threading.Event], None] | None
    metrics: GatewayMetrics
    outbox: Outbox
    notifier: Notifier
    sender: MailSender
    tick_seconds: float
    # The local attachment store and its link key, for the web server's /attachments route.
    attachment_links: AttachmentLinks | None = None


def build(
    config: Config, clock: Clock, wake: threading.Event, mail_wake: threading.Event | None = None,
    *, target_private: bool | None = None,
) -> Components:
    """Every component, wired. `target_private`: whether the repository new inquiries go to
    is private, as `check_github` found (None: unknown, counted as public)."""
    store = Store.open(config.database_url(), synchronous=config.database.sqlite_synchronous,
                       setting=config.database_setting())
    metrics = GatewayMetrics()
    duties = load_duties(config)
    calendar, schedule = duties.calendar, duties.schedule
    stores, links = attachment_stores(config, store, clock)
    assignee = assignee_function(config, duties, store)
    replyables = RecentReplyables()  # the intake's parse, kept for the acknowledgements
    pipeline = Pipeline(
        store,
        pipeline_settings(config, duties, attachments=attachment_settings(
            config, target_private=target_private,
            secret=links.secret if links is not None else None)),
        assignee,
        on_outcome=lambda outcome: metrics.count_message(outcome.verdict.kind.value),
        assignee_batch=assignee.batch,
        replyables=replyables,
    )
    gh = config.github
    auth = config.github_auth()

    def tracker() -> GitHubTracker:
        return GitHubTracker(
            api_url=gh.api_url,
            auth=auth,
            repository=gh.repository,
            bot_login=gh.bot_login,
            timeout=gh.limits.request_timeout,
            secondary_wait=gh.limits.secondary_wait,
        )

    discussions = discussion_factory(config) if gh.discussion_category else None

    budget = WriteBudget(
        min_interval=dt.timedelta(seconds=gh.limits.min_write_interval),
        per_minute=gh.limits.writes_per_minute,
        per_hour=gh.limits.writes_per_hour,
    )
    notify = config.raw.notify
    notifier = make_notifier(config, store, duties, replyables)
    writer_status = WriterStatus(listener=metrics.count_github)
    outbox = Outbox(store)
    writer = GitHubWriter(
        outbox,
        tracker,
        budget,
        clock,
        status=writer_status,
        backoff_base=gh.limits.retry_base,
        backoff_max=gh.limits.retry_max,
        on_issue_created=notifier.ack_row,
        settle=dt.timedelta(seconds=2 * gh.limits.request_timeout),
        on_success=mail_wake.set if mail_wake is not None else None,
        discussions_factory=discussions,
        search_budget=search_budget(gh.limits.searches_per_minute),
        attachments=stores,
    )
    pipeline.notice_for = notifier.primary_notice
    smtp = config.raw.smtp
    mailer = SmtpMailer(
        smtp.host,
        smtp.effective_port,
        smtp.security,
        smtp.username,
        config.smtp_password.get_secret_value() if config.smtp_password else None,
        smtp.timeout,
        config.resolve(smtp.ca_file) if smtp.ca_file else None,
    )
    identity = MailIdentity(
        from_address=config.mail.from_address,
        from_name=config.mail.from_name,
        reply_to=config.list.address,
        loop_header=config.mail.loop_header,
        loop_id=config.loop_id,
        message_id_domain=config.mail.message_id_domain,
    )
    sender = MailSender(
        outbox,
        mailer,
        identity,
        clock,
        backoff_base=gh.limits.retry_base,
        backoff_max=gh.limits.retry_max,
    )
    imap = config.imap
    password = config.imap_password.get_secret_value() if config.imap_password else None
    if imap.auth == "password" and password is None:
        config.require_imap_password()

    def mailbox() -> ImapMailbox:
        return ImapMailbox(imap, password=password, token_provider=None, base_dir=config.base_dir,
                           password_source=config.secret_source("imap.password"))

    mailbox()  # no network: a bad ca_file or missing token source fails here, at start

    source_status = SourceStatus(last_mail=pipeline.store.last_mail_at())
    source = MailSource(
        mailbox, pipeline, imap, clock=clock, on_new_work=wake.set, status=source_status
    )
    rules = Rules.from_people(gh.bot_login, schedule.people if schedule else ())
    tracking = TrackingService(
        store, rules, calendar, gh.repository, on_first_response=metrics.observe_first_response,
        relay=notifier.relay_row, on_queued=mail_wake.set if mail_wake is not None else None,
        discussions=DiscussionScope(gh.discussions_repository, gh.discussion_category)
        if gh.discussion_category else None,
        commands=CommandHandler(CommandContext(
            settings=config.raw.process, url=notifier.ctx.url,
            list_address=config.list.address, list_prefix=config.list.subject_prefix,
            footer_markers=config.list.footer_markers, schedule=schedule,
            renderer=notifier.ctx.renderer, tz=calendar.tz,
            attachments=config.raw.attachments,
            repositories=(("issues", gh.repository),
                          ("discussions", gh.discussions_repository)))).rows,
        on_github_queued=wake.set,
    )
    reconciler = Reconciler(
        tracking,
        tracker(),
        clock,
        repository=gh.repository,
        interval=config.raw.tracking.reconcile_interval,
        first_lookback=dt.timedelta(hours=config.raw.tracking.first_lookback_hours),
    )
    discussion_reconcile = None
    if discussions is not None:
        make_tracker = discussions
        interval = config.raw.tracking.reconcile_interval

        def make_reconciler() -> DiscussionReconciler:
            tracker = make_tracker()
            ids = tracker.setup_ids
            assert ids is not None
            return DiscussionReconciler(
                tracking, tracker, clock, repository=gh.discussions_repository,
                category_id=ids.category_id, category=ids.category_name, interval=interval,
                first_lookback=dt.timedelta(hours=config.raw.tracking.first_lookback_hours))

        def discussion_reconcile(stop: threading.Event) -> None:
            DiscussionReconciler.run_when_ready(make_reconciler, interval, stop)

    metrics.set_imap_probe(lambda: source_status.connected)
    metrics.set_outbox_probe(lambda: outbox.depth(clock.now()))
    return Components(
        store,
        pipeline,
        source,
        writer,
        source_status,
        writer_status,
        tracking,
        reconciler,
        discussion_reconcile,
        metrics,
        outbox,
        notifier,
        sender,
        notify.tick_seconds,
        links,
    )


def attachment_stores(config: Config, store: Store, clock: Clock
                      ) -> tuple[AttachmentStores, AttachmentLinks | None]:
    """The stores the writer's attachment rows write to, and (for a local store) what the
    web server serves them with. Rows already queued name their store, so both kinds are
    available whenever they are configured."""
    section, gh = config.raw.attachments, config.github
    if section.store == "repository" and not section.repository:
        log.warning("attachments.not_stored", reason="attachments.repository is not set",
                    fix="name a private repository in attachments.repository, or set "
                        'attachments.store = "local" (or "none" to list names only)')
    auth = config.github_auth()

    def repository(name: str, branch: str) -> AttachmentRepository:
        return AttachmentRepository(
            api_url=gh.api_url, repository=name, branch=branch, auth=auth,
            timeout=gh.limits.request_timeout, web_url=gh.web_url,
            secondary_wait=gh.limits.secondary_wait)

    def raw_for(key: str) -> bytes | None:
        with store.read() as tx:
            found = tx.messages_by_keys([key])
        return found[0].raw if found else None

    local = links = None
    if section.store == "local":
        local = LocalStore(config.resolve(section.directory))
        links = AttachmentLinks(local, link_secret(store, clock.now()))
    return AttachmentStores(raw_for, repository, local), links


def make_notifier(config: Config, store: Store, duties: Duties,
                  replyables: RecentReplyables | None = None) -> Notifier:
    """The notifier (acknowledgements, the Primary's notice on a new discussion, the weekly
    jobs); a broken override template raises ConfigError here, at start."""
    gh, notify, process = config.github, config.raw.notify, config.raw.process
    calendar, schedule = duties.calendar, duties.schedule
    renderer = Renderer(
        calendar, config.resolve(notify.templates_dir) if notify.templates_dir else None
    )
    renderer.check()
    team_emails = frozenset(p.email.lower() for p in schedule.people) if schedule else frozenset()
    return Notifier(
        store,
        NotifyContext(
            settings=notify,
            calendar=calendar,
            schedule=schedule,
            renderer=renderer,
            list_address=config.list.address,
            list_prefix=config.list.subject_prefix,
            issue_url=f"{gh.web_url.rstrip('/')}/{gh.repository}/issues/{{number}}",
            team_emails=team_emails,
            discussion_url=(f"{gh.web_url.rstrip('/')}/{gh.discussions_repository}"
                            "/discussions/{number}"),
            notify_primary=gh.notify_primary and gh.target == "discussions",
            stale=StaleSettings(days=process.stale_days,
                                warning_days=process.stale_warning_days,
                                keep_label=process.stale_keep_label,
                                wontfix_label=process.wontfix_label)
            if process.stale_days > 0 else None,
            known_issues=bool(config.raw.process.product_repository
                              and config.raw.process.known_issue_matches),
        ),
        replyables,
    )


def discussion_factory(config: Config) -> Callable[[], DiscussionTracker]:
    """Makes the Discussions adapter with the configured category and labels resolved to ids
    (a wrong name raises ConfigError naming its key)."""
    gh = config.github
    auth = config.github_auth()

    def make() -> DiscussionTracker:
        tracker = DiscussionTracker(
            api_url=gh.api_url, auth=auth, repository=gh.discussions_repository,
            bot_login=gh.bot_login, timeout=gh.limits.request_timeout,
            secondary_wait=gh.limits.secondary_wait)
        try:
            tracker.setup(gh.discussion_category, gh.discussion_labels)
        except BaseException:
            tracker.close()
            raise
        return tracker

    return make


def check_github(config: Config) -> bool | None:
    """At start: a wrong token or repository is fatal (nothing heals it but the admin), and
    so is a discussion category or label that does not exist. Returns whether the repository
    new inquiries go to is private (None: GitHub did not answer), which decides whether
    attached images may be shown inline."""
    if config.github.discussion_category:
        _check_discussions(config)
    gh = config.github
    private = _check_repository(config, gh.repository, "github.repository")
    if gh.target == "discussions" and gh.discussions_repository != gh.repository:
        private = _check_repository(config, gh.discussions_repository,
                                    "github.discussion_repository")
    return private


def _check_repository(config: Config, repository: str, key: str) -> bool | None:
    gh = config.github
    tracker = GitHubTracker(
        api_url=gh.api_url,
        auth=config.github_auth(),
        repository=repository,
        bot_login=gh.bot_login,
        timeout=gh.limits.request_timeout,
        secondary_wait=gh.limits.secondary_wait,
    )
    try:
        return tracker.check_repository()
    except GitHubAuthError as exc:
        raise FatalError(f"{exc} (fix: {config.github_auth_fix()})") from None
    except RepositoryNotFound as exc:
        raise FatalError(f"{exc} (fix: {key}, or give the token access)") from None
    except GatewayError as exc:  # GitHub unreachable at start: not fatal, the writer retries
        log.warning("github.unreachable_at_start", reason=str(exc))
        return None
    finally:
        tracker.close()


def _check_discussions(config: Config) -> None:
    try:
        discussion_factory(config)().close()
    except ConfigError:
        raise  # exit 78, naming the key
    except GitHubAuthError as exc:
        raise FatalError(f"{exc} (fix: {config.github_auth_fix()})") from None
    except RepositoryNotFound as exc:
        raise FatalError(f"{exc} (fix: github.discussion_repository, or give the token "
                         "access)") from None
    except GatewayError as exc:  # unreachable: the writer resolves the names when it can
        log.warning("github.unreachable_at_start", reason=str(exc))


def delivery_handler(parts: Components) -> Callable[[Delivery], Awaitable[DeliveryResult]]:
    """Deliveries arriving together share a commit (`GroupCommitter`, unfenced: any instance
    records a delivery, idempotent by its GUID); each is answered once its commit is done. The
    web layer read the event in the payload already (one it cannot use was answered 400 there)
    and when it arrived, by the daemon's clock."""
    committer = GroupCommitter(parts.store, parts.tracking.record_deliveries)

    async def handle(delivery: Delivery) -> DeliveryResult:
        applied = await committer.submit(IncomingDelivery(
            delivery.guid, delivery.event, delivery.tracked, delivery.received_at))
        parts.tracking.wake(applied)
        return DeliveryResult(applied.result)

    return handle


def health_probe(
    parts: Components, config: Config, clock: Clock, leadership: Leadership | None = None
) -> Callable[[], Awaitable[Health]]:
    stale = dt.timedelta(seconds=config.raw.tracking.poll_stale_after)
    mail_stale = dt.timedelta(seconds=config.raw.tracking.mail_stale_after)

    def assess() -> Health:
        now = clock.now()
        if leadership is not None and not leadership.leading:
            return standby_health(leadership, parts)
        try:
            depth = parts.outbox.depth(now)
            mail_depth = parts.outbox.depth(now, MAIL_KINDS)
            database_ok = True
        except Exception:  # the database itself is what is being checked
            depth, mail_depth, database_ok = (0, 0.0), (0, 0.0), False
        sender = parts.sender.status
        return assess_health(
            now=now,
            source=parts.source_status,
            writer=parts.writer_status,
            outbox=depth,
            database_ok=database_ok,
            poll_stale_after=stale,
            mail=MailHealth(pending=mail_depth[0], oldest_pending_seconds=mail_depth[1],
                            stale_after=mail_stale, last_success=sender.last_success,
                            last_error=sender.last_error),
        )

    async def probe() -> Health:
        health = await asyncio.to_thread(assess)
        if leadership is not None and leadership.leading:
            health.checks["role"] = {"ok": True, "role": "leader",
                                     "instance": leadership.instance,
                                     "epoch": leadership.epoch}
        return health

    return probe


def standby_health(leadership: Leadership, parts: Components) -> Health:
    """A standby's /healthz: healthy while the database answers and a leader holds a fresh
    lease (so someone reads the mailbox); the mailbox, GitHub and mail belong to the leader."""
    try:
        lease = leadership.read()
        database_ok = True
    except Exception:  # the database itself is what is being checked
        lease, database_ok = None, False
    age = lease.age.total_seconds() if lease is not None and lease.age is not None else None
    fresh = age is not None and age < 2 * leadership.lease.total_seconds()
    return Health(database_ok and fresh, {
        "role": {"ok": fresh, "role": "standby", "instance": leadership.instance,
                 "leader": lease.holder if lease is not None else None,
                 "epoch": lease.epoch if lease is not None else None,
                 "lease_age_seconds": age},
        "database": {"ok": database_ok, "reachable": database_ok},
    })


def ticker(
    parts: Components, clock: Clock, wake: threading.Event, mail_wake: threading.Event
) -> Callable[[threading.Event], None]:
    """The job loop: every tick, queue due handoffs, reminders and post-mortem prompts."""

    def run(halt: threading.Event) -> None:
        while not halt.is_set():
            try:
                if parts.notifier.tick(clock.now()):
                    wake.set()
                    mail_wake.set()
            except GatewayError as exc:
                log.warning("notify.tick_failed", reason=str(exc))
            halt.wait(parts.tick_seconds)

    return run


def systemd_status(parts: Components, clock: Clock) -> str:
    """The sd_notify STATUS= line (runs in a thread: the outbox depth reads the database)."""
    source = parts.source_status
    count, oldest = parts.outbox.depth(clock.now())
    last = (
        f"last mail at {source.last_mail:%Y-%m-%d %H:%M:%S}Z" if source.last_mail else "no mail yet"
    )
    work = "idle, 0 pending" if count == 0 else f"{count} pending (oldest {oldest:.0f} s)"
    imap = "" if source.connected else "IMAP reconnecting, "
    return f"{imap}{work}, {last}"
