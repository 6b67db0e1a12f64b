"""The track record read model: one row per award, contract, milestone and KPI per provider,
each holding the latest state its events gave it. Rows are keyed by the aggregate the events
are about, and the consumer applies each aggregate's events in sequence, so the same events give
the same track record whatever order the aggregates arrive in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from procure_providers.domain.buyers import Who
from procure_providers.domain.portfolio import (
    AwardTally,
    BuyerMilestones,
    ContractHeld,
    LatestRating,
    MilestoneTally,
    Portfolio,
    TrackedContract,
    TrackRecord,
    ValueTotal,
    as_seen,
)
from procure_providers.storage.keys import Row
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries
from procure_shared.events.contracts import (
    AwardCancelled,
    AwardMade,
    ContractClosed,
    ContractData,
    KpiRatingChanged,
    MilestoneSettled,
)

__all__ = [
    "close_contract",
    "portfolio",
    "record_award",
    "record_award_cancelled",
    "record_contract",
    "record_milestone",
    "record_rating",
    "track_record",
]

Q = load_queries(Path(__file__).parent / "sql" / "track_record.sql")


async def record_award(conn: Connection, award: AwardMade, buyer_id: str | None = None) -> None:
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
        buyer_id,
    )


async def record_award_cancelled(
    conn: Connection, award: AwardCancelled, buyer_id: str | None = None
) -> None:
    await conn.execute(
        Q.cancel_award, award.award_id, award.provider_id, award.tender_id, award.lot_id, buyer_id
    )


async def record_contract(
    conn: Connection, contract: ContractData, buyer_id: str | None = None
) -> None:
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
        buyer_id,
    )


async def close_contract(
    conn: Connection, closed: ContractClosed, buyer_id: str | None = None
) -> None:
    await conn.execute(
        Q.close_contract, closed.contract_id, closed.provider_ids, closed.status, buyer_id
    )


async def record_milestone(
    conn: Connection, milestone: MilestoneSettled, buyer_id: str | None = None
) -> None:
    await conn.execute(
        Q.upsert_milestone,
        milestone.milestone_id,
        milestone.provider_ids,
        milestone.contract_id,
        milestone.title,
        milestone.status,
        milestone.due_on,
        milestone.met_on,
        buyer_id,
    )


async def record_rating(
    conn: Connection, rating: KpiRatingChanged, buyer_id: str | None = None
) -> None:
    await conn.execute(
        Q.upsert_rating,
        rating.kpi_id,
        rating.provider_ids,
        rating.contract_id,
        rating.name,
        rating.rating,
        rating.period_end,
        rating.rated_at,
        buyer_id,
    )


def latest_rating(row: Row) -> LatestRating:
    return LatestRating(
        kpi_id=row["kpi_id"],
        name=row["name"],
        contract_id=row["contract_id"],
        rating=row["rating"],
        period_end=row["period_end"],
        buyer_id=row["buyer_id"],
    )


def _money(amount: Decimal | None, currency: str | None) -> ValueTotal | None:
    if amount is None or currency is None:
        return None
    return ValueTotal(amount=f"{amount:.2f}", currency=currency)


async def track_record(conn: Connection, provider_id: str) -> TrackRecord:
    """Everything the track record holds of the provider, every buyer's."""
    awards = await conn.fetch(Q.awards, provider_id)
    contracts = await conn.fetch(Q.contracts, provider_id)
    milestones = await conn.fetch(Q.milestones, provider_id)
    ratings = await conn.fetch(Q.ratings, provider_id)
    return TrackRecord(
        provider_id=provider_id,
        awards=[
            AwardTally(buyer_id=row["buyer_id"], won=row["won"], cancelled=row["cancelled"])
            for row in awards
        ],
        contracts=[
            TrackedContract(
                held=ContractHeld(
                    contract_id=row["contract_id"],
                    title=row["title"],
                    status=row["status"],
                    value=_money(row["amount"], row["currency"]),
                    starts_on=row["starts_on"],
                    ends_on=row["ends_on"],
                    buyer_id=row["buyer_id"],
                ),
                amount=row["amount"] if row["currency"] is not None else None,
            )
            for row in contracts
        ],
        milestones=[
            BuyerMilestones(
                buyer_id=row["buyer_id"],
                tally=MilestoneTally(
                    met_on_time=row["on_time"],
                    met_late=row["late"],
                    not_met=row["not_met"],
                    waived=row["waived"],
                ),
            )
            for row in milestones
        ],
        ratings=[latest_rating(row) for row in ratings],
    )


async def portfolio(conn: Connection, provider_id: str, who: Who) -> Portfolio:
    """The provider's portfolio as ``who`` may see it."""
    return as_seen(await track_record(conn, provider_id), who)
