"""The service's HTTP routes, with domain errors answered as problem+json."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Router
from litestar.types import ControllerRouterHandler

from procure_notifications.api.common import OPTIONS
from procure_notifications.api.deliveries import DeliveriesController
from procure_notifications.api.stream import EventsController
from procure_notifications.api.subscriptions import SubscriptionsController
from procure_notifications.settings import NotificationsOptions
from procure_shared.errors import DomainError
from procure_shared.http.domain import domain_problem

__all__ = ["routes"]


def routes(options: NotificationsOptions) -> Sequence[ControllerRouterHandler]:
    return [
        Router(
            path="/",
            route_handlers=[SubscriptionsController, DeliveriesController, EventsController],
            exception_handlers={DomainError: domain_problem},
            opt=OPTIONS.opt(options),
        )
    ]
