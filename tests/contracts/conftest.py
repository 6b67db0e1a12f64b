"""The contracts service on the test servers, beside a real providers service that answers its
eligibility questions over NATS: each with its own database cloned from a migrated template,
both apps on the test's event loop, sharing one clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from procure_tools.devstack.demo import demo_providers

from procure_contracts.app import definition as contracts_definition
from procure_contracts.demo import load_demo
from procure_contracts.events.provider_directory import provider_directory_consumer
from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions
from procure_providers.api.rpc import EligibilityResponder
from procure_providers.app import definition as providers_definition
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
from procure_shared.messaging.outbox import Relay
from procure_shared.service import Runtime, build_app
from tests.conftest import clone_database, drop_database
from tests.providers.conftest import Api as ProvidersApi
from tests.support.auth import bearer, keyed, token
from tests.support.ocds import BUYER_NAMES, SCHEMAS
from tests.support.runtime import runtime_for
from tests.support.serving import serving
from tests.support.wait import running

# The NTP delivery support tender: bids closed in June 2022.
NOW = datetime(2022, 5, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def crt(
    cpool: Pool, nc: Client, js: JetStreamContext, contracts_url: str, clock: FixedClock
) -> Runtime:
    return runtime_for("contracts", contracts_url, cpool, nc, js, clock)


@pytest.fixture
def prt(
    ppool: Pool, nc: Client, js: JetStreamContext, providers_url: str, clock: FixedClock
) -> Runtime:
    return runtime_for("providers", providers_url, ppool, nc, js, clock)


@pytest.fixture
async def provider_events(
    ppool: Pool, cpool: Pool, providers_url: str, js: JetStreamContext
) -> AsyncIterator[Consumer]:
    """The providers service's relay and the contracts service's provider directory consumer,
    running: what the providers service records reaches the directory through JetStream."""
    relay = Relay(service="providers", dsn=providers_url, pool=ppool, js=js, poll_interval=0.2)
    directory = Consumer(provider_directory_consumer(), pool=cpool, js=js)
    async with running(relay, directory):
        yield directory


@pytest.fixture
def options() -> ContractsOptions:
    return ContractsOptions(eligibility_timeout=1.0)


@pytest.fixture
async def papi(prt: Runtime) -> AsyncIterator[ProvidersApi]:
    app = build_app(providers_definition(), prt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://providers") as http:
        yield ProvidersApi(http)


@pytest.fixture
async def providers_api(
    ppool: Pool, nc: Client, js: JetStreamContext, providers_url: str, clock: FixedClock
) -> AsyncIterator[str]:
    """The providers service's HTTP API on a real port, as the contracts service calls it (an
    OCDS import); a runtime of its own: ``papi`` serves the same database to the test."""
    runtime = runtime_for("providers", providers_url, ppool, nc, js, clock)
    async with serving(build_app(providers_definition(), runtime), lifespan="off") as url:
        yield url


@pytest.fixture
async def eligibility(prt: Runtime) -> AsyncIterator[EligibilityResponder]:
    """The providers service's eligibility responder, answering on the test NATS server."""
    responder = EligibilityResponder(nc=prt.nats, pool=prt.pool, version="0.0.0-test")
    async with running(responder):
        await asyncio.wait_for(responder.ready.wait(), timeout=10)
        yield responder


async def register_demo_providers(papi: ProvidersApi) -> None:
    """Randstad and Barnardo's as the providers service's demo data registers them."""
    for entry in demo_providers(date(2026, 11, 23))[:2]:
        accreditations = entry.pop("_accreditations")
        provider = await papi.register(**entry)
        for category, granted_by, valid_from, valid_to in accreditations:
            await papi.accredit(
                provider["id"],
                category=category,
                grantedBy=granted_by,
                validFrom=valid_from,
                validTo=valid_to,
            )


def money(amount: str | int | Decimal) -> dict[str, str]:
    return {"amount": f"{Decimal(amount):.2f}", "currency": "GBP"}


