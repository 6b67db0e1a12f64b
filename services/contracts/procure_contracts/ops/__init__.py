"""The ops dashboard (decision 14): ``/ops`` and its contract timelines (``pages``), sign-in
for browsers (``signin``), live updates (``live``) and its stylesheet and script (``static/``,
served here: no CDN)."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from procure_contracts.ops.common import OPS, OpsConfig, SignInConfig
from procure_contracts.ops.live import LiveController
from procure_contracts.ops.pages import OpsController
from procure_contracts.ops.signin import PUBLIC, SignInController
from procure_shared.errors import DomainError
from procure_shared.http.domain import domain_problem

__all__ = ["TEMPLATES", "OpsConfig", "SignInConfig", "ops_routes"]

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"


def ops_routes(config: OpsConfig) -> Router:
    return Router(
        path="/",
        route_handlers=[
            OpsController,
            SignInController,
            LiveController,
            create_static_files_router(
                path="/ops/assets",
                directories=[HERE / "static"],
                include_in_schema=False,
                opt=PUBLIC,
                cache_control=CacheControlHeader(max_age=300),
            ),
        ],
        opt=OPS.opt(config),
        exception_handlers={DomainError: domain_problem},
    )
