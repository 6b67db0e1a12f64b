"""The KPI panel of the ops dashboard (decision 14): each contract's KPIs with their current
rating and its explanation. The part KPIs join when they land: this query function, the
template partial ``ops/_kpis.html`` and the ``worst_kpi`` argument of the RAG rule
(``ops_rag`` in the migration, called by the board's query in ``sql/ops.sql``).

Until then there are no KPIs to read, and the RAG status rests on milestones only."""

from __future__ import annotations

from datetime import date

import msgspec

from procure_contracts.storage.ops import Scope
from procure_shared.postgres import Queries

__all__ = ["RATINGS", "KpiRating", "kpi_ratings"]

# The Procurement Act 2023 (s.71) ratings, best first, with the RAG each gives a contract.
RATINGS: dict[str, str | None] = {
    "good": None,
    "approaching_target": "amber",
    "requires_improvement": "amber",
    "inadequate": "red",
    "other": None,
}


class KpiRating(msgspec.Struct, frozen=True, kw_only=True):
    contract_id: str
    contract_title: str
    kpi: str  # the KPI's title
    rating: str  # a key of RATINGS
    explanation: str | None
    rated_on: date | None


async def kpi_ratings(db: Queries, scope: Scope, *, limit: int = 50) -> list[KpiRating]:
    """The current ratings of the KPIs of the contracts in ``scope``, worst first. None yet:
    the ``kpis`` table is not in this service's database."""
    del db, scope, limit
    return []
