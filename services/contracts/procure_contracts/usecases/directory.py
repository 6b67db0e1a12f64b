"""The provider directory: what contracts knows of providers, from their events."""

from __future__ import annotations

from procure_contracts.storage import directory
from procure_shared.db.postgres import Connection
from procure_shared.events.providers import ProviderData

__all__ = ["record_provider"]


async def record_provider(conn: Connection, data: ProviderData, *, version: int) -> None:
    await directory.record_provider(
        conn,
        data.provider_id,
        data.legal_name,
        [f"{i.scheme}:{i.id}" for i in data.identifiers],
        data.status,
        version,
    )
