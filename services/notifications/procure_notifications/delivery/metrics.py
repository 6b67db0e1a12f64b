"""The delivery worker's figures on ``/metrics``: attempts by channel and outcome, how long
attempts take and how long after its event a delivery arrives, and the pending deliveries."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["DeliveryMetrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0)


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "procure_delivery_attempts",
            "Delivery attempts by channel and outcome (delivered, failed, gone, refused).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.dead = Counter(
            "procure_deliveries_dead",
            "Deliveries dead-lettered after their last attempt.",
            ["channel"],
            registry=registry,
        )
        self.duration = Histogram(
            "procure_delivery_attempt_seconds",
            "How long an attempt took (the receiver's or mail server's answer).",
            ["channel"],
            registry=registry,
            buckets=_BUCKETS,
        )
        self.lag = Histogram(
            "procure_delivery_latency_seconds",
            "From the event's time to its delivery, for delivered attempts.",
            ["channel"],
            registry=registry,
            buckets=(*_BUCKETS, 300.0, 3600.0, 86400.0),
        )
        self.pending = Gauge(
            "procure_deliveries_pending",
            "Deliveries waiting for an attempt or a retry (as of the worker's last look).",
            registry=registry,
        )

    def observe(
        self, channel: str, outcome: str, seconds: float, lag: float | None, dead: bool
    ) -> None:
        self.attempts.labels(channel, outcome).inc()
        self.duration.labels(channel).observe(seconds)
        if lag is not None:
            self.lag.labels(channel).observe(max(lag, 0.0))
        if dead:
            self.dead.labels(channel).inc()
