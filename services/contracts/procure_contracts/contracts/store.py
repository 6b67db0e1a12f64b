"""The contracts feature's tables: contracts and the awards each rests on, and the filters of
their list (``sql/contracts.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from procure_contracts.contracts.rules import Contract
from procure_contracts.domain.money import amount_of
from procure_contracts.storage.lists import Filter
from procure_shared.db.documents import Documents, Page
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = ["ContractFilter", "contract_page", "contracts", "kpi_count", "link_awards"]

Q = load_queries(Path(__file__).parent / "sql" / "contracts.sql")


def _contract_columns(c: Contract) -> Mapping[str, Any]:
    return {
        "buyer_id": c.buyer_id,
        "status": c.status.value,
        "title": c.title,
        "description": c.description,
        "categories": list(c.categories),
        "provider_ids": c.provider_ids,
        "lot_ids": list(c.lot_ids),
        "tender_ids": list(c.tender_ids),
        "current_amount": amount_of(c.current_value),
        "starts_on": c.starts_on,
        "ends_on": c.ends_on,
        "flagged": c.threshold_exceeded,
        "version": c.version,
        "created_at": c.created_at,
    }


contracts = Documents("contracts", Contract, _contract_columns)


async def link_awards(conn: Connection, links: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Rest each contract on its awards, (contract id, award ids) a pair, in one statement
    (links already there stay)."""
    pairs = [(uuid.UUID(c), uuid.UUID(a)) for c, awards in links for a in awards]
    if not pairs:
        return
    await conn.execute(Q.link_awards, [c for c, _ in pairs], [a for _, a in pairs])


async def kpi_count(conn: Queries, contract_id: str) -> int:
    count: int = await conn.fetchval(Q.kpi_count, uuid.UUID(contract_id))
    return count


class ContractFilter(Filter, kw_only=True):
    category: str | None = None
    provider_id: str | None = None
    tender_id: str | None = None
    lot_id: str | None = None
    flagged: bool | None = None
    starts_from: date | None = None
    starts_to: date | None = None
    ends_from: date | None = None
    ends_to: date | None = None


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
