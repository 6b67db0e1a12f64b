"""A service split by role (``serve --role relay|consumers``) still answers the probes and
serves ``/metrics`` on its HTTP port, so an orchestrator can check every process, while only
the HTTP roles serve the API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port_run
from tests.support.servers import NatsHandle
from tests.support.wait import eventually, holds, ready

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(
    request: pytest.FixtureRequest, notifications_url: str, nats_handle: NatsHandle
) -> Iterator[int]:
    """The notifications service (it has consumers and a worker) in the role the test names."""
    port = free_port_run(1)
    env = {
        **os.environ,
        "DATABASE_URL": notifications_url,
        "NATS_URL": nats_handle.url,
        "PROCURE_NATS_CREDENTIALS": nats_handle.seed("notifications"),
        "PROCURE_HTTP_PORT": str(port),
        "PROCURE_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_notifications", "serve", "--role", request.param],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("served", "metric"),
    [("relay", "procure_relay_active"), ("consumers", "procure_consumer_applied")],
    indirect=["served"],
)
async def test_a_relay_or_consumers_process_is_ready_has_metrics_and_serves_no_api(
    served: int, metric: str
) -> None:
    await eventually(lambda: holds(ready(served)), within=30, interval=0.2, what="ready")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served}") as http:
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert f"\n{metric}" in metrics.text
        assert "procure_nats_connected 1.0" in metrics.text
        api = await http.get("/v1/subscriptions")
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"
