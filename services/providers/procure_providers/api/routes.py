"""The service's HTTP routes, with domain errors answered as problem+json."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Router
from litestar.types import ControllerRouterHandler

from procure_providers.api.accreditations import AccreditationsController
from procure_providers.api.eligibility import eligibility
from procure_providers.api.exclusions import ExclusionsController
from procure_providers.api.providers import ProvidersController
from procure_shared.errors import DomainError
from procure_shared.http.domain import domain_problem

__all__ = ["routes"]


def routes() -> Sequence[ControllerRouterHandler]:
    return [
        Router(
            path="/",
            route_handlers=[
                ProvidersController,
                AccreditationsController,
                ExclusionsController,
                eligibility,
            ],
            exception_handlers={DomainError: domain_problem},
        )
    ]
