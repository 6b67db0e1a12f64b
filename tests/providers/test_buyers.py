"""The rules of whose the registry's records are: who may change what a buyer recorded, how an
entry of another buyer's actor reads in a history, what of a portfolio a buyer sees, and the
migration that records, for
accreditations and exclusions written before it, the buyer of their first audit row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from procure_providers import storage
from procure_providers.domain.buyers import ANOTHER_BUYER, Who
from procure_providers.domain.eligibility import Facts, decide
from procure_providers.domain.portfolio import (
    AwardTally,
    BuyerMilestones,
    ContractHeld,
    LatestRating,
    MilestoneTally,
    OtherBuyers,
    RatingCounts,
    TrackedContract,
    TrackRecord,
    ValueTotal,
)
from procure_providers.domain.portfolio import as_seen as portfolio_as_seen
from procure_providers.domain.providers import ProviderStatus
from procure_providers.usecases.history import as_seen
from procure_shared.categories import Category
from procure_shared.db.audit import AuditEntry
from tests.conftest import OWNER, as_role
from tests.providers.conftest import Api

DFE = Who(buyer="dfe")
DHSC = Who(buyer="dhsc")
ADMIN = Who(buyer=None, admin=True)


@pytest.mark.parametrize(
    ("who", "recorded_by", "owns"),
    [
        (DFE, "dfe", True),
        (DHSC, "dfe", False),
        (DFE, None, False),  # recorded by no buyer: admin only
        (ADMIN, "dfe", True),
        (ADMIN, None, True),
        (Who(buyer="dhsc", admin=True), "dfe", True),
    ],
)
def test_only_an_admin_or_the_buyer_that_recorded_it_owns_a_record(
    who: Who, recorded_by: str | None, owns: bool
) -> None:
    assert who.owns(recorded_by) is owns


@pytest.mark.parametrize(
    ("who", "actor_buyer", "foreign"),
    [
        (DHSC, "dfe", True),
        (DFE, "dfe", False),
        (DFE, None, False),  # the system's watches and admins of no buyer are no buyer's
        (ADMIN, "dfe", False),
    ],
)
def test_an_actor_is_foreign_only_when_another_buyers(
    who: Who, actor_buyer: str | None, foreign: bool
) -> None:
    assert who.foreign(actor_buyer) is foreign


def entry(buyer_id: str | None, after: Any) -> AuditEntry:
    return AuditEntry(
        id=1,
        occurred_at=datetime(2022, 6, 1, tzinfo=UTC),
        actor=f"{buyer_id}-commercial",
        actor_roles=["commercial"],
        buyer_id=buyer_id,
        action="providers.accreditation.granted",
        resource_type="accreditation",
        resource_id="a-1",
        before=None,
        after=after,
        correlation_id="req-1",
    )


def test_another_buyers_entry_names_no_one_and_keeps_only_the_records_fields() -> None:
    after = {"id": "a-1", "grantedBy": "DfE NTP", "status": "active", "grantedFor": "dfe-alice"}

    seen = as_seen(entry("dfe", after), DHSC)

    assert (seen.actor, seen.actor_roles, seen.buyer_id, seen.correlation_id) == (
        ANOTHER_BUYER,
        [],
        None,
        None,
    )
    assert seen.after == {"id": "a-1", "grantedBy": "DfE NTP", "status": "active"}
    assert seen.before is None
    assert (seen.action, seen.resource_id) == ("providers.accreditation.granted", "a-1")


def test_ones_own_buyers_system_and_admins_entries_stay_as_they_are() -> None:
    own = entry("dfe", {"x": 1})
    system = entry(None, {"x": 1})
    assert as_seen(own, DFE) is own
    assert as_seen(system, DHSC) is system
    assert as_seen(own, ADMIN) is own


MIGRATION = next((Path(storage.__file__).parent / "migrations").glob("*_registry_buyers.sql"))


def backfills() -> list[str]:
    """The migration's statements that fill ``buyer_id`` of existing rows."""
    up = MIGRATION.read_text().split("-- migrate:down")[0]
    return [s.strip() for s in up.split(";") if s.strip().startswith("UPDATE")]


async def test_the_migration_takes_each_records_buyer_from_its_first_audit_row(
    api: Api, providers_url: str
) -> None:
    provider = (await api.register())["id"]
    granted = await api.accredit(provider)  # by a dfe commercial
    renewed = await api.change(
        "PATCH", f"/v1/accreditations/{granted['id']}", {"validTo": "2024-08-31"}
    )
    assert renewed.status_code == 200
    excluded = await api.exclude(provider)
    unaudited = str(uuid.uuid4())
    # As the owner, who runs migrations (the service's role may not change the audit).
    conn = await asyncpg.connect(as_role(providers_url, OWNER))
    try:
        # As before the migration: no buyer recorded; a later change by dhsc changes nothing.
        await conn.execute("UPDATE audit_log SET buyer_id = 'dhsc' WHERE action LIKE '%updated'")
        await conn.execute(
            "INSERT INTO accreditations SELECT $1, provider_id, category, granted_by, valid_from,"
            " valid_to, evidence_ref, status, revoked_reason, version, created_at, updated_at"
            " FROM accreditations WHERE id = $2",
            uuid.UUID(unaudited),
            uuid.UUID(granted["id"]),
        )
        await conn.execute("UPDATE accreditations SET buyer_id = NULL")
        await conn.execute("UPDATE exclusions SET buyer_id = NULL")
        for statement in backfills():
            await conn.execute(statement)
        accreditations = {
            r["id"]: r["buyer_id"]
            for r in await conn.fetch("SELECT id::text, buyer_id FROM accreditations")
        }
        exclusion_buyer = await conn.fetchval(
            "SELECT buyer_id FROM exclusions WHERE id = $1", uuid.UUID(excluded["id"])
        )
    finally:
        await conn.close()
    assert len(backfills()) == 2
    assert accreditations == {granted["id"]: "dfe", unaudited: None}
    assert exclusion_buyer == "dfe"  # the tests' admin token speaks for dfe


