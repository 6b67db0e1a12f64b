"""The filters of each list, as SQL over the indexed columns (see the migration)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import msgspec

from procure_contracts.contracts.rules import Contract
from procure_contracts.storage import store
from procure_contracts.tenders.awards_rules import Award
from procure_contracts.tenders.rules import Lot, Tender
from procure_shared.documents import Page, as_uuid
from procure_shared.postgres import Queries

__all__ = [
    "AwardFilter",
    "ContractFilter",
    "LotFilter",
    "MilestoneFilter",
    "ObservationFilter",
    "TenderFilter",
    "awards",
    "contracts",
    "lots",
    "milestone_page",
    "observation_page",
    "tenders",
]


class _Filter(msgspec.Struct, kw_only=True):
    buyer: str | None  # None: every buyer's (admin)
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50
    search: str | None = None
    status: str | None = None
    value_min: Decimal | None = None
    value_max: Decimal | None = None

    def page(self, value_column: str) -> Page:
        page = Page(after=self.after, limit=self.limit)
        if self.buyer is not None:
            page.add("buyer_id = {}", self.buyer)
        if self.status is not None:
            page.add("status = {}", self.status)
        if self.search:
            page.add("search @@ websearch_to_tsquery('english', {})", self.search)
        if self.value_min is not None:
            page.add(f"{value_column} >= {{}}", self.value_min)
        if self.value_max is not None:
            page.add(f"{value_column} <= {{}}", self.value_max)
        return page


class TenderFilter(_Filter, kw_only=True):
    category: str | None = None  # has a lot in this category
    deadline_from: datetime | None = None
    deadline_to: datetime | None = None


class LotFilter(_Filter, kw_only=True):
    tender_id: str
    category: str | None = None


class AwardFilter(_Filter, kw_only=True):
    tender_id: str | None = None
    lot_id: str | None = None
    provider_id: str | None = None
    decided_from: datetime | None = None
    decided_to: datetime | None = None
    now: datetime  # pending/active follow the clock


class ContractFilter(_Filter, kw_only=True):
    category: str | None = None
    provider_id: str | None = None
    tender_id: str | None = None
    lot_id: str | None = None
    flagged: bool | None = None
    starts_from: date | None = None
    starts_to: date | None = None
    ends_from: date | None = None
    ends_to: date | None = None


class MilestoneFilter(_Filter, kw_only=True):
    contract_id: str | None = None
    lot_id: str | None = None
    kind: str | None = None
    provider_id: str | None = None  # a supplier of the milestone's contract
    due_from: date | None = None
    due_to: date | None = None


def _uuid(text: str) -> uuid.UUID:
    # An id that is no UUID names nothing: this one matches no row.
    return as_uuid(text) or uuid.UUID(int=0)


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
    page.add("tender_id = {}", _uuid(f.tender_id))
    if f.category is not None:
        page.add("category = {}", f.category)
    return page


async def awards(conn: Queries, f: AwardFilter) -> list[Award]:
    status, f.status = f.status, None
    page = f.page("value_amount")
    if status == "cancelled":
        page.add("cancelled")
    elif status == "pending":
        page.add("NOT cancelled AND standstill_ends > {}", f.now)
    elif status == "active":
        page.add("NOT cancelled AND standstill_ends <= {}", f.now)
    if f.tender_id is not None:
        page.add("tender_id = {}", _uuid(f.tender_id))
    if f.lot_id is not None:
        page.add("lot_id = {}", _uuid(f.lot_id))
    if f.provider_id is not None:
        page.add("provider_id = {}", f.provider_id)
    if f.decided_from is not None:
        page.add("decided_at >= {}", f.decided_from)
    if f.decided_to is not None:
        page.add("decided_at <= {}", f.decided_to)
    return [a.seen_at(f.now) for a in await store.awards.page(conn, page)]


def contract_page(f: ContractFilter) -> Page:
    page = f.page("current_amount")
    if f.category is not None:
        page.add("categories @> ARRAY[{}::text]", f.category)
    if f.provider_id is not None:
        page.add("provider_ids @> ARRAY[{}::text]", f.provider_id)
    if f.tender_id is not None:
        page.add("tender_ids @> ARRAY[{}::text]", f.tender_id)
    if f.lot_id is not None:
        page.add("lot_ids @> ARRAY[{}::text]", f.lot_id)
    if f.flagged is not None:
        page.add("flagged = {}", f.flagged)
    for column, low, high in (
        ("starts_on", f.starts_from, f.starts_to),
        ("ends_on", f.ends_from, f.ends_to),
    ):
        if low is not None:
            page.add(f"{column} >= {{}}", low)
        if high is not None:
            page.add(f"{column} <= {{}}", high)
    return page


async def tenders(conn: Queries, f: TenderFilter) -> list[Tender]:
    return await store.tenders.page(conn, tender_page(f))


async def lots(conn: Queries, f: LotFilter) -> list[Lot]:
    return await store.lots.page(conn, lot_page(f))


async def contracts(conn: Queries, f: ContractFilter) -> list[Contract]:
    return await store.contracts.page(conn, contract_page(f))


def milestone_page(f: MilestoneFilter) -> Page:
    page = f.page("NULL")  # no value filter
    if f.contract_id is not None:
        page.add("contract_id = {}", _uuid(f.contract_id))
    if f.lot_id is not None:
        page.add("lot_id = {}", f.lot_id)
    if f.kind is not None:
        page.add("kind = {}", f.kind)
    if f.provider_id is not None:
        page.add(
            "contract_id IN (SELECT c.id FROM contracts c WHERE c.provider_ids @> ARRAY[{}::text])",
            f.provider_id,
        )
    if f.due_from is not None:
        page.add("due_on >= {}", f.due_from)
    if f.due_to is not None:
        page.add("due_on <= {}", f.due_to)
    return page


class ObservationFilter(msgspec.Struct, kw_only=True):
    kpi_id: str  # a KPI the reader may see
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50
    dimension_value: str | None = None
    ends_from: date | None = None
    ends_to: date | None = None


def observation_page(f: ObservationFilter) -> Page:
    """A KPI's observations, the latest recorded first."""
    page = Page(after=f.after, limit=f.limit)
    page.add("kpi_id = {}", _uuid(f.kpi_id))
    if f.dimension_value is not None:
        page.add("dimension_value = {}", f.dimension_value)
    if f.ends_from is not None:
        page.add("period_end >= {}", f.ends_from)
    if f.ends_to is not None:
        page.add("period_end <= {}", f.ends_to)
    return page
