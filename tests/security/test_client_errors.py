"""An attacker's replays: requests a client got wrong, which each service answers with a 4xx
problem (never a 500), and requests made while a dependency is down, answered 503."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_contracts.app import MIGRATIONS as CONTRACTS_MIGRATIONS
from procure_contracts.app import definition as contracts_definition
from procure_contracts.settings import ContractsOptions
from procure_notifications.app import definition as notifications_definition
from procure_notifications.settings import NotificationsOptions
from procure_providers.app import definition as providers_definition
from procure_shared.clock import FixedClock
from procure_shared.db.migrations import migrate
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.http import PROBLEM_JSON, Role
from procure_shared.http.bodies import MAX_DEPTH
from procure_shared.service import build_app
from tests.support.auth import bearer, keyed, token
from tests.support.runtime import runtime_for
from tests.support.servers import embedded_postgres

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADMIN = bearer(token(Role.ADMIN, sub="mallory", buyer="dfe"))


@pytest.fixture
async def contracts(cpool: Pool, nc: Client, js: JetStreamContext, contracts_url: str) -> Litestar:
    runtime = runtime_for("contracts", contracts_url, cpool, nc, js, FixedClock(NOW))
    return build_app(contracts_definition(ContractsOptions()), runtime)


@pytest.fixture
async def notifications(
    npool: Pool, nc: Client, js: JetStreamContext, notifications_url: str
) -> Litestar:
    runtime = runtime_for("notifications", notifications_url, npool, nc, js, FixedClock(NOW))
    return build_app(notifications_definition(NotificationsOptions()), runtime)


@pytest.fixture
async def providers(ppool: Pool, nc: Client, js: JetStreamContext, providers_url: str) -> Litestar:
    runtime = runtime_for("providers", providers_url, ppool, nc, js, FixedClock(NOW))
    return build_app(providers_definition(), runtime)


async def _client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


SOME_ID = "0b4a3c52-93a5-4d6c-9a1a-5e7a0c1f2d3e"

# Cursors no page ever handed out: each must be 400, on every endpoint that takes one.
CRAFTED = {
    "two nulls": "W251bGwsIG51bGxd",  # [null, null]
    "an integer beyond int64": _b64("[99999999999999999999, 1]"),
    "an integer beyond xid8": _b64("[18446744073709551616, 1]"),
    "one negative part": _b64("[-1]"),
    "negative integers": _b64("[-1, -1]"),
    "texts": _b64('["x", "y"]'),
    "a number as text": _b64('["5", 2]'),
    "a fraction": _b64("[1.5, 2]"),
    "a boolean": _b64("[true, 1]"),
    "an instant without an offset": _b64(f'["2026-01-01T00:00:00", "{SOME_ID}"]'),
    "an instant before the calendar in UTC": _b64(f'["0001-01-01T00:00:00+14:00", "{SOME_ID}"]'),
    "an id that is no UUID": _b64('["2026-01-01T00:00:00Z", "no-uuid"]'),
    "an object": _b64('{"a": 1}'),
    "arrays nested deep": _b64("[" * 600),
    "not base64": "!!not*base64!!",
    "base64 of no JSON": _b64("not json"),
    "empty": "",
}


def _paginated(app: Litestar) -> list[str]:
    """Every GET path of ``app`` that takes a ``cursor``, its path parameters filled in."""
    found = []
    for path, item in (app.openapi_schema.paths or {}).items():
        params = item.get.parameters if item.get else None
        if any(getattr(p, "name", None) == "cursor" for p in params or ()):
            found.append(re.sub(r"\{[^}]+\}", SOME_ID, path))
    return sorted(found)


async def _refused_everywhere(app: Litestar, expected: set[str]) -> None:
    paths = _paginated(app)
    assert expected <= set(paths), paths
    async for http in _client(app):
        for path in paths:
            for what, cursor in CRAFTED.items():
                answer = await http.get(path, params={"cursor": cursor}, headers=ADMIN)
                assert answer.status_code == 400, (path, what, answer.text)
                assert answer.headers["content-type"] == PROBLEM_JSON, (path, what)
                assert answer.json()["errors"] == [
                    {"field": "cursor", "message": "use the nextCursor of a previous page"}
                ], (path, what, answer.text)


async def test_every_cursor_of_the_contracts_service_that_it_never_handed_out_is_400(
    contracts: Litestar,
) -> None:
    await _refused_everywhere(
        contracts,
        {
            "/v1/tenders",
            f"/v1/tenders/{SOME_ID}/lots",
            "/v1/awards",
            "/v1/contracts",
            "/v1/milestones",
            f"/v1/kpis/{SOME_ID}/observations",
            "/v1/ocds/releases",
            "/v1/feed",
            "/v1/revocations",
        },
    )


async def test_every_cursor_of_the_notifications_service_that_it_never_handed_out_is_400(
    notifications: Litestar,
) -> None:
    await _refused_everywhere(notifications, {"/v1/subscriptions", "/v1/deliveries"})


async def test_the_cursors_the_feed_and_the_ocds_releases_hand_out_are_taken_back(
    contracts: Litestar,
) -> None:
    async for http in _client(contracts):
        feed = await http.get("/v1/feed", headers=ADMIN)
        assert feed.status_code == 200, feed.text
        again = await http.get(
            "/v1/feed", params={"cursor": feed.json()["nextCursor"]}, headers=ADMIN
        )
        assert again.status_code == 200, again.text
        # No release yet: 204, the next page in its Link header (a package is never empty).
        releases = await http.get("/v1/ocds/releases", headers=ADMIN)
        assert releases.status_code == 204, releases.text
        following = await http.get(releases.links["next"]["url"], headers=ADMIN)
        assert following.status_code == 204, following.text


def _nested(levels: int) -> bytes:
    """A creating POST's body nested ``levels`` deep: an object, its first field arrays."""
    arrays = levels - 1
    return b'{"title": ' + b"[" * arrays + b"]" * arrays + b', "name": "x"}'


