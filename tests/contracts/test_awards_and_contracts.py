"""Awards, contracts, options and amendments through the HTTP API, with eligibility answered
by a real providers service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from procure_providers.api.rpc import EligibilityResponder
from procure_providers.storage.track_record import record_rating
from procure_shared.db.postgres import Pool
from procure_shared.events.contracts import KpiRatingChanged
from tests.contracts.conftest import Api, money
from tests.providers.conftest import Api as ProvidersApi


async def _provider(papi: ProvidersApi, name: str, category: str = "academic_mentoring") -> str:
    provider = await papi.register(legalName=name)
    await papi.accredit(provider["id"], category=category)
    return str(provider["id"])


async def _contract(capi: Api, papi: ProvidersApi, value: str = "5000000") -> dict[str, Any]:
    """A signed contract worth ``value``."""
    provider = await _provider(papi, "Barnardo's", "attendance_mentoring")
    tender, (lot,) = await capi.closed_tender(category="attendance_mentoring")
    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards",
        capi.award_body(provider, standstill_days=0, value=value),
    )
    contract = await capi.made(
        "/v1/contracts",
        {
            "awardIds": [made["items"][0]["id"]],
            "title": "Attendance mentors",
            "startsOn": "2022-09-01",
            "endsOn": "2024-08-31",
        },
    )
    return await capi.moved(f"/v1/contracts/{contract['id']}/sign")


async def test_an_ineligible_provider_is_refused_with_its_reasons_and_nothing_is_written(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    fine = await _provider(papi, "Randstad Solutions Limited")
    excluded = await _provider(papi, "Excluded Ltd")
    await papi.exclude(excluded)
    unaccredited = (await papi.register(legalName="New Tutors Ltd"))["id"]
    tender, (lot,) = await capi.closed_tender()
    async with cpool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM outbox")

    answer = await capi.create(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards",
        capi.award_body(fine, excluded, unaccredited),
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    errors = {(e["field"], e["message"].split(":")[0]) for e in answer.json()["errors"]}
    assert errors == {
        ("providers/1/providerId", "excluded"),
        ("providers/2/providerId", "accreditation_missing"),
    }
    async with cpool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM awards") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == before
    lot_now = await capi.get(f"/v1/tenders/{tender['id']}/lots/{lot['id']}")
    assert lot_now.json()["status"] == "active"


async def test_a_performance_warning_is_kept_on_the_award(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, ppool: Pool
) -> None:
    provider = await _provider(papi, "Struggling Tutors Ltd")
    async with ppool.acquire() as conn:
        await record_rating(
            conn,
            KpiRatingChanged(
                kpi_id="b0c8b7f4-8a43-4c55-9a59-3c1f0f4b7f10",
                contract_id="0d5e1c3a-64a4-4a43-8f6b-0a1f7e0c9a11",
                provider_ids=[provider],
                name="Pupils supported",
                rating="inadequate",
                period_end=date(2022, 3, 31),
                rated_at=datetime(2022, 4, 10, tzinfo=UTC),
            ),
        )
    tender, (lot,) = await capi.closed_tender()
    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards", capi.award_body(provider)
    )
    (award,) = made["items"]
    assert [w["code"] for w in award["warnings"]] == ["performance_inadequate"]
    again = (await capi.get(f"/v1/awards/{award['id']}")).json()
    assert again["warnings"] == award["warnings"]


async def test_a_lot_goes_to_several_providers_and_a_contract_may_cover_several_lots(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    one = await _provider(papi, "Randstad Solutions Limited")
    two = await _provider(papi, "Tutor Trust")
    tender, (lot1, lot2) = await capi.closed_tender(lots=2)
    first = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot1['id']}/awards", capi.award_body(one, two)
    )
    assert {a["providerId"] for a in first["items"]} == {one, two}
    twice = await capi.create(
        f"/v1/tenders/{tender['id']}/lots/{lot1['id']}/awards", capi.award_body(one)
    )
    assert twice.status_code == 409, twice.text
    second = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot2['id']}/awards", capi.award_body(one)
    )
    ones = [a["id"] for a in first["items"] + second["items"] if a["providerId"] == one]
    contract = await capi.made("/v1/contracts", {"awardIds": ones, "title": "Both lots"})
    assert sorted(contract["lotIds"]) == sorted([lot1["id"], lot2["id"]])
    assert contract["value"] == money(2 * 7987500)
    listed = await capi.get("/v1/contracts", lot=lot2["id"])
    assert [c["id"] for c in listed.json()["items"]] == [contract["id"]]
    by_provider = await capi.get("/v1/awards", provider=two)
    assert [a["providerId"] for a in by_provider.json()["items"]] == [two]

    held = await capi.change("POST", f"/v1/awards/{ones[1]}/cancel", {"reason": "error"})
    assert held.status_code == 409, held.text  # a contract rests on it
    other = next(a["id"] for a in first["items"] if a["providerId"] == two)
    cancelled = await capi.moved(f"/v1/awards/{other}/cancel", {"reason": "withdrew"})
    assert cancelled["status"] == "cancelled"


async def test_the_current_value_is_the_original_plus_amendments_plus_options_exercised(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi, "5000000")
    path = f"/v1/contracts/{contract['id']}"
    option = await capi.made(
        f"{path}/options",
        {"description": "Scale up to multiple areas nationally", "value": money("2000000")},
    )
    option_id = option["options"][0]["id"]
    amended = await capi.made(
        f"{path}/amendments",
        {"change": {"kind": "value", "change": money("300000")}, "rationale": "More pupils"},
    )
    assert amended["currentValue"] == money("5300000")
    assert amended["thresholdExceeded"] is False
    exercised = await capi.moved(
        f"{path}/options/{option_id}/exercise",
        {"on": "2023-05-01", "note": "1,665 pupils in four areas"},
        resource=path,
    )
    assert exercised["currentValue"] == money("7300000")
    assert exercised["thresholdExceeded"] is False  # options do not count
    flagged = await capi.made(
        f"{path}/amendments",
        {"change": {"kind": "value", "change": money("250000")}, "rationale": "Extra hub"},
    )
    assert flagged["currentValue"] == money("7550000")
    assert flagged["amendmentsValue"] == "550000.00"
    assert flagged["thresholdExceeded"] is True  # 550,000 > 10% of 5,000,000
    listed = await capi.get("/v1/contracts", flagged="true")
    assert [c["id"] for c in listed.json()["items"]] == [contract["id"]]
    ended = await capi.made(
        f"{path}/amendments",
        {"change": {"kind": "end_date", "endsOn": "2025-03-31"}, "rationale": "Extension"},
    )
    assert ended["endsOn"] == "2025-03-31"
    kinds = [a["change"]["kind"] for a in (await capi.get(f"{path}/amendments")).json()["items"]]
    assert kinds == ["value", "value", "end_date"]
    terms = await capi.change("PATCH", path, {"value": money("1")})
    assert terms.status_code == 422  # a signed contract's terms change by amendment


async def test_a_resource_reads_as_it_was_at_a_past_time(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi, "5000000")
    path = f"/v1/contracts/{contract['id']}"
    signed_at = capi.clock.now()
    capi.clock.advance(timedelta(days=30))
    await capi.made(
        f"{path}/amendments",
        {"change": {"kind": "value", "change": money("100000")}, "rationale": "More pupils"},
    )
    now = (await capi.get(path)).json()
    then = (await capi.get(path, asOf=signed_at.isoformat())).json()
    assert now["currentValue"] == money("5100000")
    assert then["currentValue"] == money("5000000")
    assert then["status"] == "active"
    assert then["version"] == now["version"] - 1
    before = await capi.get(path, asOf=(signed_at - timedelta(days=365)).isoformat())
    assert before.status_code == 404
    award = f"/v1/awards/{now['awardIds'][0]}"
    naive = signed_at.replace(tzinfo=None).isoformat()  # read as UTC
    assert (await capi.get(award, asOf=naive)).json()["status"] == "active"
    history = (await capi.get(f"{path}/history")).json()
    assert [h["action"] for h in history] == [
        "contracts.contract.created",
        "contracts.contract.signed",
        "contracts.contract.amended",
    ]
    assert history[-1]["after"] == now
