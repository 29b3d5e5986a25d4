"""The weekly rhythm: the jobs clock and the notices it queues.

Holds the pure planners, one module per job: the weekly handoff (`handoff`), reminders and
escalations (`nudges`) and post-mortem prompts (`postmortems`), over the issue view and context
they share (`jobs`); the notifier that turns their plans into outbox rows, exactly once
(`notify`); and the Primary's temporary delegations, recorded and announced once, and read back
for every consumer of the schedule (`delegation`). May import `tracking`, `outbound`,
`inbound`, `duty`, `store`, `config` and the base modules; never `report`, `web`, `ops` or the
composition root.
"""
