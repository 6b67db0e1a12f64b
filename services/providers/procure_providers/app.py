"""The providers service: what it serves, what it consumes, where its migrations are."""

from __future__ import annotations

from procure_shared.service import ServiceDefinition

__all__ = ["definition"]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="providers",
        title="Procure providers",
        description=(
            "The provider registry: identifiers, accreditations, exclusions, eligibility and "
            "track record."
        ),
        version="0.1.0",
        migrations=None,
    )
