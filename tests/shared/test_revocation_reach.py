"""Revocations reach every service over the bus (decision 23): the three services run as their
own processes, as deployed; an admin revokes a token, or a subject's tokens, through the
contracts service, and each service refuses them within two seconds. A service started
afterwards refuses them from its first request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from procure_shared.http import Role
from tests.support.auth import bearer, token
from tests.support.ports import free_port_run
from tests.support.servers import NatsHandle
from tests.support.wait import eventually, ready

ROOT = Path(__file__).resolve().parents[2]
# Each service's role and a route any signed-in user may read.
SERVICES = {
    "contracts": ("all", "/v1/tenders"),
    "providers": ("http", "/v1/providers"),
    "notifications": ("http", "/v1/subscriptions"),
}
WITHIN = 2.0


class Services:
    def __init__(self, nats: NatsHandle, urls: dict[str, str]) -> None:
        self.nats, self.urls = nats, urls
        self.ports: dict[str, int] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        role, _ = SERVICES[name]
        port = free_port_run(1)
        env = {
            **os.environ,
            "DATABASE_URL": self.urls[name],
            "NATS_URL": self.nats.url,
            "PROCURE_NATS_CREDENTIALS": self.nats.seed(name),
            "PROCURE_HTTP_PORT": str(port),
            "PROCURE_LOG_LEVEL": "WARNING",
            "PROCURE_RELAY_POLL_INTERVAL": "0.2",
        }
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"procure_{name}", "serve", "--role", role],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self.ports[name] = port

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.terminate()
        assert process.wait(timeout=20) == 0

    async def ready(self, *names: str) -> None:
        for name in names:
            await eventually(partial(self._ready, name), within=30, what=f"{name} ready")

    async def _ready(self, name: str) -> bool:
        return ready(self.ports[name])

    async def status(self, http: httpx.AsyncClient, name: str, credential: str) -> int:
        _, path = SERVICES[name]
        answer = await http.get(
            f"http://127.0.0.1:{self.ports[name]}{path}", headers=bearer(credential)
        )
        if answer.status_code == 401:
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert "revoked" in answer.json()["detail"], answer.text
        return answer.status_code

    async def refused_within(
        self, http: httpx.AsyncClient, credential: str, since: float
    ) -> dict[str, float]:
        """How long after ``since`` each service first refused ``credential``."""
        took: dict[str, float] = {}
        deadline = since + 10
        while len(took) < len(self.ports) and time.monotonic() < deadline:
            for name in self.ports:
                if name not in took and await self.status(http, name, credential) == 401:
                    took[name] = time.monotonic() - since
        return took


@contextmanager
def _running(services: Services) -> Iterator[Services]:
    try:
        yield services
    finally:
        for name in list(services.processes):
            services.stop(name)


@pytest.fixture
async def services(
    nats_handle: NatsHandle,
    contracts_url: str,
    providers_url: str,
    notifications_url: str,
    js: JetStreamContext,  # the streams afresh: no revocation of an earlier test
) -> AsyncIterator[Services]:
    urls = {
        "contracts": contracts_url,
        "providers": providers_url,
        "notifications": notifications_url,
    }
    with _running(Services(nats_handle, urls)) as running:
        for name in SERVICES:
            running.start(name)
        await running.ready(*SERVICES)
        yield running


async def revoke(http: httpx.AsyncClient, services: Services, body: dict[str, object]) -> float:
    """POST the revocation as an admin; the moment it was asked for."""
    began = time.monotonic()
    answer = await http.post(
        f"http://127.0.0.1:{services.ports['contracts']}/v1/revocations",
        json=body,
        headers=bearer(token(Role.ADMIN, buyer=None, sub="root")),
    )
    assert answer.status_code == 201, answer.text
    return began


async def test_a_revoked_token_is_refused_by_all_three_services_within_two_seconds(
    services: Services, report: Callable[[str], None]
) -> None:
    jti = str(uuid.uuid4())
    victim = token(Role.VIEWER, sub="mallory", jti=jti)
    other = token(Role.VIEWER, sub="mallory")
    async with httpx.AsyncClient(timeout=5) as http:
        for name in SERVICES:
            assert await services.status(http, name, victim) == 200
        began = await revoke(http, services, {"jti": jti, "reason": "laptop stolen"})
        took = await services.refused_within(http, victim, began)
        assert set(took) == set(SERVICES), took
        assert max(took.values()) <= WITHIN, took
        report(
            "revoked jti refused after: "
            + ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in took.items())
        )
        # Only that token: the subject's others still open every service.
        for name in SERVICES:
            assert await services.status(http, name, other) == 200

        # A service started afterwards knows the revocation before it serves.
        services.stop("providers")
        services.start("providers")
        await services.ready("providers")
        assert await services.status(http, "providers", victim) == 401
        assert await services.status(http, "providers", other) == 200


async def test_revoking_a_subject_refuses_its_tokens_issued_before_on_every_service(
    services: Services,
) -> None:
    before = [token(Role.VIEWER, sub="mallory") for _ in range(2)]
    bystander = token(Role.VIEWER, sub="alice")
    async with httpx.AsyncClient(timeout=5) as http:
        began = await revoke(http, services, {"subject": "mallory"})
        for credential in before:
            took = await services.refused_within(http, credential, began)
            assert set(took) == set(SERVICES), took
            assert max(took.values()) <= WITHIN, took
        # A token issued after the revocation, and another subject's, still open every service.
        later = token(Role.VIEWER, sub="mallory", now=datetime.now(UTC) + timedelta(seconds=2))
        for name in SERVICES:
            assert await services.status(http, name, later) == 200
            assert await services.status(http, name, bystander) == 200

        services.stop("notifications")
        services.start("notifications")
        await services.ready("notifications")
        assert await services.status(http, "notifications", before[0]) == 401
