"""The provider registry is shared by every buyer, but what one buyer did in it is its own: an
attacker holding a ``dhsc`` token replays what the security review found against what ``dfe``
recorded (the providers app in process, over ASGI, on the test PostgreSQL)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any, cast

import httpx
import pytest

from procure_providers.app import definition
from procure_providers.events.track_record import HANDLERS
from procure_shared.db.postgres import Pool
from procure_shared.events import Envelope, EventSpec
from procure_shared.events import registry as types
from procure_shared.events.contracts import (
    AwardMade,
    ContractData,
    KpiRatingChanged,
    MilestoneSettled,
    Money,
)
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from tests.providers.conftest import clock, provider_body, runtime  # noqa: F401 (fixtures)
from tests.support.auth import bearer, keyed, token

PROBLEM = "application/problem+json"


class Buyers:
    """A client of the providers app speaking for any role of any buyer."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @staticmethod
    def headers(role: Role, buyer: str | None, **extra: str) -> dict[str, str]:
        return bearer(token(role, buyer=buyer, sub=f"{buyer or 'central'}-{role.value}")) | extra

    async def get(
        self, path: str, role: Role = Role.VIEWER, buyer: str | None = "dfe", **params: Any
    ) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(role, buyer), params=params)

    async def create(
        self, path: str, body: Any, role: Role = Role.COMMERCIAL, buyer: str | None = "dfe"
    ) -> dict[str, Any]:
        answer = await self.http.post(path, json=body, headers=keyed(self.headers(role, buyer)))
        assert answer.status_code == 201, answer.text
        return cast(dict[str, Any], answer.json())

    async def change(
        self,
        method: str,
        path: str,
        body: Any,
        role: Role = Role.COMMERCIAL,
        buyer: str | None = "dfe",
        etag: str = '"1"',
    ) -> httpx.Response:
        headers = self.headers(role, buyer, **{"If-Match": etag})
        return await self.http.request(method, path, json=body, headers=headers)

    async def provider(self) -> str:
        return str((await self.create("/v1/providers", provider_body()))["id"])

    async def accreditation(self, provider_id: str, buyer: str | None = "dfe") -> str:
        body = {
            "category": "academic_mentoring",
            "grantedBy": "DfE NTP quality assurance",
            "validFrom": "2021-09-01",
            "validTo": "2023-08-31",
        }
        path = f"/v1/providers/{provider_id}/accreditations"
        role = Role.ADMIN if buyer is None else Role.COMMERCIAL
        return str((await self.create(path, body, role, buyer))["id"])

    async def exclusion(self, provider_id: str, buyer: str | None = "dfe") -> str:
        body = {
            "ground": "Mandatory exclusion: fraud (Procurement Act 2023, Schedule 6)",
            "source": "central debarment list",
            "startsOn": "2022-01-01",
            "endsOn": "2026-12-31",
        }
        path = f"/v1/providers/{provider_id}/exclusions"
        return str((await self.create(path, body, Role.ADMIN, buyer))["id"])


