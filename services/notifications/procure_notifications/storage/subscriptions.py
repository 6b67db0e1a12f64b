"""The subscriptions table: the document beside its filter columns (``table``), and the signing
secrets, sealed (``storage/sealing.py``). Its statements are ``sql/subscriptions.sql``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from procure_notifications.domain.deliveries import Secrets
from procure_notifications.domain.subscriptions import Owner, Subscription, channel_kind
from procure_notifications.storage.sealing import SecretBox
from procure_shared.db.documents import Documents, as_uuid
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = [
    "candidates",
    "count_owned",
    "delete",
    "is_deleted",
    "next_failure_sequence",
    "opened",
    "reseal_secrets",
    "secrets_of",
    "set_secrets",
    "table",
    "visible",
]

Q = load_queries(Path(__file__).parent / "sql" / "subscriptions.sql")


def _columns(s: Subscription) -> Mapping[str, Any]:
    return {
        "owner_sub": s.owner.sub,
        "buyer_id": s.owner.buyer_id,
        "admin": s.owner.admin,
        "status": s.status.value,
        "channel": channel_kind(s.channel),
        "version": s.version,
        "created_at": s.created_at,
    }


table = Documents("subscriptions", Subscription, _columns)
_list = msgspec.json.Decoder(list[Subscription])


async def visible(
    conn: Queries, subscription_id: str, *, buyer: str | None, for_update: bool = False
) -> Subscription | None:
    """The subscription if it is not deleted and ``buyer`` may see it (``None``: any buyer)."""
    key = as_uuid(subscription_id)
    if key is None:
        return None
    text = await conn.fetchval(Q.visible_for_update if for_update else Q.visible, key, buyer)
    return None if text is None else table.decode(text)


async def delete(conn: Connection, subscription_id: str, now: datetime) -> None:
    """Hide and disable the subscription, its secrets cleared (its deliveries are the
    deliveries table's: ``deliveries.cancel_pending_of``)."""
    await conn.execute(Q.delete, uuid.UUID(subscription_id), now)


async def is_deleted(conn: Queries, subscription_id: str) -> bool:
    return bool(await conn.fetchval(Q.is_deleted, uuid.UUID(subscription_id)))


async def count_owned(conn: Connection, owner: Owner) -> int:
    """How many subscriptions ``owner`` has, counted under a lock on the owner until the
    transaction ends (so two creations at once cannot both pass a cap)."""
    await conn.execute(Q.lock_owner, owner.sub, owner.buyer_id or "")
    return int(await conn.fetchval(Q.count_owned, owner.sub, owner.buyer_id))


async def set_secrets(
    conn: Connection, subscription_id: str, secrets: Secrets, box: SecretBox
) -> None:
    """Store the secrets sealed: the columns never hold a secret itself."""
    await conn.execute(
        Q.set_secrets,
        uuid.UUID(subscription_id),
        None if secrets.current is None else box.seal(secrets.current),
        None if secrets.previous is None else box.seal(secrets.previous),
        secrets.previous_until,
    )


async def secrets_of(conn: Queries, subscription_id: str, box: SecretBox) -> Secrets:
    row = await conn.fetchrow(Q.secrets, uuid.UUID(subscription_id))
    if row is None:
        return Secrets(None, None, None)
    return opened(row["secret"], row["previous_secret"], row["previous_secret_until"], box)


def opened(
    current: str | None, previous: str | None, until: datetime | None, box: SecretBox
) -> Secrets:
    """Secrets as stored (sealed), opened."""
    return Secrets(box.open(current), box.open(previous), until)


async def reseal_secrets(conn: Connection, box: SecretBox) -> int:
    """Seal every stored secret with the box's first key (a plain one, stored before secrets
    were sealed, too), in the caller's transaction; how many subscriptions changed. After a
    new key is put first and this has run, the old key can go."""
    rows = await conn.fetch(Q.sealed_for_update)
    changed = [
        (
            r["id"],
            None if r["secret"] is None else box.reseal(r["secret"]),
            None if r["previous_secret"] is None else box.reseal(r["previous_secret"]),
        )
        for r in rows
    ]
    await conn.executemany(Q.reseal, changed)
    return len(changed)


async def candidates(conn: Queries, buyer_id: str | None) -> list[Subscription]:
    """The subscriptions that may see an event of ``buyer_id`` (None: a shared event): its
    buyer's, and admins'. Paused and disabled ones too: their deliveries wait."""
    return _list.decode(await conn.fetchval(Q.candidates, buyer_id))


async def next_failure_sequence(conn: Connection, subscription_id: str) -> int | None:
    """The sequence of the subscription's next ``delivery.failed`` event (None: it is gone)."""
    value = await conn.fetchval(Q.next_failure_sequence, uuid.UUID(subscription_id))
    return None if value is None else int(value)
