import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.service import Runtime
from tests.support.apps import SETTINGS, app_client, runtime_of
from tests.support.auth import bearer, keyed, token
from tests.support.things import CREATE_THINGS, ThingsController
from tests.support.wait import eventually

NOW = datetime(2022, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime(pool: Pool, nc: Client, js: JetStreamContext) -> Runtime:
    return runtime_of(pool, nc, js, SETTINGS, FixedClock(NOW))


@pytest.fixture
async def client(pool: Pool, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with pool.acquire() as conn:
        await conn.execute(CREATE_THINGS)
    async with app_client([ThingsController], runtime) as http:
        yield http


async def rows(pool: Pool, sql: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(sql)]


async def test_a_change_commits_with_its_audit_row_and_its_event_carrying_the_correlation_id(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    answer = await client.post(
        "/v1/things",
        json={"name": "Lot 1: academic mentors"},
        headers=keyed(bearer(token(Role.COMMERCIAL)) | {"X-Correlation-Id": "req-42"}),
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-correlation-id"] == "req-42"
    thing = answer.json()
    audit = await rows(pool, "SELECT * FROM audit_log")
    assert [(a["actor"], a["action"], a["resource_id"], a["buyer_id"]) for a in audit] == [
        ("alice", "thing.created", thing["id"], "dfe")
    ]
    assert audit[0]["before"] is None
    assert audit[0]["after"]["name"] == "Lot 1: academic mentors"
    assert audit[0]["occurred_at"] == NOW
    assert audit[0]["correlation_id"] == "req-42"
    events = await rows(pool, "SELECT subject, aggregate_id, headers FROM outbox")
    assert events == [
        {
            "subject": "tests.thing.changed",
            "aggregate_id": thing["id"],
            "headers": {"Procure-Correlation-Id": "req-42"},
        }
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "x", "colour": "red"}', "colour"),
        (b'{"name": 7}', "name"),
        (b'{"name": ""}', "name"),
        (b'{"name": "x", "estimatedValue": 7987500.0}', "estimatedValue"),
        (b"{not json", None),
    ],
)
async def test_bad_input_gets_a_400_problem_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool, body: bytes, field: str | None
) -> None:
    answer = await client.post(
        "/v1/things",
        content=body,
        headers=keyed(bearer(token(Role.COMMERCIAL)) | {"Content-Type": "application/json"}),
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 400
    assert problem["title"] == "Invalid request"
    if field is not None:
        assert field in str(problem), problem
    assert await rows(pool, "SELECT * FROM things") == []
    assert await rows(pool, "SELECT * FROM audit_log") == []
    assert await rows(pool, "SELECT * FROM outbox") == []


async def test_a_role_that_may_not_change_things_gets_a_403_problem(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/v1/things", json={"name": "x"}, headers=keyed(bearer(token(Role.VIEWER)))
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == "this needs one of the roles: admin, commercial"


def forged(**claims: Any) -> str:
    base = {
        "sub": "mallory",
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp()),
        "roles": ["admin"],
    }
    kept = {k: v for k, v in (base | claims).items() if v is not None}  # None: left out
    return jwt.encode(kept, str(SETTINGS.signing_secret), algorithm="HS256")


def unsigned(**claims: Any) -> str:
    """A token with ``alg: none`` and no signature: the classic forgery."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    body = {"iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "exp": exp} | claims
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(None, id="no token"),
        pytest.param(forged(exp=int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())), id="expired"),
        pytest.param(forged(aud="someone-else"), id="wrong audience"),
        pytest.param(forged(iss="someone-else"), id="wrong issuer"),
        pytest.param(forged()[:-4] + "AAAA", id="tampered signature"),
        pytest.param(unsigned(sub="m", roles=["admin"]), id="alg none"),
        pytest.param(forged(roles=["superuser"]), id="unknown role"),
        pytest.param(forged(roles=["viewer"]), id="no buyer"),
        pytest.param(forged(exp=None), id="no expiry"),
        pytest.param(forged(iat=None), id="no issued-at"),
        pytest.param(
            forged(exp=int((datetime.now(UTC) + timedelta(hours=13)).timestamp())),
            id="beyond the maximum lifetime",
        ),
        pytest.param(forged(exp=10**10), id="for ever"),
        pytest.param(
            jwt.encode(
                {"sub": "m", "iss": "procure-dev", "aud": "procure", "iat": 1, "exp": 10**10},
                str(SETTINGS.signing_secret) * 2,
                algorithm="HS512",
            ),
            id="another algorithm",
        ),
    ],
)
async def test_a_missing_or_invalid_token_gets_a_401_problem(
    client: httpx.AsyncClient, credential: str | None
) -> None:
    headers = bearer(credential) if credential else {}
    answer = await client.get("/v1/things/6f1c2b8e-4b1a-4c53-9d7e-000000000001", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_another_buyers_resource_is_a_404_and_admin_sees_every_buyer(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/things", json={"name": "x"}, headers=keyed(bearer(token(Role.COMMERCIAL)))
    )
    path = f"/v1/things/{created.json()['id']}"
    mine = await client.get(path, headers=bearer(token(Role.VIEWER)))
    theirs = await client.get(path, headers=bearer(token(Role.VIEWER, buyer="dhsc")))
    admin = await client.get(path, headers=bearer(token(Role.ADMIN, buyer=None)))
    assert (mine.status_code, theirs.status_code, admin.status_code) == (200, 404, 200)
    assert theirs.headers["content-type"].startswith("application/problem+json")


async def test_health_and_metrics_need_no_token_and_metrics_count_requests(
    client: httpx.AsyncClient,
) -> None:
    live = await client.get("/health/live")
    assert live.json() == {"status": "live", "checks": {}, "version": "0"}, "the app's version"
    ready = await client.get("/health/ready")
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "nats": "ok"},
        "version": "0",
    }
    metrics = (await client.get("/metrics")).text
    assert 'procure_http_requests_total{method="GET",route="/health/ready",status="200"} 1.0' in (
        metrics
    )
    assert "procure_nats_connected 1.0" in metrics


async def test_readiness_fails_while_nats_is_disconnected(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.nats_state.connected = False
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["nats"].startswith("disconnected")


async def test_the_api_docs_are_served_without_any_outside_address(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace("/schema/openapi.json", "")
    asset = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert "/v1/things" in schema["paths"]


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE things")
    answer = await client.post(
        "/v1/things", json={"name": "x"}, headers=keyed(bearer(token(Role.COMMERCIAL)))
    )
    assert answer.status_code == 500
    problem = answer.json()
    assert problem["title"] == "Internal Server Error"
    assert "things" not in problem["detail"]
    assert problem["correlationId"] == answer.headers["x-correlation-id"]


async def test_a_token_verified_once_is_still_refused_once_it_has_expired(
    client: httpx.AsyncClient,
) -> None:
    # Verified tokens are remembered per encoded token; expiry is checked on every use.
    expires = int(datetime.now(UTC).timestamp()) + 2
    soon = forged(sub="m", roles=["viewer"], buyer="dfe", exp=expires, iat=expires - 2)
    path = "/v1/things/6f1c2b8e-4b1a-4c53-9d7e-000000000001"
    assert (await client.get(path, headers=bearer(soon))).status_code == 404
    assert (await client.get(path, headers=bearer(soon))).status_code == 404

    async def refused() -> bool:
        return (await client.get(path, headers=bearer(soon))).status_code == 401

    await eventually(refused, within=10, interval=0.2, what="the expired token refused")
    assert datetime.now(UTC).timestamp() >= expires  # and not before it expired
