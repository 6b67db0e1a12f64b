"""Milestones of contracts: scheduled, changed while scheduled, and settled (met, partly met,
not met, waived). Each change is one version of the milestone, one audit row, one event."""

from __future__ import annotations

import uuid
from datetime import datetime

from procure_contracts.contracts.parts import with_contract
from procure_contracts.contracts.rules import Contract
from procure_contracts.contracts.usecases import get_contract
from procure_contracts.milestones import rules, store
from procure_contracts.milestones.rules import (
    Milestone,
    MilestoneChanges,
    MilestoneDraft,
    MilestoneStatus,
    Settlement,
)
from procure_contracts.usecases.context import Who, record
from procure_shared.db.changes import found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.events import registry as events

__all__ = [
    "close_milestone",
    "get_milestone",
    "meet_milestone",
    "schedule_milestone",
    "update_milestone",
]


async def get_milestone(
    conn: Queries, milestone_id: str, *, who: Who, for_update: bool = False
) -> Milestone:
    return found(
        await store.milestones.get(conn, milestone_id, buyer=who.scope, for_update=for_update),
        "milestone",
        milestone_id,
    )


async def schedule_milestone(
    conn: Connection, contract_id: str, draft: MilestoneDraft, *, who: Who, now: datetime
) -> Milestone:
    # The contract's row lock keeps it live (not closed meanwhile) until this commits.
    contract = await get_contract(conn, contract_id, who=who, for_update=True)
    milestone = rules.schedule(contract, draft, id=str(uuid.uuid4()), now=now)
    await store.milestones.insert(conn, milestone)
    data = rules.milestone_data(milestone, contract.provider_ids)
    await record(conn, who, now, events.MILESTONE_SCHEDULED, "milestone", None, milestone, data)
    return milestone


async def _load(
    conn: Connection, milestone_id: str, expected_version: int | None, who: Who
) -> tuple[Milestone, Contract]:
    locked = await store.milestones.get(conn, milestone_id, buyer=who.scope, for_update=True)
    return await with_contract(conn, locked, "milestone", milestone_id, expected_version, who)


async def update_milestone(
    conn: Connection,
    milestone_id: str,
    changes: MilestoneChanges,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Milestone:
    before, contract = await _load(conn, milestone_id, expected_version, who)
    after, changed = rules.update(before, contract, changes, now=now)
    if changed:
        await store.milestones.save(conn, after)
        data = rules.milestone_data(after, contract.provider_ids, changed=changed)
        await record(conn, who, now, events.MILESTONE_UPDATED, "milestone", before, after, data)
    return after


async def meet_milestone(
    conn: Connection,
    milestone_id: str,
    settlement: Settlement,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Milestone:
    """Met in full or in part; a payment milestone's settlement records its transaction."""
    before, contract = await _load(conn, milestone_id, expected_version, who)
    after = rules.met(before, contract, settlement, transaction_id=str(uuid.uuid4()), now=now)
    await store.milestones.save(conn, after)
    made = after.transactions[-1] if len(after.transactions) > len(before.transactions) else None
    data = rules.settled_data(after, contract.provider_ids, paid=made)
    await record(conn, who, now, events.MILESTONE_MET, "milestone", before, after, data)
    return after


async def close_milestone(
    conn: Connection,
    milestone_id: str,
    outcome: MilestoneStatus,
    reason: str | None,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Milestone:
    """Record a milestone ``not_met`` (the reason optional) or ``waived`` (with its reason)."""
    before, contract = await _load(conn, milestone_id, expected_version, who)
    if outcome is MilestoneStatus.WAIVED:
        after, event = rules.waive(before, reason or "", now=now), events.MILESTONE_WAIVED
    else:
        after, event = rules.not_met(before, reason, now=now), events.MILESTONE_NOT_MET
    await store.milestones.save(conn, after)
    data = rules.settled_data(after, contract.provider_ids)
    await record(conn, who, now, event, "milestone", before, after, data)
    return after
