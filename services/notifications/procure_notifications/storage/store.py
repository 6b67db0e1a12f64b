"""The notifications service's tables: subscriptions (the document beside its filter columns
and the signing secrets), deliveries (one per event and subscription) and their attempts.
What a delivery and an attempt are, and how a delivery moves on, is ``domain/deliveries.py``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
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
from procure_notifications.domain.subscriptions import Owner, Subscription, channel_kind
from procure_notifications.storage.sealing import SecretBox
from procure_shared.documents import Documents, Page, as_uuid
from procure_shared.postgres import Connection, Queries

__all__ = [
    "Claimed",
    "DeliveryFilter",
    "NewDelivery",
    "attempts_of",
    "candidates",
    "claim",
    "claim_digests",
    "count_owned",
    "count_pending",
    "delete_subscription",
    "delivery",
    "delivery_page",
    "insert_deliveries",
    "is_deleted",
    "next_failure_sequence",
    "record_attempt",
    "replay",
    "reseal_secrets",
    "secrets_of",
    "set_secrets",
    "subscription",
    "subscriptions",
    "wake_workers",
]


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


subscriptions = Documents("subscriptions", Subscription, _columns)


async def subscription(
    conn: Queries, subscription_id: str, *, buyer: str | None, for_update: bool = False
) -> Subscription | None:
    """The subscription if it is not deleted and ``buyer`` may see it (``None``: any buyer)."""
    key = as_uuid(subscription_id)
    if key is None:
        return None
    text = await conn.fetchval(
        "SELECT doc::text FROM subscriptions WHERE id = $1 AND deleted_at IS NULL"
        f" AND ($2::text IS NULL OR buyer_id = $2){' FOR UPDATE' if for_update else ''}",
        key,
        buyer,
    )
    return None if text is None else subscriptions.decode(text)


async def delete_subscription(conn: Connection, subscription_id: str, now: datetime) -> None:
    """Hide and disable the subscription: its secrets are cleared, its pending deliveries
    cancelled (never sent); its deliveries and their attempts stay as they were."""
    key = uuid.UUID(subscription_id)
    await conn.execute(
        "UPDATE subscriptions SET deleted_at = $2, secret = NULL, previous_secret = NULL,"
        " previous_secret_until = NULL WHERE id = $1",
        key,
        now,
    )
    await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', leased_until = NULL,"
        " last_error = 'the subscription was deleted' WHERE subscription_id = $1"
        " AND status = 'pending'",
        key,
    )


async def is_deleted(conn: Queries, subscription_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT deleted_at IS NOT NULL FROM subscriptions WHERE id = $1",
            uuid.UUID(subscription_id),
        )
    )


async def count_owned(conn: Connection, owner: Owner) -> int:
    """How many subscriptions ``owner`` has, counted under a lock on the owner until the
    transaction ends (so two creations at once cannot both pass a cap)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('subscriptions:' || $1 || ':' || $2, 0))",
        owner.sub,
        owner.buyer_id or "",
    )
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM subscriptions WHERE deleted_at IS NULL"
            " AND owner_sub = $1 AND buyer_id IS NOT DISTINCT FROM $2",
            owner.sub,
            owner.buyer_id,
        )
    )


async def set_secrets(
    conn: Connection, subscription_id: str, secrets: Secrets, box: SecretBox
) -> None:
    """Store the secrets sealed: the columns never hold a secret itself."""
    await conn.execute(
        "UPDATE subscriptions SET secret = $2, previous_secret = $3, previous_secret_until = $4 "
        "WHERE id = $1",
        uuid.UUID(subscription_id),
        None if secrets.current is None else box.seal(secrets.current),
        None if secrets.previous is None else box.seal(secrets.previous),
        secrets.previous_until,
    )


async def secrets_of(conn: Queries, subscription_id: str, box: SecretBox) -> Secrets:
    row = await conn.fetchrow(
        "SELECT secret, previous_secret, previous_secret_until FROM subscriptions WHERE id = $1",
        uuid.UUID(subscription_id),
    )
    if row is None:
        return Secrets(None, None, None)
    return _opened(row["secret"], row["previous_secret"], row["previous_secret_until"], box)


def _opened(
    current: str | None, previous: str | None, until: datetime | None, box: SecretBox
) -> Secrets:
    return Secrets(box.open(current), box.open(previous), until)


async def reseal_secrets(conn: Connection, box: SecretBox) -> int:
    """Seal every stored secret with the box's first key (a plain one, stored before secrets
    were sealed, too), in the caller's transaction; how many subscriptions changed. After a
    new key is put first and this has run, the old key can go."""
    rows = await conn.fetch(
        "SELECT id, secret, previous_secret FROM subscriptions"
        " WHERE secret IS NOT NULL OR previous_secret IS NOT NULL ORDER BY id FOR UPDATE"
    )
    changed = [
        (
            r["id"],
            None if r["secret"] is None else box.reseal(r["secret"]),
            None if r["previous_secret"] is None else box.reseal(r["previous_secret"]),
        )
        for r in rows
    ]
    await conn.executemany(
        "UPDATE subscriptions SET secret = $2, previous_secret = $3 WHERE id = $1", changed
    )
    return len(changed)


