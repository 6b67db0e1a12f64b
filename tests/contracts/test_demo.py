"""The contracts demo data: loaded through the use cases with eligibility asked of the real
providers service, at the dates things happened; a second load changes nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
from nats.aio.client import Client

from procure_contracts.demo import load_demo
from procure_contracts.milestones.worker import milestone_monitor
from procure_providers.api.rpc import EligibilityResponder
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
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

    # Milestones: met (one late, one partly), and some still scheduled that a monitor on the
    # demo's date (24 July 2023) reports overdue, including the completed contract's report.
    listed = (await capi.get(f"/v1/contracts/{mentors['id']}/milestones")).json()["items"]
    assert [(m["dueOn"], m["status"]) for m in listed] == [
        ("2022-10-31", "met"),
        ("2023-01-13", "met"),
        ("2023-04-21", "met"),
        ("2023-06-30", "partially_met"),
        ("2023-07-21", "scheduled"),
        ("2023-08-31", "scheduled"),
        ("2024-07-31", "scheduled"),
        ("2026-12-11", "scheduled"),
    ]
    assert listed[5]["plannedQuantity"] == 1665
    monitor = milestone_monitor(
        pool=cpool,
        clock=FixedClock(datetime(2023, 7, 24, 9, tzinfo=UTC)),
        lead_days=14,
        interval=60,
    )
    assert await monitor.run_once() == 2
    overdue = (await capi.get("/v1/milestones", status="scheduled", dueTo="2023-07-23")).json()
    assert sorted(m["title"] for m in overdue["items"]) == [
        "End-of-year report on starts against the 524,000 and 252,000 targets",
        "Termly report: summer 2023",
    ]


async def _assess(
    capi: Api, path: str, dates: dict[str, str], accept: str = "application/json"
) -> httpx.Response:
    headers = capi.headers(Role.VIEWER) | {"Accept": accept}
    return await capi.http.get(path, params=dates, headers=headers)


async def test_the_demo_kpis_are_rated_and_assessed_as_json_and_csv(
    capi: Api,
    papi: ProvidersApi,
    eligibility: EligibilityResponder,
    cpool: Pool,
    provider_events: Consumer,
    nc: Client,
) -> None:
    await register_demo_providers(papi)
    await load_demo(cpool, nc, wait=20)
    contracts = {c["title"]: c for c in (await capi.get("/v1/contracts")).json()["items"]}

    ntp = contracts["NTP 2021/22 tuition partners and academic mentors (Randstad)"]
    path = f"/v1/contracts/{ntp['id']}/assessment"
    year = {"from": "2021-09-01", "to": "2022-08-31"}
    assessment = (await _assess(capi, path, year)).json()
    assert (assessment["from"], assessment["to"]) == ("2021-09-01", "2022-08-31")
    assert assessment["suppliers"] == [
        {"id": ntp["suppliers"][0]["id"], "name": "Randstad Solutions Limited"}
    ]
    assert assessment["buyer"] == {"id": "dfe", "name": None}
    tutoring, mentoring = assessment["kpis"]
    assert (tutoring["value"], tutoring["label"], tutoring["targetText"]) == (
        "165230",
        "Inadequate",
        "524,000",
    )
    assert tutoring["explanation"] == (
        "165,230 pupils against a target of 524,000 (31.5% of target); "
        "below 70% of target is Inadequate"
    )
    assert (mentoring["value"], mentoring["rating"]) == ("118714", "inadequate")
    assert "(47.1% of target)" in mentoring["explanation"]
    kpis = (await capi.get(f"/v1/contracts/{ntp['id']}/kpis")).json()["items"]
    assert [k["rating"]["label"] for k in kpis] == ["Inadequate", "Inadequate"]
    history = (await capi.get(f"/v1/kpis/{kpis[0]['id']}/history")).json()
    assert [h["occurredAt"][:10] for h in history] == ["2021-09-01", "2022-08-31", "2022-08-31"]

    csv_answer = await _assess(capi, path, year, "text/csv")
    assert csv_answer.status_code == 200, csv_answer.text
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_answer.text)))
    assert [r["kpi_name"] for r in rows] == [tutoring["name"], mentoring["name"]]
    assert rows[0]["rating"] == "Inadequate"
    assert rows[0]["explanation"] == tutoring["explanation"]  # its commas quoted
    assert rows[0]["suppliers"] == "Randstad Solutions Limited"
    assert rows[0]["target"] == "524,000"
    assert csv_answer.text.splitlines()[0].startswith("contract_id,contract_title,buyer_id")

    mentors = contracts["Attendance mentors (Barnardo's)"]
    path = f"/v1/contracts/{mentors['id']}/assessment"
    year = {"from": "2022-09-01", "to": "2023-08-31"}
    pupils, areas, one_to_one = (await _assess(capi, path, year)).json()["kpis"]
    assert (pupils["value"], pupils["label"], pupils["targetText"]) == (
        "1665",
        "Good",
        "500 to 1,000",
    )
    assert [d["dimensionValue"] for d in pupils["byDimension"]] == [
        "Knowsley",
        "Doncaster",
        "Stoke-on-Trent",
        "Salford",
    ]
    assert sum(int(d["value"]) for d in pupils["byDimension"]) == 1665
    assert (areas["value"], areas["label"]) == ("4", "Good")
    assert (one_to_one["label"], one_to_one["target"]) == ("Other", None)
    before = (await _assess(capi, path, {"from": "2022-09-01", "to": "2023-05-14"})).json()["kpis"]
    assert (before[0]["label"], before[1]["value"]) == ("Other", "1")
    assert before[0]["explanation"] == (
        "no observation of a period ending 2022-09-01 to 2023-05-14: Other"
    )
    table = await _assess(capi, path, year, "text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["kpi_name"][:12], r["dimension_value"], r["value"]) for r in rows[:5]] == [
        ("Persistently", "", "1665"),
        ("Persistently", "Knowsley", "420"),
        ("Persistently", "Doncaster", "455"),
        ("Persistently", "Stoke-on-Trent", "410"),
        ("Persistently", "Salford", "380"),
    ]
    assert len(rows) == 7  # the pupils with four areas, the areas, one-to-one
    assert rows[0]["contract_title"] == "Attendance mentors (Barnardo's)"

    for bad, status in (
        ({"from": "2023-08-31", "to": "2022-09-01"}, 422),
        ({"from": "2022-09-01"}, 400),
        ({"from": "2022-09-01", "to": "31/08/2023"}, 400),
    ):
        answer = await _assess(capi, path, bad)
        assert answer.status_code == status, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
