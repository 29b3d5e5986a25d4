"""The configuration's sections: every key, its type, default, bounds and description.

Pydantic models, one per TOML table; `RawConfig` is the whole file. The descriptions are the
source of docs/configuration.md (`python -m gateway.ops.config_reference`). Loading, secrets and
the paths that resolve from the config file's directory are in `gateway.config.loader`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address like name@example.org")
    return value.lower()


class DatabaseSection(_Section):
    """The state database: threads, issues, the outbox and response times."""

    url: Annotated[str, Field(description=(
        "SQLAlchemy URL of the state database. Empty: SQLite at $STATE_DIRECTORY/state.db "
        "when systemd sets StateDirectory=, else at path."))] = ""
    path: Annotated[str, Field(description=(
        "SQLite file used when url is empty and systemd gives no StateDirectory; relative to "
        "the config file's directory."))] = "/var/lib/visit-gateway/state.db"
    sqlite_synchronous: Annotated[Literal["full", "normal"], Field(description=(
        '"full" fsyncs every commit (a power cut loses nothing already flagged in IMAP); '
        '"normal" is faster and safe against crashes of the process, not of the machine.'
    ))] = "full"
    instance_name: Annotated[str, Field(description=(
        "This instance's name in the leader lease and the logs, when several instances share "
        "a PostgreSQL database; empty: the host name."))] = ""
    lease_seconds: Annotated[float, Field(ge=2, le=600, description=(
        "PostgreSQL with several instances: the leader renews its lease every third of this; "
        "a standby takes over once the leader's database session is gone (at its next poll), "
        "or once the lease has not been renewed for this long (a paused leader)."))] = 15.0
    standby_poll: Annotated[float, Field(gt=0, le=60, description=(
        "Seconds between a standby's attempts to take the lead."))] = 1.0


class ListSection(_Section):
    """The mailing list the gateway reads."""

    address: Annotated[str, Field(description=(
        "The list's posting address, an email address (kept lower-case); also the Reply-To of "
        "the gateway's mail. Mail From this address is a DMARC-munged post: the real sender is "
        "taken from X-Original-From, Reply-To or Cc."))] = "visit-users@elist.ornl.gov"
    subject_prefix: Annotated[str, Field(description=(
        "Mailman's subject prefix, removed from issue titles."))] = "[visit-users]"
    footer_markers: Annotated[tuple[str, ...], Field(description=(
        'Text in the lines after the "____" rule that identifies the list footer to strip. '
        "The footer is also recognised without it, by the addresses and URLs of the message's "
        "own List-Unsubscribe, List-Post, List-Archive, List-Help and List-Subscribe headers "
        'and by Mailman\'s shape ("mailing list" and a listinfo URL).'
    ))] = ("visit-users mailing list",)

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_email(value)


class GitHubLimitsSection(_Section):
    """Pacing and retrying of writes, after GitHub's documented limits for content creation,
    and the pace of known-issue searches."""

    min_write_interval: Annotated[float, Field(ge=0, description=(
        "Seconds between two GitHub writes, at least."))] = 1.0
    writes_per_minute: Annotated[int, Field(ge=1, description=(
        "Most GitHub writes in any minute."))] = 80
    writes_per_hour: Annotated[int, Field(ge=1, description=(
        "Most GitHub writes in any hour."))] = 500
    searches_per_minute: Annotated[int, Field(ge=1, le=30, description=(
        "Most known-issue searches (process.known_issue_matches) in any minute. GitHub allows "
        "30 a minute, apart from the writes: searches never wait for or count against the "
        "write limits."))] = 20
    secondary_wait: Annotated[float, Field(ge=60, description=(
        "Seconds to wait after a secondary rate limit without a retry-after header (GitHub "
        "asks for at least a minute)."))] = 60.0
    request_timeout: Annotated[float, Field(gt=0, description=(
        "Seconds before a GitHub request counts as failed (its outcome is then checked, not "
        "assumed)."))] = 30.0
    retry_base: Annotated[float, Field(gt=0, description=(
        "After a failed or unclear GitHub write or SMTP send, wait retry_base * 2^(attempt - 1) "
        "seconds, capped at retry_max and then multiplied by a random 0.5 to 1.5, before "
        "checking for it and trying again."))] = 2.0
    retry_max: Annotated[float, Field(gt=0, description=(
        "Cap, in seconds, on the retry wait before jitter (see retry_base)."))] = 600.0


class GitHubSection(_Section):
    """The repository issues are opened in, and how the gateway signs in to GitHub."""

    repository: Annotated[str, Field(description=(
        "The customer-response repository issues are opened in, as owner/name."
    ))] = "visit-dav/live-customer-response"
    api_url: Annotated[str, Field(description=(
        "REST API base URL, http(s) (GitHub Enterprise Server: https://HOST/api/v3); a "
        "trailing / is dropped."))] = "https://api.github.com"
    web_url: Annotated[str, Field(description=(
        "Where people open issues in a browser (links in mail): https://HOST for Enterprise "
        "Server."))] = "https://github.com"
    bot_login: Annotated[str, Field(description=(
        'The account the gateway writes as; its own comments are never a "first response". '
        'With auth = "app" it is "<app-slug>[bot]".'))] = "visit-users-bot"
    token: Annotated[SecretStr | None, Field(description=(
        'The token inline (discouraged), used when auth = "token". A secret: the first of '
        "$CREDENTIALS_DIRECTORY/github-token, $VISIT_GATEWAY_GITHUB_TOKEN, the file named by "
        "token_file and this key wins."))] = None
    token_file: Annotated[str, Field(description=(
        "A file holding only the token (a personal access token of bot_login), relative to the "
        "config file's directory; used when neither the github-token credential nor "
        "$VISIT_GATEWAY_GITHUB_TOKEN is set."))] = ""
    auth: Annotated[Literal["token", "app"], Field(description=(
        '"token": a personal access token of bot_login. "app": a GitHub App installation; the '
        "token is minted from the App's private key and refreshed before it expires (an hour)."
    ))] = "token"
    app_id: Annotated[int, Field(ge=0, description=(
        'The GitHub App\'s ID, from its settings page; required (non-zero) with auth = "app".'
    ))] = 0
    installation_id: Annotated[int, Field(ge=0, description=(
        "The App installation's ID, from its installation URL; required (non-zero) with "
        'auth = "app".'))] = 0
    private_key_file: Annotated[str, Field(description=(
        'With auth = "app": a file holding the App\'s private key (.pem), relative to the '
        "config file's directory; used when neither the github-app-key credential nor "
        "$VISIT_GATEWAY_GITHUB_APP_KEY is set. There is no inline form."))] = ""
    labels: Annotated[tuple[str, ...], Field(description=(
        "Labels put on every new issue."))] = ("customer-response",)
    target: Annotated[Literal["issues", "discussions"], Field(description=(
        'Where a new inquiry from the list goes: "issues" (an issue in repository) or '
        '"discussions" (a discussion in discussion_category of discussion_repository). Only '
        "new threads follow a change: open ones stay where they are, and replies to them go "
        "there."))] = "issues"
    discussion_repository: Annotated[str, Field(description=(
        "The repository whose Discussions hold inquiries, as owner/name; empty: repository. "
        "Discussions opened there in discussion_category by anyone are inquiries too, "
        "whatever target says."))] = ""
    discussion_category: Annotated[str, Field(description=(
        'The Discussions category of inquiries, by name (as shown on GitHub); required with '
        'target = "discussions"; empty: discussions are not tracked. Resolved to its id at '
        "start: an unknown name stops the start and lists the categories there are."))] = ""
    discussion_labels: Annotated[tuple[str, ...], Field(description=(
        "Labels put on every new discussion. They must already exist in "
        "discussion_repository (GitHub's GraphQL API cannot create labels)."))] = ("SRE",)
    notify_primary: Annotated[bool, Field(description=(
        "A new discussion has no assignee: its first comment names the Primary (an "
        "@mention: they get one notification and follow the discussion) and the Backup "
        "(not mentioned). false: no such comment."))] = True
    limits: Annotated[GitHubLimitsSection, Field(description=(
        "Write pacing and retries: the [github.limits] table."))] = GitHubLimitsSection()

    @field_validator("repository")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not _REPO.match(value):
            raise ValueError(f"{value!r} is not an owner/name repository")
        return value

    @field_validator("discussion_repository")
    @classmethod
    def _discussion_repo(cls, value: str) -> str:
        if value and not _REPO.match(value):
            raise ValueError(f"{value!r} is not an owner/name repository")
        return value

    @property
    def discussions_repository(self) -> str:
        """Where discussions are: discussion_repository, else repository."""
        return self.discussion_repository or self.repository

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def name(self) -> str:
        return self.repository.split("/")[1]


class MailSection(_Section):
    """The identity of the gateway's own outbound mail; inbound mail carrying it is never posted."""

    from_address: Annotated[str, Field(description=(
        "From address of the gateway's mail, an email address (kept lower-case); inbound mail "
        "from it is never posted."))] = "visit-gateway@llnl.gov"
    from_name: Annotated[str, Field(description=(
        "Display name on the gateway's mail."))] = "VisIt Customer Response"
    message_id_domain: Annotated[str, Field(description=(
        "Domain of the Message-IDs the gateway generates (kept lower-case); inbound mail with "
        "such a Message-ID is never posted."))] = "visit-gateway.llnl.gov"
    loop_header: Annotated[str, Field(description=(
        "Loop header added to outbound mail; inbound mail with loop_header: loop_id is the "
        "gateway's own echo and is never posted."))] = "X-Visit-Gateway"
    loop_id: Annotated[str, Field(description=(
        "Value of the loop header. Empty: github.repository."))] = ""

    @field_validator("from_address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_email(value)

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a domain name like gateway.example.org")
        return value.lower()


class InboundSection(_Section):
    """Which inbound mail is ignored, and how the rest is shown in issues and comments."""

    max_message_bytes: Annotated[int, Field(gt=0, description=(
        "Larger messages, in bytes, are quarantined without parsing. Attachments travel "
        "base64-encoded, a third larger than the files: 64 MB holds a message with "
        "attachments.max_message_bytes (50 MB) of files."))] = 64 * 1024 * 1024
    show_full_address: Annotated[bool, Field(description=(
        "Show the sender's full address in issues and comments; false shows j…@example.org."
    ))] = False
    ignore_precedence: Annotated[tuple[str, ...], Field(description=(
        "Precedence header values (any case) that mark automatic mail, which is ignored. If "
        'your list stamps "Precedence: bulk" on every post, remove "bulk" here.'
    ))] = ("bulk", "junk", "auto_reply")
    github_reply_by_email: Annotated[Literal["ignore", "comment"], Field(description=(
        "A reply sent to GitHub's reply+…@reply.github.com address is posted by GitHub itself: "
        '"ignore" avoids a duplicate comment; "comment" posts it anyway.'))] = "ignore"
    ignore_senders: Annotated[tuple[str, ...], Field(description=(
        "Sender addresses (any case) whose mail is always ignored (e.g. a monitoring robot)."
    ))] = ()
    max_body_chars: Annotated[int, Field(ge=1000, le=65536, description=(
        "Longest issue or comment body, in characters (GitHub's limit is 65,536)."))] = 65000


class ImapSection(_Section):
    """The mailbox that receives the list's mail (a subscriber address of the list)."""

    host: Annotated[str, Field(description="IMAP server host name.")] = "localhost"
    port: Annotated[int, Field(ge=0, le=65535, description=(
        "IMAP server port; 0: 993 for tls, 143 for starttls and plain."))] = 0
    security: Annotated[Literal["tls", "starttls", "plain"], Field(description=(
        '"tls" (implicit TLS), "starttls", or "plain" (tests and local servers only).'
    ))] = "tls"
    ca_file: Annotated[str, Field(description=(
        "A PEM file of a CA to trust in addition to the system's (self-signed servers), "
        "relative to the config file's directory."))] = ""
    username: Annotated[str, Field(description="The IMAP login name.")] = ""
    auth: Annotated[Literal["password", "xoauth2"], Field(description=(
        '"password", or "xoauth2" (Exchange Online, Gmail) with an access token from '
        "oauth2_token_file or oauth2_token_command."))] = "password"
    password: Annotated[SecretStr | None, Field(description=(
        'The IMAP password inline (discouraged), needed with auth = "password". A secret: the '
        "first of $CREDENTIALS_DIRECTORY/imap-password, $VISIT_GATEWAY_IMAP_PASSWORD, the file "
        "named by password_file and this key wins."))] = None
    password_file: Annotated[str, Field(description=(
        "A file holding only the IMAP password, relative to the config file's directory; used "
        "when neither the imap-password credential nor $VISIT_GATEWAY_IMAP_PASSWORD is set."
    ))] = ""
    oauth2_token_file: Annotated[str, Field(description=(
        'With auth = "xoauth2": a file holding a current access token, re-read at every login; '
        "relative to the config file's directory."))] = ""
    oauth2_token_command: Annotated[str, Field(description=(
        'With auth = "xoauth2" and no oauth2_token_file: a command (split like a shell does, '
        "not run by one) run in the config file's directory at every login; its stdout is the "
        "access token."))] = ""
    folder: Annotated[str, Field(description="The folder new mail is read from.")] = "INBOX"
    processed: Annotated[Literal["flag", "move"], Field(description=(
        'After a message is safely stored: "flag" it with processed_flag, or "move" it to '
        "processed_folder."))] = "flag"
    processed_flag: Annotated[str, Field(description=(
        'The IMAP keyword set on processed mail with processed = "flag"; the server must keep '
        'custom keywords (if not, use "move").'))] = "$Gatewayed"
    processed_folder: Annotated[str, Field(description=(
        'Where processed mail goes with processed = "move"; created if missing, and must differ '
        "from folder."))] = "Gatewayed"
    idle: Annotated[bool, Field(description=(
        "Use IMAP IDLE when the server offers it (RFC 2177)."))] = True
    idle_renew_seconds: Annotated[int, Field(ge=60, le=1740, description=(
        "Seconds after which an IDLE is re-issued (servers may drop an IDLE after 30 minutes); "
        "matters only when poll_interval is longer."))] = 1500
    poll_interval: Annotated[float, Field(gt=0, description=(
        "Seconds to wait for new mail before searching the folder again: the poll period "
        "without IDLE, and the longest single wait in IDLE (a lost notification is caught)."
    ))] = 60.0
    fetch_batch: Annotated[int, Field(ge=1, le=1000, description=(
        "Messages fetched per round trip."))] = 50
    timeout: Annotated[float, Field(gt=0, description=(
        "Seconds before a silent IMAP server counts as gone."))] = 60.0

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 993 if self.security == "tls" else 143


class SmtpSection(_Section):
    """The relay the gateway sends its mail through (acknowledgements, handoffs, reminders)."""

    host: Annotated[str, Field(description="SMTP relay host name.")] = "localhost"
    port: Annotated[int, Field(ge=0, le=65535, description=(
        "SMTP relay port; 0: 465 for tls, 587 for starttls, 25 for plain."))] = 0
    security: Annotated[Literal["tls", "starttls", "plain"], Field(description=(
        '"tls" (implicit TLS), "starttls", or "plain" (no TLS).'))] = "starttls"
    ca_file: Annotated[str, Field(description=(
        "A PEM file of a CA to trust in addition to the system's (self-signed servers), "
        "relative to the config file's directory."))] = ""
    username: Annotated[str, Field(description=(
        "The SMTP login name; empty for a relay that needs no login."))] = ""
    password: Annotated[SecretStr | None, Field(description=(
        "The SMTP password inline (discouraged), used when username is set. A secret: the "
        "first of $CREDENTIALS_DIRECTORY/smtp-password, $VISIT_GATEWAY_SMTP_PASSWORD, the file "
        "named by password_file and this key wins."))] = None
    password_file: Annotated[str, Field(description=(
        "A file holding only the SMTP password, relative to the config file's directory; used "
        "when neither the smtp-password credential nor $VISIT_GATEWAY_SMTP_PASSWORD is set."
    ))] = ""
    timeout: Annotated[float, Field(gt=0, description=(
        "Seconds before a silent SMTP server counts as gone."))] = 30.0

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"tls": 465, "starttls": 587, "plain": 25}[self.security]


