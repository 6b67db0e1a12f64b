"""A dependency down is 503 with Retry-After, never 500: every way asyncpg and nats-py say that
PostgreSQL or NATS is unavailable, raised from a handler of an app built as services build
theirs; a bug stays a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import nats.errors
import nats.js.errors
import pytest
from litestar import Controller, Request, get
from litestar.exceptions import ServiceUnavailableException
from litestar.params import FromPath
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.http import PROBLEM_JSON, Role, requires
from procure_shared.http.problems import dependency_down
from procure_shared.service import Runtime
from tests.support.apps import app_client, runtime_of
from tests.support.auth import bearer, token

DOWN: dict[str, Callable[[], BaseException]] = {
    "connection refused": lambda: ConnectionRefusedError(111, "Connect call failed"),
    "refused on every address": lambda: OSError("Multiple exceptions: [Errno 111] refused"),
    "a pool acquire timed out": lambda: TimeoutError(),
    "the server is starting": lambda: asyncpg.CannotConnectNowError("starting up"),
    "the connection was lost": lambda: asyncpg.ConnectionDoesNotExistError("lost"),
    "the server shut down": lambda: asyncpg.AdminShutdownError("terminating"),
    "too many connections": lambda: asyncpg.TooManyConnectionsError("too many"),
    "a closed connection": lambda: asyncpg.InterfaceError("connection is closed"),
    "a closed pool": lambda: asyncpg.InterfaceError("pool is closed"),
    "a request nobody answered in time": lambda: nats.errors.TimeoutError(),
    "no responders": lambda: nats.errors.NoRespondersError(),
    "NATS connection closed": lambda: nats.errors.ConnectionClosedError(),
    "JetStream unavailable": lambda: nats.js.errors.ServiceUnavailableError(),
}

BUGS: dict[str, Callable[[], BaseException]] = {
    "a missing file": lambda: FileNotFoundError(2, "No such file", "/nowhere"),
    "an operation in progress": lambda: asyncpg.InterfaceError(
        "cannot perform operation: another operation is in progress"
    ),
    "a bad query": lambda: asyncpg.UndefinedTableError('relation "nothing" does not exist'),
    "a plain bug": lambda: RuntimeError("oops"),
}


class Failing(Controller):
    path = "/v1/failing"
    opt = requires(Role.VIEWER)

    @get("/{name:str}")
    async def fail(self, name: FromPath[str]) -> None:
        raise {**DOWN, **BUGS}[name]()

    @get("/refused/by/litestar")
    async def refused(self) -> None:
        raise ServiceUnavailableException("an issuer's keys cannot be fetched")

    @get("/nats/nobody")
    async def ask_nobody(self, request: Request[Any, Any, Any]) -> None:
        runtime: Runtime = request.app.state.runtime
        await runtime.nats.request("rpc.nobody.listens", b"?", timeout=2)


@pytest.fixture
async def client(pool: Pool, nc: Client, js: JetStreamContext) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client([Failing], runtime_of(pool, nc, js)) as http:
        yield http


VIEWER = bearer(token(Role.VIEWER))


@pytest.mark.parametrize("name", DOWN)
async def test_a_dependency_down_is_a_503_problem_with_retry_after(
    client: httpx.AsyncClient, name: str
) -> None:
    answer = await client.get(f"/v1/failing/{name}", headers=VIEWER)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["title"] == "Service Unavailable"


@pytest.mark.parametrize("name", BUGS)
async def test_a_bug_stays_a_500(client: httpx.AsyncClient, name: str) -> None:
    answer = await client.get(f"/v1/failing/{name}", headers=VIEWER)
    assert answer.status_code == 500, answer.text
    assert "retry-after" not in answer.headers


async def test_asking_over_nats_a_service_nobody_runs_is_a_503(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/failing/nats/nobody", headers=VIEWER)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"


def test_only_network_errors_among_os_errors_say_a_dependency_is_down() -> None:
    assert dependency_down(ConnectionResetError())
    assert dependency_down(TimeoutError())
    assert not dependency_down(PermissionError())
    assert not dependency_down(IsADirectoryError())


async def test_a_503_any_layer_answers_says_when_to_retry(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/failing/refused/by/litestar", headers=VIEWER)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["retry-after"] == "1"
