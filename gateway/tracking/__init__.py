"""What GitHub says happened: first responses, resolutions, `/spend` effort.

Holds the webhook payload check (`payload`), the pure events read from GitHub (`events`), the
team's rules for what they mean for a thread and the response metrics (`rules`), the service
that applies them to the store (`service`) and the reconcile loop that catches up with what
webhooks missed (`reconcile`). May import `outbound` (the GitHub client), `inbound`,
`duty`, `store`, `config` and the base modules; never `weekly`, `report`, `web`, `ops` or the
composition root.
"""
