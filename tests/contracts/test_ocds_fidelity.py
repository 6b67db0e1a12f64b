"""OCDS import fidelity (issue 24): what a publisher wrote comes in whole, or is named in the
report; what cannot be taken (an unknown buyer, releases we published ourselves but changed) is
refused whole. Each case on a small hand-made release."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from tests.contracts.conftest import Api, Elsewhere
from tests.support.ocds import BUYER_NAMES

SUPPLIER = {
    "id": "GB-COH-09876543",
    "name": "Acme Services Ltd",
    "identifier": {"scheme": "GB-COH", "id": "09876543", "legalName": "Acme Services Ltd"},
    "roles": ["supplier"],
}


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return ContractsOptions(
        eligibility_timeout=1.0, providers_url=providers_api, buyer_names=BUYER_NAMES
    )


def release(ocid: str = "ocds-zz9t9-0001", id: str = "r1", **content: Any) -> dict[str, Any]:
    return {
        "ocid": ocid,
        "id": id,
        "date": "2024-03-01T10:00:00Z",
        "tag": ["contract"],
        "initiationType": "tender",
        **content,
    }


def two_awards_one_supplier() -> dict[str, Any]:
    """The issue's reproduction: no lots, awards A1 (100) and A2 (200) to one supplier, and
    contracts C1 on A1 and C2 on A2."""
    ref = {"id": SUPPLIER["id"], "name": SUPPLIER["name"]}
    return release(
        parties=[SUPPLIER],
        tender={"id": "T1", "title": "Cleaning", "status": "complete"},
        awards=[
            {
                "id": "A1",
                "status": "active",
                "date": "2024-02-01T10:00:00Z",
                "value": {"amount": 100, "currency": "GBP"},
                "suppliers": [ref],
            },
            {
                "id": "A2",
                "status": "active",
                "date": "2024-02-02T10:00:00Z",
                "value": {"amount": 200, "currency": "GBP"},
                "suppliers": [ref],
            },
        ],
        contracts=[
            {"id": "C1", "awardID": "A1", "status": "active"},
            {"id": "C2", "awardID": "A2", "status": "active"},
        ],
    )


def package(*releases: dict[str, Any]) -> dict[str, Any]:
    return {
        "uri": "https://example.org/ocds/package.json",
        "version": "1.1",
        "publishedDate": "2024-03-02T00:00:00Z",
        "publisher": {"name": "Example"},
        "releases": list(releases),
    }


async def ocds_import(api: Api, body: Any, *, buyer: str = "dfe") -> httpx.Response:
    return await api.http.post(
        "/v1/ocds/import",
        params={"buyer": buyer, "source": "test"},
        content=json.dumps(body).encode(),
        headers=api.headers(Role.ADMIN, buyer=None) | {"Content-Type": "application/json"},
        timeout=60,
    )


async def imported(api: Api, body: Any, *, buyer: str = "dfe") -> dict[str, Any]:
    answer = await ocds_import(api, body, buyer=buyer)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def counts(cpool: Pool) -> dict[str, int]:
    async with cpool.acquire() as conn:
        (row,) = await conn.fetch(
            "SELECT (SELECT count(*) FROM audit_log) AS audit, "
            "(SELECT count(*) FROM outbox) AS events, "
            "(SELECT count(*) FROM tenders) AS tenders, "
            "(SELECT count(*) FROM awards) AS awards, "
            "(SELECT count(*) FROM contracts) AS contracts, "
            "(SELECT coalesce(sum(version), 0) FROM tenders) + "
            "(SELECT coalesce(sum(version), 0) FROM contracts) AS versions, "
            "(SELECT count(*) FROM ocds_releases) AS releases"
        )
    return dict(row)


async def test_two_awards_to_one_supplier_stay_two(capi: Api) -> None:
    report = await imported(capi, package(two_awards_one_supplier()))
    assert not [p for p in report["problems"] if "A1" in p or "A2" in p], report["problems"]
    (process,) = report["processes"]
    awards = (await capi.get("/v1/awards", tender=process["tenderId"])).json()["items"]
    by_key = {a["imported"]["ocdsId"]: a for a in awards}
    assert sorted(by_key) == ["A1", "A2"]
    assert by_key["A1"]["value"]["amount"] == "100.00"
    assert by_key["A2"]["value"]["amount"] == "200.00"
    assert by_key["A1"]["providerId"] == by_key["A2"]["providerId"]
    contracts = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    rests = {c["imported"]["ocdsId"]: c["awardIds"] for c in contracts}
    assert rests == {"C1": [by_key["A1"]["id"]], "C2": [by_key["A2"]["id"]]}

    answer = await capi.get("/v1/ocds/records/ocds-zz9t9-0001", role=Role.ADMIN, buyer=None)
    compiled = answer.json()["records"][0]["compiledRelease"]
    assert sorted((a["id"], a["value"]["amount"]) for a in compiled["awards"]) == [
        ("A1", 100),
        ("A2", 200),
    ]
    assert sorted((c["id"], c["awardID"]) for c in compiled["contracts"]) == [
        ("C1", "A1"),
        ("C2", "A2"),
    ]


async def test_an_unknown_currency_is_a_problem_line_naming_it(capi: Api) -> None:
    body = release(tender={"id": "T1", "title": "Q", "value": {"amount": 5, "currency": "QQQ"}})
    report = await imported(capi, body)
    assert [p for p in report["problems"] if "QQQ" in p] == [
        "ocds-zz9t9-0001: tender/value/currency 'QQQ' is no ISO 4217 currency: kept as given"
    ]
    known = await imported(
        capi,
        release(
            ocid="ocds-zz9t9-0002",
            tender={"id": "T", "title": "G", "value": {"amount": 5, "currency": "GBP"}},
        ),
    )
    assert not [p for p in known["problems"] if "currency" in p]


async def test_a_release_id_repeated_with_other_content_in_one_document_is_named_and_not_applied(
    capi: Api,
) -> None:
    first = release(tender={"id": "T1", "title": "First title", "status": "active"})
    second = release(tender={"id": "T1", "title": "Second title", "status": "active"})
    report = await imported(capi, package(first, second, first))
    assert [p for p in report["problems"] if "differs" in p] == [
        "ocds-zz9t9-0001: release r1 at /releases/1 differs from release r1 at /releases/0: "
        "it is not applied"
    ]
    (process,) = report["processes"]
    tender = (await capi.get(f"/v1/tenders/{process['tenderId']}")).json()
    assert tender["title"] == "First title"


async def test_a_release_id_imported_again_with_other_content_is_named_and_not_applied(
    capi: Api, cpool: Pool
) -> None:
    first = release(tender={"id": "T1", "title": "First title", "status": "active"})
    report = await imported(capi, package(first))
    again = await imported(capi, package(first))
    assert not [p for p in again["problems"] if "differs" in p]
    before = await counts(cpool)
    changed = release(tender={"id": "T1", "title": "Second title", "status": "active"})
    later = await imported(capi, package(changed))
    assert [p for p in later["problems"] if "differs" in p] == [
        "ocds-zz9t9-0001: release r1 at /releases/0 differs from release r1 already imported "
        "(from test): it is not applied"
    ]
    assert (later["imported"], later["skipped"]) == (0, 1)
    assert await counts(cpool) == before
    tender = (await capi.get(f"/v1/tenders/{report['processes'][0]['tenderId']}")).json()
    assert tender["title"] == "First title"


async def test_a_buyer_the_service_does_not_know_is_422_naming_it_and_nothing_is_stored(
    capi: Api, cpool: Pool
) -> None:
    before = await counts(cpool)
    answer = await ocds_import(capi, package(two_awards_one_supplier()), buyer="nosuchbuyer")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert "'nosuchbuyer'" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["buyer"]
    assert await counts(cpool) == before
    report = await imported(capi, package(two_awards_one_supplier()), buyer="dhsc")
    assert report["imported"] == 1


async def our_releases(api: Api) -> list[dict[str, Any]]:
    """Every release ``/v1/ocds/releases`` serves, page after page (a page with no release is
    a 204)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        answer = await api.get("/v1/ocds/releases", role=Role.ADMIN, buyer=None, **params)
        if answer.status_code == 204:  # a page without a release: there are no more
            return found
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += page["releases"]
        params["cursor"] = httpx.URL(page["links"]["next"]).params["cursor"]


