"""Per-token rate limits: a token over its writes per second, or its event streams per minute,
is 429 with Retry-After (a problem) and its request never reaches the handler; other tokens,
reads, and the next window are not held back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import msgspec
import pytest
from litestar import Controller, get, post
from litestar.response import ServerSentEvent
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.http import PROBLEM_JSON, Role, requires, throttle
from tests.support.apps import SETTINGS, app_client, runtime_of
from tests.support.auth import bearer, token

NOW = 1_790_000_000.25
ALICE = bearer(token(Role.COMMERCIAL, sub="alice"))
BOB = bearer(token(Role.COMMERCIAL, sub="bob"))


class Handled(Controller):
    path = "/v1/limited"
    opt = requires(Role.VIEWER)
    calls: list[str] = []

    @post(status_code=204)
    async def write(self) -> None:
        Handled.calls.append("write")

    @get()
    async def read(self) -> None:
        Handled.calls.append("read")

    @get("/stream", media_type="text/event-stream")
    async def stream(self) -> ServerSentEvent:
        Handled.calls.append("stream")
        return ServerSentEvent(iter(["one"]))


class Clock:
    """The time the limits read: fixed, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(throttle, "time", fixed)
    Handled.calls = []
    return fixed


@asynccontextmanager
async def _client(
    pool: Pool,
    nc: Client,
    js: JetStreamContext,
    writes: int | None = None,
    streams: int | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = SETTINGS
    if writes is not None and streams is not None:
        settings = msgspec.structs.replace(
            settings, rate_limit_writes=writes, rate_limit_streams=streams
        )
    async with app_client([Handled], runtime_of(pool, nc, js, settings)) as http:
        yield http


@pytest.fixture
async def limited(
    pool: Pool, nc: Client, js: JetStreamContext, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(pool, nc, js, writes=3, streams=2) as http:
        yield http


def _refused(answer: httpx.Response) -> bool:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["status"] == 429
    return int(answer.headers["retry-after"]) >= 1


async def test_a_token_over_its_writes_per_second_is_429_with_retry_after(
    limited: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(3):
        assert (await limited.post("/v1/limited", headers=ALICE)).status_code == 204
    assert _refused(await limited.post("/v1/limited", headers=ALICE))
    assert Handled.calls == ["write"] * 3
    # Another token, and reads, are not held back; the next second is a new window.
    assert (await limited.post("/v1/limited", headers=BOB)).status_code == 204
    assert (await limited.get("/v1/limited", headers=ALICE)).status_code == 200
    clock.now += 1
    assert (await limited.post("/v1/limited", headers=ALICE)).status_code == 204


async def test_a_token_over_its_streams_per_minute_is_429_with_retry_after(
    limited: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(2):
        answer = await limited.get("/v1/limited/stream", headers=ALICE)
        assert answer.status_code == 200, answer.text
    refused = await limited.get("/v1/limited/stream", headers=ALICE)
    assert _refused(refused)
    assert int(refused.headers["retry-after"]) == 60
    assert Handled.calls == ["stream"] * 2
    clock.now += 60
    assert (await limited.get("/v1/limited/stream", headers=ALICE)).status_code == 200


async def test_a_limit_of_zero_is_no_limit(
    pool: Pool, nc: Client, js: JetStreamContext, clock: Clock
) -> None:
    async with _client(pool, nc, js, writes=0, streams=0) as http:
        for _ in range(50):
            assert (await http.post("/v1/limited", headers=ALICE)).status_code == 204
            assert (await http.get("/v1/limited/stream", headers=ALICE)).status_code == 200


async def test_the_default_limits_let_a_bench_load_of_one_token_through(
    pool: Pool, nc: Client, js: JetStreamContext, clock: Clock
) -> None:
    """The write benchmarks: 50 connections sharing one token, about 500 writes a second."""
    async with _client(pool, nc, js) as http:
        for _ in range(600):
            assert (await http.post("/v1/limited", headers=ALICE)).status_code == 204
