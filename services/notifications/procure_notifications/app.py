"""The notifications service: what it serves, what it consumes, where its migrations are."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from procure_notifications.api.routes import routes
from procure_notifications.delivery.metrics import DeliveryMetrics
from procure_notifications.delivery.worker import DeliveryWorker
from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.senders.email import Mailer
from procure_notifications.senders.webhook import WebhookSender
from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.sending import Channels
from procure_shared.service import Runtime, ServiceDefinition

__all__ = ["MIGRATIONS", "VERSION", "definition", "delivery_worker"]

VERSION = version("procure-notifications")  # the workspace's, as every package's
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
        workers=lambda runtime: [delivery_worker(runtime, chosen)],
    )


def delivery_worker(
    runtime: Runtime, options: NotificationsOptions, *, metrics: bool = True
) -> DeliveryWorker:
    """The worker that sends what the fan-out recorded, on the runtime's pool and clock."""
    return DeliveryWorker(
        pool=runtime.pool,
        dsn=runtime.settings.database_url,
        clock=runtime.clock,
        channels=Channels(
            WebhookSender(allow_loopback=options.allow_loopback, timeout=options.webhook_timeout),
            Mailer(options.smtp()),
        ),
        box=options.secret_box(),
        policy=options.retry_policy(),
        timeout=options.webhook_timeout,
        concurrency=options.delivery_concurrency,
        poll=options.delivery_poll,
        digest_hour=options.digest_hour,
        metrics=DeliveryMetrics(runtime.registry) if metrics else None,
    )
