"""A delivery (one event for one subscription) and its attempts: where a delivery stands, what
an attempt's channel answered, and what follows from that (``settle``). Pure: the worker sends,
the storage keeps, this decides.

A delivery is ``pending`` until it is ``delivered``, or ``dead`` once its retries pass the
policy's horizon (a dead letter: ``notifications.delivery.failed``), or ``cancelled`` when its
subscription is deleted before it is sent. An attempt's outcome is ``delivered`` (a 2xx, a mail
server's 2xx), ``gone`` (410: the receiver wants no more; the subscription is disabled and the
delivery waits, due at once, for a resume), ``refused`` (the target's address is not one we send
to) or ``failed`` (anything else: tried again after the policy's backoff)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

import msgspec

from procure_notifications.domain.retries import RetryPolicy, next_attempt

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryStatus",
    "Outcome",
    "Retrying",
    "Secrets",
    "Settled",
    "settle",
]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """What a channel answered one attempt."""

    DELIVERED = "delivered"
    FAILED = "failed"
    GONE = "gone"
    REFUSED = "refused"


class Delivery(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    aggregate_id: str
    sequence: int
    event_time: datetime
    channel: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class Attempt(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    attempt: int
    started_at: datetime
    outcome: Outcome
    latency_ms: float
    status_code: int | None = None
    error: str | None = None
    address: str | None = None


class Secrets(msgspec.Struct, frozen=True):
    """A webhook subscription's signing secrets: the current one, and while a rotation's grace
    lasts, the previous one."""

    current: str | None
    previous: str | None
    previous_until: datetime | None

    def signing(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous one in its grace."""
        keys = [self.current] if self.current else []
        if self.previous and self.previous_until is not None and now < self.previous_until:
            keys.append(self.previous)
        return keys


class Retrying(Protocol):
    """What ``settle`` needs of a delivery being tried."""

    @property
    def tries(self) -> int: ...  # failed attempts so far, this one included

    @property
    def first_attempt_at(self) -> datetime: ...


class Settled(msgspec.Struct, frozen=True, kw_only=True):
    """Where a delivery stands after an attempt, and when it is next due (``None``: never, or
    no change)."""

    status: DeliveryStatus
    next_attempt_at: datetime | None


def settle(
    delivery: Retrying, outcome: Outcome, policy: RetryPolicy, now: datetime, *, spread: float
) -> Settled:
    """The delivery's status after an attempt with ``outcome``: delivered; pending and due at
    once after a 410 (waiting for its subscription to be resumed); else pending until the
    policy's next try (``spread`` picks its jitter), or dead past the policy's horizon."""
    if outcome is Outcome.DELIVERED:
        return Settled(status=DeliveryStatus.DELIVERED, next_attempt_at=None)
    if outcome is Outcome.GONE:
        return Settled(status=DeliveryStatus.PENDING, next_attempt_at=now)
    at = next_attempt(
        policy,
        failures=delivery.tries,
        first_attempt=delivery.first_attempt_at,
        now=now,
        spread=spread,
    )
    if at is None:
        return Settled(status=DeliveryStatus.DEAD, next_attempt_at=None)
    return Settled(status=DeliveryStatus.PENDING, next_attempt_at=at)
