"""The Litestar application every service is built on: problem+json errors, bearer-token auth,
correlation ids, Prometheus metrics, health probes, and the OpenAPI document with a local UI at
``/docs`` (assets served from the swagger-ui-bundle wheel: no CDN)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec
import swagger_ui_bundle
from litestar import Litestar, MediaType, Response, Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from procure_shared.db.postgres import Connection, Pool, Queries
from procure_shared.http.auth import BearerAuth
from procure_shared.http.bodies import ProcureRequest
from procure_shared.http.health import Check, health_handlers
from procure_shared.http.observability import HttpMetrics, correlation_middleware
from procure_shared.http.problems import (
    PROBLEM_DESCRIPTIONS,
    PROBLEM_JSON,
    ProblemDetails,
    exception_handlers,
)
from procure_shared.http.throttle import rate_limits
from procure_shared.revocations import Revocations
from procure_shared.settings import Settings

__all__ = [
    "Reading",
    "Transaction",
    "connections",
    "create_service_app",
]

_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "/schema/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "BaseLayout",
  persistAuthorization: true}});
</script></body></html>
"""


# Annotate a handler's ``conn`` parameter with this to get the request's transaction, or its
# ``db`` parameter with ``Reading`` for the pool: a read of single statements, each on a
# connection lent for it (no BEGIN and COMMIT round trips, and no per-request generator
# dependency, whose cleanup cost a tenth of a simple GET). Litestar cannot model the union of
# connection types, so at runtime the markers carry ``Any``.
if TYPE_CHECKING:
    Transaction: TypeAlias = Connection
    Reading: TypeAlias = Queries
else:
    Transaction = NamedDependency[Any]
    Reading = NamedDependency[Any]


def connections(pool: Pool) -> dict[str, Provide]:
    """The dependencies ``conn`` and ``db``. They take no parameters (the pool is theirs from
    the start), so Litestar has nothing to parse for them per request."""

    async def provide_transaction() -> AsyncIterator[Connection]:
        """A connection with an open transaction for one request: committed when the handler
        returns, rolled back when it raises (the request path's step 3)."""
        async with pool.acquire() as conn, conn.transaction():
            yield conn

    async def provide_reading() -> Queries:
        """The pool, for a request that only reads (each statement its own snapshot)."""
        return pool

    return {"conn": Provide(provide_transaction), "db": Provide(provide_reading)}


def create_service_app(
    *,
    settings: Settings,
    title: str,
    description: str,
    version: str,
    route_handlers: Sequence[ControllerRouterHandler],
    checks: Mapping[str, Check],
    registry: CollectorRegistry,
    state: Mapping[str, Any],
    dependencies: Mapping[str, Provide] | None = None,
    templates: Path | None = None,
    debug: bool = False,
    revocations: Revocations | None = None,
) -> Litestar:
    metrics = HttpMetrics(registry)
    auth = BearerAuth.from_settings(settings, revocations)

    @get("/docs", media_type=MediaType.HTML, include_in_schema=False)
    async def docs() -> str:
        return _DOCS_PAGE.format(title=title)

    @get("/metrics", tags=["health"], summary="Prometheus metrics", media_type="text/plain")
    async def metrics_endpoint() -> Response[bytes]:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app = Litestar(
        route_handlers=[
            Router(path="/", route_handlers=list(route_handlers), security=[{"BearerToken": []}]),
            *health_handlers(checks, version),
            metrics_endpoint,
            docs,
            create_static_files_router(
                path="/docs/assets", directories=[_ASSETS], include_in_schema=False
            ),
        ],
        # Only the service's own routes are secured (the router above says so): probes, metrics
        # and docs answer without a token.
        on_app_init=[auth.on_app_init],
        middleware=[
            correlation_middleware(metrics),
            # After authentication (which on_app_init puts first): a token over its limit is
            # refused before its request is read.
            *rate_limits(settings.rate_limit_writes, settings.rate_limit_streams),
        ],
        exception_handlers=exception_handlers,
        dependencies={
            **connections(state["pool"]),
            **(dependencies or {}),
        },
        # Handlers that take a token other than from the Authorization header (a sign-in
        # form) verify it as the middleware does.
        state=State({**state, "auth": auth}),
        template_config=None
        if templates is None
        else TemplateConfig(directory=templates, engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title=title,
            version=version,
            description=description,
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        request_max_body_size=1_000_000,
        request_class=ProcureRequest,  # JSON bodies nested too deep are refused undecoded
        logging_config=None,  # procure_shared.logs configures JSON logs for the process
        debug=debug,
    )
    _declare_closed_bodies(app)
    _declare_shared_answers(app, settings)
    return app


def _structs(root: type[msgspec.Struct]) -> Iterator[type[msgspec.Struct]]:
    for sub in root.__subclasses__():
        yield sub
        yield from _structs(sub)


def _declare_shared_answers(app: Litestar, settings: Settings) -> None:
    """Say in the OpenAPI document what any route may answer besides its own statuses: 503
    when a dependency it needs is down (every route), and 429 over a token's rate limit (the
    writes and the event streams, while their limit is on)."""
    for item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            answers = operation.responses if operation.responses is not None else {}
            shared = [503]
            if method != "get" and settings.rate_limit_writes:
                shared.append(429)
            if method == "get" and settings.rate_limit_streams and _streams(operation):
                shared.append(429)
            for status in shared:
                known = answers.setdefault(str(status), _try_again(status))
                if isinstance(known, OpenAPIResponse) and PROBLEM_JSON in (known.content or {}):
                    known.headers = {**(known.headers or {}), "Retry-After": _RETRY_AFTER}
            operation.responses = answers


def _try_again(status: int) -> OpenAPIResponse:
    """A problem answer that says when to try again."""
    return OpenAPIResponse(
        description=PROBLEM_DESCRIPTIONS[status],
        content={
            PROBLEM_JSON: OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{ProblemDetails.__name__}")
            )
        },
        headers={"Retry-After": _RETRY_AFTER},
    )


_RETRY_AFTER = OpenAPIHeader(
    description="Seconds to wait before trying again.", schema=Schema(type=OpenAPIType.INTEGER)
)


def _streams(operation: Operation) -> bool:
    ok = (operation.responses or {}).get("200")
    return isinstance(ok, OpenAPIResponse) and "text/event-stream" in (ok.content or {})


def _declare_closed_bodies(app: Litestar) -> None:
    """Say in the OpenAPI document what the server does: request bodies that forbid unknown
    fields get ``additionalProperties: false`` (Litestar leaves it out, so clients and
    schemathesis would think extra fields are welcome)."""
    closed: dict[str, bool] = {}
    for struct in _structs(msgspec.Struct):
        name = struct.__name__
        forbids = bool(struct.__struct_config__.forbid_unknown_fields)
        # A name two Structs share is left alone unless both forbid unknown fields.
        closed[name] = forbids and closed.get(name, True)
    schemas = app.openapi_schema.components.schemas or {}
    for name, schema in schemas.items():
        if closed.get(name) and isinstance(schema, Schema):
            schema.additional_properties = False
