"""A subscription: whose it is, where alerts go (a webhook or a mailbox), what it asks for, and
whether it is active. Pure: no I/O, the time passed in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from procure_notifications.domain.filters import Filter
from procure_shared.errors import Conflict
from procure_shared.events import registry
from procure_shared.events.envelope import Envelope

__all__ = [
    "DELIVERY_FAILED",
    "Channel",
    "Email",
    "Owner",
    "Status",
    "Subscription",
    "Webhook",
    "channel_kind",
    "disable",
    "pause",
    "resume",
    "visible_to",
]

DELIVERY_FAILED = registry.DELIVERY_FAILED.type

EmailAddress = Annotated[
    str, msgspec.Meta(max_length=254, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
]


class Webhook(msgspec.Struct, frozen=True, kw_only=True, tag="webhook", tag_field="kind"):
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]


class Email(msgspec.Struct, frozen=True, kw_only=True, tag="email", tag_field="kind"):
    address: EmailAddress
    # "daily": one mail a day with the day's events instead of one mail per event.
    digest: Literal["none", "daily"] = "none"


Channel = Webhook | Email


def channel_kind(channel: Channel) -> str:
    return "email" if isinstance(channel, Email) else "webhook"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    # Switched off by the receiver (HTTP 410 Gone); resume switches it on again.
    DISABLED = "disabled"


MOVES: Mapping[Status, Sequence[str]] = {
    Status.ACTIVE: ("pause",),
    Status.PAUSED: ("resume",),
    Status.DISABLED: ("resume",),
}


class Owner(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    sub: str  # the token's subject
    buyer_id: str | None  # the buyer it acts for (None: an admin of no buyer)
    admin: bool = False  # an admin's subscription sees every buyer's events


class Subscription(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    owner: Owner
    name: str
    channel: Channel
    filter: Filter
    status: Status
    version: int
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None


def visible_to(owner: Owner, subscription_id: str, envelope: Envelope) -> bool:
    """Whether the owner could read this event through the API: its buyer's events and shared
    ones (no buyer: the provider registry), every event for an admin; and never a
    subscription's own delivery failures (an alert loop)."""
    if envelope.type == DELIVERY_FAILED and _failed_subscription(envelope) == subscription_id:
        return False
    return owner.admin or envelope.buyerid is None or envelope.buyerid == owner.buyer_id


class _Failed(msgspec.Struct, rename="camel"):
    subscription_id: str | None = None


_failed = msgspec.json.Decoder(_Failed)


def _failed_subscription(envelope: Envelope) -> str | None:
    try:
        return _failed.decode(envelope.data).subscription_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _moved(s: Subscription, status: Status, now: datetime, reason: str | None) -> Subscription:
    return msgspec.structs.replace(
        s, status=status, version=s.version + 1, updated_at=now, disabled_reason=reason
    )


def pause(s: Subscription, now: datetime) -> Subscription:
    if s.status is not Status.ACTIVE:
        raise Conflict(
            f"only an active subscription can be paused; this one is {s.status}",
            current=s.status,
            allowed=MOVES[s.status],
        )
    return _moved(s, Status.PAUSED, now, None)


def resume(s: Subscription, now: datetime) -> Subscription:
    if s.status is Status.ACTIVE:
        raise Conflict(
            "the subscription is active already", current=s.status, allowed=MOVES[s.status]
        )
    return _moved(s, Status.ACTIVE, now, None)


def disable(s: Subscription, now: datetime, reason: str) -> Subscription:
    """The receiver said the endpoint is gone: stop until the owner resumes."""
    if s.status is Status.DISABLED:
        return s
    return _moved(s, Status.DISABLED, now, reason)
