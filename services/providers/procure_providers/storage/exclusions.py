"""Exclusions (debarment) of providers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from procure_providers.domain.exclusions import Exclusion
from procure_providers.storage.keys import Row, as_uuid
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries

__all__ = ["get", "insert", "locked", "of_provider", "save"]

Q = load_queries(Path(__file__).parent / "sql" / "exclusions.sql")


def exclusion(row: Row) -> Exclusion:
    return Exclusion(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        ground=row["ground"],
        source=row["source"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        lifted_on=row["lifted_on"],
        lift_reason=row["lift_reason"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _columns(e: Exclusion) -> tuple[Any, ...]:
    return (
        uuid.UUID(e.id),
        uuid.UUID(e.provider_id),
        e.ground,
        e.source,
        e.starts_on,
        e.ends_on,
        e.lifted_on,
        e.lift_reason,
        e.version,
        e.created_at,
        e.updated_at,
    )


async def get(conn: Connection, id: str, *, for_update: bool = False) -> Exclusion | None:
    key = as_uuid(id)
    if key is None:
        return None
    row = await conn.fetchrow(Q.get_for_update if for_update else Q.get, key)
    return exclusion(row) if row is not None else None


async def insert(conn: Connection, e: Exclusion, *, buyer_id: str | None) -> None:
    """Store a new exclusion, recorded by ``buyer_id``'s actor (None: no buyer's)."""
    await conn.execute(Q.insert, *_columns(e), buyer_id)


async def locked(conn: Connection, id: str) -> tuple[Exclusion, str | None] | None:
    """The exclusion locked for update, and the buyer that recorded it (None: none did)."""
    key = as_uuid(id)
    if key is None:
        return None
    row = await conn.fetchrow(Q.get_for_update, key)
    return (exclusion(row), row["buyer_id"]) if row is not None else None


async def save(conn: Connection, e: Exclusion) -> None:
    if await conn.execute(Q.update, *_columns(e)) != "UPDATE 1":
        raise RuntimeError(f"exclusion {e.id} changed under a row lock")


async def of_provider(conn: Connection, provider_id: str) -> list[Exclusion]:
    return [exclusion(row) for row in await conn.fetch(Q.of_provider, uuid.UUID(provider_id))]
