"""KPIs of contracts through the HTTP API: defined, changed, observed and rated, each change
audited with its one event in the outbox; and the s.52 rule when signing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import decode_envelope
from procure_shared.http import Role
from tests.contracts.conftest import Api
from tests.providers.conftest import Api as ProvidersApi

OPS = Role.OPS
AREAS = ["Knowsley", "Doncaster", "Stoke-on-Trent", "Salford"]


async def _contract(
    capi: Api, papi: ProvidersApi, *, value: str = "5000000", sign: bool = True
) -> dict[str, Any]:
    """Barnardo's contract worth ``value`` for Sept 2022 to Aug 2024 (signed unless told)."""
    provider = await papi.register(legalName="Barnardo's")
    await papi.accredit(provider["id"], category="attendance_mentoring")
    tender, (lot,) = await capi.closed_tender(category="attendance_mentoring")
    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards",
        capi.award_body(provider["id"], standstill_days=0, value=value),
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
    if sign:
        contract = await capi.moved(f"/v1/contracts/{contract['id']}/sign")
    return contract


def _pupils(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Persistently absent pupils supported",
        "unit": "pupils",
        "target": {"kind": "value", "value": "1000"},
    } | fields


async def _define(capi: Api, contract: dict[str, Any], **fields: Any) -> dict[str, Any]:
    answer = await capi.create(f"/v1/contracts/{contract['id']}/kpis", _pupils(**fields))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _figure(
    value: str | None, start: str = "2023-05-15", end: str = "2023-08-31", **more: Any
) -> dict[str, Any]:
    return {"periodStart": start, "periodEnd": end, "value": value} | more


async def _observe(
    capi: Api, kpi: dict[str, Any], body: dict[str, Any], status: int = 201, role: Role = OPS
) -> dict[str, Any]:
    answer = await capi.create(f"/v1/kpis/{kpi['id']}/observations", body, role=role)
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _kpi(capi: Api, kpi: dict[str, Any]) -> dict[str, Any]:
    answer = await capi.get(f"/v1/kpis/{kpi['id']}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _events(cpool: Pool, subject: str) -> list[tuple[str, int, Any]]:
    """(type, sequence, data) of each event about ``subject``, in order."""
    async with cpool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE aggregate_id = $1 ORDER BY position", subject
        )
    found = [decode_envelope(row["payload"]) for row in rows]
    return [(e.type, e.sequence, msgspec.json.decode(e.data)) for e in found]


async def _counts(cpool: Pool) -> tuple[int, int, int, int]:
    async with cpool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM kpis"),
            await conn.fetchval("SELECT count(*) FROM kpi_observations"),
            await conn.fetchval("SELECT count(*) FROM outbox"),
            await conn.fetchval("SELECT count(*) FROM audit_log"),
        )


