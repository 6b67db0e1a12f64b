"""``/health/live`` (the process answers, and which version it runs) and ``/health/ready`` (its
database and NATS are reachable): what orchestrators and ``make up`` wait on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

__all__ = ["Health", "health_handlers"]


class Health(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]
    version: str  # the service's (the workspace's) version


Check = Callable[[], Awaitable[str | None]]  # None when healthy, else what is wrong


def health_handlers(checks: Mapping[str, Check], version: str) -> list[HTTPRouteHandler]:
    @get("/health/live", tags=["health"], summary="Liveness, with the version running")
    async def live() -> Health:
        return Health(status="live", checks={}, version=version)

    @get(
        "/health/ready",
        tags=["health"],
        summary="Readiness: database and NATS reachable",
        responses={
            503: ResponseSpec(data_container=Health, description="Not ready: see the checks.")
        },
    )
    async def ready() -> Response[Health]:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        healthy = all(r == "ok" for r in results)
        return Response(
            Health(status="ready" if healthy else "not_ready", checks=report, version=version),
            status_code=200 if healthy else 503,
        )

    return [live, ready]


async def _run(check: Check) -> str:
    try:
        problem = await asyncio.wait_for(check(), timeout=2.0)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return problem or "ok"
