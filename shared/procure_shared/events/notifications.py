"""The events the notifications service publishes (``notifications.*``, stream
``NOTIFICATIONS``). Their subject is the subscription; ``buyerid`` is its owner's buyer."""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["DeliveryFailed"]


class DeliveryFailed(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``notifications.delivery.failed``: a delivery was dead-lettered after its last attempt
    (replay it with ``POST /v1/deliveries/{id}/replay``)."""

    subscription_id: str
    subscription_name: str
    channel: str  # webhook or email
    delivery_id: str
    event_id: str
    event_type: str
    aggregate_id: str
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