async def test_commercial_defines_a_kpi_with_default_thresholds_and_its_event_is_in_the_outbox(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    answer = await capi.create(
        f"/v1/contracts/{contract['id']}/kpis",
        _pupils(
            lotId=contract["lotIds"][0],
            target={"kind": "range", "min": "500", "max": "1000"},
            dimension={"name": "area", "values": AREAS},
            frequency="termly",
        ),
    )
    assert answer.status_code == 201, answer.text
    kpi = answer.json()
    assert answer.headers["Location"] == f"/v1/kpis/{kpi['id']}"
    assert answer.headers["ETag"] == '"1"'
    assert kpi["contractId"] == contract["id"]
    assert kpi["target"] == {"kind": "range", "min": "500", "max": "1000"}
    assert kpi["direction"] == "higher_is_better"
    assert kpi["thresholds"] == {
        "good": "100",
        "approachingTarget": "90",
        "requiresImprovement": "70",
    }
    assert kpi["combine"] == "sum"
    assert kpi["rating"]["rating"] == "other"
    assert kpi["rating"]["label"] == "Other"
    assert kpi["rating"]["explanation"] == "no observation recorded yet: Other"
    assert await _kpi(capi, kpi) == kpi
    listed = (await capi.get(f"/v1/contracts/{contract['id']}/kpis")).json()
    assert listed == {"items": [kpi]}

    ((kind, sequence, data),) = await _events(cpool, kpi["id"])
    assert (kind, sequence) == ("contracts.kpi.defined", 1)
    assert (data["targetMin"], data["targetMax"], data["targetValue"]) == ("500", "1000", None)
    assert data["dimensionValues"] == AREAS
    assert data["providerIds"] == [s["id"] for s in contract["suppliers"]]


@pytest.mark.check
async def test_an_observation_moving_the_rating_emits_one_rating_changed_naming_the_previous(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(capi, contract)
    capi.clock.advance(timedelta(days=500))  # to September 2023

    made = await _observe(capi, kpi, _figure("650", source="Barnardo's termly return"))
    assert made["value"] == "650"
    assert made["recordedBy"] == "ops-user"
    now = await _kpi(capi, kpi)
    assert (now["version"], now["rating"]["rating"]) == (3, "inadequate")
    assert now["rating"]["explanation"] == (
        "650 pupils against a target of 1,000 (65.0% of target); below 70% of target is Inadequate"
    )
    await _observe(capi, kpi, _figure("700"))  # corrects 650: Requires improvement
    await _observe(capi, kpi, _figure("2000", "2022-09-01", "2023-05-14"))  # an older period
    await _observe(capi, kpi, _figure("720"))  # a better figure, the same rating
    now = await _kpi(capi, kpi)
    assert now["rating"]["rating"] == "requires_improvement"
    assert now["rating"]["value"] == "720"
    assert now["observationCount"] == 4
    assert now["lastObservation"]["value"] == "720"

    events = await _events(cpool, kpi["id"])
    assert [(t, s) for t, s, _ in events] == [
        ("contracts.kpi.defined", 1),
        ("contracts.kpi.observed", 2),
        ("contracts.kpi.rating_changed", 3),
        ("contracts.kpi.observed", 4),
        ("contracts.kpi.rating_changed", 5),
        ("contracts.kpi.observed", 6),
        ("contracts.kpi.observed", 7),
    ]
    first, second = (d for t, _, d in events if t == "contracts.kpi.rating_changed")
    assert (first["previousRating"], first["rating"]) == ("other", "inadequate")
    assert (second["previousRating"], second["rating"]) == ("inadequate", "requires_improvement")
    assert (second["periodStart"], second["periodEnd"], second["value"]) == (
        "2023-05-15",
        "2023-08-31",
        "700",
    )
    assert "70.0% of target" in second["explanation"]
    observed = events[1][2]
    assert (observed["observationId"], observed["value"]) == (made["id"], "650")


async def test_observations_of_areas_sum_to_the_figure_rated_and_are_listed_by_page(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(
        capi,
        contract,
        target={"kind": "range", "min": "500", "max": "1000"},
        dimension={"name": "area", "values": AREAS},
    )
    capi.clock.advance(timedelta(days=500))
    made = []
    for area, value in zip(AREAS, ("420", "455", "410", "380"), strict=True):
        made.append(await _observe(capi, kpi, _figure(value, dimensionValue=area)))
        capi.clock.advance(timedelta(minutes=1))
    rating = (await _kpi(capi, kpi))["rating"]
    assert (rating["rating"], rating["value"]) == ("good", "1665")
    assert rating["byDimension"] == [
        {"dimensionValue": a, "value": v}
        for a, v in zip(AREAS, ("420", "455", "410", "380"), strict=True)
    ]
    one = await capi.get(f"/v1/kpis/{kpi['id']}/observations/{made[0]['id']}")
    assert one.json() == made[0]

    path = f"/v1/kpis/{kpi['id']}/observations"
    first = (await capi.get(path, limit=3)).json()
    assert [o["id"] for o in first["items"]] == [o["id"] for o in reversed(made)][:3]
    rest = (await capi.get(path, limit=3, cursor=first["nextCursor"])).json()
    assert ([o["id"] for o in rest["items"]], rest["nextCursor"]) == ([made[0]["id"]], None)
    salford = (await capi.get(path, dimensionValue="Salford")).json()["items"]
    assert [o["id"] for o in salford] == [made[3]["id"]]
    assert (await capi.get(path, endsTo="2023-08-30")).json()["items"] == []


BAD_KPIS: list[tuple[dict[str, Any], int, str | None]] = [
    (_pupils(colour="blue"), 400, None),
    (_pupils(target={"kind": "value", "value": 1000}), 400, None),  # a number, not a string
    (_pupils(target={"kind": "ratio", "value": "1"}), 400, None),
    (_pupils(direction="sideways"), 400, None),
    (_pupils(name="  "), 422, "name"),
    (_pupils(target={"kind": "value", "value": "0"}), 422, "target/value"),
    (_pupils(target={"kind": "range", "min": "1000", "max": "500"}), 422, "target/max"),
    (_pupils(lotId="4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"), 422, "lotId"),
    (
        _pupils(thresholds={"good": "100", "approachingTarget": "60", "requiresImprovement": "70"}),
        422,
        "thresholds/requiresImprovement",
    ),
    (
        _pupils(
            direction="lower_is_better",
            thresholds={"good": "100", "approachingTarget": "90", "requiresImprovement": "70"},
        ),
        422,
        None,
    ),
    (
        _pupils(dimension={"name": "area", "values": ["Salford", "Salford"]}),
        422,
        "dimension/values",
    ),
]


async def test_bad_kpis_and_observations_are_problems_that_change_nothing(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(capi, contract, dimension={"name": "area", "values": AREAS})
    capi.clock.advance(timedelta(days=500))
    before = await _counts(cpool)
    for body, status, field in BAD_KPIS:
        answer = await capi.create(f"/v1/contracts/{contract['id']}/kpis", body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if field is not None:
            assert field in [e["field"] for e in answer.json()["errors"]], body
    area = {"dimensionValue": "Knowsley"}
    for body, field in (
        (_figure("10", "2022-08-01", "2022-08-31", **area), "periodStart"),  # before the start
        (_figure("10", "2023-08-01", "2024-09-30", **area), "periodEnd"),  # after the end
        (_figure("10", "2023-06-01", "2023-05-31", **area), "periodEnd"),
        (_figure("10", "2024-01-01", "2024-01-31", **area), "periodStart"),  # to come
        (_figure("10", dimensionValue="Middlesbrough"), "dimensionValue"),
        (_figure("10"), "dimensionValue"),
        (_figure(None, **area), "value"),
    ):
        problem = await _observe(capi, kpi, body, status=422)
        assert [e["field"] for e in problem["errors"]] == [field], body
    assert (await _observe(capi, kpi, _figure("1.5e3", **area), status=400))["status"] == 400
    assert await _counts(cpool) == before
    assert (await _kpi(capi, kpi))["version"] == 1


async def test_a_pending_contract_is_not_observed_and_a_closed_one_takes_no_new_kpis(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi, sign=False)
    kpi = await _define(capi, contract)
    capi.clock.advance(timedelta(days=500))
    before = await _counts(cpool)
    refused = await _observe(capi, kpi, _figure("10"), status=409)
    assert (refused["currentState"], refused["allowedStates"]) == (
        "pending",
        ["active", "cancelled"],
    )
    await capi.moved(f"/v1/contracts/{contract['id']}/cancel", {"reason": "Never started"})
    closed = await capi.create(f"/v1/contracts/{contract['id']}/kpis", _pupils())
    assert closed.status_code == 409, closed.text
    assert closed.json()["currentState"] == "cancelled"
    changed = await capi.change("PATCH", f"/v1/kpis/{kpi['id']}", {"name": "Renamed"})
    assert changed.status_code == 409, changed.text
    after = await _counts(cpool)
    assert after[:2] == before[:2]  # only the cancellation was written


async def test_a_kpi_changes_under_if_match_and_a_new_target_moves_its_rating(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(capi, contract)
    capi.clock.advance(timedelta(days=500))
    await _observe(capi, kpi, _figure("950"))  # Approaching target
    path = f"/v1/kpis/{kpi['id']}"
    changed = await capi.change(
        "PATCH", path, {"target": {"kind": "value", "value": "900"}, "description": "More"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"5"'  # updated, then its rating changed
    assert changed.json()["rating"]["rating"] == "good"
    events = await _events(cpool, kpi["id"])
    assert [(t, s) for t, s, _ in events[-2:]] == [
        ("contracts.kpi.updated", 4),
        ("contracts.kpi.rating_changed", 5),
    ]
    assert sorted(events[-2][2]["changed"]) == ["description", "target"]
    assert events[-1][2]["previousRating"] == "approaching_target"

    flipped = await capi.change("PATCH", path, {"direction": "lower_is_better"})
    assert flipped.status_code == 200, flipped.text
    assert flipped.json()["thresholds"]["approachingTarget"] == "110"  # the direction's defaults
    renamed = await capi.change("PATCH", path, {"name": "Pupils supported"})
    assert renamed.headers["ETag"] == f'"{flipped.json()["version"] + 1}"'  # the rating stays

    stale = await capi.http.patch(
        path, json={"name": "x"}, headers=capi.headers(Role.COMMERCIAL) | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    missing = await capi.http.patch(path, json={"name": "x"}, headers=capi.headers(Role.COMMERCIAL))
    assert missing.status_code == 428, missing.text
    for role in (Role.VIEWER, OPS):
        assert (await capi.change("PATCH", path, {"name": "x"}, role=role)).status_code == 403
    observed = await capi.change("PATCH", path, {"dimension": {"name": "area", "values": AREAS}})
    assert observed.status_code == 422, observed.text
    assert (await _kpi(capi, kpi))["name"] == "Pupils supported"


async def test_another_buyer_never_sees_a_kpi_and_only_ops_and_commercial_record_figures(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(capi, contract)
    capi.clock.advance(timedelta(days=500))
    made = await _observe(capi, kpi, _figure("10"))
    path = f"/v1/kpis/{kpi['id']}"
    dates = {"from": "2022-09-01", "to": "2023-08-31"}
    for read, params in (
        (path, {}),
        (f"{path}/history", {}),
        (f"{path}/observations", {}),
        (f"{path}/observations/{made['id']}", {}),
        (f"/v1/contracts/{contract['id']}/kpis", {}),
        (f"/v1/contracts/{contract['id']}/assessment", dates),
    ):
        for buyer, status in (("dfe", 200), ("moj", 404)):
            headers = capi.headers(Role.VIEWER, buyer)
            answer = await capi.http.get(read, params=params, headers=headers)
            assert answer.status_code == status, (read, buyer)
    assert (await capi.get(path, Role.ADMIN, buyer=None)).status_code == 200

    other = capi.headers(OPS, buyer="moj") | {"Idempotency-Key": "moj-1"}
    stranger = await capi.http.post(f"{path}/observations", json=_figure("10"), headers=other)
    assert stranger.status_code == 404, stranger.text
    await _observe(capi, kpi, _figure("11"), role=Role.COMMERCIAL)
    await _observe(capi, kpi, _figure("12"), status=403, role=Role.VIEWER)
    ops = await capi.create(f"/v1/contracts/{contract['id']}/kpis", _pupils(), role=OPS)
    assert ops.status_code == 403, ops.text  # the commercial team defines KPIs


async def test_the_history_of_a_kpi_holds_each_change_by_whom_and_reads_it_as_it_was(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    kpi = await _define(capi, contract)
    defined_at = capi.clock.now()
    capi.clock.advance(timedelta(days=500))
    made = await _observe(capi, kpi, _figure("1200"))

    history = (await capi.get(f"/v1/kpis/{kpi['id']}/history")).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("contracts.kpi.defined", "commercial-user"),
        ("contracts.kpi.observed", "ops-user"),
        ("contracts.kpi.rating_changed", "ops-user"),
    ]
    assert history[1]["after"]["lastObservation"] == made
    assert history[1]["after"]["rating"]["rating"] == "other"
    assert history[2]["after"]["rating"]["rating"] == "good"
    then = await capi.get(
        f"/v1/kpis/{kpi['id']}", asOf=(defined_at + timedelta(days=1)).isoformat()
    )
    assert then.json()["rating"]["rating"] == "other"


async def test_a_contract_over_five_million_signs_with_three_kpis_or_a_recorded_exemption(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi, value="7987500", sign=False)
    sign = f"/v1/contracts/{contract['id']}/sign"
    for n in range(2):
        await _define(capi, contract, name=f"KPI {n + 1}")
    before = await _counts(cpool)
    refused = await capi.change("POST", sign)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "Procurement Act 2023 s.52" in problem["detail"]
    assert "has 2" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["kpis"]
    assert await _counts(cpool) == before
    await _define(capi, contract, name="KPI 3")
    assert (await capi.moved(sign))["status"] == "active"

    exempt = await _contract(capi, papi, value="7987500", sign=False)
    path = f"/v1/contracts/{exempt['id']}"
    reason = "A one-off purchase whose performance KPIs could not appropriately assess"
    changed = await capi.change("PATCH", path, {"kpiExemption": reason})
    assert changed.status_code == 200, changed.text
    assert changed.json()["kpiExemption"] == reason
    signed = await capi.moved(f"{path}/sign")
    assert (signed["status"], signed["kpiExemption"]) == ("active", reason)
    late = await capi.change("PATCH", path, {"kpiExemption": None})
    assert late.status_code == 422, late.text
    assert late.json()["errors"][0]["field"] == "kpiExemption"
    (updated,) = [
        d for t, _, d in await _events(cpool, exempt["id"]) if t == "contracts.contract.updated"
    ]
    assert (updated["changed"], updated["kpiExemption"]) == (["kpiExemption"], reason)
    history = (await capi.get(f"{path}/history")).json()
    assert history[1]["actor"] == "commercial-user"
    assert history[1]["after"]["kpiExemption"] == reason

    five = await _contract(capi, papi, value="5000000", sign=False)
    assert (await capi.moved(f"/v1/contracts/{five['id']}/sign"))["status"] == "active"
