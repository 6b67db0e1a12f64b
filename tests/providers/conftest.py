"""The providers service on the test servers: its database (cloned from a migrated template),
its HTTP app on the test's event loop, and a client that speaks for each role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_providers.app import definition
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.nats import NatsState
from procure_shared.service import Runtime, build_app
from procure_shared.settings import Settings
from tests.support.auth import bearer, keyed, token

NOW = datetime(2022, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def runtime(
    ppool: Pool, nc: Client, js: JetStreamContext, providers_url: str, clock: FixedClock
) -> Runtime:
    settings = Settings(service="providers", database_url=providers_url, dev_mode=True)
    return Runtime(
        settings=settings,
        clock=clock,
        pool=ppool,
        nats=nc,
        js=js,
        nats_state=NatsState(name="tests", connected=True),
    )


class Api:
    """An HTTP client of the providers app, with a token per role."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def headers(self, role: Role, *, key: bool = False, **extra: str) -> dict[str, str]:
        headers = bearer(token(role, sub=f"{role.value}-user")) | extra
        return keyed(headers) if key else headers

    async def get(self, path: str, role: Role = Role.VIEWER, **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(role), params=params)

    async def create(
        self, path: str, body: Any, role: Role = Role.COMMERCIAL, **headers: str
    ) -> httpx.Response:
        return await self.http.post(
            path, json=body, headers=self.headers(role, key=True, **headers)
        )

    async def change(
        self, method: str, path: str, body: Any, role: Role = Role.COMMERCIAL
    ) -> httpx.Response:
        """A PATCH or transition POST with the resource's current ETag."""
        resource = path.removesuffix("/revoke").removesuffix("/lift")
        current = await self.get(resource)
        assert current.status_code == 200, current.text
        headers = self.headers(role) | {"If-Match": current.headers["ETag"]}
        return await self.http.request(method, path, json=body, headers=headers)

    async def register(self, **fields: Any) -> dict[str, Any]:
        answer = await self.create("/v1/providers", provider_body(**fields))
        assert answer.status_code == 201, answer.text
        return cast(dict[str, Any], answer.json())

    async def accredit(self, provider_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "category": "academic_mentoring",
            "grantedBy": "DfE NTP quality assurance",
            "validFrom": "2021-09-01",
            "validTo": "2023-08-31",
        } | fields
        answer = await self.create(f"/v1/providers/{provider_id}/accreditations", body)
        assert answer.status_code == 201, answer.text
        return cast(dict[str, Any], answer.json())

    async def exclude(self, provider_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "ground": "Mandatory exclusion: fraud (Procurement Act 2023, Schedule 6)",
            "source": "central debarment list",
            "startsOn": "2022-01-01",
            "endsOn": "2026-12-31",
        } | fields
        answer = await self.create(f"/v1/providers/{provider_id}/exclusions", body, Role.ADMIN)
        assert answer.status_code == 201, answer.text
        return cast(dict[str, Any], answer.json())


_counter = iter(range(10_000_000, 99_999_999))


def provider_body(**fields: Any) -> dict[str, Any]:
    """A valid registration; a fresh Companies House number unless identifiers are given."""
    return {
        "legalName": "Randstad Solutions Limited",
        "tradingName": "Randstad",
        "kind": "company",
        "identifiers": [{"scheme": "GB-COH", "id": f"{next(_counter):08d}"}],
        "regions": ["london", "north_west"],
    } | fields


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=cast(Any, build_app(definition(), runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http)
