"""The weekly rhythm: the jobs clock and the notices it queues.

Holds the pure planning of due handoffs, reminders, escalations and post-mortem prompts
(`jobs`) and the notifier that turns them into outbox rows, exactly once (`notify`). May import
`tracking`, `outbound`, `inbound`, `duty`, `store`, `config` and the base modules; never
`report`, `web`, `ops` or the composition root.
"""
