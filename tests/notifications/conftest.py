"""The notifications service on the test servers: its app on the test's event loop, with a
clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_notifications.app import definition
from procure_notifications.settings import NotificationsOptions
from procure_shared.clock import FixedClock
from procure_shared.http import Role
from procure_shared.postgres import Pool
from procure_shared.service import Runtime, build_app
from tests.support.auth import bearer, keyed, token
from tests.support.runtime import runtime_for

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
