"""One attempt at a claimed delivery, and what follows from its outcome.

A webhook is POSTed with the Standard Webhooks headers (``webhook-id`` is the delivery's id,
the same on every attempt); a mail carries the delivery's id in its Message-ID. 2xx (a mail
server's 2xx) delivers; 410 Gone disables the subscription and the delivery waits for a resume;
anything else is tried again after the policy's backoff until its horizon, then the delivery is
dead-lettered and ``notifications.delivery.failed`` goes to the outbox in the same transaction.
Which of these follows is ``domain/deliveries.py``'s ``settle``; the senders say the outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import msgspec

from procure_notifications.domain import deliveries
from procure_notifications.domain import subscriptions as rules
from procure_notifications.domain.deliveries import Attempt, DeliveryStatus, Outcome, Secrets
from procure_notifications.domain.messages import digest_message, event_message
from procure_notifications.domain.retries import RetryPolicy
from procure_notifications.domain.signing import signatures
from procure_notifications.domain.subscriptions import (
    Email,
    Subscription,
    Webhook,
    channel_kind,
)
from procure_notifications.senders.email import Mailer
from procure_notifications.senders.response import Response, failure
from procure_notifications.senders.webhook import WebhookSender
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.storage import subscriptions as subscription_store
from procure_shared.db.audit import Actor, record_change
from procure_shared.db.changes import publish
from procure_shared.db.postgres import Connection
from procure_shared.events.envelope import Envelope, decode_envelope, encode_envelope
from procure_shared.events.notifications import DeliveryFailed
from procure_shared.events.registry import DELIVERY_FAILED

__all__ = [
    "SYSTEM",
    "TEST_EVENT",
    "Channels",
    "Tested",
    "send",
    "send_digest",
    "send_test",
    "settle",
    "webhook_headers",
]

SYSTEM = Actor(id="system:notifications/delivery")
TEST_EVENT = "notifications.subscription.test"


class Channels:
    """Where attempts go: the webhook sender and the mailer of the process."""

    def __init__(self, webhooks: WebhookSender, mailer: Mailer) -> None:
        self.webhooks = webhooks
        self.mailer = mailer


def webhook_headers(
    delivery_id: str, secrets: Secrets, *, now: datetime, timestamp: int, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers. ``timestamp`` is the wall clock's (receivers compare it
    with theirs to refuse replays), ``now`` the service clock's (which secrets still sign)."""
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures(secrets.signing(now), delivery_id, timestamp, body),
    }


async def send(
    key: str,
    subscription: Subscription,
    secrets: Secrets,
    body: bytes,
    channels: Channels,
    *,
    now: datetime,
    timestamp: int,
) -> Response:
    """Make one attempt at sending ``body`` (an envelope) as ``key`` (the webhook-id, the root
    of the Message-ID). No database work: a delivery's claim holds its lease meanwhile."""
    channel = subscription.channel
    if isinstance(channel, Webhook):
        if not secrets.current:
            return failure("no signing secret", address=None, latency_ms=0)
        headers = webhook_headers(key, secrets, now=now, timestamp=timestamp, body=body)
        return await channels.webhooks.post(channel.url, headers, body)
    message = event_message(
        delivery_id=key,
        envelope=decode_envelope(body),
        subscription=subscription.name,
        sender=channels.mailer.sender,
        to=channel.address,
    )
    return await channels.mailer.send(message)


