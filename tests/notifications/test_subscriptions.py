"""Subscriptions through the HTTP API: made, read, changed, paused, re-keyed and deleted by
their owner; refused when a webhook would reach a non-public address; audited."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from procure_notifications.app import definition
from procure_notifications.settings import NotificationsOptions
from procure_shared.service import Runtime, build_app
from tests.notifications.conftest import Api, webhook

HOOK = "http://127.0.0.1:9/hook"


async def test_a_webhook_subscription_shows_its_secret_once_and_reads_back_without_it(
    napi: Api,
) -> None:
    made = await napi.subscribe(webhook(HOOK, "contracts.milestone.*", contractId="c-1"))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    assert body["status"] == "active"
    assert body["owner"] == {"sub": "alice", "buyerId": "dfe", "admin": False}
    read = await napi.get(made.headers["Location"])
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read.json()["filter"] == {
        "eventTypes": ["contracts.milestone.*"],
        "conditions": {"contractId": "c-1"},
    }


async def test_another_user_or_buyer_gets_a_404_and_an_admin_sees_it(napi: Api) -> None:
    made = (await napi.subscribe(webhook(HOOK))).json()
    path = f"/v1/subscriptions/{made['id']}"
    assert (await napi.get(path, sub="bob")).status_code == 404
    assert (await napi.get(path, buyer="dhsc")).status_code == 404
    from procure_shared.http import Role

    assert (await napi.get(path, sub="root", buyer=None, role=Role.ADMIN)).status_code == 200
    mine = (await napi.get("/v1/subscriptions")).json()["items"]
    theirs = (await napi.get("/v1/subscriptions", sub="bob")).json()["items"]
    assert ([s["id"] for s in mine], theirs) == ([made["id"]], [])


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",  # a name resolving to loopback
        "http://example.org/hook",
    ],
)
async def test_a_webhook_to_a_non_public_address_is_refused_with_loopback_not_allowed(
    nrt: Runtime, url: str
) -> None:
    app = build_app(definition(NotificationsOptions(allow_loopback=False)), nrt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
        api = Api(http)
        answer = await api.subscribe(webhook(url))
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"][0]["field"] == "channel.url"
        assert (await api.get("/v1/subscriptions")).json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "channel": {"kind": "pigeon"}, "filter": {"eventTypes": [">"]}},
        {
            "name": "x",
            "channel": {"kind": "email", "address": "not-an-address"},
            "filter": {"eventTypes": [">"]},
        },
        {"name": "x", "channel": {"kind": "webhook", "url": HOOK}, "filter": {"eventTypes": []}},
        {
            "name": "x",
            "channel": {"kind": "webhook", "url": HOOK},
            "filter": {"eventTypes": [">"]},
            "extra": 1,
        },
    ],
)
async def test_a_bad_subscription_is_a_400_problem_and_changes_nothing(
    napi: Api, body: dict[str, Any]
) -> None:
    answer = await napi.subscribe(body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await napi.get("/v1/subscriptions")).json()["items"] == []


async def test_a_greater_than_wildcard_only_ends_a_pattern(napi: Api) -> None:
    answer = await napi.subscribe(webhook(HOOK, "contracts.>.signed"))
    assert answer.status_code == 422, answer.text


async def test_pause_resume_change_and_delete_need_the_current_etag_and_are_audited(
    napi: Api,
) -> None:
    made = (await napi.subscribe(webhook(HOOK))).json()
    path = f"/v1/subscriptions/{made['id']}"
    assert (await napi.act("POST", f"{path}/pause")).status_code == 428
    paused = await napi.act("POST", f"{path}/pause", etag_of=path)
    assert paused.json()["status"] == "paused"
    again = await napi.act("POST", f"{path}/pause", etag_of=path)
    assert again.status_code == 409
    assert (await napi.act("POST", f"{path}/resume", etag_of=path)).json()["status"] == "active"
    renamed = await napi.act("PATCH", path, {"name": "Renamed"}, etag_of=path)
    assert renamed.json()["name"] == "Renamed"
    stale = await napi.act("PATCH", path, {"name": "Stale"}, **{})
    assert stale.status_code == 428
    history = (await napi.get(f"{path}/history")).json()
    assert [h["action"] for h in history] == [
        "notifications.subscription.created",
        "notifications.subscription.paused",
        "notifications.subscription.resumed",
        "notifications.subscription.updated",
    ]
    assert "secret" not in str(history)
    assert (await napi.act("DELETE", path, etag_of=path)).status_code == 204
    assert (await napi.get(path)).status_code == 404


async def test_rotating_the_secret_shows_a_new_one(napi: Api) -> None:
    made = (await napi.subscribe(webhook(HOOK))).json()
    rotated = await napi.act("POST", f"/v1/subscriptions/{made['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]


async def test_a_channel_that_becomes_a_webhook_gets_a_secret_shown_in_that_answer(
    napi: Api,
) -> None:
    mail = {"kind": "email", "address": "alerts@example.org"}
    made = await napi.subscribe(webhook(HOOK) | {"channel": mail})
    assert made.json()["secret"] is None
    path = made.headers["Location"]
    hooked = await napi.act(
        "PATCH", path, {"channel": {"kind": "webhook", "url": HOOK}}, etag_of=path
    )
    assert hooked.status_code == 200, hooked.text
    assert hooked.json()["secret"].startswith("whsec_")
    renamed = await napi.act("PATCH", path, {"name": "Only the name"}, etag_of=path)
    assert renamed.json()["secret"] is None
