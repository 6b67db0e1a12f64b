"""The KPIs feature's tables: KPIs and their observations, and the filters of the observations'
list (``sql/kpis.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec

from procure_contracts.kpis.rules import Kpi, Observation
from procure_contracts.storage.lists import uuid_or_nothing
from procure_shared.db.documents import Documents, Page
from procure_shared.db.postgres import Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = [
    "ObservationFilter",
    "contract_kpis",
    "kpis",
    "kpis_of",
    "latest_observations",
    "observation_page",
    "observations",
    "observations_ending",
]

Q = load_queries(Path(__file__).parent / "sql" / "kpis.sql")


def _kpi_columns(k: Kpi) -> Mapping[str, Any]:
    return {
        "contract_id": uuid.UUID(k.contract_id),
        "lot_id": k.lot_id,
        "buyer_id": k.buyer_id,
        "name": k.name,
        "rating": k.rating.rating,
        "version": k.version,
        "created_at": k.created_at,
    }


def _observation_columns(o: Observation) -> Mapping[str, Any]:
    return {
        "kpi_id": uuid.UUID(o.kpi_id),
        "number": o.number,
        "buyer_id": o.buyer_id,
        "period_start": o.period_start,
        "period_end": o.period_end,
        "dimension_value": o.dimension_value,
        "created_at": o.recorded_at,
    }


kpis = Documents("kpis", Kpi, _kpi_columns)
observations = Documents("kpi_observations", Observation, _observation_columns)


async def kpis_of(conn: Queries, contract_id: str, *, buyer: str | None) -> str | None:
    """A contract's KPIs in the order they were defined, as one JSON array; ``None`` if
    ``buyer`` may not see the contract (``None``: every buyer's)."""
    text: str | None = await conn.fetchval(Q.kpis_of, uuid.UUID(contract_id), buyer)
    return text


async def contract_kpis(conn: Queries, contract_id: str) -> list[Kpi]:
    rows = await conn.fetch(Q.contract_kpis, uuid.UUID(contract_id))
    return [kpis.decode(row["doc"]) for row in rows]


async def latest_observations(conn: Queries, kpi_id: str) -> list[Observation]:
    """The observations of a KPI's latest period (latest end, then start), in the order they
    were recorded."""
    rows = await conn.fetch(Q.latest_observations, uuid.UUID(kpi_id))
    return [observations.decode(row["doc"]) for row in rows]


async def observations_ending(
    conn: Queries, contract_id: str, start: date, end: date
) -> list[Observation]:
    """The observations of a contract's KPIs for periods ending from ``start`` to ``end``, each
    KPI's in the order they were recorded."""
    rows = await conn.fetch(Q.observations_ending, uuid.UUID(contract_id), start, end)
    return [observations.decode(row["doc"]) for row in rows]


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
    page.add("kpi_id = {}", uuid_or_nothing(f.kpi_id))
    if f.dimension_value is not None:
        page.add("dimension_value = {}", f.dimension_value)
    if f.ends_from is not None:
        page.add("period_end >= {}", f.ends_from)
    if f.ends_to is not None:
        page.add("period_end <= {}", f.ends_to)
    return page