class Tested(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the subscription's channel answered a sample event."""

    id: str  # the sample's webhook-id (or Message-ID root): a fresh one each test
    outcome: Outcome
    status_code: int | None
    latency_ms: float
    error: str | None
    address: str | None


async def send_test(
    subscription: Subscription,
    secrets: Secrets,
    channels: Channels,
    *,
    now: datetime,
    timestamp: int,
) -> Tested:
    """Send a sample event (type ``notifications.subscription.test``, sequence 0: of no
    aggregate's history) to the channel at once; nothing is recorded or retried."""
    sample = Envelope.new(
        service="notifications",
        type=TEST_EVENT,
        subject=subscription.id,
        time=now,
        sequence=0,
        data={
            "subscriptionId": subscription.id,
            "name": subscription.name,
            "message": "A test of this subscription's channel: nothing has happened.",
        },
        buyer_id=subscription.owner.buyer_id,
    )
    key = str(uuid.uuid4())
    answered = await send(
        key, subscription, secrets, encode_envelope(sample), channels, now=now, timestamp=timestamp
    )
    return Tested(
        id=key,
        outcome=answered.outcome,
        status_code=answered.status_code,
        latency_ms=round(answered.latency_ms, 3),
        error=answered.error,
        address=answered.address,
    )


async def send_digest(
    group: Sequence[delivery_store.Claimed], channels: Channels, day: date
) -> Response:
    """One mail for one subscription's deliveries of one day."""
    first = group[0]
    assert isinstance(first.subscription.channel, Email)
    envelopes: list[Envelope] = [decode_envelope(c.body) for c in group]
    message = digest_message(
        subscription_id=first.subscription.id,
        day=day,
        delivery_ids=[c.id for c in group],
        envelopes=envelopes,
        subscription=first.subscription.name,
        sender=channels.mailer.sender,
        to=first.subscription.channel.address,
    )
    return await channels.mailer.send(message)


async def settle(
    conn: Connection,
    claimed: delivery_store.Claimed,
    response: Response,
    *,
    started: datetime,
    now: datetime,
    policy: RetryPolicy,
    spread: float,
) -> tuple[Outcome, DeliveryStatus]:
    """Record the attempt and move the delivery on as ``deliveries.settle`` rules (in a
    transaction of its own where it changes more than the delivery); returns the attempt's
    outcome and the delivery's status after it."""
    attempt = Attempt(
        attempt=claimed.attempt,
        started_at=started,
        outcome=response.outcome,
        latency_ms=response.latency_ms,
        status_code=response.status_code,
        error=response.error,
        address=response.address,
    )
    settled = deliveries.settle(claimed, response.outcome, policy, now, spread=spread)
    gone = response.outcome is Outcome.GONE
    dead = settled.status is DeliveryStatus.DEAD
    if not gone and not dead:  # one statement: no transaction needed
        await delivery_store.record_attempt(conn, claimed.id, attempt, settled)
        return response.outcome, settled.status
    async with conn.transaction():
        if await delivery_store.record_attempt(conn, claimed.id, attempt, settled):
            if gone:
                await _disable(conn, claimed.subscription.id, now)
            else:
                await _dead_letter(conn, claimed, attempt, now)
    return response.outcome, settled.status


async def _disable(conn: Connection, subscription_id: str, now: datetime) -> None:
    before = await subscription_store.visible(conn, subscription_id, buyer=None, for_update=True)
    if before is None:
        return
    after = rules.disable(before, now, f"the receiver answered 410 Gone at {now:%Y-%m-%d %H:%M}")
    if after is before:
        return
    await subscription_store.table.save(conn, after)
    await record_change(
        conn,
        actor=SYSTEM,
        at=now,
        action="notifications.subscription.disabled",
        resource_type="subscription",
        resource_id=subscription_id,
        before=before,
        after=after,
    )


async def _dead_letter(
    conn: Connection, claimed: delivery_store.Claimed, attempt: Attempt, now: datetime
) -> None:
    """The delivery is a dead letter: audited (as the delivery) and announced (on its
    subscription's history) by the one change writer."""
    s = claimed.subscription
    sequence = await subscription_store.next_failure_sequence(conn, s.id)
    if sequence is None:
        return
    data = DeliveryFailed(
        subscription_id=s.id,
        subscription_name=s.name,
        channel=channel_kind(s.channel),
        delivery_id=claimed.id,
        event_id=decode_envelope(claimed.body).id,
        event_type=claimed.event_type,
        aggregate_id=claimed.aggregate_id,
        attempts=claimed.attempt,
        first_attempt_at=claimed.first_attempt_at,
        last_attempt_at=attempt.started_at,
        last_status_code=attempt.status_code,
        last_error=attempt.error,
    )
    await publish(
        conn,
        actor=SYSTEM,
        at=now,
        event=DELIVERY_FAILED,
        subject=s.id,
        sequence=sequence,
        data=data,
        resource_type="delivery",
        resource_id=claimed.id,
        before=None,
        after=msgspec.structs.asdict(data),
        buyer_id=s.owner.buyer_id,
    )
