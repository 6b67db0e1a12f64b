"""Per-request correlation ids and Prometheus metrics.

The middleware is plain ASGI (no per-request objects beyond what it needs): it takes the
``X-Correlation-Id`` header or makes one, exposes it to logs and the outbox through a context
variable, echoes it in the response, and counts and times the request by route template.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from procure_shared.logs import correlation_id, new_correlation_id

__all__ = ["CORRELATION_HEADER", "HttpMetrics", "StatsCollector", "correlation_middleware"]

CORRELATION_HEADER = "x-correlation-id"


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "procure_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "procure_http_request_duration_seconds",
            "HTTP request duration by method and route.",
            ["method", "route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        # The labelled children, found once each (``labels()`` validates and locks every call).
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[method, route, status] = self.requests.labels(
                method, route, str(status)
            )
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[method, route] = self.duration.labels(method, route)
        counted.inc()
        timed.observe(seconds)


def correlation_middleware(metrics: HttpMetrics) -> Callable[[ASGIApp], ASGIApp]:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            cid = _header(scope, b"x-correlation-id") or new_correlation_id()
            token = correlation_id.set(cid)
            started = time.perf_counter()
            status = 500

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-correlation-id", cid.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                route = scope.get("path_template") or "unmatched"
                metrics.observe(scope["method"], route, status, time.perf_counter() - started)
                correlation_id.reset(token)

        return middleware

    return factory


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text = value.decode("latin-1").strip()
            # Accept only a sane id: it ends up in logs and headers.
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None


class StatsCollector(Collector):
    """Exposes live figures (relay, consumers, NATS, pool) read at scrape time."""

    def __init__(self, read: Callable[[], dict[str, tuple[str, dict[str, str], float]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for key, (help_text, labels, value) in self._read().items():
            name = key.split("{", 1)[0]
            family = families.get(name)
            if family is None:
                family = GaugeMetricFamily(name, help_text, labels=sorted(labels))
                families[name] = family
            family.add_metric([labels[k] for k in sorted(labels)], value)
        yield from families.values()
