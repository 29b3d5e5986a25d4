"""The mailbox and the pipeline: from raw bytes in the list's mailbox to decided actions.

Holds the IMAP adapter and its source loop (`imap`, `source`), parsing (`parse`, `charsets`,
`header_text`, `mime_repair`, `base64_runs`), an attachment's bytes (`attachment_data`,
`attachment_payload`), body cleaning and safe Markdown (`clean`, `html_mail`, `footer`,
`safe_markdown`, `body`), classification, threading and deciding (`classify`, `thread`,
`thread_index`, `decide`), `/spend` lines (`spend`, and `effort` for those in emailed replies),
the pipeline that stores (`ingest`) and decides (`pipeline`, queuing `outbox_rows`), `replay`,
calls and visits logged as messages (`hotline`, `log_inquiry`) and the quarantine queries.
May import `gateway.config`, `gateway.store` and the top-level base modules (models, errors,
clock, log, tls); never `outbound`, `tracking`, `weekly`, `report`, `web`, `ops` or the
composition root.
"""
