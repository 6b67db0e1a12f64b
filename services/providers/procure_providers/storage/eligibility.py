"""What eligibility weighs, read in one statement for any number of providers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from procure_providers.domain.eligibility import Facts
from procure_providers.domain.providers import ProviderStatus
from procure_providers.storage.accreditations import accreditation
from procure_providers.storage.exclusions import exclusion
from procure_providers.storage.keys import Row, as_uuid
from procure_providers.storage.track_record import latest_rating
from procure_shared.categories import Category
from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries

__all__ = ["facts", "provider_ids"]

Q = load_queries(Path(__file__).parent / "sql" / "eligibility.sql")


async def facts(
    conn: Connection, provider_ids: Sequence[str], category: Category | None
) -> dict[str, Facts]:
    """Facts per registered provider id; ids that name no provider are absent. With a
    category, only the accreditations in it; with None, all of them."""
    keys = [key for key in (as_uuid(i) for i in provider_ids) if key is not None]
    if not keys:
        return {}
    rows = await conn.fetch(Q.facts, keys, None if category is None else category.value)
    return {row["id"]: _facts(row) for row in rows}


def _facts(row: Row) -> Facts:
    # The nested rows come typed (records of the tables' composite types).
    rating = row["rating"]
    return Facts(
        provider_id=row["id"],
        name=row["legal_name"],
        status=ProviderStatus(row["status"]),
        exclusions=[exclusion(e) for e in row["exclusions"]],
        accreditations=[accreditation(a) for a in row["accreditations"]],
        latest_rating=latest_rating(rating) if rating is not None else None,
    )


async def provider_ids(conn: Connection, limit: int) -> list[str]:
    """Up to ``limit`` provider ids, most recently changed first."""
    return [row[0] for row in await conn.fetch(Q.provider_ids, limit)]
