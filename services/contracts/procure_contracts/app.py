"""The contracts service: what it serves, what it consumes, where its migrations are."""

from __future__ import annotations

from procure_shared.service import ServiceDefinition

__all__ = ["definition"]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="contracts",
        title="Procure contracts",
        description="Tenders, lots, awards, contracts, amendments, milestones and KPIs.",
        version="0.1.0",
        migrations=None,
    )
