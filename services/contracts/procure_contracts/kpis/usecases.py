"""KPIs of contracts: defined, changed, observed, rated, and assessed (s.71).

Every version of a KPI has one audit row and one event. An observation is a version
(``contracts.kpi.observed``); when it moves the KPI's rating, the new rating is the next
version (``contracts.kpi.rating_changed``, naming the previous one). A change of definition
that moves the rating does the same after ``contracts.kpi.updated``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from procure_contracts.contracts.parts import with_contract
from procure_contracts.contracts.rules import Contract
from procure_contracts.contracts.usecases import get_contract
from procure_contracts.kpis import observations as seen
from procure_contracts.kpis import rules, store
from procure_contracts.kpis.assessment import Assessment, assess, check_dates
from procure_contracts.kpis.observations import ObservationDraft
from procure_contracts.kpis.rules import Kpi, KpiChanges, KpiDraft, Observation, Rated
from procure_contracts.storage.directory import provider_names
from procure_contracts.usecases.context import Who, record
from procure_shared.db.changes import found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.events import registry as events

__all__ = [
    "assess_contract",
    "define_kpi",
    "get_kpi",
    "get_observation",
    "record_observation",
    "update_kpi",
]


async def get_kpi(conn: Queries, kpi_id: str, *, who: Who, for_update: bool = False) -> Kpi:
    return found(
        await store.kpis.get(conn, kpi_id, buyer=who.scope, for_update=for_update), "KPI", kpi_id
    )


async def get_observation(
    conn: Queries, kpi_id: str, observation_id: str, *, who: Who
) -> Observation:
    observation = await store.observations.get(conn, observation_id, buyer=who.scope)
    if observation is None or observation.kpi_id != kpi_id:
        return found(None, f"observation of KPI {kpi_id}", observation_id)
    return observation


async def define_kpi(
    conn: Connection, contract_id: str, draft: KpiDraft, *, who: Who, now: datetime
) -> Kpi:
    # The contract's row lock keeps it live, and its count of KPIs true for signing.
    contract = await get_contract(conn, contract_id, who=who, for_update=True)
    kpi = rules.define(contract, draft, id=str(uuid.uuid4()), now=now)
    await store.kpis.insert(conn, kpi)
    data = rules.kpi_data(kpi, contract.provider_ids)
    await record(conn, who, now, events.KPI_DEFINED, "kpi", None, kpi, data)
    return kpi


async def _load(
    conn: Connection, kpi_id: str, expected_version: int | None, who: Who
) -> tuple[Kpi, Contract]:
    locked = await store.kpis.get(conn, kpi_id, buyer=who.scope, for_update=True)
    return await with_contract(conn, locked, "KPI", kpi_id, expected_version, who)


async def _rerate(
    conn: Connection, who: Who, now: datetime, changed: Kpi, figure: Rated, contract: Contract
) -> Kpi:
    """After ``changed`` (saved, its event recorded): its rating ``figure``, as the next
    version if the rating moved."""
    previous = changed.rating.rating
    after = seen.with_rating(changed, figure, now=now)
    if after is not changed:
        await store.kpis.save(conn, after)
        data = rules.rating_data(after, previous, contract.provider_ids)
        await record(conn, who, now, events.KPI_RATING_CHANGED, "kpi", changed, after, data)
    return after


async def update_kpi(
    conn: Connection,
    kpi_id: str,
    changes: KpiChanges,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Kpi:
    before, contract = await _load(conn, kpi_id, expected_version, who)
    after, changed = rules.update(before, contract, changes, now=now)
    if not changed:
        return after
    figure = seen.rated(after, await store.latest_observations(conn, kpi_id))
    after = seen.refreshed(after, figure, now=now)
    await store.kpis.save(conn, after)
    data = rules.kpi_data(after, contract.provider_ids, changed=changed)
    await record(conn, who, now, events.KPI_UPDATED, "kpi", before, after, data)
    return await _rerate(conn, who, now, after, figure, contract)


async def record_observation(
    conn: Connection,
    kpi_id: str,
    draft: ObservationDraft,
    *,
    who: Who,
    now: datetime,
) -> Observation:
    """Record a figure for a period; the KPI's current rating follows."""
    before, contract = await _load(conn, kpi_id, None, who)
    observation = seen.observe(
        before, contract, draft, id=str(uuid.uuid4()), by=who.actor.id, now=now
    )
    await store.observations.insert(conn, observation)
    figure = seen.rated(before, await store.latest_observations(conn, kpi_id))
    counted = seen.refreshed(seen.observed(before, observation, now=now), figure, now=now)
    await store.kpis.save(conn, counted)
    data = seen.observed_data(observation, counted, contract.provider_ids)
    await record(conn, who, now, events.KPI_OBSERVED, "kpi", before, counted, data)
    await _rerate(conn, who, now, counted, figure, contract)
    return observation


async def assess_contract(
    conn: Queries, contract_id: str, start: date, end: date, *, who: Who, now: datetime
) -> Assessment:
    check_dates(start, end)
    contract = await get_contract(conn, contract_id, who=who)
    kpis = await store.contract_kpis(conn, contract_id)
    names = await provider_names(conn, contract.provider_ids)
    observations = await store.observations_ending(conn, contract_id, start, end)
    return assess(contract, kpis, observations, names=names, start=start, end=end, now=now)
