"""The track record read model: one row per award, contract, milestone and KPI per provider,
each holding the latest state its events gave it. Rows are keyed by the aggregate the events
are about, and the consumer applies each aggregate's events in sequence, so the same events give
the same track record whatever order the aggregates arrive in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from procure_providers.domain.portfolio import (
    ContractHeld,
    LatestRating,
    MilestoneTally,
    Portfolio,
    ValueTotal,
)
from procure_providers.storage.keys import Row
from procure_shared.events.contracts import (
    AwardCancelled,
    AwardMade,
    ContractClosed,
    ContractData,
    KpiRatingChanged,
    MilestoneSettled,
)
from procure_shared.postgres import Connection
from procure_shared.sqlfiles import load_queries

__all__ = [
    "close_contract",
    "portfolio",
    "record_award",
    "record_award_cancelled",
    "record_contract",
    "record_milestone",
    "record_rating",
]

Q = load_queries(Path(__file__).parent / "sql" / "track_record.sql")
HELD = ("pending", "active")


async def record_award(conn: Connection, award: AwardMade) -> None:
    value = award.value
    await conn.execute(
        Q.upsert_award,
        award.award_id,
        award.provider_id,
        award.tender_id,
        award.lot_id,
        award.category,
        value.amount if value else None,
        value.currency if value else None,
        award.date,
    )


async def record_award_cancelled(conn: Connection, award: AwardCancelled) -> None:
    await conn.execute(
        Q.cancel_award, award.award_id, award.provider_id, award.tender_id, award.lot_id
    )


async def record_contract(conn: Connection, contract: ContractData) -> None:
    value = contract.value
    await conn.execute(
        Q.upsert_contract,
        contract.contract_id,
        contract.provider_ids,
        contract.title,
        contract.status,
        value.amount if value else None,
        value.currency if value else None,
        contract.starts_on,
        contract.ends_on,
    )


async def close_contract(conn: Connection, closed: ContractClosed) -> None:
    await conn.execute(Q.close_contract, closed.contract_id, closed.provider_ids, closed.status)


async def record_milestone(conn: Connection, milestone: MilestoneSettled) -> None:
    await conn.execute(
        Q.upsert_milestone,
        milestone.milestone_id,
        milestone.provider_ids,
        milestone.contract_id,
        milestone.title,
        milestone.status,
        milestone.due_on,
        milestone.met_on,
    )


async def record_rating(conn: Connection, rating: KpiRatingChanged) -> None:
    await conn.execute(
        Q.upsert_rating,
        rating.kpi_id,
        rating.provider_ids,
        rating.contract_id,
        rating.name,
        rating.rating,
        rating.period_end,
        rating.rated_at,
    )


def latest_rating(row: Row) -> LatestRating:
    return LatestRating(
        kpi_id=row["kpi_id"],
        name=row["name"],
        contract_id=row["contract_id"],
        rating=row["rating"],
        period_end=row["period_end"],
    )


def _money(amount: Decimal | None, currency: str | None) -> ValueTotal | None:
    if amount is None or currency is None:
        return None
    return ValueTotal(amount=f"{amount:.2f}", currency=currency)


async def portfolio(conn: Connection, provider_id: str) -> Portfolio:
    awards = await conn.fetchrow(Q.awards, provider_id)
    assert awards is not None  # an aggregate without GROUP BY gives one row
    contracts = await conn.fetch(Q.contracts, provider_id)
    tally = await conn.fetchrow(Q.milestones, provider_id)
    assert tally is not None
    ratings = await conn.fetch(Q.ratings, provider_id)
    totals: dict[str, Decimal] = {}
    for row in contracts:
        if row["status"] in HELD and row["amount"] is not None:
            totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + row["amount"]
    return Portfolio(
        provider_id=provider_id,
        awards_won=awards["won"],
        awards_cancelled=awards["cancelled"],
        contracts_held=sum(1 for row in contracts if row["status"] in HELD),
        contracts_completed=sum(1 for row in contracts if row["status"] == "completed"),
        contracts_terminated=sum(1 for row in contracts if row["status"] == "terminated"),
        current_value=[
            ValueTotal(amount=f"{amount:.2f}", currency=currency)
            for currency, amount in sorted(totals.items())
        ],
        contracts=[
            ContractHeld(
                contract_id=row["contract_id"],
                title=row["title"],
                status=row["status"],
                value=_money(row["amount"], row["currency"]),
                starts_on=row["starts_on"],
                ends_on=row["ends_on"],
            )
            for row in contracts
        ],
        milestones=MilestoneTally(
            met_on_time=tally["on_time"],
            met_late=tally["late"],
            not_met=tally["not_met"],
            waived=tally["waived"],
        ),
        latest_ratings=[latest_rating(row) for row in ratings],
    )
