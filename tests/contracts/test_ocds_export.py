"""The OCDS export of the demo data: every release and compiled release validates against OCDS
1.1.5 with the lots and metrics extensions, and each process's compiled release says what the
API says, field by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from procure_contracts.ocds.mapping_out import (
    AWARD_STATUS,
    CONTRACT_STATUS,
    LOT_STATUS,
    MILESTONE_STATUS,
    TENDER_STATUS,
)
from procure_contracts.ocds.schema import OcdsSchemas
from procure_shared.db.audit import Actor, record_change
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from tests.contracts.conftest import Api
from tests.providers.conftest import Api as ProvidersApi

PREFIX = "ocds-procure"


def _next_cursor(answer: httpx.Response) -> str:
    """The cursor of the next page: a package's ``links.next``, or a 204's ``Link`` (a page
    with no release has no package: an OCDS package holds at least one release)."""
    if answer.status_code == 204:
        assert answer.content == b""
        following = answer.links["next"]["url"]
    else:
        assert answer.status_code == 200, answer.text
        following = answer.json()["links"]["next"]
    return str(httpx.URL(following).params["cursor"])


async def _all_releases(api: Api, role: Role = Role.VIEWER, buyer: str = "dfe") -> list[Any]:
    releases: list[Any] = []
    cursor: str | None = None
    while True:
        params = {"limit": "25", **({"cursor": cursor} if cursor else {})}
        answer = await api.http.get(
            "/v1/ocds/releases", params=params, headers=api.headers(role, buyer)
        )
        following = _next_cursor(answer)
        if answer.status_code == 200:
            package = answer.json()
            assert package["version"] == "1.1"
            assert package["releases"]
            releases.extend(package["releases"])
        elif following == cursor:
            return releases
        cursor = following


def _amount(value: dict[str, Any] | None) -> Decimal | None:
    return None if value is None else Decimal(str(value["amount"]))


def _day(instant: str | None) -> str | None:
    return None if instant is None else instant[:10]


async def test_every_release_of_the_demo_validates_and_is_tagged_by_what_happened(
    demo: Api, schemas: OcdsSchemas
) -> None:
    releases = await _all_releases(demo)
    assert len({(r["ocid"], r["id"]) for r in releases}) == len(releases)
    for release in releases:
        assert schemas.release_errors(release) == [], release["id"]
    tags = {t for r in releases for t in r["tag"]}
    assert {"tender", "tenderUpdate", "award", "contract", "contractAmendment"} <= tags
    assert {"implementation", "implementationUpdate"} <= tags
    assert {r["ocid"] for r in releases} == {
        f"{PREFIX}-{t['id']}" for t in (await demo.get("/v1/tenders")).json()["items"]
    }
    # Paged again from the start, the same releases in the same order.
    assert [r["id"] for r in await _all_releases(demo)] == [r["id"] for r in releases]


async def test_another_buyer_sees_none_of_the_demo_in_ocds(demo: Api) -> None:
    assert await _all_releases(demo, buyer="dhsc") == []
    tender = (await demo.get("/v1/tenders")).json()["items"][0]
    answer = await demo.http.get(
        f"/v1/ocds/records/{PREFIX}-{tender['id']}", headers=demo.headers(Role.VIEWER, "dhsc")
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert len(await _all_releases(demo, Role.ADMIN, buyer="dhsc")) > 0


async def test_each_demo_process_compiles_to_what_the_api_says(
    demo: Api, papi: ProvidersApi, schemas: OcdsSchemas
) -> None:
    tenders = (await demo.get("/v1/tenders")).json()["items"]
    contracts = (await demo.get("/v1/contracts", limit="200")).json()["items"]
    assert tenders
    for tender in tenders:
        ocid = f"{PREFIX}-{tender['id']}"
        answer = await demo.get(f"/v1/ocds/records/{ocid}")
        assert answer.status_code == 200, answer.text
        (record,) = answer.json()["records"]
        compiled = record["compiledRelease"]
        assert schemas.release_errors(compiled) == []
        assert all(schemas.release_errors(r) == [] for r in record["releases"])
        assert compiled["ocid"] == record["ocid"] == ocid
        assert compiled["tag"] == ["compiled"]

        # The tender.
        t = compiled["tender"]
        assert (t["id"], t["title"]) == (tender["id"], tender["title"])
        assert t.get("description") == tender["description"]
        assert t["status"] == TENDER_STATUS[tender["status"]]
        assert _amount(t.get("value")) == _amount(tender["value"])
        assert (
            t["tenderPeriod"].get("endDate", "")[:19] == (tender["submissionDeadline"] or "")[:19]
        )
        assert compiled["buyer"]["id"] == tender["buyerId"] == "dfe"

        # The lots.
        lots = (await demo.get(f"/v1/tenders/{tender['id']}/lots")).json()["items"]
        exported_lots = {lot["id"]: lot for lot in t["lots"]}
        assert set(exported_lots) == {lot["id"] for lot in lots}
        for lot in lots:
            out = exported_lots[lot["id"]]
            assert out["title"] == lot["title"]
            assert out["status"] == LOT_STATUS[lot["status"]]
            assert _amount(out.get("value")) == _amount(lot["value"])

        # The awards, with their suppliers and lots.
        awards = (await demo.get("/v1/awards", tender=tender["id"], limit="200")).json()["items"]
        exported_awards = {a["id"]: a for a in compiled.get("awards", [])}
        assert set(exported_awards) == {a["id"] for a in awards}
        parties = {p["id"]: p for p in compiled["parties"]}
        for award in awards:
            out = exported_awards[award["id"]]
            assert out["status"] == AWARD_STATUS[award["status"]]
            assert _amount(out.get("value")) == _amount(award["value"])
            assert out["date"][:19] == award["date"][:19]
            assert out["relatedLots"] == [award["lotId"]]
            (supplier,) = out["suppliers"]
            assert supplier == {"id": award["providerId"], "name": award["providerName"]}
            party = parties[award["providerId"]]
            assert "supplier" in party["roles"]
            provider = (await papi.get(f"/v1/providers/{award['providerId']}")).json()
            first, *others = provider["identifiers"]
            assert party["identifier"] == {
                "scheme": first["scheme"],
                "id": first["id"],
                "legalName": provider["legalName"],
            }
            assert party.get("additionalIdentifiers", []) == others

        # The contracts, their milestones and KPIs.
        mine = [c for c in contracts if tender["id"] in c["tenderIds"]]
        exported = {c["id"]: c for c in compiled.get("contracts", [])}
        assert set(exported) == {c["id"] for c in mine}
        for contract in mine:
            out = exported[contract["id"]]
            assert out["awardID"] in contract["awardIds"]
            assert out["title"] == contract["title"]
            assert out["status"] == CONTRACT_STATUS[contract["status"]]
            assert _amount(out.get("value")) == _amount(contract["currentValue"])
            assert _day(out.get("period", {}).get("startDate")) == contract["startsOn"]
            assert _day(out.get("period", {}).get("endDate")) == contract["endsOn"]
            assert (out.get("dateSigned") or "")[:19] == (contract["signedAt"] or "")[:19]
            assert [a["id"] for a in out.get("amendments", [])] == [
                a["id"] for a in contract["amendments"]
            ]
            implementation = out.get("implementation", {})
            milestones = (await demo.get(f"/v1/contracts/{contract['id']}/milestones")).json()[
                "items"
            ]
            exported_milestones = {m["id"]: m for m in implementation.get("milestones", [])}
            assert set(exported_milestones) == {m["id"] for m in milestones}
            for milestone in milestones:
                m = exported_milestones[milestone["id"]]
                assert m["title"] == milestone["title"]
                assert _day(m["dueDate"]) == milestone["dueOn"]
                assert _day(m.get("dateMet")) == milestone["metOn"]
                assert m["status"] == MILESTONE_STATUS[milestone["status"]]
                assert _amount(m.get("value")) == _amount(milestone["amount"])
            paid = [t for m in milestones for t in m["transactions"]]
            assert [t["id"] for t in implementation.get("transactions", [])] == [
                t["id"] for t in paid
            ]
            kpis = (await demo.get(f"/v1/contracts/{contract['id']}/kpis")).json()["items"]
            agreed = {k["id"]: k for k in out.get("agreedMetrics", [])}
            reported = {k["id"]: k for k in implementation.get("metrics", [])}
            assert set(agreed) == {k["id"] for k in kpis}
            for kpi in kpis:
                assert agreed[kpi["id"]]["title"] == kpi["name"]
                seen = (await demo.get(f"/v1/kpis/{kpi['id']}/observations", limit="200")).json()[
                    "items"
                ]
                if seen:
                    metric = reported[kpi["id"]]
                    assert metric["description"].startswith(kpi["rating"]["label"])
                    assert {
                        o["id"]: Decimal(str(o["measure"])) for o in metric["observations"]
                    } == {o["id"]: Decimal(o["value"]) for o in seen}
                else:
                    assert kpi["id"] not in reported


async def _page(api: Api, cursor: str | None) -> tuple[list[Any], str]:
    params = {"cursor": cursor} if cursor else {}
    answer = await api.http.get(
        "/v1/ocds/releases", params=params, headers=api.headers(Role.ADMIN, None)
    )
    following = _next_cursor(answer)
    return (answer.json()["releases"] if answer.status_code == 200 else []), following


async def test_a_change_committed_after_a_later_one_is_released_once_and_not_skipped(
    capi: Api, cpool: Pool
) -> None:
    tender = await capi.tender()
    releases, cursor = await _page(capi, None)
    assert [r["tender"]["id"] for r in releases if "tender" in r][:1] == [tender["id"]]
    actor = Actor("someone", ("commercial",), "dfe")
    doc = {**tender, "title": "changed"}
    async with cpool.acquire() as first, cpool.acquire() as second:
        early = first.transaction()
        await early.start()

        async def change(conn: Any, before: Any) -> None:
            await record_change(
                conn,
                actor=actor,
                at=capi.clock.now(),
                action="contracts.tender.updated",
                resource_type="tender",
                resource_id=tender["id"],
                before=before,
                after=doc,
            )

        # The first change takes its audit id (and transaction id) first, then waits...
        await change(first, tender)
        # ... while a later one commits.
        async with second.transaction():
            await change(second, doc)
        held, held_cursor = await _page(capi, cursor)
        assert held == []  # held back while the earlier transaction runs, not skipped
        assert held_cursor == cursor
        await early.commit()
    seen, cursor = await _page(capi, cursor)
    ids = [int(r["id"].rsplit("-", 1)[1]) for r in seen]
    assert len(ids) == 2
    assert ids == sorted(ids)
    assert (await _page(capi, cursor))[0] == []