async def candidates(conn: Queries, buyer_id: str | None) -> list[Subscription]:
    """The subscriptions that may see an event of ``buyer_id`` (None: a shared event): its
    buyer's, and admins'. Paused and disabled ones too: their deliveries wait."""
    text = await conn.fetchval(
        "SELECT coalesce(json_agg(doc), '[]')::text FROM subscriptions "
        "WHERE deleted_at IS NULL AND (admin OR $1::text IS NULL OR buyer_id = $1)",
        buyer_id,
    )
    return _subscription_list.decode(text)


_subscription_list = msgspec.json.Decoder(list[Subscription])


class NewDelivery(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    subscription: Subscription
    event_id: uuid.UUID
    event_type: str
    aggregate_id: str
    sequence: int
    event_time: datetime
    body: bytes


async def insert_deliveries(conn: Connection, items: Sequence[NewDelivery], now: datetime) -> int:
    """Insert the deliveries not yet recorded (a redelivered event adds none)."""
    if not items:
        return 0
    status = await conn.execute(
        "INSERT INTO deliveries (id, subscription_id, buyer_id, owner_sub, event_id, event_type,"
        " aggregate_id, sequence, event_time, body, channel, status, next_attempt_at, created_at)"
        " SELECT d.id, d.subscription_id, d.buyer_id, d.owner_sub, d.event_id, d.event_type,"
        " d.aggregate_id, d.sequence, d.event_time, d.body, d.channel, 'pending', $10, $10"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],"
        " $7::text[], $8::bigint[], $9::timestamptz[], $11::bytea[], $12::text[])"
        " AS d(id, subscription_id, buyer_id, owner_sub, event_id, event_type, aggregate_id,"
        " sequence, event_time, body, channel)"
        " ON CONFLICT (subscription_id, event_id) DO NOTHING",
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


_DELIVERY_COLUMNS = (
    "id::text, subscription_id::text, event_id::text, event_type, aggregate_id, sequence,"
    " event_time, channel, status, attempts,"
    " CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,"
    " first_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, created_at"
)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        aggregate_id=row["aggregate_id"],
        sequence=row["sequence"],
        event_time=row["event_time"],
        channel=row["channel"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        first_attempt_at=row["first_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
    )


class DeliveryFilter(msgspec.Struct, kw_only=True):
    buyer: str | None  # None: every buyer's (admin)
    owner: str | None  # None: every owner's (admin)
    subscription: str | None = None
    status: str | None = None
    event_type: str | None = None
    aggregate: str | None = None
    after: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50


async def delivery_page(conn: Queries, f: DeliveryFilter) -> list[Delivery]:
    page = Page(after=f.after, limit=f.limit)
    if f.buyer is not None:
        page.add("buyer_id = {}", f.buyer)
    if f.owner is not None:
        page.add("owner_sub = {}", f.owner)
    if f.subscription is not None:
        page.add("subscription_id = {}", as_uuid(f.subscription) or uuid.UUID(int=0))
    for column, value in (
        ("status", f.status),
        ("event_type", f.event_type),
        ("aggregate_id", f.aggregate),
    ):
        if value is not None:
            page.add(f"{column} = {{}}", value)
    clause, params = page.clause()
    rows = await conn.fetch(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries{clause}", *params)
    return [_delivery(r) for r in rows]


async def delivery(
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
    row = await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
        " AND ($2::text IS NULL OR buyer_id = $2) AND ($3::text IS NULL OR owner_sub = $3)"
        f"{' FOR UPDATE' if for_update else ''}",
        key,
        buyer,
        owner,
    )
    return None if row is None else _delivery(row)


async def attempts_of(conn: Queries, delivery_id: str) -> list[Attempt]:
    rows = await conn.fetch(
        "SELECT attempt, started_at, outcome, status_code, latency_ms, error, address"
        " FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        uuid.UUID(delivery_id),
    )
    return [Attempt(**{**dict(r), "outcome": Outcome(r["outcome"])}) for r in rows]


async def replay(conn: Connection, ids: Sequence[str], now: datetime) -> int:
    """Send these deliveries again (same id: receivers dedupe on it), from now; the retry
    horizon starts again, the attempt numbers go on (the attempt log keeps every one)."""
    status = await conn.execute(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, leased_until = NULL,"
        " first_attempt_at = NULL, tries = 0 WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
        now,
    )
    await wake_workers(conn)
    return int(status.split()[-1])


async def wake_workers(conn: Queries) -> None:
    await conn.execute("SELECT pg_notify('deliveries', '')")


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

# A daily digest's deliveries go out together, once their day is over (``claim_digests``).
_DIGEST = "coalesce(s.doc->'channel'->>'digest', 'none') = 'daily'"

_LEASE = (
    " UPDATE deliveries d SET leased_until = $1 + make_interval(secs => $3),"
    " attempts = d.attempts + 1, tries = d.tries + 1,"
    " first_attempt_at = coalesce(d.first_attempt_at, $1), last_attempt_at = $1"
    " FROM due, subscriptions s WHERE d.id = due.id AND s.id = d.subscription_id"
    " RETURNING d.id::text, s.doc::text AS doc, s.secret, s.previous_secret,"
    " s.previous_secret_until, d.event_type, d.aggregate_id, d.event_time, d.body, d.attempts,"
    " d.tries, d.first_attempt_at, EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'"
    "  AND e.subscription_id = d.subscription_id AND e.aggregate_id = d.aggregate_id"
    "  AND e.sequence > d.sequence) AS followed"
)


async def claim(
    conn: Connection, now: datetime, limit: int, lease_seconds: float, box: SecretBox
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of active subscriptions, each the earliest pending
    one of its subscription and aggregate (so one aggregate's deliveries go out in order)."""
    rows = await conn.fetch(
        "WITH due AS ("
        " SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status = 'pending' AND s.status = 'active' AND s.deleted_at IS NULL"
        " AND d.next_attempt_at <= $1"
        " AND (d.leased_until IS NULL OR d.leased_until <= $1)"
        f" AND NOT {_DIGEST}"
        " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'"
        "  AND e.subscription_id = d.subscription_id AND e.aggregate_id = d.aggregate_id"
        "  AND e.sequence < d.sequence)"
        " ORDER BY d.next_attempt_at, d.sequence LIMIT $2 FOR UPDATE OF d SKIP LOCKED)" + _LEASE,
        now,
        limit,
        lease_seconds,
    )
    return [_claimed(r, box) for r in rows]


async def claim_digests(
    conn: Connection, now: datetime, limit: int, lease_seconds: float, hour: int, box: SecretBox
) -> list[Claimed]:
    """Lease the due deliveries of daily digests whose day (UTC, by the event's time) has been
    over since ``hour`` o'clock (UTC), up to ``limit``; the caller sends one mail per
    subscription and day."""
    rows = await conn.fetch(
        "WITH due AS ("
        " SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status = 'pending' AND s.status = 'active' AND s.deleted_at IS NULL"
        " AND d.next_attempt_at <= $1"
        " AND (d.leased_until IS NULL OR d.leased_until <= $1)"
        f" AND {_DIGEST} AND d.event_time < date_trunc('day',"
        " ($1 - make_interval(hours => $4)) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        " ORDER BY d.subscription_id, d.event_time, d.sequence LIMIT $2"
        " FOR UPDATE OF d SKIP LOCKED)" + _LEASE,
        now,
        limit,
        lease_seconds,
        hour,
    )
    return [_claimed(r, box) for r in rows]


def _claimed(r: Any, box: SecretBox) -> Claimed:
    return Claimed(
        id=r["id"],
        subscription=_subscription.decode(r["doc"]),
        secrets=_opened(r["secret"], r["previous_secret"], r["previous_secret_until"], box),
        event_type=r["event_type"],
        aggregate_id=r["aggregate_id"],
        event_time=r["event_time"],
        body=r["body"],
        attempt=r["attempts"],
        tries=r["tries"],
        first_attempt_at=r["first_attempt_at"],
        followed=r["followed"],
    )


async def next_failure_sequence(conn: Connection, subscription_id: str) -> int | None:
    """The sequence of the subscription's next ``delivery.failed`` event (None: it is gone)."""
    value = await conn.fetchval(
        "UPDATE subscriptions SET failures_published = failures_published + 1 WHERE id = $1"
        " RETURNING failures_published",
        uuid.UUID(subscription_id),
    )
    return None if value is None else int(value)


async def count_pending(conn: Queries) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'pending'"))


async def record_attempt(
    conn: Connection,
    delivery_id: str,
    attempt: Attempt,
    settled: Settled,
) -> bool:
    """The attempt's outcome, and where the delivery now stands (``settle``'s answer:
    ``delivered``, ``dead``, or ``pending`` again at its ``next_attempt_at``); one statement.
    False when a later attempt has taken the delivery over (this one's lease ran out): the
    attempt is logged, the state is the later one's."""
    status_text = await conn.execute(
        "WITH logged AS (INSERT INTO delivery_attempts (delivery_id, attempt, started_at,"
        " outcome, status_code, latency_ms, error, address)"
        " VALUES ($1, $7, $6, $8, $4, $9, $5, $10) ON CONFLICT (delivery_id, attempt) DO NOTHING)"
        " UPDATE deliveries SET status = $2, leased_until = NULL,"
        " next_attempt_at = coalesce($3, next_attempt_at), last_status_code = $4,"
        " last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END"
        " WHERE id = $1 AND attempts = $7 AND status = 'pending'",
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