async def our_records(api: Api, ocids: list[str]) -> dict[str, Any]:
    records = []
    for ocid in ocids:
        answer = await api.get(f"/v1/ocds/records/{ocid}", role=Role.ADMIN, buyer=None)
        assert answer.status_code == 200, answer.text
        records += answer.json()["records"]
    return {**package(), "releases": None, "records": records}


async def test_our_own_releases_imported_into_their_buyer_change_nothing(
    demo: Api, cpool: Pool
) -> None:
    served = await our_releases(demo)
    assert len({r["ocid"] for r in served}) >= 3
    assert all(r["ocid"].startswith("ocds-procure-") for r in served)
    before = await counts(cpool)
    report = await imported(demo, package(*served))
    assert (report["releasesRead"], report["imported"], report["skipped"]) == (
        len(served),
        0,
        len(served),
    )
    assert report["processes"] == []
    assert await counts(cpool) == before
    records = await our_records(demo, sorted({r["ocid"] for r in served}))
    records.pop("releases")
    again = await imported(demo, records)
    assert again["imported"] == 0
    assert again["skipped"] == sum(len(r["releases"]) for r in records["records"])
    assert await counts(cpool) == before


async def test_a_release_under_our_prefix_but_not_as_we_published_it_is_422_naming_its_ocid(
    demo: Api, cpool: Pool
) -> None:
    served = await our_releases(demo)
    tender = next(r for r in served if "tender" in r and "title" in r["tender"])
    ocid = tender["ocid"]
    before = await counts(cpool)
    changed = {**tender, "tender": {**tender["tender"], "title": "Not what we published"}}
    answer = await ocds_import(demo, package(changed))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["detail"].startswith(f"{ocid}: releases under this service's ocid prefix")
    assert problem["errors"] == [
        {
            "field": "/releases/0",
            "message": f"{ocid}: release {tender['id']} has this service's ocid prefix but is "
            "not a release published here (its content differs)",
        }
    ]
    nobody = "ocds-procure-6a1f0c43-1d52-4a63-9c1e-0b8d4f1f6a11"
    stranger = release(ocid=nobody, tender={"id": "T1", "title": "A stranger's"})
    answer = await ocds_import(demo, package(stranger, *served))
    assert answer.status_code == 422, answer.text
    assert [e["message"] for e in answer.json()["errors"]] == [
        f"{nobody} has this service's ocid prefix (ocds-procure) but is no process published here"
    ]
    answer = await ocds_import(demo, package(*served), buyer="dhsc")
    assert answer.status_code == 422, answer.text
    assert f"{ocid} was published here for buyer dfe: it cannot be imported for dhsc" in [
        e["message"] for e in answer.json()["errors"]
    ]
    assert await counts(cpool) == before


