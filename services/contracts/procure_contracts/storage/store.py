"""The contracts service's repositories: the aggregate tables, the links between awards and
contracts, and the provider directory (the read model of the providers' events)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import asyncpg

from procure_contracts.contracts.rules import Contract
from procure_contracts.kpis.rules import Kpi, Observation
from procure_contracts.milestones.rules import Milestone, NoticeKind
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.rules import Lot, Tender
from procure_shared.documents import Documents
from procure_shared.errors import Duplicate
from procure_shared.postgres import Connection, Queries

__all__ = [
    "awards",
    "claim_owed_notices",
    "contract_holding",
    "contract_kpis",
    "contracts",
    "insert_awards",
    "kpi_count",
    "kpis",
    "kpis_of",
    "latest_observations",
    "link_awards",
    "live_awards",
    "lot_award_ids",
    "lots",
    "lots_of",
    "milestones",
    "milestones_of",
    "observations",
    "observations_ending",
    "provider_by_identifier",
    "provider_names",
    "record_provider",
    "tenders",
]


def _amount(value: Any) -> Any:
    return None if value is None else value.amount


def _tender_columns(t: Tender) -> Mapping[str, Any]:
    return {
        "buyer_id": t.buyer_id,
        "status": t.status.value,
        "title": t.title,
        "description": t.description,
        "value_amount": _amount(t.value),
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
        "value_amount": _amount(lot.value),
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
        "value_amount": _amount(a.value),
        "version": a.version,
        "created_at": a.created_at,
    }


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
        "current_amount": _amount(c.current_value),
        "starts_on": c.starts_on,
        "ends_on": c.ends_on,
        "flagged": c.threshold_exceeded,
        "version": c.version,
        "created_at": c.created_at,
    }


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


tenders = Documents("tenders", Tender, _tender_columns)
lots = Documents("lots", Lot, _lot_columns)
awards = Documents("awards", Award, _award_columns)
contracts = Documents("contracts", Contract, _contract_columns)
milestones = Documents("milestones", Milestone, _milestone_columns)
kpis = Documents("kpis", Kpi, _kpi_columns)
observations = Documents("kpi_observations", Observation, _observation_columns)


async def lots_of(conn: Connection, tender_id: str, *, for_update: bool = False) -> list[Lot]:
    lock = " FOR UPDATE" if for_update else ""
    rows = await conn.fetch(
        f"SELECT doc::text AS doc FROM lots WHERE tender_id = $1 ORDER BY created_at, id{lock}",
        uuid.UUID(tender_id),
    )
    return [lots.decode(row["doc"]) for row in rows]


async def milestones_of(conn: Queries, contract_id: str, *, buyer: str | None) -> str | None:
    """A contract's milestones by due date, as one JSON array (what the API returns); ``None``
    if ``buyer`` may not see the contract (``None``: every buyer's)."""
    text: str | None = await conn.fetchval(
        "SELECT (SELECT coalesce(json_agg(m.doc ORDER BY m.due_on, m.created_at, m.id), '[]') "
        "FROM milestones m WHERE m.contract_id = c.id)::text "
        "FROM contracts c WHERE c.id = $1 AND ($2::text IS NULL OR c.buyer_id = $2)",
        uuid.UUID(contract_id),
        buyer,
    )
    return text


async def claim_owed_notices(
    conn: Connection, *, today: date, horizon: date, limit: int
) -> list[tuple[Milestone, list[str]]]:
    """Scheduled milestones owed a notice (overdue: due before ``today``; due soon: due by
    ``horizon``), at most ``limit`` of each, locked (others running at once skip them), with
    their contract's providers. The rows are read as locked, never from an older snapshot."""
    rows = await conn.fetch(
        "WITH late AS (SELECT contract_id, doc FROM milestones WHERE owed_overdue < $1 "
        "  ORDER BY owed_overdue LIMIT $3 FOR UPDATE SKIP LOCKED), "
        "soon AS (SELECT contract_id, doc FROM milestones "
        "  WHERE owed_due_soon >= $1 AND owed_due_soon <= $2 "
        "  ORDER BY owed_due_soon LIMIT $3 FOR UPDATE SKIP LOCKED), "
        "owed AS (SELECT * FROM late UNION ALL SELECT * FROM soon) "
        "SELECT owed.doc::text AS doc, c.provider_ids "
        "FROM owed JOIN contracts c ON c.id = owed.contract_id",
        today,
        horizon,
        limit,
    )
    return [(milestones.decode(row["doc"]), list(row["provider_ids"])) for row in rows]


async def kpis_of(conn: Queries, contract_id: str, *, buyer: str | None) -> str | None:
    """A contract's KPIs in the order they were defined, as one JSON array; ``None`` if
    ``buyer`` may not see the contract (``None``: every buyer's)."""
    text: str | None = await conn.fetchval(
        "SELECT (SELECT coalesce(json_agg(k.doc ORDER BY k.created_at, k.id), '[]') "
        "FROM kpis k WHERE k.contract_id = c.id)::text "
        "FROM contracts c WHERE c.id = $1 AND ($2::text IS NULL OR c.buyer_id = $2)",
        uuid.UUID(contract_id),
        buyer,
    )
    return text


async def contract_kpis(conn: Queries, contract_id: str) -> list[Kpi]:
    rows = await conn.fetch(
        "SELECT doc::text AS doc FROM kpis WHERE contract_id = $1 ORDER BY created_at, id",
        uuid.UUID(contract_id),
    )
    return [kpis.decode(row["doc"]) for row in rows]


async def kpi_count(conn: Queries, contract_id: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM kpis WHERE contract_id = $1", uuid.UUID(contract_id)
    )
    return count


async def latest_observations(conn: Queries, kpi_id: str) -> list[Observation]:
    """The observations of a KPI's latest period (latest end, then start), in the order they
    were recorded."""
    rows = await conn.fetch(
        "SELECT doc::text AS doc FROM kpi_observations WHERE kpi_id = $1 "
        "AND (period_end, period_start) = (SELECT period_end, period_start "
        "FROM kpi_observations WHERE kpi_id = $1 "
        "ORDER BY period_end DESC, period_start DESC LIMIT 1) ORDER BY number",
        uuid.UUID(kpi_id),
    )
    return [observations.decode(row["doc"]) for row in rows]


async def observations_ending(
    conn: Queries, contract_id: str, start: date, end: date
) -> list[Observation]:
    """The observations of a contract's KPIs for periods ending from ``start`` to ``end``, each
    KPI's in the order they were recorded."""
    rows = await conn.fetch(
        "SELECT o.doc::text AS doc FROM kpi_observations o JOIN kpis k ON k.id = o.kpi_id "
        "WHERE k.contract_id = $1 AND o.period_end BETWEEN $2 AND $3 "
        "ORDER BY o.kpi_id, o.number",
        uuid.UUID(contract_id),
        start,
        end,
    )
    return [observations.decode(row["doc"]) for row in rows]


async def live_awards(conn: Connection, lot_id: str) -> list[Award]:
    rows = await conn.fetch(
        "SELECT doc::text AS doc FROM awards WHERE lot_id = $1 AND NOT cancelled "
        "ORDER BY created_at, id",
        uuid.UUID(lot_id),
    )
    return [awards.decode(row["doc"]) for row in rows]


async def lot_award_ids(conn: Connection, lot_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id::text FROM awards WHERE lot_id = $1 AND NOT cancelled ORDER BY created_at, id",
        uuid.UUID(lot_id),
    )
    return [row["id"] for row in rows]


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


async def link_awards(conn: Connection, contract_id: str, award_ids: Sequence[str]) -> None:
    await conn.execute(
        "INSERT INTO contract_awards (contract_id, award_id) "
        "SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
        uuid.UUID(contract_id),
        [uuid.UUID(a) for a in award_ids],
    )


async def contract_holding(conn: Connection, award_id: str) -> str | None:
    """A live (pending or active) contract resting on the award, if any."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT c.id::text FROM contract_awards l JOIN contracts c ON c.id = l.contract_id "
        "WHERE l.award_id = $1 AND c.status IN ('pending', 'active') LIMIT 1",
        uuid.UUID(award_id),
    )


async def provider_names(conn: Queries, provider_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT id, legal_name FROM provider_directory WHERE id = ANY($1::text[])",
        list(provider_ids),
    )
    return {row["id"]: row["legal_name"] for row in rows}


async def provider_by_identifier(conn: Connection, identifier: str) -> str | None:
    """The id of the provider holding ``identifier`` (``scheme:id``), as the read model knows."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT id FROM provider_directory WHERE identifiers @> ARRAY[$1::text]", identifier
    )


async def record_provider(
    conn: Connection,
    provider_id: str,
    legal_name: str,
    identifiers: Sequence[str],
    status: str,
    version: int,
) -> None:
    """Keep the newest version of a provider (events may arrive again, never older ones)."""
    await conn.execute(
        "INSERT INTO provider_directory (id, legal_name, identifiers, status, version) "
        "VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (id) DO UPDATE SET legal_name = $2, identifiers = $3, status = $4, "
        "version = $5 WHERE provider_directory.version < $5",
        provider_id,
        legal_name,
        list(identifiers),
        status,
        version,
    )