async def _refuses_deep_bodies(app: Litestar, paths: list[str], listing: str) -> None:
    async for http in _client(app):
        for path in paths:
            for levels in (3000, MAX_DEPTH + 1):
                answer = await http.post(path, content=_nested(levels), headers=keyed(ADMIN))
                assert answer.status_code == 400, (path, levels, answer.text)
                assert answer.headers["content-type"] == PROBLEM_JSON
                assert answer.json()["errors"] == [
                    {"field": "body", "message": f"at most {MAX_DEPTH} levels of nesting"}
                ], (path, levels, answer.text)
            # At the limit the body is decoded, and found wanting for what it says.
            shallow = await http.post(path, content=_nested(MAX_DEPTH), headers=keyed(ADMIN))
            assert shallow.status_code in (400, 422), (path, shallow.text)
            assert "levels of nesting" not in shallow.text
        untouched = await http.get(listing, headers=ADMIN)
        assert untouched.status_code == 200, untouched.text
        assert untouched.json()["items"] == []


async def test_a_body_nested_deeper_than_the_limit_is_400_on_the_contracts_service(
    contracts: Litestar,
) -> None:
    await _refuses_deep_bodies(contracts, ["/v1/tenders", "/v1/ocds/import"], "/v1/tenders")


async def test_a_body_nested_deeper_than_the_limit_is_400_on_the_providers_service(
    providers: Litestar,
) -> None:
    await _refuses_deep_bodies(providers, ["/v1/providers"], "/v1/providers")


async def test_a_body_nested_deeper_than_the_limit_is_400_on_the_notifications_service(
    notifications: Litestar,
) -> None:
    await _refuses_deep_bodies(notifications, ["/v1/subscriptions"], "/v1/subscriptions")


