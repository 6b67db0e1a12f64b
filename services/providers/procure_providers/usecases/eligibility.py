"""The eligibility check, shared by the NATS responder and the HTTP endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from procure_providers.domain.eligibility import Decision, decide
from procure_providers.storage import eligibility as store
from procure_providers.storage.keys import as_uuid
from procure_shared.categories import Category
from procure_shared.postgres import Connection

__all__ = ["check_eligibility"]


async def check_eligibility(
    conn: Connection, provider_ids: Sequence[str], category: Category, on: date
) -> list[Decision]:
    """One decision per id asked about, in the order asked (one database round trip)."""
    facts = await store.facts(conn, provider_ids, category)
    decisions = []
    for provider_id in provider_ids:
        key = as_uuid(provider_id)
        known = facts.get(str(key)) if key is not None else None
        decisions.append(decide(provider_id, known, category, on))
    return decisions
