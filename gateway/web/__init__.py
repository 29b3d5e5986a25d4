"""The HTTP edge: GitHub webhooks in, `/healthz` and `/metrics` out.

Holds the aiohttp application (`server`), its connection limits (`limits`), the pure health
assessment behind `/healthz` (`health`), the listen-address probe (`listen`) and the Prometheus
registry (`metrics`). It reads every component's status, so it stands above `inbound`,
`outbound` and `tracking`; it may import those, `store`, `config` and the base modules, never
`ops` or the composition root.
"""
