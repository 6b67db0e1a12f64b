"""Rules of the request path that keep it cheap, checked on every service's routes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CollectorRegistry

from procure_contracts.app import definition as contracts
from procure_notifications.app import definition as notifications
from procure_providers.app import definition as providers
from procure_shared.http import create_service_app
from procure_shared.service import ServiceDefinition
from procure_shared.settings import Settings

DEFINITIONS: dict[str, Callable[[], ServiceDefinition]] = {
    "contracts": contracts,
    "providers": providers,
    "notifications": notifications,
}


def app_of(definition: ServiceDefinition) -> Litestar:
    settings = Settings(
        service=definition.name, database_url="postgresql://unused/unused", dev_mode=True
    )
    return create_service_app(
        settings=settings,
        title=definition.title,
        description=definition.description,
        version=definition.version,
        route_handlers=definition.routes(),
        checks={},
        registry=CollectorRegistry(),
        state={"pool": None},  # the app is only inspected, never served
    )


def handlers(app: Litestar) -> list[HTTPRouteHandler]:
    return [h for route in app.routes for h in getattr(route, "route_handlers", [])]


@pytest.mark.parametrize("service", sorted(DEFINITIONS))
def test_no_route_handler_takes_more_than_one_dependency(service: str) -> None:
    # With two or more, Litestar resolves them in an anyio task group on every request: a
    # tenth of an amendment's time in the contracts bench.
    app = app_of(DEFINITIONS[service]())
    crowded = {}
    for handler in handlers(app):
        provided = handler.resolve_dependencies()
        used = [name for name in handler.parsed_fn_signature.parameters if name in provided]
        if len(used) > 1:
            crowded[handler.handler_name] = used
    assert crowded == {}


@pytest.mark.parametrize("service", sorted(DEFINITIONS))
def test_no_route_uses_litestar_guards(service: str) -> None:
    # Roles are the route's opt, checked by the bearer middleware: a guard costs a copy of the
    # route handler per request.
    app = app_of(DEFINITIONS[service]())
    guarded = [h.handler_name for h in handlers(app) if h.resolve_guards()]
    assert guarded == []


def test_every_route_of_the_api_names_the_roles_it_needs() -> None:
    for service, make in DEFINITIONS.items():
        app = app_of(make())
        for handler in handlers(app):
            if handler.http_methods != {"OPTIONS"} and any(
                p.startswith("/v1") for p in handler.paths
            ):
                assert handler.opt.get("roles"), f"{service}: {handler.handler_name} names no role"
