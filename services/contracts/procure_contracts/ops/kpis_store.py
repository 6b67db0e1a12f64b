"""The KPI panel of the ops dashboard (decision 14): the current rating of each KPI of the
viewer's contracts, worst first, with its explanation. The same ratings join the RAG rule
(``ops_rag``, through the board's query in ``sql/ops.sql``): Inadequate makes a live contract
red, Requires improvement or Approaching target amber."""

from __future__ import annotations

from datetime import date

import msgspec

from procure_contracts.ops.store import Q, Scope, planned
from procure_shared.db.postgres import Queries

__all__ = ["RATINGS", "KpiRating", "kpi_ratings"]

# The Procurement Act 2023 (s.71) ratings, best first, with the RAG each gives a contract.
RATINGS: dict[str, str | None] = {
    "good": None,
    "approaching_target": "amber",
    "requires_improvement": "amber",
    "inadequate": "red",
    "other": None,
}


class KpiRating(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    contract_id: str
    contract_title: str
    kpi: str  # the KPI's name
    rating: str  # a key of RATINGS
    explanation: str | None
    rated_on: date | None


async def kpi_ratings(db: Queries, scope: Scope, *, limit: int = 50) -> list[KpiRating]:
    """The current ratings of the KPIs of the contracts in ``scope``, worst first."""
    text: str = await planned(db, Q.kpi_ratings, scope.buyer, scope.provider, scope.status, limit)
    return _ratings.decode(text)


_ratings = msgspec.json.Decoder(list[KpiRating])