class NotifySection(_Section):
    """What the gateway tells people on its own: acknowledgements, handoffs, reminders."""

    acknowledge: Annotated[bool, Field(description=(
        "Acknowledge a new inquiry to its sender (never to the list, never to automatic mail; "
        "at most one per sender per thread per day)."))] = True
    handoff: Annotated[bool, Field(description=(
        "At each handoff moment, hand the outgoing Primary's open issues to the incoming "
        "Primary, notify each customer, and send one summary to the incoming Primary and "
        "Backup."))] = True
    keep_label: Annotated[str, Field(description=(
        "An issue with this label (any case) keeps its owner at a handoff (e.g. one close to "
        "resolution)."))] = "handoff:keep"
    reminders: Annotated[bool, Field(description=(
        "Comment to the Primary when reminder_share of the goal has passed without a first "
        "response; at the goal, comment to the Backup and mail both."))] = True
    reminder_share: Annotated[float, Field(gt=0, lt=1, description=(
        "The share of goal_hours after which the Primary is reminded."))] = 0.75
    goal_hours: Annotated[float, Field(gt=0, description=(
        "The response goal, in business hours (see [business]); reminders, escalations and "
        "reports measure against it."))] = 4.0
    serious_label: Annotated[str, Field(description=(
        "Closing an issue with this label (any case) asks the Primary for a post-mortem, once, "
        "when postmortem is on."))] = "incident:serious"
    postmortem: Annotated[bool, Field(description=(
        "Ask for post-mortems of issues closed with serious_label."))] = True
    relay_comments: Annotated[bool, Field(description=(
        "Email each new comment a team member writes on GitHub to the inquiry's customers, "
        "with the list in Cc, threaded under their original message: for teams whose bot "
        "account does not receive GitHub's notification mail. Not sent: a comment whose first "
        "line is /internal, one that is only /spend lines (other /spend lines are left out), "
        "and one more than 3 days old when the gateway first sees it."))] = False
    templates_dir: Annotated[str, Field(description=(
        "A directory of templates that replace the built-in ones (ack.txt, "
        "handoff_customer.txt, handoff_team.txt, reminder.md, escalation.md, "
        "escalation_mail.txt, postmortem.md, relay.txt), relative to the config file's "
        "directory. Empty: the built-in ones."))] = ""
    tick_seconds: Annotated[float, Field(gt=0, description=(
        "How often due handoffs and reminders are looked for, in seconds."))] = 60.0


