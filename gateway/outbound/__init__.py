"""The outbox and its senders: every side effect on GitHub or by mail, exactly once.

Holds the outbox (`outbox`), the serial GitHub writer and its pacing (`writer`, `pacing`,
`github`), outbound mail (`mail`, `smtp`, `sender`) and the templates that word it (`render`,
`templates/`). May import `inbound` (body text helpers), `duty`, `store`, `config` and the base
modules; never `tracking`, `weekly`, `report`, `web`, `ops` or the composition root.
"""
