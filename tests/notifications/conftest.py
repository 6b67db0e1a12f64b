"""The notifications service on the test servers: its app on the test's event loop, with a
clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from standardwebhooks import Webhook

from procure_notifications.app import definition, delivery_worker
from procure_notifications.delivery.worker import DeliveryWorker
from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.settings import NotificationsOptions
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import Envelope, decode_envelope, encode_envelope
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
from procure_shared.messaging.outbox import Relay
from procure_shared.service import Runtime, build_app
from tests.support.auth import bearer, keyed, token
from tests.support.receiver import Receiver, Request, receiving
from tests.support.runtime import runtime_for
from tests.support.wait import running

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def options() -> NotificationsOptions:
    """The settings tests and `make up` use: receivers on loopback allowed."""
    return NotificationsOptions(allow_loopback=True, webhook_timeout=2.0, delivery_poll=0.05)


@pytest.fixture
def nrt(
    npool: Pool, nc: Client, js: JetStreamContext, notifications_url: str, clock: FixedClock
) -> Runtime:
    return runtime_for("notifications", notifications_url, npool, nc, js, clock)


class Api:
    """An HTTP client of the notifications app; each call acts as ``sub`` of ``buyer``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @staticmethod
    def headers(
        sub: str = "alice", buyer: str | None = "dfe", role: Role = Role.VIEWER
    ) -> dict[str, str]:
        return bearer(token(role, sub=sub, buyer=buyer))

    async def subscribe(self, body: dict[str, Any], **who: Any) -> httpx.Response:
        return await self.http.post(
            "/v1/subscriptions", json=body, headers=keyed(self.headers(**who))
        )

    async def get(self, path: str, **who: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(**who))

    async def act(
        self, method: str, path: str, body: Any = None, *, etag_of: str | None = None, **who: Any
    ) -> httpx.Response:
        headers = self.headers(**who)
        if etag_of is not None:
            current = await self.get(etag_of, **who)
            assert current.status_code == 200, current.text
            headers["If-Match"] = current.headers["ETag"]
        return await self.http.request(method, path, json=body, headers=headers)


def webhook(url: str, *types: str, **conditions: Any) -> dict[str, Any]:
    return {
        "name": "Milestones of our contracts",
        "channel": {"kind": "webhook", "url": url},
        "filter": {"eventTypes": list(types) or [">"], "conditions": conditions},
    }


@pytest.fixture
async def napi(nrt: Runtime, options: NotificationsOptions) -> AsyncIterator[Api]:
    app = build_app(definition(options), nrt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as http:
        yield Api(http)


def event(
    type: str, subject: str, sequence: int, buyer: str | None = "dfe", **data: Any
) -> Envelope:
    return Envelope.new(
        service=type.split(".")[0],
        type=type,
        subject=subject,
        time=NOW,
        sequence=sequence,
        data=data,
        buyer_id=buyer,
    )


def amended(contract: str, sequence: int, *, at: timedelta = timedelta(0)) -> Envelope:
    """A contract's amendment, ``at`` after NOW."""
    e = event("contracts.contract.amended", contract, sequence, contractId=contract, note="x")
    return msgspec.structs.replace(e, time=NOW + at)


async def publish(js: JetStreamContext, e: Envelope) -> None:
    await js.publish(e.type, encode_envelope(e), headers={"Nats-Msg-Id": e.id})


def verified(secret: str, r: Request) -> Envelope:
    """The envelope, once the receiver has checked its signature as the spec says."""
    Webhook(secret).verify(r.body, r.headers)
    return decode_envelope(r.body)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as r:
        yield r


@dataclass
class Delivering:
    consumers: list[Consumer]
    worker: DeliveryWorker


@asynccontextmanager
async def delivering(
    runtime: Runtime, options: NotificationsOptions, *, relay: bool = False, metrics: bool = False
) -> AsyncIterator[Delivering]:
    """The service's consumers (events to deliveries) and its delivery worker, and its relay
    when asked (for its ``delivery.failed`` events), on the test's loop."""
    consumers = [Consumer(spec, pool=runtime.pool, js=runtime.js) for spec in fanout_consumers()]
    worker = delivery_worker(runtime, options, metrics=metrics)
    extra: list[Any] = []
    if relay:
        extra.append(
            Relay(
                service="notifications",
                dsn=runtime.settings.database_url,
                pool=runtime.pool,
                js=runtime.js,
                poll_interval=0.1,
            )
        )
    async with running(*consumers, worker, *extra):
        yield Delivering(consumers, worker)