class ProcessSection(_Section):
    """The rest of the SRE process: commands in team comments (/answer, /promote), the stale
    rule and the known-issue lookup."""

    product_repository: Annotated[str, Field(description=(
        "The product-development repository, as owner/name (e.g. visit-dav/visit): where "
        "/promote opens an issue when it names none. Empty: /promote must name one."
    ))] = ""
    promote_labels: Annotated[tuple[str, ...], Field(description=(
        "Labels put on the product issue /promote opens."))] = ()
    promoted_label: Annotated[str, Field(description=(
        "The label an issue gets when /promote closes it (discussions are answered by the "
        "comment linking the product issue instead)."))] = "promoted"
    stale_days: Annotated[int, Field(ge=0, le=365, description=(
        "An open inquiry whose customer has not written for this many calendar days after the "
        "team's last reply is resolved as won't fix (issues: closed as not planned with "
        "wontfix_label; discussions: labelled, the team's last reply marked as the answer, or "
        "closed where the category has no answers). 0: never."))] = 21
    stale_warning_days: Annotated[int, Field(ge=1, le=60, description=(
        "Days before that, the customer is told (by mail when they wrote by mail, and in a "
        "comment); anything they write meanwhile cancels it, and anything they write after "
        "reopens it."))] = 3
    stale_keep_label: Annotated[str, Field(description=(
        "A thread with this label (any case) is never closed as stale."))] = "stale:keep"
    wontfix_label: Annotated[str, Field(description=(
        "The label a stale inquiry gets when it is closed."))] = "wontfix"
    command_max_age_hours: Annotated[float, Field(gt=0, description=(
        "A command first seen longer after it was written than this (a fresh install "
        "adopting old comments, a long outage caught up by reconcile) is not run; the log "
        "says so."))] = 24.0
    known_issue_matches: Annotated[int, Field(ge=0, le=10, description=(
        "Is it a known issue? A new inquiry's key terms (from its subject and first lines) "
        "are looked up with GitHub's issue search in product_repository, and this many best "
        "matches (number, title, open or closed, link) are shown to the Primary: in the "
        "notice naming them (discussions), or in a comment mentioning them (issues; none "
        "when nothing matched). Never mailed to the customer. 0, or an empty "
        "product_repository: no lookup."))] = 3

    @field_validator("product_repository")
    @classmethod
    def _product(cls, value: str) -> str:
        if value and not _REPO.match(value):
            raise ValueError(f"{value!r} is not an owner/name repository")
        return value


