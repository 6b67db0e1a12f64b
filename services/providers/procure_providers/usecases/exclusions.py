"""Recording and lifting exclusions (debarment)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from procure_providers.domain import exclusions as rules
from procure_providers.domain.buyers import Who
from procure_providers.domain.exclusions import Exclusion, ExclusionDraft
from procure_providers.storage import exclusions as store
from procure_providers.storage import providers as provider_store
from procure_shared.db.audit import Actor
from procure_shared.db.changes import check_version, found, publish
from procure_shared.db.postgres import Connection
from procure_shared.errors import NotFound
from procure_shared.events.registry import EXCLUSION_LIFTED, EXCLUSION_RECORDED

__all__ = ["get_exclusion", "lift_exclusion", "list_exclusions", "record_exclusion"]


async def record_exclusion(
    conn: Connection, provider_id: str, draft: ExclusionDraft, *, actor: Actor, now: datetime
) -> Exclusion:
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    exclusion = rules.record(draft, id=str(uuid.uuid4()), provider_id=provider.id, now=now)
    await store.insert(conn, exclusion, buyer_id=actor.buyer_id)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=EXCLUSION_RECORDED,
        subject=exclusion.id,
        sequence=exclusion.version,
        data=rules.recorded_data(exclusion),
        resource_type="exclusion",
        before=None,
        after=exclusion,
    )
    return exclusion


async def get_exclusion(conn: Connection, exclusion_id: str) -> Exclusion:
    return found(await store.get(conn, exclusion_id), "exclusion", exclusion_id)


async def list_exclusions(conn: Connection, provider_id: str) -> list[Exclusion]:
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    return await store.of_provider(conn, provider.id)


async def lift_exclusion(
    conn: Connection,
    exclusion_id: str,
    *,
    on: date,
    reason: str,
    expected_version: int | None,
    actor: Actor,
    who: Who,
    now: datetime,
) -> Exclusion:
    # Only an admin or the buyer that recorded it may lift it: for anyone else it does not
    # exist (404), whatever version they name.
    before, recorded_by = found(await store.locked(conn, exclusion_id), "exclusion", exclusion_id)
    if not who.owns(recorded_by):
        raise NotFound(f"no exclusion {exclusion_id}")
    check_version(f"exclusion {exclusion_id}", before.version, expected_version)
    after = rules.lift(before, on=on, reason=reason, now=now)
    await store.save(conn, after)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=EXCLUSION_LIFTED,
        subject=after.id,
        sequence=after.version,
        data=rules.lifted_data(after),
        resource_type="exclusion",
        before=before,
        after=after,
    )
    return after
