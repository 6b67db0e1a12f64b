"""The tenders feature's tables: tenders, their lots and the awards of each lot, and the filters
of their lists (``sql/tenders.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from procure_contracts.domain.money import amount_of
from procure_contracts.storage.lists import Filter, uuid_or_nothing
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.rules import Lot, Tender
from procure_shared.db.documents import Documents, Page
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries
from procure_shared.errors import Duplicate

__all__ = [
    "AwardFilter",
    "LotFilter",
    "TenderFilter",
    "awards",
    "contract_holding",
    "insert_awards",
    "list_awards",
    "list_tenders",
    "live_awards",
    "lot_award_ids",
    "lot_page",
    "lots",
    "lots_of",
    "tender_page",
    "tenders",
]

Q = load_queries(Path(__file__).parent / "sql" / "tenders.sql")


def _tender_columns(t: Tender) -> Mapping[str, Any]:
    return {
        "buyer_id": t.buyer_id,
        "status": t.status.value,
        "title": t.title,
        "description": t.description,
        "value_amount": amount_of(t.value),
        "submission_deadline": t.submission_deadline,
        "version": t.version,
        "created_at": t.created_at,
    }


def _lot_columns(lot: Lot) -> Mapping[str, Any]:
    return {
        "tender_id": uuid.UUID(lot.tender_id),
        "buyer_id": lot.buyer_id,
        "status": lot.status.value,
        "category": lot.category.value,
        "title": lot.title,
        "description": lot.description,
        "value_amount": amount_of(lot.value),
        "version": lot.version,
        "created_at": lot.created_at,
    }


def _award_columns(a: Award) -> Mapping[str, Any]:
    return {
        "tender_id": uuid.UUID(a.tender_id),
        "lot_id": uuid.UUID(a.lot_id),
        "buyer_id": a.buyer_id,
        "provider_id": a.provider_id,
        "cancelled": a.status is AwardStatus.CANCELLED,
        "standstill_ends": a.standstill_ends,
        "decided_at": a.date,
        "value_amount": amount_of(a.value),
        "version": a.version,
        "created_at": a.created_at,
    }


tenders = Documents("tenders", Tender, _tender_columns)
lots = Documents("lots", Lot, _lot_columns)
awards = Documents("awards", Award, _award_columns)


async def lots_of(conn: Connection, tender_id: str, *, for_update: bool = False) -> list[Lot]:
    rows = await conn.fetch(Q.lots_of_locked if for_update else Q.lots_of, uuid.UUID(tender_id))
    return [lots.decode(row["doc"]) for row in rows]


async def live_awards(conn: Connection, lot_id: str) -> list[Award]:
    rows = await conn.fetch(Q.live_awards, uuid.UUID(lot_id))
    return [awards.decode(row["doc"]) for row in rows]


async def lot_award_ids(conn: Connection, lot_id: str) -> list[str]:
    return [row["id"] for row in await conn.fetch(Q.lot_award_ids, uuid.UUID(lot_id))]


async def insert_awards(conn: Connection, made: Sequence[Award]) -> None:
    """Insert awards; a provider that meanwhile got a live award of the lot is refused (409)."""
    try:
        async with conn.transaction():
            for award in made:
                await awards.insert(conn, award)
    except asyncpg.UniqueViolationError:
        raise Duplicate(
            "one of these providers was awarded the lot meanwhile", title="Already awarded"
        ) from None


async def contract_holding(conn: Connection, award_id: str) -> str | None:
    """A live (pending or active) contract resting on the award, if any."""
    return await conn.fetchval(Q.contract_holding, uuid.UUID(award_id))  # type: ignore[no-any-return]


class TenderFilter(Filter, kw_only=True):
    category: str | None = None  # has a lot in this category
    deadline_from: datetime | None = None
    deadline_to: datetime | None = None


class LotFilter(Filter, kw_only=True):
    tender_id: str
    category: str | None = None


class AwardFilter(Filter, kw_only=True):
    tender_id: str | None = None
    lot_id: str | None = None
    provider_id: str | None = None
    decided_from: datetime | None = None
    decided_to: datetime | None = None
    now: datetime  # pending/active follow the clock


def tender_page(f: TenderFilter) -> Page:
    page = f.page("value_amount")
    if f.category is not None:
        page.add(
            "EXISTS (SELECT 1 FROM lots l WHERE l.tender_id = tenders.id AND l.category = {})",
            f.category,
        )
    if f.deadline_from is not None:
        page.add("submission_deadline >= {}", f.deadline_from)
    if f.deadline_to is not None:
        page.add("submission_deadline <= {}", f.deadline_to)
    return page


def lot_page(f: LotFilter) -> Page:
    page = f.page("value_amount")
    page.add("tender_id = {}", uuid_or_nothing(f.tender_id))
    if f.category is not None:
        page.add("category = {}", f.category)
    return page


async def list_tenders(conn: Queries, f: TenderFilter) -> list[Tender]:
    return await tenders.page(conn, tender_page(f))


async def list_awards(conn: Queries, f: AwardFilter) -> list[Award]:
    status, f.status = f.status, None
    page = f.page("value_amount")
    if status == "cancelled":
        page.add("cancelled")
    elif status == "pending":
        page.add("NOT cancelled AND standstill_ends > {}", f.now)
    elif status == "active":
        page.add("NOT cancelled AND standstill_ends <= {}", f.now)
    if f.tender_id is not None:
        page.add("tender_id = {}", uuid_or_nothing(f.tender_id))
    if f.lot_id is not None:
        page.add("lot_id = {}", uuid_or_nothing(f.lot_id))
    if f.provider_id is not None:
        page.add("provider_id = {}", f.provider_id)
    if f.decided_from is not None:
        page.add("decided_at >= {}", f.decided_from)
    if f.decided_to is not None:
        page.add("decided_at <= {}", f.decided_to)
    return [a.seen_at(f.now) for a in await awards.page(conn, page)]
