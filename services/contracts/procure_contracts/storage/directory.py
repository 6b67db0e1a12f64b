"""The provider directory: the contracts service's read model of the providers' events, so that
awards and contracts name their suppliers without asking the providers service
(``sql/directory.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = ["provider_by_identifier", "provider_names", "record_provider"]

Q = load_queries(Path(__file__).parent / "sql" / "directory.sql")


async def provider_names(conn: Queries, provider_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(Q.legal_names, list(provider_ids))
    return {row["id"]: row["legal_name"] for row in rows}


async def provider_by_identifier(conn: Connection, identifier: str) -> str | None:
    """The id of the provider holding ``identifier`` (``scheme:id``), as the read model knows."""
    return await conn.fetchval(Q.by_identifier, identifier)  # type: ignore[no-any-return]


async def record_provider(
    conn: Connection,
    provider_id: str,
    legal_name: str,
    identifiers: Sequence[str],
    status: str,
    version: int,
) -> None:
    """Keep the newest version of a provider (events may arrive again, never older ones)."""
    await conn.execute(Q.record, provider_id, legal_name, list(identifiers), status, version)