async def test_while_postgres_is_down_reads_and_writes_are_503_with_retry_after(
    nc: Client, js: JetStreamContext
) -> None:
    with embedded_postgres() as server:
        dsn = server.dsn("procure_contracts_down")
        await migrate(dsn, CONTRACTS_MIGRATIONS)
        pool = await create_pool(dsn, size=2)
        try:
            runtime = runtime_for("contracts", dsn, pool, nc, js, FixedClock(NOW))
            app = build_app(contracts_definition(ContractsOptions()), runtime)
            async for http in _client(app):
                up = await http.get("/v1/tenders", headers=ADMIN)
                assert up.status_code == 200, up.text
                await asyncio.to_thread(server.stop)
                tender = {
                    "title": "Tutoring",
                    "value": {"amount": "1000.00", "currency": "GBP"},
                    "submissionDeadline": "2026-12-23T09:00:00Z",
                }
                requests = [
                    http.build_request("GET", "/v1/tenders", headers=ADMIN),
                    http.build_request("GET", f"/v1/tenders/{SOME_ID}", headers=ADMIN),
                    http.build_request("GET", "/v1/feed", headers=ADMIN),
                    http.build_request("POST", "/v1/tenders", json=tender, headers=keyed(ADMIN)),
                ]
                for request in requests:
                    answer = await http.send(request)
                    assert answer.status_code == 503, (request.url, answer.text)
                    assert answer.headers["content-type"] == PROBLEM_JSON
                    assert answer.headers["retry-after"] == "1"
                    assert answer.json()["title"] == "Service Unavailable"
        finally:
            pool.terminate()


async def test_a_board_cursor_the_database_cannot_take_starts_the_ops_board_at_the_top(
    contracts: Litestar,
) -> None:
    """The ops board's own page token (``rank~due~id``, an HTML page's link): anything that is
    not one it handed out starts at the top, as any other malformed one does."""
    async for http in _client(contracts):
        top = await http.get("/ops", headers=ADMIN)
        assert top.status_code == 200, top.text
        for after in (
            f"99999999999999999999~2026-01-01~{SOME_ID}",
            f"-2147483649~2026-01-01~{SOME_ID}",
            "x~y~z",
        ):
            answer = await http.get("/ops", params={"after": after}, headers=ADMIN)
            assert answer.status_code == 200, (after, answer.text[:300])


async def _shared_answers(app: Litestar) -> tuple[int, int, int]:
    """(writes, streams, reads) of ``app``'s document, after checking what each answers: 503
    on every operation, 429 on the writes and the event streams, each with Retry-After."""
    async for http in _client(app):
        document = (await http.get("/schema/openapi.json")).json()
    writes, streams, reads = 0, 0, 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            if not path.startswith("/health"):
                assert "Retry-After" in answers["503"]["headers"], (method, path)
            is_stream = "text/event-stream" in answers.get("200", {}).get("content", {})
            if method != "get" or is_stream:
                assert answers["429"]["content"][PROBLEM_JSON]["schema"] == {
                    "$ref": "#/components/schemas/ProblemDetails"
                }, (method, path)
                assert "Retry-After" in answers["429"]["headers"], (method, path)
                writes += method != "get"
                streams += is_stream
            else:
                assert "429" not in answers, (method, path)
                reads += 1
    return writes, streams, reads


async def test_the_contracts_document_lists_503_everywhere_and_429_on_every_write(
    contracts: Litestar,
) -> None:
    """What any route may answer besides its own statuses is in the document, so a client
    knows to wait and try again (the limits are per token and on by default)."""
    writes, streams, reads = await _shared_answers(contracts)
    assert (writes >= 20, streams, reads >= 20) == (True, 0, True), (writes, reads)


async def test_the_notifications_document_lists_429_on_its_event_streams_and_writes(
    notifications: Litestar,
) -> None:
    writes, streams, reads = await _shared_answers(notifications)
    assert (writes >= 3, streams >= 1, reads >= 3) == (True, True, True), (writes, streams, reads)
