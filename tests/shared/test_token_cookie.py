"""A token in a cookie opens only the routes that say so (``token_cookie``), and only when no
Authorization header came: the dashboard's pages take it, the API never does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from litestar import Request, get
from prometheus_client import CollectorRegistry

from procure_shared.http import Principal, Role, create_service_app, requires
from procure_shared.http.auth import token_cookie
from procure_shared.settings import Settings
from tests.support.auth import bearer, token

COOKIE = "session"


@get("/page", opt=requires(Role.VIEWER) | token_cookie(COOKIE))
async def page(request: Request[Any, Any, Any]) -> str:
    user: Principal = request.user
    return f"{user.sub}@{user.buyer}"


@get("/v1/thing", opt=requires(Role.VIEWER))
async def thing() -> str:
    return "thing"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        settings=Settings(
            service="tests", database_url="postgresql://unused/unused", dev_mode=True
        ),
        title="Tests",
        description="",
        version="0",
        route_handlers=[page, thing],
        checks={},
        registry=CollectorRegistry(),
        state={"pool": None},
    )
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_a_cookie_opens_only_the_routes_that_take_it(client: httpx.AsyncClient) -> None:
    client.cookies.set(COOKIE, token(Role.VIEWER, sub="carol"))
    opened = await client.get("/page")
    assert opened.status_code == 200
    assert opened.text == "carol@dfe"
    assert (await client.get("/v1/thing")).status_code == 401


async def test_the_header_wins_over_the_cookie_and_a_bad_cookie_is_refused(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set(COOKIE, token(Role.VIEWER, sub="carol"))
    answer = await client.get("/page", headers=bearer(token(Role.VIEWER, sub="dave")))
    assert answer.text == "dave@dfe"
    client.cookies.set(COOKIE, "forged")
    assert (await client.get("/page")).status_code == 401