@pytest.fixture
async def buyers(runtime: Runtime) -> AsyncIterator[Buyers]:  # noqa: F811 (the fixture)
    transport = httpx.ASGITransport(app=cast(Any, build_app(definition(), runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Buyers(http)


async def written(pool: Pool) -> tuple[int, int]:
    """How many audit rows and outbox events there are: a refused write adds neither."""
    async with pool.acquire() as conn:
        audit = await conn.fetchval("SELECT count(*) FROM audit_log")
        events = await conn.fetchval("SELECT count(*) FROM outbox")
    return int(audit), int(events)


def names_dfe(text: str) -> bool:
    """Whether ``text`` names a dfe user (their subjects start ``dfe-``) or the buyer ``dfe``."""
    return "dfe-" in text or '"dfe"' in text


def is_404_problem(answer: httpx.Response) -> bool:
    return answer.status_code == 404 and answer.headers["content-type"] == PROBLEM


# --- 4. a crafted cursor


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "key",
    [
        [None, None],
        ["Randstad", None],
        [None, str(uuid.uuid4())],
        ["Randstad", "not a uuid"],
        [1, 2],
        ["nul \u0000 in a name", str(uuid.uuid4())],
        ["x" * 301, str(uuid.uuid4())],
        [{"a": 1}, ["b"]],
        ["Randstad"],
    ],
)
async def test_a_crafted_provider_list_cursor_is_a_400_problem(buyers: Buyers, key: Any) -> None:
    answer = await buyers.get("/v1/providers", buyer="dhsc", cursor=cursor_of(key))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["errors"][0]["field"] == "cursor"


async def test_the_cursor_the_provider_list_hands_out_still_pages(buyers: Buyers) -> None:
    for _ in range(3):
        await buyers.provider()
    first = (await buyers.get("/v1/providers", buyer="dhsc", limit=2)).json()
    second = await buyers.get("/v1/providers", buyer="dhsc", limit=2, cursor=first["nextCursor"])
    assert second.status_code == 200, second.text
    ids = [p["id"] for p in first["items"] + second.json()["items"]]
    assert len(ids) == len(set(ids)) == 3


# --- 3. changing what another buyer relies on


async def test_a_dhsc_commercial_cannot_revoke_an_accreditation_dfe_granted(
    buyers: Buyers, ppool: Pool
) -> None:
    accreditation = await buyers.accreditation(await buyers.provider())
    path = f"/v1/accreditations/{accreditation}"
    before = await written(ppool)

    answer = await buyers.change(
        "POST", f"{path}/revoke", {"reason": "not ours"}, Role.COMMERCIAL, "dhsc"
    )

    assert is_404_problem(answer), answer.text
    assert await written(ppool) == before
    still = (await buyers.get(path, buyer="dhsc")).json()
    assert (still["status"], still["version"]) == ("active", 1)


async def test_a_dhsc_commercial_cannot_amend_an_accreditation_dfe_granted_whatever_etag(
    buyers: Buyers, ppool: Pool
) -> None:
    accreditation = await buyers.accreditation(await buyers.provider())
    path = f"/v1/accreditations/{accreditation}"
    before = await written(ppool)

    for etag in ('"1"', '"7"'):  # a stale version says nothing either
        answer = await buyers.change(
            "PATCH", path, {"validTo": "2030-08-31"}, Role.COMMERCIAL, "dhsc", etag
        )
        assert is_404_problem(answer), answer.text
        assert "ETag" not in answer.headers

    assert await written(ppool) == before
    assert (await buyers.get(path, buyer="dhsc")).json()["validTo"] == "2023-08-31"


async def test_the_buyer_that_granted_an_accreditation_may_change_and_revoke_it(
    buyers: Buyers,
) -> None:
    accreditation = await buyers.accreditation(await buyers.provider())
    path = f"/v1/accreditations/{accreditation}"

    renewed = await buyers.change("PATCH", path, {"validTo": "2030-08-31"}, buyer="dfe")
    assert renewed.status_code == 200, renewed.text
    revoked = await buyers.change(
        "POST", f"{path}/revoke", {"reason": "evidence withdrawn"}, buyer="dfe", etag='"2"'
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"


async def test_an_admin_of_any_buyer_or_none_may_revoke_what_dfe_granted(buyers: Buyers) -> None:
    provider = await buyers.provider()
    for admin_buyer in ("dhsc", None):
        accreditation = await buyers.accreditation(provider)
        answer = await buyers.change(
            "POST",
            f"/v1/accreditations/{accreditation}/revoke",
            {"reason": "central review"},
            Role.ADMIN,
            admin_buyer,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "revoked"


async def test_an_accreditation_an_admin_of_no_buyer_granted_is_for_admins_only(
    buyers: Buyers, ppool: Pool
) -> None:
    accreditation = await buyers.accreditation(await buyers.provider(), buyer=None)
    path = f"/v1/accreditations/{accreditation}"
    before = await written(ppool)
    for buyer in ("dfe", "dhsc"):
        answer = await buyers.change("PATCH", path, {"validTo": "2030-08-31"}, buyer=buyer)
        assert is_404_problem(answer), answer.text
    assert await written(ppool) == before
    admin = await buyers.change("PATCH", path, {"validTo": "2030-08-31"}, Role.ADMIN, None)
    assert admin.status_code == 200, admin.text


async def test_an_accreditation_records_the_buyer_that_granted_it(
    buyers: Buyers, ppool: Pool
) -> None:
    provider = await buyers.provider()
    granted = {
        await buyers.accreditation(provider, "dfe"): "dfe",
        await buyers.accreditation(provider, "dhsc"): "dhsc",
        await buyers.accreditation(provider, None): None,
    }
    async with ppool.acquire() as conn:
        rows = await conn.fetch("SELECT id::text, buyer_id FROM accreditations")
    assert {r["id"]: r["buyer_id"] for r in rows} == granted


async def test_a_dhsc_user_cannot_lift_an_exclusion_a_dfe_admin_recorded_but_any_admin_may(
    buyers: Buyers, ppool: Pool
) -> None:
    exclusion = await buyers.exclusion(await buyers.provider(), buyer="dfe")
    path = f"/v1/exclusions/{exclusion}"
    before = await written(ppool)

    for role in (Role.COMMERCIAL, Role.VIEWER, Role.OPS):
        answer = await buyers.change("POST", f"{path}/lift", {"reason": "ours now"}, role, "dhsc")
        assert answer.status_code == 403, answer.text  # lifting is an admin's
    assert await written(ppool) == before
    assert (await buyers.get(path, buyer="dhsc")).json()["liftedOn"] is None

    lifted = await buyers.change("POST", f"{path}/lift", {"reason": "appeal"}, Role.ADMIN, "dhsc")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["liftedOn"] == "2022-06-01"
    async with ppool.acquire() as conn:
        assert await conn.fetchval("SELECT buyer_id FROM exclusions") == "dfe"


async def test_a_dhsc_commercial_may_patch_a_providers_shared_facts_and_the_audit_names_dhsc(
    buyers: Buyers, ppool: Pool
) -> None:
    provider = await buyers.provider()  # registered by dfe

    answer = await buyers.change(
        "PATCH", f"/v1/providers/{provider}", {"sme": True}, Role.COMMERCIAL, "dhsc"
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["sme"] is True
    async with ppool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT actor, actor_roles, buyer_id FROM audit_log"
            " WHERE resource_id = $1 AND action = 'providers.provider.updated'",
            provider,
        )
    assert dict(row or {}) == {
        "actor": "dhsc-commercial",
        "actor_roles": ["commercial"],
        "buyer_id": "dhsc",
    }
    viewer = await buyers.change("PATCH", f"/v1/providers/{provider}", {"sme": False}, Role.VIEWER)
    assert viewer.status_code == 403


# --- the shared reads: the registry's facts, and no buyer's


async def test_a_dhsc_viewer_reads_the_registry_dfe_built_without_any_buyer_named(
    buyers: Buyers,
) -> None:
    provider = await buyers.provider()
    accreditation = await buyers.accreditation(provider)
    exclusion = await buyers.exclusion(provider)
    reads = [
        "/v1/providers",
        f"/v1/providers/{provider}",
        f"/v1/providers/{provider}/accreditations",
        f"/v1/providers/{provider}/exclusions",
        f"/v1/accreditations/{accreditation}",
        f"/v1/exclusions/{exclusion}",
    ]
    for path in reads:
        answer = await buyers.get(path, buyer="dhsc")
        assert answer.status_code == 200, (path, answer.text)
        assert not names_dfe(answer.text), path
        assert '"buyerId"' not in answer.text, path
    assert (await buyers.get(f"/v1/accreditations/{accreditation}", buyer="dhsc")).json()[
        "id"
    ] == accreditation


# --- 2. histories


async def test_a_dhsc_viewer_sees_dfe_users_in_a_providers_history_only_as_another_buyer(
    buyers: Buyers,
) -> None:
    provider = await buyers.provider()  # dfe registers it
    dhsc_patch = await buyers.change(
        "PATCH", f"/v1/providers/{provider}", {"sme": True}, Role.COMMERCIAL, "dhsc"
    )
    assert dhsc_patch.status_code == 200

    seen = (await buyers.get(f"/v1/providers/{provider}/history", buyer="dhsc")).json()

    registered, updated = seen
    assert registered["actor"] == "another buyer"
    assert (registered["actorRoles"], registered["buyerId"], registered["correlationId"]) == (
        [],
        None,
        None,
    )
    assert registered["after"]["legalName"] == "Randstad Solutions Limited"  # a shared fact
    assert not names_dfe(json.dumps(seen))
    assert (updated["actor"], updated["buyerId"]) == ("dhsc-commercial", "dhsc")


async def test_dfe_sees_its_own_users_and_admin_sees_everyone_in_a_history(
    buyers: Buyers,
) -> None:
    provider = await buyers.provider()
    await buyers.change(
        "PATCH", f"/v1/providers/{provider}", {"sme": True}, Role.COMMERCIAL, "dhsc"
    )
    path = f"/v1/providers/{provider}/history"

    by_dfe = (await buyers.get(path, buyer="dfe")).json()
    by_admin = (await buyers.get(path, Role.ADMIN, None)).json()

    assert [(e["actor"], e["buyerId"]) for e in by_dfe] == [
        ("dfe-commercial", "dfe"),
        ("another buyer", None),
    ]
    assert [(e["actor"], e["buyerId"]) for e in by_admin] == [
        ("dfe-commercial", "dfe"),
        ("dhsc-commercial", "dhsc"),
    ]
    assert by_admin[1]["actorRoles"] == ["commercial"]


async def test_accreditation_and_exclusion_histories_hide_dfe_users_from_dhsc(
    buyers: Buyers,
) -> None:
    provider = await buyers.provider()
    accreditation = await buyers.accreditation(provider)
    exclusion = await buyers.exclusion(provider)
    await buyers.change(
        "POST", f"/v1/accreditations/{accreditation}/revoke", {"reason": "withdrawn"}
    )

    for path in (f"/v1/accreditations/{accreditation}", f"/v1/exclusions/{exclusion}"):
        by_dhsc = (await buyers.get(f"{path}/history", buyer="dhsc")).json()
        by_dfe = (await buyers.get(f"{path}/history", buyer="dfe")).json()
        assert by_dhsc, path
        assert {e["actor"] for e in by_dhsc} == {"another buyer"}, path
        assert not names_dfe(json.dumps(by_dhsc)), path
        assert all(e["buyerId"] == "dfe" for e in by_dfe), path
    revoked = (await buyers.get(f"/v1/accreditations/{accreditation}/history", buyer="dhsc")).json()
    assert revoked[-1]["after"]["status"] == "revoked"  # the registry's fact stays


# --- 1. the portfolio


def contracts_event(
    spec: EventSpec, subject: str, sequence: int, data: Any, buyer: str | None
) -> Envelope:
    return Envelope.new(
        service="contracts",
        type=spec.type,
        subject=subject,
        time=datetime(2022, 7, 1, 9, tzinfo=UTC),
        sequence=sequence,
        data=data,
        buyer_id=buyer,
    )


def business(provider: str, buyer: str, title: str, amount: str, kpi: str) -> list[Envelope]:
    """One buyer's award, contract, milestone and KPI rating with the provider."""
    award, contract, milestone, kpi_id = (f"{buyer}-{k}" for k in ("a", "c", "m", "k"))
    money = Money(amount=amount)
    return [
        contracts_event(
            types.AWARD_MADE,
            award,
            1,
            AwardMade(
                award_id=award,
                tender_id=f"{buyer}-t",
                lot_id=f"{buyer}-l",
                provider_id=provider,
                category="academic_mentoring",
                value=money,
                date=datetime(2022, 7, 1, tzinfo=UTC),
            ),
            buyer,
        ),
        contracts_event(
            types.CONTRACT_SIGNED,
            contract,
            1,
            ContractData(
                contract_id=contract,
                award_ids=[award],
                provider_ids=[provider],
                title=title,
                status="active",
                value=money,
            ),
            buyer,
        ),
        contracts_event(
            types.MILESTONE_MET,
            milestone,
            1,
            MilestoneSettled(
                milestone_id=milestone,
                contract_id=contract,
                provider_ids=[provider],
                title=f"{title}: first report",
                status="met",
                due_on=date(2022, 9, 1),
                met_on=date(2022, 9, 8),
            ),
            buyer,
        ),
        contracts_event(
            types.KPI_RATING_CHANGED,
            kpi_id,
            1,
            KpiRatingChanged(
                kpi_id=kpi_id,
                contract_id=contract,
                provider_ids=[provider],
                name=kpi,
                rating="inadequate" if buyer == "dfe" else "good",
                period_end=date(2022, 12, 31),
                rated_at=datetime(2023, 1, 10, tzinfo=UTC),
            ),
            buyer,
        ),
    ]


async def apply(pool: Pool, events: list[Envelope]) -> None:
    """What the track record consumer does with each event (without JetStream)."""
    async with pool.acquire() as conn, conn.transaction():
        for e in events:
            await HANDLERS[e.type](conn, e)


@pytest.fixture
async def shared_provider(buyers: Buyers, ppool: Pool) -> str:
    """A provider with business with dfe (tutoring, GBP 5m) and dhsc (clinics, GBP 2m)."""
    provider = await buyers.provider()
    await apply(
        ppool,
        business(provider, "dfe", "National Tutoring Programme", "5000000.00", "Pupils tutored")
        + business(provider, "dhsc", "Community clinics", "2000000.00", "Clinics open"),
    )
    return provider


async def test_a_dhsc_viewer_sees_dfe_contracts_only_as_totals(
    buyers: Buyers, shared_provider: str
) -> None:
    answer = await buyers.get(f"/v1/providers/{shared_provider}/portfolio", buyer="dhsc")

    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert not names_dfe(answer.text)
    for secret in ("National Tutoring", "Pupils tutored", "dfe-c", "dfe-k", "dfe-a"):
        assert secret not in answer.text
    assert seen["buyerId"] == "dhsc"
    assert [c["title"] for c in seen["contracts"]] == ["Community clinics"]
    assert [r["name"] for r in seen["latestRatings"]] == ["Clinics open"]
    assert (seen["awardsWon"], seen["contractsHeld"]) == (1, 1)
    assert seen["currentValue"] == [{"amount": "2000000.00", "currency": "GBP"}]
    assert seen["otherBuyers"] == {
        "awardsWon": 1,
        "awardsCancelled": 0,
        "contractsHeld": 1,
        "contractsCompleted": 0,
        "contractsTerminated": 0,
        "currentValue": [{"amount": "5000000.00", "currency": "GBP"}],
        "milestones": {"metOnTime": 0, "metLate": 1, "notMet": 0, "waived": 0},
        "latestRatings": {
            "good": 0,
            "approachingTarget": 0,
            "requiresImprovement": 0,
            "inadequate": 1,
            "other": 0,
        },
    }


async def test_a_dfe_viewer_sees_its_own_contracts_in_full_and_dhscs_as_totals(
    buyers: Buyers, shared_provider: str
) -> None:
    seen = (await buyers.get(f"/v1/providers/{shared_provider}/portfolio", buyer="dfe")).json()

    assert [(c["contractId"], c["title"]) for c in seen["contracts"]] == [
        ("dfe-c", "National Tutoring Programme")
    ]
    assert [(r["kpiId"], r["rating"]) for r in seen["latestRatings"]] == [("dfe-k", "inadequate")]
    assert "Community clinics" not in json.dumps(seen)
    assert "dhsc" not in json.dumps(seen)
    assert seen["otherBuyers"]["currentValue"] == [{"amount": "2000000.00", "currency": "GBP"}]
    assert seen["otherBuyers"]["latestRatings"]["good"] == 1


async def test_an_admin_sees_every_buyers_business_with_a_provider_in_full(
    buyers: Buyers, shared_provider: str
) -> None:
    seen = (await buyers.get(f"/v1/providers/{shared_provider}/portfolio", Role.ADMIN, None)).json()

    assert seen["buyerId"] is None
    assert sorted((c["buyerId"], c["title"]) for c in seen["contracts"]) == [
        ("dfe", "National Tutoring Programme"),
        ("dhsc", "Community clinics"),
    ]
    assert seen["currentValue"] == [{"amount": "7000000.00", "currency": "GBP"}]
    assert seen["milestones"]["metLate"] == 2
    assert seen["otherBuyers"]["contractsHeld"] == 0
    assert seen["otherBuyers"]["currentValue"] == []


async def test_the_portfolio_schema_documents_the_other_buyers_totals(buyers: Buyers) -> None:
    schema = (await buyers.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    portfolio = next(v for k, v in components.items() if k.endswith("Portfolio"))
    assert {"buyerId", "otherBuyers"} <= set(portfolio["properties"])
    others = next(v for k, v in components.items() if k.endswith("OtherBuyers"))
    assert "latestRatings" in others["properties"]
    assert "contracts" not in others["properties"]


async def test_a_dhsc_eligibility_check_warns_of_a_dfe_rating_without_naming_its_kpi_or_contract(
    buyers: Buyers, shared_provider: str
) -> None:
    question = {"providerIds": [shared_provider], "category": "academic_mentoring"}

    async def warning(role: Role, buyer: str | None) -> str:
        answer = await buyers.http.post(
            "/v1/eligibility", json=question, headers=buyers.headers(role, buyer)
        )
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        [found] = result["warnings"]
        assert found["code"] == "performance_inadequate"
        return str(found["message"])

    by_dhsc = await warning(Role.VIEWER, "dhsc")
    assert "another buyer's contract" in by_dhsc
    for secret in ("Pupils tutored", "dfe-c", "2022-12-31"):
        assert secret not in by_dhsc
    assert "Pupils tutored" in await warning(Role.VIEWER, "dfe")
    assert "dfe-c" in await warning(Role.ADMIN, None)


async def test_a_dhsc_replay_of_a_dfe_idempotency_key_gets_its_own_answer_not_dfes(
    buyers: Buyers, ppool: Pool
) -> None:
    provider = await buyers.provider()
    body = {
        "category": "academic_mentoring",
        "grantedBy": "DfE NTP quality assurance",
        "validFrom": "2021-09-01",
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/v1/providers/{provider}/accreditations"
    dfe = await buyers.http.post(
        path, json=body, headers=buyers.headers(Role.COMMERCIAL, "dfe", **key)
    )
    dhsc = await buyers.http.post(
        path, json=body, headers=buyers.headers(Role.COMMERCIAL, "dhsc", **key)
    )

    assert (dfe.status_code, dhsc.status_code) == (201, 201)
    assert dhsc.json()["id"] != dfe.json()["id"]
    async with ppool.acquire() as conn:
        rows = await conn.fetch("SELECT id::text, buyer_id FROM accreditations")
    assert {r["id"]: r["buyer_id"] for r in rows} == {
        dfe.json()["id"]: "dfe",
        dhsc.json()["id"]: "dhsc",
    }


async def test_a_dhsc_registration_of_an_identifier_dfe_registered_names_the_provider_only(
    buyers: Buyers,
) -> None:
    identifiers = [{"scheme": "GB-COH", "id": "02965566"}]
    first = await buyers.create("/v1/providers", provider_body(identifiers=identifiers))

    answer = await buyers.http.post(
        "/v1/providers",
        json=provider_body(legalName="Someone Else Ltd", identifiers=identifiers),
        headers=keyed(buyers.headers(Role.COMMERCIAL, "dhsc")),
    )

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert first["id"] in answer.json()["detail"]
    assert not names_dfe(answer.text)
