"""What eligibility weighs, read in one statement for any number of providers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from procure_providers.domain.eligibility import Facts
from procure_providers.domain.providers import ProviderStatus
from procure_providers.storage.accreditations import accreditation
from procure_providers.storage.exclusions import exclusion
from procure_providers.storage.keys import as_uuid
from procure_providers.storage.track_record import latest_rating
from procure_shared.categories import Category
from procure_shared.postgres import Connection
from procure_shared.sqlfiles import load_queries

__all__ = ["facts"]

Q = load_queries(Path(__file__).parent / "sql" / "eligibility.sql")

_DATES = ("valid_from", "valid_to", "starts_on", "ends_on", "lifted_on", "period_end")
_TIMES = ("created_at", "updated_at", "rated_at")


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    # row_to_json gives dates and times as ISO strings.
    for key in _DATES:
        if row.get(key) is not None:
            row[key] = date.fromisoformat(row[key])
    for key in _TIMES:
        if row.get(key) is not None:
            row[key] = datetime.fromisoformat(row[key])
    return row


async def facts(
    conn: Connection, provider_ids: Sequence[str], category: Category
) -> dict[str, Facts]:
    """Facts per registered provider id; ids that name no provider are absent."""
    keys = [key for key in (as_uuid(i) for i in provider_ids) if key is not None]
    if not keys:
        return {}
    rows = await conn.fetch(Q.facts, keys, category.value)
    return {
        row["id"]: Facts(
            provider_id=row["id"],
            name=row["legal_name"],
            status=ProviderStatus(row["status"]),
            exclusions=[exclusion(_typed(e)) for e in row["exclusions"]],
            accreditations=[accreditation(_typed(a)) for a in row["accreditations"]],
            latest_rating=latest_rating(_typed(row["rating"])) if row["rating"] else None,
        )
        for row in rows
    }
