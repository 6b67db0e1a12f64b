"""What the notifications controllers share: who asks, and the service's options."""

from __future__ import annotations

from typing import Any

from litestar import Request

from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.subscriptions import Viewer
from procure_shared.http.domain import principal

__all__ = ["options", "viewer", "with_options"]

_OPTIONS = "notifications_options"


def viewer(request: Request[Any, Any, Any]) -> Viewer:
    user = principal(request)
    return Viewer(actor=user.as_actor(), sub=user.sub, buyer_id=user.buyer, admin=user.is_admin)


def with_options(o: NotificationsOptions) -> dict[str, Any]:
    """The ``opt`` of the router: the service's options (constants of the app, not
    dependencies: decision 0010)."""
    return {_OPTIONS: o}


def options(request: Request[Any, Any, Any]) -> NotificationsOptions:
    found: NotificationsOptions = request.route_handler.opt[_OPTIONS]
    return found
