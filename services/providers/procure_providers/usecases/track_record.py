"""The track record: what the contracts service's events say each provider has done."""

from __future__ import annotations

from procure_providers.domain.portfolio import Portfolio
from procure_providers.storage import providers as provider_store
from procure_providers.storage import track_record as store
from procure_shared.changes import found
from procure_shared.postgres import Connection

__all__ = ["portfolio"]


async def portfolio(conn: Connection, provider_id: str) -> Portfolio:
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    return await store.portfolio(conn, provider.id)
