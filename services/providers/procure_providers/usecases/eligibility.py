"""The eligibility check, shared by the NATS responder and the HTTP endpoint."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from procure_providers.domain.buyers import Who
from procure_providers.domain.eligibility import Decision, Facts, decide
from procure_providers.storage import eligibility as store
from procure_providers.storage.eligibility_index import EligibilityIndex
from procure_providers.storage.keys import as_uuid
from procure_shared.categories import Category
from procure_shared.db.postgres import Connection, Pool

__all__ = [
    "DecisionMemo",
    "canonical",
    "check_eligibility",
    "check_eligibility_indexed",
    "decisions",
    "known_facts",
]


async def check_eligibility(
    conn: Connection,
    provider_ids: Sequence[str],
    category: Category,
    on: date,
    who: Who | None = None,
) -> list[Decision]:
    """One decision per id asked about, in the order asked (one database round trip), as
    ``who`` may read it (``decide``)."""
    facts = await store.facts(conn, provider_ids, category)
    return decisions(provider_ids, facts, category, on, who)


async def check_eligibility_indexed(
    index: EligibilityIndex,
    pool: Pool,
    provider_ids: Sequence[str],
    category: Category,
    on: date,
) -> list[Decision]:
    """The same answer as ``check_eligibility``, through the index (``known_facts``)."""
    facts = await known_facts(index, pool, provider_ids)
    return decisions(provider_ids, facts, category, on)


async def known_facts(
    index: EligibilityIndex, pool: Pool, provider_ids: Iterable[str]
) -> Mapping[str, Facts | None]:
    """Facts (every category) of the providers named, reflecting every change committed before
    the call: from the index once its barrier says so (one round trip, shared with the calls
    made meanwhile) and the database for what it lacks; all from the database (one statement)
    while it is not listening. An id that names no provider is absent or None."""
    keys = list(dict.fromkeys(k for k in map(canonical, provider_ids) if k is not None))
    if not await index.fresh():
        if not keys:
            return {}
        async with pool.acquire() as conn:
            return await store.facts(conn, keys, None)
    found, missing = index.known(keys)
    if missing:
        async with pool.acquire() as conn:
            found.update(await index.load(conn, missing))
    return found


def decisions(
    provider_ids: Sequence[str],
    facts: Mapping[str, Facts | None],
    category: Category,
    on: date,
    who: Who | None = None,
) -> list[Decision]:
    """One decision per id asked about, in the order asked."""
    decided = []
    for provider_id in provider_ids:
        key = canonical(provider_id)
        known = facts.get(key) if key is not None else None
        decided.append(decide(provider_id, known, category, on, who))
    return decided


@functools.lru_cache(maxsize=65_536)
def canonical(provider_id: str) -> str | None:
    """The id as the database writes it (lower-case UUID), or None when it is no UUID."""
    key = as_uuid(provider_id)
    return None if key is None else str(key)


class DecisionMemo:
    """Decisions already made, each used again only while the facts it was made from are the
    very ones given (the index replaces a provider's facts after any change to them)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._made: dict[tuple[str, Category, date], tuple[Facts | None, Decision]] = {}

    def decisions(
        self,
        provider_ids: Sequence[str],
        facts: Mapping[str, Facts | None],
        category: Category,
        on: date,
    ) -> list[Decision]:
        decided = []
        made = self._made
        for provider_id in provider_ids:
            key = canonical(provider_id)
            known = facts.get(key) if key is not None else None
            ask = (provider_id, category, on)
            earlier = made.get(ask)
            if earlier is not None and earlier[0] is known:
                decided.append(earlier[1])
                continue
            decision = decide(provider_id, known, category, on)
            if len(made) >= self._capacity:
                made.clear()
            made[ask] = (known, decision)
            decided.append(decision)
        return decided