async def everything(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = (await api.get(path, role=Role.ADMIN, buyer=None, **params)).json()
        items += page["items"]
        if not page.get("next"):
            return items
        params["cursor"] = page["next"]


async def test_our_export_imported_into_an_empty_database_keeps_every_status(
    demo: Api, elsewhere: Elsewhere
) -> None:
    served = await our_releases(demo)
    report = await imported(elsewhere.api, package(*served))
    assert report["imported"] == len(served)
    ours = {f"ocds-procure-{t['id']}": t for t in await everything(demo, "/v1/tenders")}
    theirs = {t["imported"]["ocid"]: t for t in await everything(elsewhere.api, "/v1/tenders")}
    assert sorted(theirs) == sorted(ours)
    assert {o: (t["status"], t.get("reason")) for o, t in theirs.items()} == {
        o: (t["status"], t.get("reason")) for o, t in ours.items()
    }
    assert "closed" in {t["status"] for t in ours.values()}
    contracts = {c["id"]: c for c in await everything(demo, "/v1/contracts")}
    again = await everything(elsewhere.api, "/v1/contracts")
    assert {c["imported"]["ocdsId"]: (c["status"], c.get("reason")) for c in again} == {
        i: (c["status"], c.get("reason")) for i, c in contracts.items()
    }
    assert "completed" in {c["status"] for c in contracts.values()}
    milestones = {
        m["id"]: m["status"]
        for c in contracts
        for m in await everything(demo, f"/v1/contracts/{c}/milestones")
    }
    milestones_again = {
        m["imported"]["ocdsId"]: m["status"]
        for c in again
        for m in await everything(elsewhere.api, f"/v1/contracts/{c['id']}/milestones")
    }
    assert milestones_again == milestones
    assert len(set(milestones.values())) >= 2, milestones
    awards = {a["id"]: a["status"] for a in await everything(demo, "/v1/awards")}
    awards_again = {
        a["imported"]["ocdsId"]: a["status"] for a in await everything(elsewhere.api, "/v1/awards")
    }
    assert awards_again == awards
    lots = {
        lot["id"]: lot["status"]
        for t in ours.values()
        for lot in await everything(demo, f"/v1/tenders/{t['id']}/lots")
    }
    lots_again = {
        lot["imported"]["ocdsId"]: lot["status"]
        for t in theirs.values()
        for lot in await everything(elsewhere.api, f"/v1/tenders/{t['id']}/lots")
    }
    assert lots_again == lots


def with_metrics() -> dict[str, Any]:
    """A contract with two metrics (the OCDS metrics extension): one agreed as a figure and
    observed in two areas, one agreed as a range and observed once."""
    body = two_awards_one_supplier()
    area = {"name": "pupils"}
    body["contracts"] = [
        {
            "id": "C1",
            "awardID": "A1",
            "status": "active",
            "period": {"startDate": "2024-01-01T00:00:00Z", "endDate": "2025-12-31T00:00:00Z"},
            "agreedMetrics": [
                {
                    "id": "M1",
                    "title": "Pupils tutored",
                    "description": "Pupils who finished a course",
                    "observations": [{"id": "M1-t", "measure": 500, "unit": area}],
                },
                {
                    "id": "M2",
                    "title": "Sessions a week",
                    "observations": [
                        {"id": "M2-min", "measure": 3},
                        {"id": "M2-max", "measure": "5"},
                    ],
                },
            ],
            "implementation": {
                "metrics": [
                    {
                        "id": "M1",
                        "observations": [
                            {
                                "id": "o1",
                                "period": {
                                    "startDate": "2024-01-01T00:00:00Z",
                                    "endDate": "2024-03-31T00:00:00Z",
                                },
                                "measure": 300,
                                "unit": area,
                                "dimensions": {"area": "Knowsley"},
                            },
                            {
                                "id": "o2",
                                "period": {
                                    "startDate": "2024-01-01T00:00:00Z",
                                    "endDate": "2024-03-31T00:00:00Z",
                                },
                                "measure": 250,
                                "unit": area,
                                "dimensions": {"area": "Doncaster"},
                                "notes": "two schools late",
                            },
                        ],
                    },
                    {
                        "id": "M2",
                        "observations": [
                            {
                                "id": "o3",
                                "period": {
                                    "startDate": "2024-04-01T00:00:00Z",
                                    "endDate": "2024-04-30T00:00:00Z",
                                },
                                "measure": 4,
                            }
                        ],
                    },
                ],
            },
        }
    ]
    return body


async def test_metrics_become_kpis_with_their_targets_and_observations(capi: Api) -> None:
    report = await imported(capi, package(with_metrics()))
    assert not [u for u in report["unplaced"] if "etrics" in u["path"]], report["unplaced"]
    (process,) = report["processes"]
    (contract,) = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    kpis = (await capi.get(f"/v1/contracts/{contract['id']}/kpis")).json()["items"]
    by_name = {k["name"]: k for k in kpis}
    assert sorted(by_name) == ["Pupils tutored", "Sessions a week"]
    tutored, sessions = by_name["Pupils tutored"], by_name["Sessions a week"]
    assert tutored["target"] == {"kind": "value", "value": "500"}
    assert tutored["unit"] == "pupils"
    assert tutored["description"] == "Pupils who finished a course"
    assert tutored["dimension"] == {"name": "area", "values": ["Knowsley", "Doncaster"]}
    assert tutored["imported"]["ocdsId"] == "M1"
    assert tutored["rating"]["value"] == "550"  # the period's two areas, summed
    assert tutored["rating"]["rating"] == "good"
    assert sessions["target"] == {"kind": "range", "min": "3", "max": "5"}
    seen = (await capi.get(f"/v1/kpis/{tutored['id']}/observations")).json()["items"]
    assert sorted((o["dimensionValue"], o["value"], o["note"]) for o in seen) == [
        ("Doncaster", "250", "two schools late"),
        ("Knowsley", "300", None),
    ]
    assert {(o["periodStart"], o["periodEnd"]) for o in seen} == {("2024-01-01", "2024-03-31")}
    (once,) = (await capi.get(f"/v1/kpis/{sessions['id']}/observations")).json()["items"]
    assert (once["value"], once["dimensionValue"]) == ("4", None)
    # Audited as the API makes them: defined, each observation recorded, then rated.
    history = (await capi.get(f"/v1/kpis/{tutored['id']}/history")).json()
    assert [(h["action"], h["after"]["version"]) for h in history] == [
        ("contracts.kpi.defined", 1),
        ("contracts.kpi.observed", 2),
        ("contracts.kpi.observed", 3),
        ("contracts.kpi.rating_changed", 4),
    ]
    assert tutored["version"] == 4


async def test_a_later_observation_of_a_metric_is_recorded_after_the_stored_ones(
    capi: Api,
) -> None:
    first = with_metrics()
    await imported(capi, package(first))
    later = with_metrics()
    later["id"] = "r2"
    later["date"] = "2024-08-01T10:00:00Z"
    (m2,) = [m for m in later["contracts"][0]["implementation"]["metrics"] if m["id"] == "M2"]
    m2["observations"].append(
        {
            "id": "o4",
            "period": {"startDate": "2024-05-01T00:00:00Z", "endDate": "2024-05-31T00:00:00Z"},
            "measure": 1,
        }
    )
    report = await imported(capi, package(later))
    assert report["imported"] == 1
    (process,) = report["processes"]
    (contract,) = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    kpis = (await capi.get(f"/v1/contracts/{contract['id']}/kpis")).json()["items"]
    sessions = next(k for k in kpis if k["name"] == "Sessions a week")
    seen = (await capi.get(f"/v1/kpis/{sessions['id']}/observations")).json()["items"]
    assert sorted((o["number"], o["value"], o["periodEnd"]) for o in seen) == [
        (1, "4", "2024-04-30"),
        (2, "1", "2024-05-31"),
    ]
    assert sessions["observationCount"] == 2
    assert sessions["rating"]["value"] == "1"
    assert sessions["rating"]["rating"] != "good"


async def test_metrics_imported_again_change_nothing(capi: Api, cpool: Pool) -> None:
    await imported(capi, package(with_metrics()))
    async with cpool.acquire() as conn:
        before = await conn.fetchval(
            "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM kpi_observations) "
            "+ (SELECT sum(version) FROM kpis)"
        )
    again = await imported(capi, package(with_metrics()))
    assert again["imported"] == 0
    async with cpool.acquire() as conn:
        after = await conn.fetchval(
            "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM kpi_observations) "
            "+ (SELECT sum(version) FROM kpis)"
        )
    assert after == before


async def test_an_imported_metric_is_exported_again_under_its_publishers_id(capi: Api) -> None:
    await imported(capi, package(with_metrics()))
    answer = await capi.get("/v1/ocds/records/ocds-zz9t9-0001", role=Role.ADMIN, buyer=None)
    (contract,) = answer.json()["records"][0]["compiledRelease"]["contracts"]
    agreed = {m["id"]: [o["id"] for o in m["observations"]] for m in contract["agreedMetrics"]}
    assert agreed == {"M1": ["M1-target"], "M2": ["M2-target-min", "M2-target-max"]}
    actual = {m["id"]: len(m["observations"]) for m in contract["implementation"]["metrics"]}
    assert actual == {"M1": 2, "M2": 1}


async def test_our_export_imported_into_an_empty_database_keeps_every_kpi_and_observation(
    demo: Api, elsewhere: Elsewhere
) -> None:
    served = await our_releases(demo)
    report = await imported(elsewhere.api, package(*served))
    assert not [u for u in report["unplaced"] if "etrics" in u["path"]], report["unplaced"]

    async def kpis_of(api: Api, contracts: list[dict[str, Any]], key: str) -> dict[str, Any]:
        found = {}
        for c in contracts:
            for k in await everything(api, f"/v1/contracts/{c['id']}/kpis"):
                seen = await everything(api, f"/v1/kpis/{k['id']}/observations")
                figures = sorted(
                    (o["periodStart"], o["periodEnd"], o["dimensionValue"] or "", o["value"] or "")
                    for o in seen
                )
                found[k["id"] if key == "id" else k["imported"]["ocdsId"]] = (
                    k["name"],
                    k["target"],
                    k["unit"],
                    figures,
                )
        return found

    ours = await kpis_of(demo, await everything(demo, "/v1/contracts"), "id")
    theirs = await kpis_of(elsewhere.api, await everything(elsewhere.api, "/v1/contracts"), "")
    assert len(ours) >= 3
    assert sum(len(k[3]) for k in ours.values()) >= 3
    assert theirs == ours


async def test_amounts_keep_their_precision_and_times_their_instant_and_offset(
    capi: Api,
) -> None:
    body = two_awards_one_supplier()
    body["awards"][0]["value"] = {"amount": 55463.776, "currency": "GBP"}
    body["awards"][0]["date"] = "2016-06-10T09:30:00+03:00"
    body["contracts"][0] |= {
        "value": {"amount": "1200.5", "currency": "GBP"},
        "dateSigned": "2016-06-14T16:00:00-05:00",
        "period": {"startDate": "2016-06-15T00:00:00+03:00", "endDate": "2017-06-14T23:59:59Z"},
        "implementation": {
            "milestones": [
                {
                    "id": "M1",
                    "title": "Kick-off",
                    "type": "delivery",
                    "status": "met",
                    "dueDate": "2016-07-01T00:00:00+03:00",
                    "dateMet": "2016-06-30T17:00:00+01:00",
                }
            ],
            "transactions": [
                {
                    "id": "T1",
                    "date": "2016-06-20T12:00:00+03:00",
                    "value": {"amount": 10.125, "currency": "GBP"},
                    "payee": {"id": SUPPLIER["id"], "name": SUPPLIER["name"]},
                }
            ],
        },
    }
    report = await imported(capi, package(body))
    (process,) = report["processes"]
    awards = (await capi.get("/v1/awards", tender=process["tenderId"])).json()["items"]
    first = next(a for a in awards if a["imported"]["ocdsId"] == "A1")
    assert first["value"]["amount"] == "55463.776"
    assert first["date"] == "2016-06-10T09:30:00+03:00"
    contracts = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    c1 = next(c for c in contracts if c["imported"]["ocdsId"] == "C1")
    assert c1["value"]["amount"] == "1200.50"
    assert c1["signedAt"] == "2016-06-14T16:00:00-05:00"
    assert c1["startsOn"] == "2016-06-15"

    answer = await capi.get("/v1/ocds/records/ocds-zz9t9-0001", role=Role.ADMIN, buyer=None)
    compiled = answer.json()["records"][0]["compiledRelease"]
    award = next(a for a in compiled["awards"] if a["id"] == "A1")
    assert award["value"]["amount"] == 55463.776
    assert award["date"] == "2016-06-10T09:30:00+03:00"
    contract = next(c for c in compiled["contracts"] if c["id"] == "C1")
    assert contract["dateSigned"] == "2016-06-14T16:00:00-05:00"
    assert contract["period"] == {
        "startDate": "2016-06-15T00:00:00+03:00",
        "endDate": "2017-06-14T23:59:59Z",
    }
    milestone = next(m for m in contract["implementation"]["milestones"] if m["id"] == "M1")
    assert (milestone["dueDate"], milestone["dateMet"]) == (
        "2016-07-01T00:00:00+03:00",
        "2016-06-30T17:00:00+01:00",
    )
    (transaction,) = contract["implementation"]["transactions"]
    assert transaction["date"] == "2016-06-20T12:00:00+03:00"
    assert transaction["value"]["amount"] == 10.125


async def test_our_status_words_read_back_as_the_statuses_they_stand_for(capi: Api) -> None:
    body = two_awards_one_supplier()
    body["tender"] |= {
        "status": "active",
        "statusDetails": "closed: the submission deadline has passed; bids are being evaluated",
    }
    body["contracts"][0] |= {
        "status": "terminated",
        "statusDetails": "completed",
        "period": {"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-12-31T00:00:00Z"},
        "implementation": {
            "milestones": [
                {
                    "id": "M1",
                    "title": "Report",
                    "type": "reporting",
                    "status": "notMet",
                    "statusDetails": "waived: the school closed",
                    "dueDate": "2024-06-01T00:00:00Z",
                },
                {
                    "id": "M2",
                    "title": "Visit",
                    "type": "delivery",
                    "status": "notMet",
                    "statusDetails": "the site was shut",
                    "dueDate": "2024-07-01T00:00:00Z",
                },
            ]
        },
    }
    body["contracts"][1] |= {"status": "terminated", "statusDetails": "supplier went bust"}
    report = await imported(capi, package(body))
    (process,) = report["processes"]
    tender = (await capi.get(f"/v1/tenders/{process['tenderId']}")).json()
    assert (tender["status"], tender.get("reason")) == ("closed", None)
    contracts = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    by_key = {c["imported"]["ocdsId"]: c for c in contracts}
    assert (by_key["C1"]["status"], by_key["C1"].get("reason")) == ("completed", None)
    assert (by_key["C2"]["status"], by_key["C2"]["reason"]) == (
        "terminated",
        "supplier went bust",
    )
    milestones = (await capi.get(f"/v1/contracts/{by_key['C1']['id']}/milestones")).json()
    seen = {m["imported"]["ocdsId"]: (m["status"], m["reason"]) for m in milestones["items"]}
    assert seen == {"M1": ("waived", "the school closed"), "M2": ("not_met", "the site was shut")}


async def test_our_releases_of_an_imported_process_imported_again_change_nothing(
    capi: Api, cpool: Pool
) -> None:
    await imported(capi, package(with_metrics()))
    served = await our_releases(capi)
    assert {r["ocid"] for r in served} == {"ocds-zz9t9-0001"}
    before = await counts(cpool)
    report = await imported(capi, package(*served))
    assert (report["imported"], report["skipped"]) == (0, len(served))
    assert await counts(cpool) == before
    # The publisher's own next release of the process still comes in.
    later = with_metrics()
    later |= {"id": "r2", "date": "2024-09-01T10:00:00Z"}
    later["contracts"][0]["status"] = "terminated"
    report = await imported(capi, package(later))
    assert report["imported"] == 1
    (process,) = report["processes"]
    (contract,) = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    assert contract["status"] == "terminated"