class AttachmentsSection(_Section):
    """Where the files attached to the list's mail are kept, and who can open them (issue 17)."""

    store: Annotated[Literal["repository", "local", "none"], Field(description=(
        '"repository" (the default): each message\'s files are committed to repository, a '
        "private GitHub repository of the team's, and linked from the issue or discussion; "
        "links open for exactly the people who can read that repository. Until repository is "
        "set, files are listed by name only and the daemon says so at start. \"local\": kept "
        "in directory on this host and linked under web.public_url with signed links that "
        'expire after link_days. "none": listed by name and size only.'))] = "repository"
    repository: Annotated[str, Field(description=(
        "The private repository attachments are committed to, as owner/name (create it with "
        "one commit, e.g. a README; check-config --online checks it is private and writable)."
    ))] = ""
    branch: Annotated[str, Field(description=(
        "The branch of repository the files are committed to."))] = "main"
    directory: Annotated[str, Field(description=(
        'With store = "local": the directory files are kept in, relative to the config '
        "file's directory; created (mode 0700) when missing."
    ))] = "/var/lib/visit-gateway/attachments"
    public_url: Annotated[str, Field(description=(
        'With store = "local": the address people reach this daemon\'s web server at (the '
        "reverse proxy's https://…), which links to files start with; required then."))] = ""
    link_days: Annotated[int, Field(ge=1, le=3650, description=(
        'With store = "local": days a link in an issue or comment works, from when the body '
        "was written. The signing key is made at first use and kept in the database."))] = 90
    max_file_bytes: Annotated[int, Field(gt=0, le=100 * 1000 * 1000, description=(
        "Larger files, in bytes, are listed with the reason and not stored (GitHub refuses "
        "blobs over 100 MB)."))] = 25 * 1024 * 1024
    max_message_bytes: Annotated[int, Field(gt=0, description=(
        "Files of one message stored in all, in bytes; those past it are listed with the "
        "reason and not stored."))] = 50 * 1024 * 1024
    publish_repository: Annotated[str, Field(description=(
        "Where /publish copies a file to, as owner/name; empty: the repository of the "
        "inquiry's issue or discussion. Anyone who can read it can read what is published."
    ))] = ""
    publish_branch: Annotated[str, Field(description=(
        "The branch of publish_repository published files are committed to (kept apart from "
        "the code: it is made from the default branch at the first /publish)."
    ))] = "visit-gateway-attachments"

    @field_validator("repository", "publish_repository")
    @classmethod
    def _repo(cls, value: str) -> str:
        if value and not _REPO.match(value):
            raise ValueError(f"{value!r} is not an owner/name repository")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("branch", "publish_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not _BRANCH.match(value) or ".." in value or value.endswith((".lock", "/")):
            raise ValueError(f"{value!r} is not a branch name")
        return value


class WebSection(_Section):
    """The HTTP server: POST /webhook (GitHub), GET /healthz, GET /metrics (Prometheus)."""

    listen: Annotated[str, Field(description=(
        "Address to listen on. Put the server behind the lab's reverse proxy; GitHub must reach "
        "/webhook."))] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535, description=(
        "TCP port to listen on; 0 lets the system pick a free one (logged at start)."))] = 8787
    webhook_secret: Annotated[SecretStr | None, Field(description=(
        "The webhook secret inline (discouraged); required to start, and the same secret must "
        "be set on GitHub's webhook. A secret: the first of "
        "$CREDENTIALS_DIRECTORY/webhook-secret, $VISIT_GATEWAY_WEBHOOK_SECRET, the file named "
        "by webhook_secret_file and this key wins."))] = None
    webhook_secret_file: Annotated[str, Field(description=(
        "A file holding only the webhook secret, relative to the config file's directory; used "
        "when neither the webhook-secret credential nor $VISIT_GATEWAY_WEBHOOK_SECRET is set."
    ))] = ""
    max_body_bytes: Annotated[int, Field(gt=0, description=(
        "Larger webhook bodies, in bytes, are refused with 413 (GitHub caps payloads at 25 MB)."
    ))] = 25 * 1024 * 1024
    header_timeout: Annotated[float, Field(gt=0, le=300, description=(
        "Seconds a connection may take to send a complete request head, from connecting or "
        "from its previous answer (also how long an idle keep-alive connection stays open); "
        "then it is closed and logged as webhook.client_timeout."))] = 15.0
    body_timeout: Annotated[float, Field(gt=0, le=600, description=(
        "Seconds a webhook body may take to arrive in full; then the answer is 408 and a "
        "webhook.client_timeout line. GitHub sends its bodies at once."))] = 30.0
    max_connections: Annotated[int, Field(ge=1, le=4096, description=(
        "Open HTTP connections served at once; more get 503 and are closed at once "
        "(webhook.connection_refused). Keep it well under the unit's LimitNOFILE (1024): the "
        "database, IMAP, SMTP and GitHub need descriptors too."))] = 256


