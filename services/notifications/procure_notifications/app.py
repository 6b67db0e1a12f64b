"""The notifications service: what it serves, what it consumes, where its migrations are."""

from __future__ import annotations

from procure_shared.service import ServiceDefinition

__all__ = ["definition"]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="notifications",
        title="Procure notifications",
        description="Subscriptions, deliveries, replay and the live event stream.",
        version="0.1.0",
        migrations=None,
    )
