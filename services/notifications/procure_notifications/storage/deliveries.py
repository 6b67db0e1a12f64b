"""The deliveries table (one per event and subscription) and their attempts. Its statements
are ``sql/deliveries.sql``; what a delivery is and how it moves on is ``domain/deliveries.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from procure_notifications.domain.deliveries import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Outcome,
    Secrets,
    Settled,
)
from procure_notifications.domain.subscriptions import Subscription, channel_kind
from procure_notifications.storage.sealing import SecretBox
from procure_notifications.storage.subscriptions import opened
from procure_shared.db.documents import Page, as_uuid
from procure_shared.db.postgres import Connection, Queries
from procure_shared.db.sqlfiles import load_queries

__all__ = [
    "Claimed",
    "DeliveryFilter",
    "NewDelivery",
    "attempts_of",
    "cancel_pending_of",
    "claim",
    "claim_digests",
    "count_pending",
    "insert",
    "page",
    "record_attempt",
    "replay",
    "visible",
    "wake_workers",
]

Q = load_queries(Path(__file__).parent / "sql" / "deliveries.sql")
# Which deliveries are due, then the one lease both kinds of claim take (one statement each).
_CLAIM = f"{Q.claim}\n{Q.lease}"
_CLAIM_DIGESTS = f"{Q.claim_digests}\n{Q.lease}"


class NewDelivery(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    subscription: Subscription
    event_id: uuid.UUID
    event_type: str
    aggregate_id: str
    sequence: int
    event_time: datetime
    body: bytes


async def insert(conn: Connection, items: Sequence[NewDelivery], now: datetime) -> int:
    """Insert the deliveries not yet recorded (a redelivered event adds none)."""
    if not items:
        return 0
    status = await conn.execute(
        Q.insert,
        [i.id for i in items],
        [uuid.UUID(i.subscription.id) for i in items],
        [i.subscription.owner.buyer_id for i in items],
        [i.subscription.owner.sub for i in items],
        [i.event_id for i in items],
        [i.event_type for i in items],
        [i.aggregate_id for i in items],
        [i.sequence for i in items],
        [i.event_time for i in items],
        now,
        [i.body for i in items],
        [channel_kind(i.subscription.channel) for i in items],
    )
    return int(status.split()[-1])


def _delivery(row: Any) -> Delivery:
    return Delivery(**{**dict(row), "status": DeliveryStatus(row["status"])})


class DeliveryFilter(msgspec.Struct, kw_only=True):
    buyer: str | None  # None: every buyer's (admin)
    owner: str | None  # None: every owner's (admin)
    subscription: str | None = None
    status: str | None = None
    event_type: str | None = None
    aggregate: str | None = None
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50


async def page(conn: Queries, f: DeliveryFilter) -> list[Delivery]:
    """A page of the deliveries ``f`` names, newest first (the keyset page is built on
    ``listed``: the one statement not written out whole in the SQL file)."""
    keyset = Page(after=f.after, limit=f.limit)
    if f.buyer is not None:
        keyset.add("buyer_id = {}", f.buyer)
    if f.owner is not None:
        keyset.add("owner_sub = {}", f.owner)
    if f.subscription is not None:
        keyset.add("subscription_id = {}", as_uuid(f.subscription) or uuid.UUID(int=0))
    for column, value in (
        ("status", f.status),
        ("event_type", f.event_type),
        ("aggregate_id", f.aggregate),
    ):
        if value is not None:
            keyset.add(f"{column} = {{}}", value)
    clause, params = keyset.clause()
    return [_delivery(r) for r in await conn.fetch(Q.listed + clause, *params)]


async def visible(
    conn: Queries,
    delivery_id: str,
    *,
    buyer: str | None,
    owner: str | None,
    for_update: bool = False,
) -> Delivery | None:
    key = as_uuid(delivery_id)
    if key is None:
        return None
    statement = Q.visible_for_update if for_update else Q.visible
    row = await conn.fetchrow(statement, key, buyer, owner)
    return None if row is None else _delivery(row)


async def cancel_pending_of(conn: Connection, subscription_id: str) -> None:
    """A deleted subscription's pending deliveries are cancelled (never sent); its deliveries
    and their attempts stay as they were."""
    await conn.execute(Q.cancel_pending_of, uuid.UUID(subscription_id))


async def attempts_of(conn: Queries, delivery_id: str) -> list[Attempt]:
    rows = await conn.fetch(Q.attempts, uuid.UUID(delivery_id))
    return [Attempt(**{**dict(r), "outcome": Outcome(r["outcome"])}) for r in rows]


async def replay(conn: Connection, ids: Sequence[str], now: datetime) -> int:
    """Send these deliveries again (same id: receivers dedupe on it), from now; the retry
    horizon starts again, the attempt numbers go on (the attempt log keeps every one)."""
    status = await conn.execute(Q.replay, [uuid.UUID(i) for i in ids], now)
    await wake_workers(conn)
    return int(status.split()[-1])


async def wake_workers(conn: Queries) -> None:
    await conn.execute(Q.wake_workers)


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    subscription: Subscription
    secrets: Secrets
    event_type: str
    aggregate_id: str
    event_time: datetime
    body: bytes
    attempt: int  # this attempt's number in the log, from 1
    tries: int  # attempts since it was made or replayed, this one included
    first_attempt_at: datetime
    # Later deliveries of its subscription and aggregate were waiting for it when it was claimed.
    followed: bool = False


_subscription = msgspec.json.Decoder(Subscription)


async def claim(
    conn: Connection, now: datetime, limit: int, lease_seconds: float, box: SecretBox
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of active subscriptions, each the earliest pending
    one of its subscription and aggregate (so one aggregate's deliveries go out in order)."""
    rows = await conn.fetch(_CLAIM, now, limit, lease_seconds)
    return [_claimed(r, box) for r in rows]


