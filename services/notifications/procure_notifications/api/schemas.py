"""What the notifications API reads and answers, beyond the domain's own Structs."""

from __future__ import annotations

from typing import Annotated

import msgspec

from procure_notifications.domain.deliveries import Attempt, Delivery
from procure_notifications.domain.filters import Filter
from procure_notifications.domain.subscriptions import Channel, Subscription
from procure_notifications.usecases.subscriptions import Changes, Draft

__all__ = [
    "DeliveryDetail",
    "DeliveryPage",
    "Replayed",
    "SubscriptionIn",
    "SubscriptionPage",
    "SubscriptionPatch",
    "WithSecret",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SubscriptionIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    channel: Channel
    filter: Filter

    def draft(self) -> Draft:
        return Draft(name=self.name, channel=self.channel, filter=self.filter)


class SubscriptionPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    channel: Channel | msgspec.UnsetType = msgspec.UNSET
    filter: Filter | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> Changes:
        return Changes(name=self.name, channel=self.channel, filter=self.filter)


class WithSecret(Subscription, frozen=True, kw_only=True, rename="camel"):
    """A subscription as created or re-keyed: the webhook signing secret is shown this once."""

    secret: str | None = None


class SubscriptionPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Subscription]
    next_cursor: str | None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Delivery]
    next_cursor: str | None


class DeliveryDetail(Delivery, frozen=True, kw_only=True, rename="camel"):
    attempt_log: list[Attempt]


class Replayed(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    replayed: int
