"""The track record: what the contracts service's events say each provider has done."""

from __future__ import annotations

from procure_providers.domain.buyers import Who
from procure_providers.domain.portfolio import Portfolio
from procure_providers.storage import providers as provider_store
from procure_providers.storage import track_record as store
from procure_shared.db.changes import found
from procure_shared.db.postgres import Connection

__all__ = ["portfolio"]


async def portfolio(conn: Connection, provider_id: str, who: Who) -> Portfolio:
    """The provider's track record as ``who`` may see it: its buyer's business in full, the
    other buyers' as anonymous totals (an admin's: everything in full)."""
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    return await store.portfolio(conn, provider.id, who)
