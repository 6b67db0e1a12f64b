"""The milestones feature's table, the notices owed on it, and the filters of its list
(``sql/milestones.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from procure_contracts.milestones.rules import Milestone, NoticeKind
from procure_contracts.storage.lists import Filter, uuid_or_nothing
from procure_shared.db.documents import Documents, Page
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = [
    "MilestoneFilter",
    "by_due_date",
    "claim_owed_notices",
    "due_counts",
    "milestone_page",
    "milestones",
    "milestones_of",
]

Q = load_queries(Path(__file__).parent / "sql" / "milestones.sql")


def _milestone_columns(m: Milestone) -> Mapping[str, Any]:
    return {
        "contract_id": uuid.UUID(m.contract_id),
        "lot_id": m.lot_id,
        "buyer_id": m.buyer_id,
        "kind": m.kind.value,
        "status": m.status.value,
        "title": m.title,
        "due_on": m.due_on,
        "met_on": m.met_on,
        "owed_due_soon": m.due_on if m.owed(NoticeKind.DUE_SOON) else None,
        "owed_overdue": m.due_on if m.owed(NoticeKind.OVERDUE) else None,
        "version": m.version,
        "created_at": m.created_at,
    }


milestones = Documents("milestones", Milestone, _milestone_columns)


async def milestones_of(conn: Queries, contract_id: str, *, buyer: str | None) -> str | None:
    """A contract's milestones by due date, as one JSON array (what the API returns); ``None``
    if ``buyer`` may not see the contract (``None``: every buyer's)."""
    text: str | None = await conn.fetchval(Q.milestones_of, uuid.UUID(contract_id), buyer)
    return text


async def by_due_date(conn: Queries, contract_id: str) -> list[Milestone]:
    """A contract's milestones, the soonest due first (its visibility checked by the caller)."""
    rows = await conn.fetch(Q.by_due_date, uuid.UUID(contract_id))
    return [milestones.decode(row["doc"]) for row in rows]


async def due_counts(
    conn: Queries, *, buyer: str | None, today: date, horizon: date
) -> tuple[int, int]:
    """(overdue, due soon) scheduled milestones, whatever became of their contract: due before
    ``today``, and due from ``today`` to ``horizon``."""
    row = await conn.fetchrow(Q.due_counts, buyer, today, horizon)
    assert row is not None  # an aggregate answers one row
    return int(row["overdue"]), int(row["due_soon"])


async def claim_owed_notices(
    conn: Connection, *, today: date, horizon: date, limit: int
) -> list[tuple[Milestone, list[str]]]:
    """Scheduled milestones owed a notice (overdue: due before ``today``; due soon: due by
    ``horizon``), at most ``limit`` of each, locked (others running at once skip them), with
    their contract's providers. The rows are read as locked, never from an older snapshot."""
    rows = await conn.fetch(Q.claim_owed_notices, today, horizon, limit)
    return [(milestones.decode(row["doc"]), list(row["provider_ids"])) for row in rows]


class MilestoneFilter(Filter, kw_only=True):
    contract_id: str | None = None
    lot_id: str | None = None
    kind: str | None = None
    provider_id: str | None = None  # a supplier of the milestone's contract
    due_from: date | None = None
    due_to: date | None = None


def milestone_page(f: MilestoneFilter) -> Page:
    page = f.page("NULL")  # no value filter
    if f.contract_id is not None:
        page.add("contract_id = {}", uuid_or_nothing(f.contract_id))
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
