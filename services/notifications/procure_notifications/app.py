"""The notifications service: what it serves, what it consumes, where its migrations are."""

from __future__ import annotations

from pathlib import Path

from procure_notifications.api.routes import routes
from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.settings import NotificationsOptions
from procure_shared.service import ServiceDefinition

__all__ = ["MIGRATIONS", "VERSION", "definition"]

VERSION = "0.2.0"
MIGRATIONS = Path(__file__).parent / "storage" / "migrations"


def definition(options: NotificationsOptions | None = None) -> ServiceDefinition:
    chosen = options or NotificationsOptions()
    return ServiceDefinition(
        name="notifications",
        title="Procure notifications",
        description="Subscriptions, deliveries, replay and the live event stream.",
        version=VERSION,
        migrations=MIGRATIONS,
        routes=lambda: routes(chosen),
        consumers=fanout_consumers,
    )
