"""A service app built from a few test routes, on the test's loop and servers, and an HTTP
client for it: what the tests of the shared HTTP layer need of a service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.clock import Clock, FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.messaging.nats import NatsState
from procure_shared.service import Runtime, ServiceDefinition, build_app
from procure_shared.settings import Settings

__all__ = ["SETTINGS", "app_client", "runtime_of"]

# Development mode, as the tests run every service (the public development secret).
SETTINGS = Settings(service="tests", database_url="postgresql://unused/unused", dev_mode=True)


def runtime_of(
    pool: Pool,
    nc: Client,
    js: JetStreamContext,
    settings: Settings = SETTINGS,
    clock: Clock | None = None,
) -> Runtime:
    return Runtime(
        settings=settings,
        clock=clock or FixedClock(datetime(2026, 11, 23, tzinfo=UTC)),
        pool=pool,
        nats=nc,
        js=js,
        nats_state=NatsState(name="tests", connected=True),
    )


@asynccontextmanager
async def app_client(
    routes: Sequence[ControllerRouterHandler], runtime: Runtime
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service app serving ``routes`` on ``runtime`` (on the test's own event
    loop, like the pool it shares)."""
    definition = ServiceDefinition(
        name="tests",
        title="Tests",
        description="A test service",
        version="0",
        migrations=None,
        routes=lambda: list(routes),
    )
    transport = httpx.ASGITransport(app=cast(Any, build_app(definition, runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
