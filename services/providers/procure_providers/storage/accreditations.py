"""Accreditations and the notices sent about their expiry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

from procure_providers.domain.accreditations import (
    Accreditation,
    AccreditationStatus,
    Notice,
)
from procure_providers.storage.keys import Row, as_uuid
from procure_shared.categories import Category
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries

__all__ = ["claim_due", "get", "insert", "locked", "mark_sent", "of_provider", "save"]

Q = load_queries(Path(__file__).parent / "sql" / "accreditations.sql")


def accreditation(row: Row) -> Accreditation:
    return Accreditation(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        category=Category(row["category"]),
        granted_by=row["granted_by"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        evidence_ref=row["evidence_ref"],
        status=AccreditationStatus(row["status"]),
        revoked_reason=row["revoked_reason"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _columns(a: Accreditation) -> tuple[Any, ...]:
    return (
        uuid.UUID(a.id),
        uuid.UUID(a.provider_id),
        a.category.value,
        a.granted_by,
        a.valid_from,
        a.valid_to,
        a.evidence_ref,
        a.status.value,
        a.revoked_reason,
        a.version,
        a.created_at,
        a.updated_at,
    )


async def get(conn: Connection, id: str, *, for_update: bool = False) -> Accreditation | None:
    key = as_uuid(id)
    if key is None:
        return None
    row = await conn.fetchrow(Q.get_for_update if for_update else Q.get, key)
    return accreditation(row) if row is not None else None


async def insert(conn: Connection, a: Accreditation, *, buyer_id: str | None) -> None:
    """Store a new accreditation, recorded by ``buyer_id``'s actor (None: no buyer's)."""
    await conn.execute(Q.insert, *_columns(a), buyer_id)


async def locked(conn: Connection, id: str) -> tuple[Accreditation, str | None] | None:
    """The accreditation locked for update, and the buyer that recorded it (None: none did)."""
    key = as_uuid(id)
    if key is None:
        return None
    row = await conn.fetchrow(Q.get_for_update, key)
    return (accreditation(row), row["buyer_id"]) if row is not None else None


async def save(conn: Connection, a: Accreditation) -> None:
    if await conn.execute(Q.update, *_columns(a)) != "UPDATE 1":
        raise RuntimeError(f"accreditation {a.id} changed under a row lock")


async def of_provider(
    conn: Connection, provider_id: str, category: Category | None = None
) -> list[Accreditation]:
    rows = await conn.fetch(
        Q.of_provider, uuid.UUID(provider_id), category.value if category else None
    )
    return [accreditation(row) for row in rows]


async def claim_due(
    conn: Connection, *, today: date, notice_days: int, limit: int
) -> list[tuple[Accreditation, frozenset[Notice]]]:
    """Lock (skipping rows another instance holds) accreditations with a notice due."""
    claimed = [
        accreditation(row) for row in await conn.fetch(Q.claim_due, today, notice_days, limit)
    ]
    sent: dict[str, set[Notice]] = {a.id: set() for a in claimed}
    for row in await conn.fetch(Q.sent, [uuid.UUID(a.id) for a in claimed]):
        sent[str(row["accreditation_id"])].add(Notice(row["kind"]))
    return [(a, frozenset(sent[a.id])) for a in claimed]


async def mark_sent(conn: Connection, a: Accreditation, notice: Notice, at: datetime) -> None:
    await conn.execute(Q.mark_sent, uuid.UUID(a.id), notice.value, a.valid_to, at)