class TrackingSection(_Section):
    """Catching up with GitHub (webhooks can be missed) and the health check's limits."""

    reconcile_interval: Annotated[float, Field(gt=0, description=(
        "Every this many seconds, read the comments and issue states GitHub has and apply what "
        "webhooks missed (GitHub never redelivers on its own)."))] = 300.0
    first_lookback_hours: Annotated[float, Field(gt=0, description=(
        "On the very first reconcile, look this many hours back."))] = 72.0
    poll_stale_after: Annotated[float, Field(gt=0, description=(
        "/healthz reports unhealthy when the last successful IMAP poll is older than this, in "
        "seconds."))] = 900.0
    mail_stale_after: Annotated[float, Field(gt=0, description=(
        "/healthz reports unhealthy when the oldest mail waiting to be sent (an acknowledgement, "
        "a handoff notice) was queued longer ago than this, in seconds: the SMTP relay is down "
        "or refuses the gateway."))] = 1800.0


class LogSection(_Section):
    """Logging to stdout."""

    level: Annotated[Literal["debug", "info", "warning", "error"], Field(description=(
        "The least severe level logged; --log-level overrides it for one command."
    ))] = "info"
    format: Annotated[Literal["auto", "json", "console"], Field(description=(
        '"json", "console" (readable text), or "auto": JSON when stdout is not a terminal '
        "(journald), readable text on a terminal."))] = "auto"


class ScheduleSection(_Section):
    """The duty roster and rotation."""

    file: Annotated[str, Field(description=(
        "The schedule file (format: docs/schedule.md), relative to the config file's "
        "directory. New issues are assigned to the Primary on duty at the inquiry's first "
        "business opening. Empty: issues stay unassigned."))] = ""


class RawConfig(_Section):
    database: DatabaseSection = DatabaseSection()
    list: ListSection = ListSection()
    github: GitHubSection = GitHubSection()
    mail: MailSection = MailSection()
    imap: ImapSection = ImapSection()
    inbound: InboundSection = InboundSection()
    smtp: SmtpSection = SmtpSection()
    notify: NotifySection = NotifySection()
    process: ProcessSection = ProcessSection()
    attachments: AttachmentsSection = AttachmentsSection()
    web: WebSection = WebSection()
    tracking: TrackingSection = TrackingSection()
    log: LogSection = LogSection()
    schedule: ScheduleSection = ScheduleSection()
    business: dict[str, Any] = {}
