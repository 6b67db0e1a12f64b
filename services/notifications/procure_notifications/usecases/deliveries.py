"""The delivery log: read by the subscription's owner (or an admin), replayed on demand."""

from __future__ import annotations

from datetime import datetime

from procure_notifications.domain.deliveries import Delivery, DeliveryStatus
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.storage import subscriptions as subscription_store
from procure_notifications.usecases.subscriptions import Viewer, get
from procure_shared.db.audit import record_change
from procure_shared.db.changes import found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.errors import RuleBroken

__all__ = ["delivery", "replay_dead_letters", "replay_one"]


async def delivery(
    conn: Queries, delivery_id: str, *, viewer: Viewer, for_update: bool = False
) -> Delivery:
    d = await delivery_store.visible(
        conn,
        delivery_id,
        buyer=None if viewer.admin else viewer.buyer_id,
        owner=None if viewer.admin else viewer.sub,
        for_update=for_update,
    )
    return found(d, "delivery", delivery_id)


async def replay_one(
    conn: Connection, delivery_id: str, *, viewer: Viewer, now: datetime
) -> Delivery:
    before = await delivery(conn, delivery_id, viewer=viewer, for_update=True)
    if await subscription_store.is_deleted(conn, before.subscription_id):
        raise RuleBroken("its subscription was deleted: it cannot be sent again")
    await delivery_store.replay(conn, [before.id], now)
    after = await delivery(conn, delivery_id, viewer=viewer)
    await _audit(conn, viewer, now, before.id, before, after)
    return after


async def replay_dead_letters(
    conn: Connection, subscription_id: str, *, viewer: Viewer, now: datetime
) -> int:
    s = await get(conn, subscription_id, viewer=viewer, for_update=True)
    dead = await delivery_store.page(
        conn,
        delivery_store.DeliveryFilter(
            buyer=None, owner=None, subscription=s.id, status=DeliveryStatus.DEAD, limit=100_000
        ),
    )
    replayed = await delivery_store.replay(conn, [d.id for d in dead], now)
    for d in dead:
        await _audit(conn, viewer, now, d.id, d, None)
    return replayed


async def _audit(
    conn: Connection,
    viewer: Viewer,
    now: datetime,
    delivery_id: str,
    before: Delivery,
    after: Delivery | None,
) -> None:
    await record_change(
        conn,
        actor=viewer.actor,
        at=now,
        action="notifications.delivery.replayed",
        resource_type="delivery",
        resource_id=delivery_id,
        before=before,
        after=after,
    )
