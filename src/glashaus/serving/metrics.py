"""Prometheus counters and latency histograms of the serving endpoints (``GET /metrics``).

One :class:`ServingMetrics` per server (its own ``CollectorRegistry``, so two servers in
one process, as in tests, do not mix their figures).

>>> m = ServingMetrics()
>>> m.observe("reco", variant="champion", status=200, seconds=0.004)
>>> b"glashaus_serving_requests_total" in m.exposition()
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Buckets for one-row predictions: 0.5 ms .. 10 s.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "glashaus_serving_requests",
            "Invocations per endpoint, variant and HTTP status.",
            ["endpoint", "variant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "glashaus_serving_latency_seconds",
            "Time from request to response, per endpoint and variant.",
            ["endpoint", "variant"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.logged = Counter(
            "glashaus_serving_inference_rows",
            "Rows journaled for the inference table, per endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "glashaus_serving_inference_pending_bytes",
            "Bytes of inference rows journaled, not yet in the endpoint's inference table.",
            ["endpoint"],
            registry=self.registry,
        )

    def observe(self, endpoint: str, *, variant: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, variant, str(status)).inc()
        self.latency.labels(endpoint, variant).observe(seconds)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
