"""What the notifications controllers share: who asks, and the service's options."""

from __future__ import annotations

from typing import Any

from litestar import Request

from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.subscriptions import Viewer
from procure_shared.http.domain import RouteConstant, principal

__all__ = ["OPTIONS", "options", "viewer"]

OPTIONS = RouteConstant[NotificationsOptions]("notifications_options")


def viewer(request: Request[Any, Any, Any]) -> Viewer:
    user = principal(request)
    return Viewer(actor=user.as_actor(), sub=user.sub, buyer_id=user.buyer, admin=user.is_admin)


def options(request: Request[Any, Any, Any]) -> NotificationsOptions:
    return OPTIONS.of(request)
