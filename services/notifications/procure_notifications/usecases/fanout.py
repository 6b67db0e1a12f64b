"""An event becomes one delivery per subscription that wants it and may see it, in the
consumer's transaction (with its inbox row): a redelivered event adds nothing, and the
delivery's id, the ``webhook-id``, is derived from the subscription and the event, so it is
the same however often the event arrives."""

from __future__ import annotations

import uuid

from procure_notifications.domain.filters import facts_of, matches
from procure_notifications.domain.subscriptions import visible_to
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.storage import subscriptions as subscription_store
from procure_shared.db.postgres import Connection
from procure_shared.events.envelope import Envelope, encode_envelope

__all__ = ["delivery_id", "fan_out"]

_NAMESPACE = uuid.UUID("7d1f5f0e-3c52-4b8e-9a55-6a2f0c1d9e41")


def delivery_id(subscription_id: str, event_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{subscription_id}/{event_id}")


async def fan_out(conn: Connection, envelope: Envelope) -> int:
    """Record the deliveries of ``envelope``; returns how many are new. They are due from the
    event's time (the producer's clock) and listed by it."""
    facts = facts_of(envelope)
    wanted = [
        s
        for s in await subscription_store.candidates(conn, envelope.buyerid)
        if visible_to(s.owner, s.id, envelope) and matches(s.filter, envelope, facts)
    ]
    if not wanted:
        return 0
    body = encode_envelope(envelope)
    return await delivery_store.insert(
        conn,
        [
            delivery_store.NewDelivery(
                id=delivery_id(s.id, envelope.id),
                subscription=s,
                event_id=uuid.UUID(envelope.id),
                event_type=envelope.type,
                aggregate_id=envelope.subject,
                sequence=envelope.sequence,
                event_time=envelope.time,
                body=body,
            )
            for s in wanted
        ],
        envelope.time,
    )
