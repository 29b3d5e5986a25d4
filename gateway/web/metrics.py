"""Prometheus metrics of the gateway, kept in one `GatewayMetrics` with its own registry.

Each instance owns a private `CollectorRegistry` (never prometheus_client's global one), so tests
and several gateways in one process do not collide. Components count through the small methods
below; `/metrics` (`server`) renders `render()`. This module must not do I/O of its own or
read config: the daemon registers probes, which run at scrape time in the web server's worker
thread. Label values are small fixed sets; never put an address, subject or GUID in a label.

Every name starts with `visit_gateway_`:

| name                            | type      | labels  | meaning                                  |
|---------------------------------|-----------|---------|------------------------------------------|
| `messages_total`                | counter   | verdict | mails decided, by verdict kind (1)       |
| `webhook_deliveries_total`      | counter   | result  | `POST /webhook` requests, by result (2)  |
| `github_requests_total`         | counter   | outcome | GitHub writes, by outcome (3)            |
| `first_response_business_hours` | histogram | -       | business hours, inquiry to first reply  |
| `imap_connected`                | gauge     | -       | 1 while the IMAP session is up, else 0   |
| `outbox_depth`                  | gauge     | -       | outbox rows not yet done (4)             |
| `outbox_oldest_pending_seconds` | gauge     | -       | age of the oldest row not yet done (4)   |
| `info`                          | gauge     | version | always 1; the running version            |

(1) new, reply, ignore, quarantine. (2) applied, duplicate, ignored (ping included), rejected
(bad signature), bad_request, too_large, error. (3) created, found_existing, rate_limited,
unclear, auth_failed, rejected, transient. (4) read from the daemon's probe at scrape time; 0
seconds when the outbox is empty. Histogram buckets: 0.25, 0.5, 1, 2, 3, 4, 6, 8, 16, 40.

Counters also expose prometheus_client's `*_created` timestamps. The outbox gauges are absent
until `set_outbox_probe` is called, and from any scrape where the probe raises (logged as
`metrics.probe_failed`), so an `absent()` alert catches a broken probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.log import exception_summary

log = structlog.get_logger("gateway.web.metrics")

PREFIX = "visit_gateway"
CONTENT_TYPE = CONTENT_TYPE_LATEST
DELIVERY_RESULTS = (
    "applied", "duplicate", "ignored", "rejected", "bad_request", "too_large", "error",
)
VERDICTS = ("new", "reply", "ignore", "quarantine")  # gateway.models.Kind
GITHUB_OUTCOMES = (  # what GitHubWriter counts in WriterStatus.outcomes
    "created", "found_existing", "rate_limited", "unclear", "auth_failed", "rejected", "transient",
)
FIRST_RESPONSE_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0, 40.0)

OutboxProbe = Callable[[], tuple[int, float]]


class GatewayMetrics:
    """Every metric of one gateway, in a registry of its own."""

    def __init__(self, version: str = __version__) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self._messages = Counter(f"{PREFIX}_messages", "Mails decided, by verdict kind.",
                                 ["verdict"], registry=reg)
        self._deliveries = Counter(f"{PREFIX}_webhook_deliveries",
                                   "POST /webhook requests, by result.", ["result"], registry=reg)
        self._github = Counter(f"{PREFIX}_github_requests", "GitHub writes, by outcome.",
                               ["outcome"], registry=reg)
        self._first_response = Histogram(
            f"{PREFIX}_first_response_business_hours",
            "Business hours from a new inquiry to its first response.",
            buckets=FIRST_RESPONSE_BUCKETS, registry=reg)
        self._imap_connected = Gauge(f"{PREFIX}_imap_connected",
                                     "1 while the IMAP session is up, else 0.", registry=reg)
        Info(PREFIX, "The running gateway.", registry=reg).info({"version": version})
        self._leader = Gauge(f"{PREFIX}_leader", "1 while this instance leads (reads the "
                             "mailbox, writes to GitHub), 0 on a standby.", registry=reg)
        self._leader.set(1)  # one instance on SQLite: always the leader
        self._lease_age = Gauge(f"{PREFIX}_lease_age_seconds", "Seconds since the leader last "
                                "renewed its lease (PostgreSQL with several instances).",
                                registry=reg)
        self._outbox = _OutboxCollector()
        reg.register(self._outbox)
        # Known label values start at 0, so rate() and absent() work before the first event.
        for verdict in VERDICTS:
            self._messages.labels(verdict=verdict)
        for result in DELIVERY_RESULTS:
            self._deliveries.labels(result=result)
        for outcome in GITHUB_OUTCOMES:
            self._github.labels(outcome=outcome)

    # -- what components call ----------------------------------------------------------------

    def count_message(self, verdict: str) -> None:
        self._messages.labels(verdict=verdict).inc()

    def count_delivery(self, result: str) -> None:
        self._deliveries.labels(result=result).inc()

    def count_github(self, outcome: str) -> None:
        self._github.labels(outcome=outcome).inc()

    def observe_first_response(self, business_hours: float) -> None:
        self._first_response.observe(business_hours)

    def set_imap_connected(self, connected: bool) -> None:
        self._imap_connected.set(1 if connected else 0)

    def set_imap_probe(self, probe: Callable[[], bool]) -> None:
        """Read `visit_gateway_imap_connected` from `probe` at scrape time instead."""
        self._imap_connected.set_function(lambda: 1.0 if probe() else 0.0)

    def set_role_probe(self, leading: Callable[[], bool],
                       lease_age: Callable[[], float | None]) -> None:
        """Read `visit_gateway_leader` and `visit_gateway_lease_age_seconds` at scrape time."""
        self._leader.set_function(lambda: 1.0 if leading() else 0.0)
        self._lease_age.set_function(lambda: lease_age() or 0.0)

    def set_outbox_probe(self, probe: OutboxProbe) -> None:
        """`probe()` -> (rows not done, age in seconds of the oldest), called at scrape time
        from a worker thread: it may query the database, and must be thread-safe."""
        self._outbox.probe = probe

    # -- what /metrics calls -----------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition (content type `CONTENT_TYPE`). Runs the probes."""
        return generate_latest(self.registry)


class _OutboxCollector(Collector):
    """The outbox gauges, evaluated at scrape time through the daemon's probe."""

    def __init__(self) -> None:
        self.probe: OutboxProbe | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Lets the registry check names without calling the probe.
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        probe = self.probe
        if probe is None:
            return
        try:
            depth, oldest = probe()
        except Exception as exc:  # a scrape must still show every other metric
            log.warning("metrics.probe_failed", probe="outbox",
                        reason=exception_summary(exc)[:300])
            return
        depth_family, oldest_family = self._families()
        depth_family.add_metric([], float(depth))
        oldest_family.add_metric([], float(oldest))
        yield depth_family
        yield oldest_family

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(f"{PREFIX}_outbox_depth", "Outbox rows not yet done."),
            GaugeMetricFamily(f"{PREFIX}_outbox_oldest_pending_seconds",
                              "Age in seconds of the oldest outbox row not yet done."),
        )
