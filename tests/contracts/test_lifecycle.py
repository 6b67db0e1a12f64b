"""A tender from draft to a contract delivered, through the HTTP API, with eligibility asked of
a real providers service over NATS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.http import Role
from tests.contracts.conftest import Api, money
from tests.providers.conftest import Api as ProvidersApi


@pytest.mark.check
async def test_a_lot_is_awarded_to_an_eligible_provider_and_its_contract_signed_after_standstill(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    provider = await papi.register(legalName="Barnardo's")
    await papi.accredit(provider["id"], category="attendance_mentoring")
    tender, (lot,) = await capi.closed_tender(category="attendance_mentoring")

    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards", capi.award_body(provider["id"])
    )
    (award,) = made["items"]
    assert award["status"] == "pending"
    assert award["providerId"] == provider["id"]
    assert award["value"] == money("7987500")
    lot_now = (await capi.get(f"/v1/tenders/{tender['id']}/lots/{lot['id']}")).json()
    assert lot_now["status"] == "awarded"

    contract = await capi.made(
        "/v1/contracts",
        {
            "awardIds": [award["id"]],
            "title": "Attendance mentors",
            "startsOn": "2022-09-01",
            "endsOn": "2024-08-31",
        },
    )
    assert contract["status"] == "pending"
    assert contract["value"] == money("7987500")
    assert contract["lotIds"] == [lot["id"]]

    early = await capi.change("POST", f"/v1/contracts/{contract['id']}/sign")
    assert early.status_code == 409, early.text
    assert early.headers["content-type"] == "application/problem+json"
    assert "standstill" in early.json()["detail"]

    capi.clock.advance(timedelta(days=10))
    # Worth more than £5m: signed only with three KPIs (Procurement Act 2023 s.52).
    for name, target, unit in (
        ("Pupils mentored", "500", "pupils"),
        ("Mentors in post", "50", "mentors"),
        ("Schools taking part", "100", "schools"),
    ):
        await capi.made(
            f"/v1/contracts/{contract['id']}/kpis",
            {"name": name, "target": {"kind": "value", "value": target}, "unit": unit},
        )
    signed = await capi.moved(f"/v1/contracts/{contract['id']}/sign")
    assert signed["status"] == "active"
    assert (await capi.get(f"/v1/awards/{award['id']}")).json()["status"] == "active"

    done = await capi.moved(f"/v1/tenders/{tender['id']}/complete")
    assert done["status"] == "complete"
    closed = await capi.moved(f"/v1/contracts/{contract['id']}/complete", {"on": "2024-08-31"})
    assert closed["status"] == "completed"
    assert closed["closedOn"] == "2024-08-31"


async def test_an_illegal_transition_is_refused_naming_the_current_and_allowed_states(
    capi: Api,
) -> None:
    tender = await capi.tender()
    answer = await capi.change("POST", f"/v1/tenders/{tender['id']}/close")
    assert answer.status_code == 409
    body = answer.json()
    assert body["currentState"] == "draft"
    assert body["allowedStates"] == ["published", "cancelled"]
    assert (await capi.get(f"/v1/tenders/{tender['id']}")).json()["status"] == "draft"


async def test_a_viewer_reads_but_cannot_write_and_another_buyer_sees_nothing(
    capi: Api,
) -> None:
    tender = await capi.tender()
    path = f"/v1/tenders/{tender['id']}"
    assert (await capi.get(path)).status_code == 200
    assert (await capi.get(path, buyer="moj")).status_code == 404
    assert (await capi.get(path, Role.ADMIN, buyer=None)).status_code == 200
    listed = await capi.get("/v1/tenders", buyer="moj")
    assert listed.json()["items"] == []
    refused = await capi.create("/v1/tenders", {"title": "x"}, role=Role.VIEWER)
    assert refused.status_code == 403