async def claim_digests(
    conn: Connection, now: datetime, limit: int, lease_seconds: float, hour: int, box: SecretBox
) -> list[Claimed]:
    """Lease the due deliveries of daily digests whose day (UTC, by the event's time) has been
    over since ``hour`` o'clock (UTC), up to ``limit``; the caller sends one mail per
    subscription and day."""
    rows = await conn.fetch(_CLAIM_DIGESTS, now, limit, lease_seconds, hour)
    return [_claimed(r, box) for r in rows]


def _claimed(r: Any, box: SecretBox) -> Claimed:
    return Claimed(
        id=r["id"],
        subscription=_subscription.decode(r["doc"]),
        secrets=opened(r["secret"], r["previous_secret"], r["previous_secret_until"], box),
        event_type=r["event_type"],
        aggregate_id=r["aggregate_id"],
        event_time=r["event_time"],
        body=r["body"],
        attempt=r["attempts"],
        tries=r["tries"],
        first_attempt_at=r["first_attempt_at"],
        followed=r["followed"],
    )


async def count_pending(conn: Queries) -> int:
    return int(await conn.fetchval(Q.count_pending))


async def record_attempt(
    conn: Connection, delivery_id: str, attempt: Attempt, settled: Settled
) -> bool:
    """The attempt's outcome, and where the delivery now stands (``settle``'s answer:
    ``delivered``, ``dead``, or ``pending`` again at its ``next_attempt_at``); one statement.
    False when a later attempt has taken the delivery over (this one's lease ran out): the
    attempt is logged, the state is the later one's."""
    status_text = await conn.execute(
        Q.record_attempt,
        uuid.UUID(delivery_id),
        settled.status.value,
        settled.next_attempt_at,
        attempt.status_code,
        attempt.error,
        attempt.started_at,
        attempt.attempt,
        attempt.outcome.value,
        attempt.latency_ms,
        attempt.address,
    )
    return status_text.endswith(" 1")
