"""If-Match and Idempotency-Key (tests P3-P6 of the reliability research)."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from tests.shared.test_http import client as client
from tests.shared.test_http import runtime as runtime
from tests.support.auth import bearer, token

COMMERCIAL = bearer(token(Role.COMMERCIAL))


async def count(pool: Pool, table: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


@pytest.fixture
async def thing(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.post(
        "/v1/things",
        json={"name": "Lot 2"},
        headers=COMMERCIAL | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created | {"etag": answer.headers["etag"]}


async def test_of_fifty_concurrent_updates_with_the_same_if_match_exactly_one_wins(
    client: httpx.AsyncClient, thing: dict[str, Any]
) -> None:
    path = f"/v1/things/{thing['id']}"

    async def rename(n: int) -> int:
        answer = await client.patch(
            path, json={"name": f"name {n}"}, headers=COMMERCIAL | {"If-Match": thing["etag"]}
        )
        return answer.status_code

    statuses = Counter(await asyncio.gather(*(rename(n) for n in range(50))))
    assert statuses == {200: 1, 412: 49}
    final = await client.get(path, headers=COMMERCIAL)
    assert final.json()["version"] == 2


async def test_an_update_without_if_match_is_refused_with_428_and_a_stale_one_with_412(
    client: httpx.AsyncClient, thing: dict[str, Any]
) -> None:
    path = f"/v1/things/{thing['id']}"
    missing = await client.patch(path, json={"name": "x"}, headers=COMMERCIAL)
    stale = await client.patch(path, json={"name": "x"}, headers=COMMERCIAL | {"If-Match": '"7"'})
    assert (missing.status_code, stale.status_code) == (428, 412)
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "version 1" in stale.json()["detail"]


async def test_twenty_concurrent_posts_with_one_key_create_one_resource(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    headers = COMMERCIAL | {"Idempotency-Key": "order-lot-1"}

    async def create() -> httpx.Response:
        return await client.post("/v1/things", json={"name": "Lot 1"}, headers=headers)

    answers = await asyncio.gather(*(create() for _ in range(20)))
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    created = {a.content for a in answers if a.status_code == 201}
    assert len(created) == 1, "every 201 carries the first response"
    assert await count(pool, "things") == 1
    assert await count(pool, "outbox") == 1
    assert await count(pool, "audit_log") == 1
    again = await create()
    assert again.status_code == 201
    assert again.content in created
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == '"1"'


async def test_the_same_key_with_another_body_is_refused_with_422(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    headers = COMMERCIAL | {"Idempotency-Key": "k-1"}
    first = await client.post("/v1/things", json={"name": "Lot 1"}, headers=headers)
    other = await client.post("/v1/things", json={"name": "Lot 3"}, headers=headers)
    assert (first.status_code, other.status_code) == (201, 422)
    assert other.headers["content-type"].startswith("application/problem+json")
    assert await count(pool, "things") == 1


async def test_a_creating_post_without_a_key_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    answer = await client.post("/v1/things", json={"name": "Lot 1"}, headers=COMMERCIAL)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["detail"]
    assert await count(pool, "things") == 0


async def test_a_request_that_failed_leaves_its_key_free_for_a_retry(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    viewer = bearer(token(Role.ADMIN, buyer=None)) | {"Idempotency-Key": "k-2"}
    refused = await client.post("/v1/things", json={"name": "Lot 1"}, headers=viewer)
    assert refused.status_code == 422  # an admin must name the buyer: nothing is saved
    assert await count(pool, "idempotency_keys") == 0


async def test_a_key_past_its_retention_is_taken_over_by_a_new_request(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    headers = COMMERCIAL | {"Idempotency-Key": "reused-a-year-later"}
    first = await client.post("/v1/things", json={"name": "First"}, headers=headers)
    assert first.status_code == 201
    async with pool.acquire() as conn:
        await conn.execute("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00Z'")
    second = await client.post("/v1/things", json={"name": "Second"}, headers=headers)
    assert second.status_code == 201, second.text  # not 422: the old use has expired
    assert second.json()["id"] != first.json()["id"]
    assert await count(pool, "things") == 2
    again = await client.post("/v1/things", json={"name": "Second"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == second.content
