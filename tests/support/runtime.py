"""A service's runtime on the test servers, for apps and workers run on the test's loop."""

from __future__ import annotations

from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.clock import Clock
from procure_shared.db.postgres import Pool
from procure_shared.messaging.nats import NatsState
from procure_shared.service import Runtime
from procure_shared.settings import Settings

__all__ = ["runtime_for"]


def runtime_for(
    service: str, url: str, pool: Pool, nc: Client, js: JetStreamContext, clock: Clock
) -> Runtime:
    return Runtime(
        settings=Settings(service=service, database_url=url, dev_mode=True),
        clock=clock,
        pool=pool,
        nats=nc,
        js=js,
        nats_state=NatsState(name="tests", connected=True),
    )
