"""Granting, amending and revoking accreditations, and the notices of their expiry."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from procure_providers.domain import accreditations as rules
from procure_providers.domain.accreditations import (
    Accreditation,
    AccreditationChanges,
    AccreditationDraft,
    Notice,
)
from procure_providers.domain.buyers import Who
from procure_providers.storage import accreditations as store
from procure_providers.storage import providers as provider_store
from procure_shared.categories import Category
from procure_shared.db.audit import Actor
from procure_shared.db.changes import check_version, found, publish
from procure_shared.db.postgres import Connection
from procure_shared.errors import NotFound
from procure_shared.events.registry import (
    ACCREDITATION_EXPIRED,
    ACCREDITATION_EXPIRING,
    ACCREDITATION_GRANTED,
    ACCREDITATION_REVOKED,
    ACCREDITATION_UPDATED,
)

__all__ = [
    "EXPIRY_WATCH",
    "amend_accreditation",
    "get_accreditation",
    "grant_accreditation",
    "list_accreditations",
    "revoke_accreditation",
    "send_due_notices",
]

EXPIRY_WATCH = Actor(id="system:providers/expiry-watch")


async def grant_accreditation(
    conn: Connection,
    provider_id: str,
    draft: AccreditationDraft,
    *,
    actor: Actor,
    now: datetime,
) -> Accreditation:
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    accreditation = rules.grant(draft, id=str(uuid.uuid4()), provider_id=provider.id, now=now)
    await store.insert(conn, accreditation, buyer_id=actor.buyer_id)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=ACCREDITATION_GRANTED,
        subject=accreditation.id,
        sequence=accreditation.version,
        data=rules.event_data(accreditation),
        resource_type="accreditation",
        before=None,
        after=accreditation,
    )
    return accreditation


async def get_accreditation(conn: Connection, accreditation_id: str) -> Accreditation:
    return found(await store.get(conn, accreditation_id), "accreditation", accreditation_id)


async def list_accreditations(
    conn: Connection, provider_id: str, category: Category | None
) -> list[Accreditation]:
    provider = found(await provider_store.get(conn, provider_id), "provider", provider_id)
    return await store.of_provider(conn, provider.id, category)


async def _locked(
    conn: Connection, accreditation_id: str, expected_version: int | None, who: Who
) -> Accreditation:
    """The accreditation to change, locked. Only an admin or the buyer that recorded it may
    change it: for anyone else it does not exist (404), whatever version they name."""
    locked = await store.locked(conn, accreditation_id)
    current, recorded_by = found(locked, "accreditation", accreditation_id)
    if not who.owns(recorded_by):
        raise NotFound(f"no accreditation {accreditation_id}")
    check_version(f"accreditation {accreditation_id}", current.version, expected_version)
    return current


async def amend_accreditation(
    conn: Connection,
    accreditation_id: str,
    changes: AccreditationChanges,
    *,
    expected_version: int | None,
    actor: Actor,
    who: Who,
    now: datetime,
) -> Accreditation:
    before = await _locked(conn, accreditation_id, expected_version, who)
    after, changed = rules.amend(before, changes, now=now)
    if not changed:
        return before
    await store.save(conn, after)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=ACCREDITATION_UPDATED,
        subject=after.id,
        sequence=after.version,
        data=rules.event_data(after),
        resource_type="accreditation",
        before=before,
        after=after,
    )
    return after


async def revoke_accreditation(
    conn: Connection,
    accreditation_id: str,
    *,
    reason: str,
    expected_version: int | None,
    actor: Actor,
    who: Who,
    now: datetime,
) -> Accreditation:
    before = await _locked(conn, accreditation_id, expected_version, who)
    after = rules.revoke(before, reason=reason, now=now)
    await store.save(conn, after)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=ACCREDITATION_REVOKED,
        subject=after.id,
        sequence=after.version,
        data=rules.revoked_data(after),
        resource_type="accreditation",
        before=before,
        after=after,
    )
    return after


_NOTICE_EVENTS = {Notice.EXPIRING: ACCREDITATION_EXPIRING, Notice.EXPIRED: ACCREDITATION_EXPIRED}


async def send_due_notices(
    conn: Connection, *, now: datetime, notice_days: int, limit: int = 100
) -> int:
    """Send the expiry notices that have fallen due (a batch of at most ``limit``
    accreditations, locked so that instances running at once take different ones). Each notice
    is recorded with its event, so it goes out once per validity period however many instances
    run and however often they restart. Returns the number of notices sent."""
    today = now.date()
    sent = 0
    for accreditation, already in await store.claim_due(
        conn, today=today, notice_days=notice_days, limit=limit
    ):
        current = accreditation
        for notice in rules.due_notices(
            accreditation, today=today, notice_days=notice_days, sent=already
        ):
            before = current
            # A notice is part of the accreditation's history: it takes the next sequence.
            current = msgspec.structs.replace(current, version=current.version + 1)
            await store.mark_sent(conn, current, notice, now)
            await publish(
                conn,
                actor=EXPIRY_WATCH,
                at=now,
                event=_NOTICE_EVENTS[notice],
                subject=current.id,
                sequence=current.version,
                data=rules.notice_data(current, notice, today),
                resource_type="accreditation",
                before=before,
                after=current,
            )
            sent += 1
        if current is not accreditation:
            await store.save(conn, current)
    return sent