class Api:
    """An HTTP client of the contracts app: a token per role, for the buyer ``dfe`` unless told."""

    def __init__(self, http: httpx.AsyncClient, clock: FixedClock) -> None:
        self.http = http
        self.clock = clock

    def headers(self, role: Role, buyer: str | None = "dfe", **extra: str) -> dict[str, str]:
        return bearer(token(role, sub=f"{role.value}-user", buyer=buyer)) | extra

    async def get(
        self, path: str, role: Role = Role.VIEWER, buyer: str | None = "dfe", **params: Any
    ) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(role, buyer), params=params)

    async def create(
        self, path: str, body: Any, role: Role = Role.COMMERCIAL, buyer: str | None = "dfe"
    ) -> httpx.Response:
        return await self.http.post(path, json=body, headers=keyed(self.headers(role, buyer)))

    async def change(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        resource: str | None = None,
        role: Role = Role.COMMERCIAL,
    ) -> httpx.Response:
        """A PATCH or transition POST with the resource's current ETag."""
        current = await self.get(resource or path.rsplit("/", 1)[0] if method == "POST" else path)
        assert current.status_code == 200, current.text
        headers = self.headers(role) | {"If-Match": current.headers["ETag"]}
        return await self.http.request(method, path, json=body, headers=headers)

    async def made(self, path: str, body: Any) -> dict[str, Any]:
        answer = await self.create(path, body)
        assert answer.status_code == 201, answer.text
        return cast(dict[str, Any], answer.json())

    async def moved(self, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        answer = await self.change("POST", path, body, **kw)
        assert answer.status_code == 200, answer.text
        return cast(dict[str, Any], answer.json())

    async def tender(self, lots: int = 1, category: str = "academic_mentoring") -> dict[str, Any]:
        """A draft tender with ``lots`` lots, its submission deadline a week away."""
        tender = await self.made(
            "/v1/tenders",
            {
                "title": "National Tutoring Programme delivery support",
                "description": "Up to three providers for two years",
                "value": money("17892600"),
                "enquiryDeadline": (self.clock.now() + timedelta(days=3)).isoformat(),
                "submissionDeadline": (self.clock.now() + timedelta(days=7)).isoformat(),
            },
        )
        for n in range(lots):
            await self.made(
                f"/v1/tenders/{tender['id']}/lots",
                {
                    "title": f"Lot {n + 1}: recruit and deploy academic mentors",
                    "category": category,
                    "value": money("7987500"),
                },
            )
        return tender

    async def closed_tender(
        self, lots: int = 1, category: str = "academic_mentoring"
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A tender published, its deadline passed and closed for evaluation; and its lots."""
        tender = await self.tender(lots, category)
        await self.moved(f"/v1/tenders/{tender['id']}/publish")
        self.clock.advance(timedelta(days=8))
        tender = await self.moved(f"/v1/tenders/{tender['id']}/close")
        found = (await self.get(f"/v1/tenders/{tender['id']}/lots")).json()["items"]
        return tender, list(reversed(found))

    def award_body(
        self, *provider_ids: str, standstill_days: int = 10, value: str = "7987500"
    ) -> dict[str, Any]:
        return {
            "providers": [{"providerId": p, "value": money(value)} for p in provider_ids],
            "date": self.clock.now().isoformat(),
            "standstillEnds": (self.clock.now() + timedelta(days=standstill_days)).isoformat(),
        }


@pytest.fixture
async def capi(crt: Runtime, clock: FixedClock, options: ContractsOptions) -> AsyncIterator[Api]:
    app = build_app(contracts_definition(options), crt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http, clock)


# The ops dashboard's day on the demo data: the evaluation report (due 31 July 2024) is overdue,
# the annual assessment (11 December 2026) due within 14 days.
DEMO_TODAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def demo(
    capi: Api,
    papi: ProvidersApi,
    eligibility: EligibilityResponder,
    provider_events: Consumer,
    cpool: Pool,
    nc: Client,
    clock: FixedClock,
) -> Api:
    """The demo data loaded, the clock at ``DEMO_TODAY``."""
    await register_demo_providers(papi)
    await load_demo(cpool, nc, wait=20)
    clock.set(DEMO_TODAY)
    return capi


# The ocid prefix of the second installation (``elsewhere``); the first keeps the default.
ELSEWHERE_PREFIX = "ocds-elsewhere"


class Elsewhere:
    """A second installation of the contracts service: its own, empty database and its own
    ocid prefix, beside the same providers service."""

    def __init__(self, api: Api, pool: Pool) -> None:
        self.api = api
        self.pool = pool


@pytest.fixture
async def elsewhere(
    postgres: Any,
    contracts_template: str,
    nc: Client,
    js: JetStreamContext,
    clock: FixedClock,
    providers_api: str,
) -> AsyncIterator[Elsewhere]:
    url = await clone_database(postgres.url, contracts_template)
    pool = await create_pool(url, size=4)
    try:
        options = ContractsOptions(
            eligibility_timeout=1.0,
            providers_url=providers_api,
            buyer_names=BUYER_NAMES,
            ocid_prefix=ELSEWHERE_PREFIX,
        )
        app = build_app(
            contracts_definition(options), runtime_for("contracts", url, pool, nc, js, clock)
        )
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://elsewhere") as http:
            yield Elsewhere(Api(http, clock), pool)
    finally:
        await pool.close()
        await drop_database(postgres.url, url)


@pytest.fixture(scope="session")
def schemas() -> OcdsSchemas:
    """The OCDS schemas the contracts service ships, loaded once."""
    return OcdsSchemas(SCHEMAS)