def held(
    contract_id: str, buyer: str | None, amount: str, currency: str = "GBP"
) -> TrackedContract:
    return TrackedContract(
        held=ContractHeld(
            contract_id=contract_id,
            title=f"{contract_id} title",
            status="active",
            value=ValueTotal(amount=f"{Decimal(amount):.2f}", currency=currency),
            starts_on=None,
            ends_on=None,
            buyer_id=buyer,
        ),
        amount=Decimal(amount),
    )


def rated(kpi_id: str, buyer: str | None, rating: str) -> LatestRating:
    return LatestRating(
        kpi_id=kpi_id,
        name=f"{kpi_id} name",
        contract_id="c",
        rating=rating,
        period_end=date(2023, 3, 31),
        buyer_id=buyer,
    )


RECORD = TrackRecord(
    provider_id="p-1",
    awards=[
        AwardTally(buyer_id="dfe", won=2, cancelled=1),
        AwardTally(buyer_id=None, won=1, cancelled=0),
        AwardTally(buyer_id="dhsc", won=1, cancelled=0),
    ],
    contracts=[
        held("dfe-1", "dfe", "0.004"),
        held("dfe-2", "dfe", "0.004"),
        held("old", None, "10", "EUR"),
        held("dhsc-1", "dhsc", "3"),
    ],
    milestones=[
        BuyerMilestones(buyer_id="dfe", tally=MilestoneTally(met_on_time=2)),
        BuyerMilestones(buyer_id=None, tally=MilestoneTally(waived=1)),
        BuyerMilestones(buyer_id="dhsc", tally=MilestoneTally(not_met=1)),
    ],
    ratings=[
        rated("k-1", "dfe", "good"),
        rated("k-2", None, "strange"),
        rated("k-3", "dhsc", "inadequate"),
    ],
)


def test_a_buyer_sees_its_rows_in_full_and_every_other_row_counted_unknown_ones_included() -> None:
    seen = portfolio_as_seen(RECORD, DHSC)

    assert seen.buyer_id == "dhsc"
    assert [c.contract_id for c in seen.contracts] == ["dhsc-1"]
    assert [r.kpi_id for r in seen.latest_ratings] == ["k-3"]
    assert (seen.awards_won, seen.contracts_held) == (1, 1)
    assert seen.milestones == MilestoneTally(not_met=1)
    others = seen.other_buyers
    assert (others.awards_won, others.awards_cancelled, others.contracts_held) == (3, 1, 3)
    # totals of the exact values, per currency: 0.004 + 0.004 is 0.01, not 0.00 + 0.00
    assert others.current_value == [
        ValueTotal(amount="10.00", currency="EUR"),
        ValueTotal(amount="0.01", currency="GBP"),
    ]
    assert others.milestones == MilestoneTally(met_on_time=2, waived=1)
    assert others.latest_ratings == RatingCounts(good=1, other=1)


def test_an_admin_sees_every_row_in_full_and_no_other_buyers() -> None:
    seen = portfolio_as_seen(RECORD, ADMIN)

    assert seen.buyer_id is None
    assert len(seen.contracts) == 4
    assert len(seen.latest_ratings) == 3
    assert (seen.awards_won, seen.awards_cancelled) == (4, 1)
    assert seen.other_buyers == OtherBuyers()


def test_a_performance_warning_names_the_kpi_only_to_the_contracts_buyer_or_an_admin() -> None:
    rating = rated("k-1", "dfe", "inadequate")
    facts = Facts(
        provider_id="p-1",
        name="Tutors Ltd",
        status=ProviderStatus.ACTIVE,
        exclusions=[],
        accreditations=[],
        latest_rating=rating,
    )

    def warning(who: Who | None) -> str:
        decision = decide("p-1", facts, Category.ACADEMIC_MENTORING, date(2023, 5, 1), who)
        [found] = decision.warnings
        return found.message

    assert "KPI 'k-1 name' on contract c" in warning(DFE)
    assert "KPI 'k-1 name' on contract c" in warning(ADMIN)
    assert warning(DHSC).endswith("is Inadequate (on another buyer's contract)")
    assert warning(None).endswith("is Inadequate (on a buyer's contract)")
