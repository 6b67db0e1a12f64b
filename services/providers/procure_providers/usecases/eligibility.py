"""The eligibility check, shared by the NATS responder and the HTTP endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from procure_providers.domain.eligibility import Decision, Facts, decide
from procure_providers.storage import eligibility as store
from procure_providers.storage.eligibility_index import EligibilityIndex
from procure_providers.storage.keys import as_uuid
from procure_shared.categories import Category
from procure_shared.postgres import Connection, Pool

__all__ = ["check_eligibility", "check_eligibility_indexed"]


async def check_eligibility(
    conn: Connection, provider_ids: Sequence[str], category: Category, on: date
) -> list[Decision]:
    """One decision per id asked about, in the order asked (one database round trip)."""
    facts = await store.facts(conn, provider_ids, category)
    return _decisions(provider_ids, facts, category, on)


async def check_eligibility_indexed(
    index: EligibilityIndex,
    pool: Pool,
    provider_ids: Sequence[str],
    category: Category,
    on: date,
) -> list[Decision]:
    """The same answer as ``check_eligibility``, from the index once its barrier says it holds
    every change committed so far (one round trip shared with the questions asked meanwhile);
    providers it lacks, or all of them when it is not listening, from the database."""
    if not await index.fresh():
        async with pool.acquire() as conn:
            return await check_eligibility(conn, provider_ids, category, on)
    keys = [str(key) for key in (as_uuid(i) for i in provider_ids) if key is not None]
    found, missing = index.known(keys)
    if missing:
        async with pool.acquire() as conn:
            found.update(await index.load(conn, missing))
    return _decisions(provider_ids, found, category, on)


def _decisions(
    provider_ids: Sequence[str], facts: Mapping[str, Facts | None], category: Category, on: date
) -> list[Decision]:
    decisions = []
    for provider_id in provider_ids:
        key = as_uuid(provider_id)
        known = facts.get(str(key)) if key is not None else None
        decisions.append(decide(provider_id, known, category, on))
    return decisions
