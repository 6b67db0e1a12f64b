"""The contracts demo data: loaded through the use cases with eligibility asked of the real
providers service, at the dates things happened; a second load changes nothing."""

from __future__ import annotations

from nats.aio.client import Client

from procure_contracts.demo import load_demo
from procure_providers.api.rpc import EligibilityResponder
from procure_shared.consumer import Consumer
from procure_shared.postgres import Pool
from tests.contracts.conftest import Api, money, register_demo_providers
from tests.providers.conftest import Api as ProvidersApi


async def _counts(cpool: Pool) -> dict[str, int]:
    async with cpool.acquire() as conn:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("tenders", "lots", "awards", "contracts", "outbox", "audit_log")
        }


async def test_the_demo_data_loads_the_domain_facts_once(
    capi: Api,
    papi: ProvidersApi,
    eligibility: EligibilityResponder,
    cpool: Pool,
    provider_events: Consumer,
    nc: Client,
) -> None:
    await register_demo_providers(papi)
    said = await load_demo(cpool, nc, wait=20)
    assert said.startswith("contracts demo data: 3 tenders")
    first = await _counts(cpool)
    assert await load_demo(cpool, nc, wait=5) == "contracts demo data: already loaded"
    assert await _counts(cpool) == first

    tenders = {t["title"]: t for t in (await capi.get("/v1/tenders")).json()["items"]}
    support = tenders["National Tutoring Programme delivery support"]
    assert support["status"] == "closed"
    lots = (await capi.get(f"/v1/tenders/{support['id']}/lots")).json()["items"]
    assert sorted(lot["value"]["amount"] for lot in lots) == [
        "2481600.00",
        "7423500.00",
        "7987500.00",
    ]

    contracts = {c["title"]: c for c in (await capi.get("/v1/contracts")).json()["items"]}
    mentors = contracts["Attendance mentors (Barnardo's)"]
    assert mentors["status"] == "active"
    assert mentors["suppliers"][0]["name"] == "Barnardo's"
    assert mentors["currentValue"] == money("5000000")
    (option,) = mentors["options"]
    assert option["exercised"] is True
    assert option["exercisedOn"] == "2023-05-15"
    assert "1,665" in option["exerciseNote"]
    before = await capi.get(f"/v1/contracts/{mentors['id']}", asOf="2023-01-01T00:00:00Z")
    assert before.json()["options"][0]["exercised"] is False

    ntp = contracts["NTP 2021/22 tuition partners and academic mentors (Randstad)"]
    assert ntp["value"] is None  # unknown, not zero
    assert ntp["currentValue"] is None
    assert ntp["status"] == "completed"
    assert len(ntp["lotIds"]) == 2
