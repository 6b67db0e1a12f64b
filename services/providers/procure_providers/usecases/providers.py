"""Registering and changing providers."""

from __future__ import annotations

import uuid
from datetime import datetime

from procure_providers.domain import providers as rules
from procure_providers.domain.providers import Provider, ProviderChanges, ProviderDraft
from procure_providers.storage import providers as store
from procure_shared.db.audit import Actor
from procure_shared.db.changes import check_version, found, publish
from procure_shared.db.postgres import Connection
from procure_shared.events.registry import PROVIDER_REGISTERED, PROVIDER_UPDATED

__all__ = ["get_provider", "register_provider", "update_provider"]


async def register_provider(
    conn: Connection, draft: ProviderDraft, *, actor: Actor, now: datetime
) -> Provider:
    provider = rules.register(draft, id=str(uuid.uuid4()), now=now)
    await store.insert(conn, provider)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=PROVIDER_REGISTERED,
        subject=provider.id,
        sequence=provider.version,
        data=rules.event_data(provider),
        resource_type="provider",
        before=None,
        after=provider,
    )
    return provider


async def get_provider(conn: Connection, provider_id: str) -> Provider:
    return found(await store.get(conn, provider_id), "provider", provider_id)


async def update_provider(
    conn: Connection,
    provider_id: str,
    changes: ProviderChanges,
    *,
    expected_version: int | None,
    actor: Actor,
    now: datetime,
) -> Provider:
    before = found(await store.get(conn, provider_id, for_update=True), "provider", provider_id)
    check_version(f"provider {provider_id}", before.version, expected_version)
    after, changed = rules.update(before, changes, now=now)
    if not changed:
        return before
    await store.save(conn, after, identifiers_changed="identifiers" in changed)
    await publish(
        conn,
        actor=actor,
        at=now,
        event=PROVIDER_UPDATED,
        subject=after.id,
        sequence=after.version,
        data=rules.event_data(after, changed),
        resource_type="provider",
        before=before,
        after=after,
    )
    return after
