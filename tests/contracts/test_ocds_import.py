"""OCDS import (issue 7): every real sample imports without a crash and reports exactly the
schema errors its README records; a second import changes nothing; the fictional full
lifecycle reads back through the API with its publisher's facts; suppliers become providers of
the real providers service (over HTTP), found by identifier the second time."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
import pytest

from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from tests.contracts.conftest import Api
from tests.support.ocds import BUYER_NAMES, RECORDED, samples

FICTIONAL = "fictional_release-package_full-lifecycle_ocds-213czf-000-00001"


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return ContractsOptions(
        eligibility_timeout=1.0, providers_url=providers_api, buyer_names=BUYER_NAMES
    )


async def ocds_import(
    api: Api,
    body: bytes | Any,
    *,
    buyer: str | None = "dfe",
    source: str | None = None,
    role: Role = Role.ADMIN,
) -> httpx.Response:
    params = {k: v for k, v in (("buyer", buyer), ("source", source)) if v is not None}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await api.http.post(
        "/v1/ocds/import",
        params=params,
        content=content,
        headers=api.headers(role, buyer=None if role is Role.ADMIN else "dfe")
        | {"Content-Type": "application/json"},
        timeout=60,
    )


async def imported(api: Api, name: str, **kw: Any) -> dict[str, Any]:
    answer = await ocds_import(api, samples()[name].read_bytes(), source=name, **kw)
    assert answer.status_code == 200, answer.text
    return cast(dict[str, Any], answer.json())


async def counts(cpool: Pool) -> dict[str, int]:
    async with cpool.acquire() as conn:
        (row,) = await conn.fetch(
            "SELECT (SELECT count(*) FROM audit_log) AS audit, "
            "(SELECT count(*) FROM outbox) AS events, "
            "(SELECT coalesce(sum(version), 0) FROM tenders) + "
            "(SELECT coalesce(sum(version), 0) FROM lots) + "
            "(SELECT coalesce(sum(version), 0) FROM awards) + "
            "(SELECT coalesce(sum(version), 0) FROM contracts) + "
            "(SELECT coalesce(sum(version), 0) FROM milestones) AS versions, "
            "(SELECT count(*) FROM ocds_releases) AS releases"
        )
    return dict(row)


async def test_every_sample_imports_reports_its_recorded_errors_and_a_second_import_changes_nothing(
    capi: Api, cpool: Pool
) -> None:
    first: dict[str, dict[str, Any]] = {}
    for name in samples():
        report = await imported(capi, name)
        assert report["schemaErrors"] == RECORDED[name][1], (name, report["errors"])
        assert report["releasesRead"] >= 1, name
        assert report["source"] == name
        first[name] = report
    before = await counts(cpool)
    assert before["releases"] > 0
    for name in samples():
        again = await imported(capi, name)
        assert again["imported"] == 0, name
        assert again["skipped"] == first[name]["imported"] + first[name]["skipped"], name
        assert again["schemaErrors"] == first[name]["schemaErrors"], name
    assert await counts(cpool) == before


@pytest.mark.check
async def test_the_full_lifecycle_reads_back_with_its_publishers_facts(
    capi: Api, papi: Any, cpool: Pool
) -> None:
    report = await imported(capi, FICTIONAL)
    assert (report["releasesRead"], report["imported"], report["skipped"]) == (6, 6, 0)
    assert report["schemaErrors"] == 0
    assert report["unplaced"], "parties' addresses, items, documents have nowhere to go"
    assert any(u["path"] == "parties/address/postalCode" for u in report["unplaced"])
    (process,) = report["processes"]
    assert process["ocid"] == "ocds-213czf-000-00001"

    tender = (await capi.get(f"/v1/tenders/{process['tenderId']}")).json()
    assert tender["title"] == "Planned cycle lane improvements"
    assert tender["status"] == "complete"
    assert tender["value"] == {"amount": "1100000.00", "currency": "GBP"}
    assert tender["submissionDeadline"].startswith("2010-04-08T18:00:00")
    assert tender["imported"]["ocid"] == "ocds-213czf-000-00001"
    assert tender["imported"]["source"] == FICTIONAL
    (lot,) = (await capi.get(f"/v1/tenders/{tender['id']}/lots")).json()["items"]
    assert lot["status"] == "awarded"
    assert lot["imported"]["ocdsId"] is None  # the tender had no lots: one for all of it

    (award,) = (await capi.get("/v1/awards", tender=tender["id"])).json()["items"]
    assert award["status"] == "active"
    assert award["value"] == {"amount": "11000000.00", "currency": "GBP"}
    assert award["date"].startswith("2010-05-10T10:30:00")
    assert award["providerName"] == "AnyCorp Cycle Provision"
    assert award["imported"]["ocdsId"] == "ocds-213czf-000-00001-award-01"
    provider = (await papi.get(f"/v1/providers/{award['providerId']}")).json()
    assert provider["legalName"] == "AnyCorp Ltd"
    # GB-COH 11111111.0 is no Companies House number: the party within its process.
    assert provider["identifiers"] == [
        {"scheme": "OCDS-PARTY", "id": "ocds-213czf-000-00001/GB-COH-11111111"}
    ]

    (contract,) = (await capi.get("/v1/contracts", tender=tender["id"])).json()["items"]
    assert contract["title"] == "Contract to build new cycle lanes in the centre of town."
    assert contract["status"] == "active"
    assert contract["value"] == {"amount": "11000000.00", "currency": "GBP"}
    assert (contract["startsOn"], contract["endsOn"]) == ("2010-07-01", "2011-06-30")
    assert contract["signedAt"].startswith("2010-06-10T14:23:12")
    assert contract["awardIds"] == [award["id"]]
    assert contract["suppliers"] == [{"id": award["providerId"], "name": "AnyCorp Cycle Provision"}]

    milestones = (await capi.get(f"/v1/contracts/{contract['id']}/milestones")).json()["items"]
    paid = sorted(
        (t["date"], t["value"]["amount"], m["status"], m["kind"])
        for m in milestones
        for t in m["transactions"]
    )
    assert paid == [
        ("2010-08-01", "50000.00", "met", "payment"),
        ("2010-10-01", "10000.00", "met", "payment"),
    ]

    # A second run finds the provider by its identifier: no second registration.
    await imported(capi, FICTIONAL)
    found = (await papi.get("/v1/providers", q="AnyCorp")).json()["items"]
    assert [p["id"] for p in found] == [award["providerId"]]


async def test_payment_milestones_keep_their_statuses_and_take_their_transactions(
    capi: Api,
) -> None:
    name = "standard-example_implementation-payment-milestones-transaction"
    report = await imported(capi, name)
    assert report["schemaErrors"] == 1
    assert any("names no award" in p for p in report["problems"])
    (process,) = report["processes"]
    (contract,) = (await capi.get("/v1/contracts", tender=process["tenderId"])).json()["items"]
    milestones = (await capi.get(f"/v1/contracts/{contract['id']}/milestones")).json()["items"]
    seen = {
        m["imported"]["ocdsId"]: (m["kind"], m["status"], m["dueOn"], len(m["transactions"]))
        for m in milestones
    }
    assert seen == {
        "20653payment": ("payment", "met", "2018-10-10", 1),
        "20653Delivery": ("delivery", "met", "2018-10-05", 0),
        "20654payment": ("payment", "not_met", "2018-10-31", 0),
        "20654Delivery": ("delivery", "not_met", "2018-10-28", 0),
    }


async def test_only_an_admin_imports_and_names_a_buyer(capi: Api) -> None:
    body = samples()[FICTIONAL].read_bytes()
    for role in (Role.VIEWER, Role.COMMERCIAL, Role.OPS):
        refused = await ocds_import(capi, body, role=role)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this needs the role admin"
    for buyer in (None, "", "  "):
        answer = await ocds_import(capi, body, buyer=buyer)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_bad_json_is_400_and_json_of_no_ocds_shape_is_422_and_neither_writes(
    capi: Api, cpool: Pool
) -> None:
    before = await counts(cpool)
    answer = await ocds_import(capi, b'{"releases": [')
    assert answer.status_code == 400, answer.text
    for body in ([1, 2], {"uri": "x"}, "a release"):
        answer = await ocds_import(capi, body)
        assert answer.status_code == 422, answer.text
    assert await counts(cpool) == before


async def test_a_release_without_an_id_is_read_counted_and_reported_not_imported(
    capi: Api,
) -> None:
    answer = await ocds_import(
        capi, {"releases": [{"ocid": "ocds-x-1", "date": "2020-01-01T00:00:00Z", "tag": []}]}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["releasesRead"], report["imported"], report["skipped"]) == (1, 0, 0)
    assert report["schemaErrors"] >= 1
    assert any("has no id" in p for p in report["problems"])


async def test_without_the_providers_service_address_an_import_is_503_naming_the_setting(
    crt: Runtime, clock: Any
) -> None:
    from procure_contracts.app import definition

    app = build_app(definition(ContractsOptions()), crt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answer = await ocds_import(Api(http, clock), samples()[FICTIONAL].read_bytes())
    assert answer.status_code == 503
    assert "PROCURE_PROVIDERS_URL" in answer.json()["detail"]


async def test_every_sample_exported_again_validates_and_keeps_the_processes_facts(
    capi: Api, schemas: OcdsSchemas
) -> None:
    for name in samples():
        report = await imported(capi, name)
        for process in report["processes"]:
            answer = await capi.get(
                f"/v1/ocds/records/{process['ocid']}", role=Role.ADMIN, buyer=None
            )
            assert answer.status_code == 200, (name, answer.text)
            (record,) = answer.json()["records"]
            assert record["ocid"] == process["ocid"]
            for release in [*record["releases"], record["compiledRelease"]]:
                errors = [(e.path, e.message) for e in schemas.release_errors(release)]
                assert errors == [], (name, release.get("id"))
    fictional = (
        await capi.get("/v1/ocds/records/ocds-213czf-000-00001", role=Role.ADMIN, buyer=None)
    ).json()["records"][0]["compiledRelease"]
    assert fictional["tender"]["title"] == "Planned cycle lane improvements"
    assert fictional["tender"]["value"] == {"amount": 1100000, "currency": "GBP"}
    (award,) = fictional["awards"]
    assert award["id"] == "ocds-213czf-000-00001-award-01"
    assert award["value"] == {"amount": 11000000, "currency": "GBP"}
    assert [s["name"] for s in award["suppliers"]] == ["AnyCorp Cycle Provision"]
    (contract,) = fictional["contracts"]
    assert contract["id"] == "ocds-213czf-000-00001-contract-01"
    assert contract["dateSigned"].startswith("2010-06-10")
    assert sorted(t["value"]["amount"] for t in contract["implementation"]["transactions"]) == [
        10000,
        50000,
    ]
    # A contract resting on no award of its process (its awardID names none, or is null) is
    # kept in our data and left out of the release (issue 24): OCDS requires its award.
    (standard,) = (
        await capi.get("/v1/ocds/records/ocds-afalqw-001", role=Role.ADMIN, buyer=None)
    ).json()["records"]
    assert "contracts" not in standard["compiledRelease"]
    paraguay = (
        await capi.get("/v1/ocds/records/ocds-03ad3f-274744", role=Role.ADMIN, buyer=None)
    ).json()["records"][0]["compiledRelease"]
    assert len(paraguay["contracts"]) == 2  # of its 3: the third's awardID is null
