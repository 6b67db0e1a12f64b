"""The security review's probes against the notifications service, replayed: webhook targets
that reach non-global addresses through IPv6 translation forms, a subscriber without limit,
a delete that erased history, and signing secrets readable in the table."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import httpx
import msgspec
import pytest
from cryptography.fernet import Fernet, InvalidToken
from nats.js import JetStreamContext

from procure_notifications.app import definition
from procure_notifications.senders.webhook import WebhookSender
from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.fanout import delivery_id
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.service import Runtime, build_app
from tests.notifications.conftest import (
    Api,
    amended,
    clock,
    delivering,
    napi,
    nrt,
    options,
    publish,
    receiver,
    verified,
    webhook,
)
from tests.support.receiver import Receiver
from tests.support.wait import eventually, holds

# The notifications fixtures these probes use.
__all__ = ["clock", "napi", "nrt", "options", "receiver"]

HOOK = "http://127.0.0.1:9/hook"

# What each probe's host name resolves to (an attacker's DNS answers so).
PROBES = {
    "nat64.probe.invalid": "64:ff9b::a9fe:a9fe",
    "nat64-local.probe.invalid": "64:ff9b:1::a00:1",
    "site-local.probe.invalid": "fec0::1",
    "compatible.probe.invalid": "::a9fe:a9fe",
    "translated.probe.invalid": "::ffff:0:a9fe:a9fe",
    "mapped.probe.invalid": "::ffff:169.254.169.254",
    "sixtofour.probe.invalid": "2002:a9fe:a9fe::1",
    "teredo.probe.invalid": "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    "public.probe.invalid": "93.184.215.14",
}
RULES = {
    "nat64.probe.invalid": "NAT64 of a link-local address",
    "nat64-local.probe.invalid": "a local-use NAT64 address",
    "site-local.probe.invalid": "a site-local address",
    "compatible.probe.invalid": "IPv4-compatible form of a link-local address",
    "translated.probe.invalid": "IPv4-translated form of a link-local address",
    "mapped.probe.invalid": "IPv4-mapped form of a link-local address",
    "sixtofour.probe.invalid": "6to4 of a link-local address",
    "teredo.probe.invalid": "Teredo of a private address",
}


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The running loop's resolver answers the probe names from this table (changeable by
    the test, as a rebinding attacker changes their DNS); other names resolve as usual."""
    table = {name: [address] for name, address in PROBES.items()}
    loop = asyncio.get_running_loop()
    real: Callable[..., Any] = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (a, port),
                )
                for a in table[host]
            ]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
async def strict(nrt: Runtime, dns: dict[str, list[str]]) -> AsyncIterator[Api]:
    """The notifications API as in production: no loopback receivers."""
    app = build_app(definition(NotificationsOptions(allow_loopback=False)), nrt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
        yield Api(http)


def _refusal(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return str(answer.json())


@pytest.mark.parametrize("host", sorted(RULES))
async def test_a_name_resolving_to_a_translated_non_global_address_is_refused_by_its_rule(
    strict: Api, host: str
) -> None:
    detail = _refusal(await strict.subscribe(webhook(f"https://{host}/hook")))
    assert f"resolves to an address that is not global unicast ({RULES[host]}" in detail
    assert PROBES[host] not in detail
    assert (await strict.get("/v1/subscriptions")).json()["items"] == []


@pytest.mark.parametrize(
    "address", ["64:ff9b::a9fe:a9fe", "fec0::1", "::a9fe:a9fe", "::ffff:0:a9fe:a9fe"]
)
async def test_a_literal_translated_address_is_refused_by_its_rule(
    strict: Api, address: str
) -> None:
    detail = _refusal(await strict.subscribe(webhook(f"https://[{address}]/hook")))
    assert "not global unicast" in detail
    assert address not in detail


async def test_a_name_with_one_bad_address_among_public_ones_is_refused(
    strict: Api, dns: dict[str, list[str]]
) -> None:
    dns["mixed.probe.invalid"] = ["93.184.215.14", "64:ff9b::a00:1"]
    detail = _refusal(await strict.subscribe(webhook("https://mixed.probe.invalid/hook")))
    assert "(NAT64 of a private address)" in detail
    assert "a00:1" not in detail


async def test_changing_a_webhook_to_a_translated_address_is_refused_and_changes_nothing(
    strict: Api,
) -> None:
    made = await strict.subscribe(webhook("https://public.probe.invalid/hook"))
    assert made.status_code == 201, made.text
    path = made.headers["Location"]
    answer = await strict.act(
        "PATCH",
        path,
        {"channel": {"kind": "webhook", "url": "https://nat64.probe.invalid/x"}},
        etag_of=path,
    )
    assert "(NAT64 of a link-local address" in _refusal(answer)
    after = (await strict.get(path)).json()
    assert after["channel"]["url"] == "https://public.probe.invalid/hook"


async def test_a_name_rebound_after_subscribing_is_refused_when_sending_naming_the_rule(
    dns: dict[str, list[str]],
) -> None:
    dns["rebind.probe.invalid"] = ["93.184.215.14"]
    sender = WebhookSender(allow_loopback=False, timeout=1.0)
    dns["rebind.probe.invalid"] = ["64:ff9b::a9fe:a9fe"]
    try:
        answer = await sender.post("https://rebind.probe.invalid/hook", {}, b"{}")
    finally:
        await sender.close()
    assert answer.status_code is None
    assert answer.address is None
    assert answer.error == (
        "refused: rebind.probe.invalid resolves to an address that is not global unicast "
        "(NAT64 of a link-local address (cloud metadata services live there))"
    )


@pytest.fixture
async def capped(nrt: Runtime, options: NotificationsOptions) -> AsyncIterator[Api]:
    """The notifications API with a cap of 2 subscriptions per owner."""
    chosen = msgspec.structs.replace(options, subscriptions_per_owner=2)
    app = build_app(definition(chosen), nrt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
        yield Api(http)


async def test_one_subscription_past_the_cap_is_a_422_problem_and_changes_nothing(
    capped: Api, npool: Pool
) -> None:
    for _ in range(2):
        assert (await capped.subscribe(webhook(HOOK))).status_code == 201
    answer = await capped.subscribe(webhook(HOOK))
    assert "2 subscriptions, the most one owner may have" in _refusal(answer)
    assert len((await capped.get("/v1/subscriptions")).json()["items"]) == 2
    assert await npool.fetchval("SELECT count(*) FROM subscriptions") == 2
    assert (
        await npool.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'notifications.subscription.created'"
        )
        == 2
    )
    # The cap is each owner's: another user of the same buyer still subscribes.
    assert (await capped.subscribe(webhook(HOOK), sub="bob")).status_code == 201


async def test_a_deleted_subscription_does_not_count_against_the_cap(capped: Api) -> None:
    first = await capped.subscribe(webhook(HOOK))
    assert (await capped.subscribe(webhook(HOOK))).status_code == 201
    path = first.headers["Location"]
    assert (await capped.act("DELETE", path, etag_of=path)).status_code == 204
    assert (await capped.subscribe(webhook(HOOK))).status_code == 201


async def test_a_deleted_subscription_is_hidden_sends_nothing_and_keeps_its_deliveries(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    kept = (await napi.subscribe(webhook(receiver.url("/kept")))).json()
    gone = (await napi.subscribe(webhook(receiver.url("/gone")))).json()
    path = f"/v1/subscriptions/{gone['id']}"
    sent, waiting, later = (amended(str(uuid.uuid4()), 1) for _ in range(3))
    async with delivering(nrt, options):
        await publish(js, sent)
        await eventually(
            lambda: holds(len(receiver.to("/gone")) == 1 and len(receiver.to("/kept")) == 1),
            what="the first event at both receivers",
        )
        assert (await napi.act("POST", f"{path}/pause", etag_of=path)).status_code == 200
        await publish(js, waiting)
        await eventually(
            lambda: holds(len(receiver.to("/kept")) == 2), what="the second event delivered"
        )
        etag = (await napi.get(path)).headers["ETag"]
        assert (await napi.act("DELETE", path, etag_of=path)).status_code == 204
        await publish(js, later)
        await eventually(
            lambda: holds(len(receiver.to("/kept")) == 3), what="the third event delivered"
        )
    # Hidden: read, list, change and delete again are 404s.
    assert (await napi.get(path)).status_code == 404
    matching = {**napi.headers(), "If-Match": etag}
    for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
        answer = await napi.http.request(method, path, json=body, headers=matching)
        assert answer.status_code == 404, answer.text
    listed = (await napi.get("/v1/subscriptions")).json()["items"]
    assert [s["id"] for s in listed] == [kept["id"]]
    # Sent nothing more: the delivery waiting when it was deleted is cancelled, none is made
    # for a later event.
    assert len(receiver.to("/gone")) == 1
    log = (await napi.get(f"/v1/deliveries?subscription={gone['id']}")).json()["items"]
    by_event = {d["eventId"]: d for d in log}
    assert set(by_event) == {sent.id, waiting.id}
    assert by_event[sent.id]["status"] == "delivered"
    assert by_event[waiting.id]["status"] == "cancelled"
    # The delivered one and its attempts stay readable, by the owner and by an admin.
    detail_path = f"/v1/deliveries/{delivery_id(gone['id'], sent.id)}"
    for who in ({}, {"sub": "root", "buyer": None, "role": Role.ADMIN}):
        detail = (await napi.get(detail_path, **who)).json()
        assert [a["outcome"] for a in detail["attemptLog"]] == ["delivered"]
    # Another user of the buyer does not read them.
    assert (await napi.get(detail_path, sub="bob")).status_code == 404
    # A cancelled delivery cannot be replayed.
    cancelled = f"/v1/deliveries/{delivery_id(gone['id'], waiting.id)}/replay"
    assert (await napi.act("POST", cancelled)).status_code == 422
    deleted = await npool.fetchval(
        "SELECT count(*) FROM audit_log WHERE resource_id = $1"
        " AND action = 'notifications.subscription.deleted'",
        gone["id"],
    )
    assert deleted == 1


async def test_a_signing_secret_is_not_readable_in_the_table_and_signs_across_a_key_rotation(
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = msgspec.structs.replace(options, secrets_key=old)
    app = build_app(definition(before), nrt)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
        made = (await Api(http).subscribe(webhook(receiver.url("/hook")))).json()
        legacy = (await Api(http).subscribe(webhook(receiver.url("/legacy")))).json()
    secret = made["secret"]
    stored = await npool.fetchval(
        "SELECT secret FROM subscriptions WHERE id = $1", uuid.UUID(made["id"])
    )
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert secret not in str(await npool.fetch("SELECT * FROM subscriptions"))
    # A secret stored plain before sealing (as an old row) keeps signing.
    await npool.execute(
        "UPDATE subscriptions SET secret = $2 WHERE id = $1",
        uuid.UUID(legacy["id"]),
        legacy["secret"],
    )

    # The new key first, the old one still there: the worker reseals at start.
    first, second = amended(str(uuid.uuid4()), 1), amended(str(uuid.uuid4()), 1)
    async with delivering(nrt, msgspec.structs.replace(options, secrets_key=f"{new},{old}")):
        await publish(js, first)
        await eventually(
            lambda: holds(len(receiver.to("/hook")) == 1 and len(receiver.to("/legacy")) == 1),
            what="the first event at both receivers",
        )
    rows = await npool.fetch("SELECT secret FROM subscriptions")
    assert all(Fernet(new.encode()).decrypt(r["secret"].encode()) for r in rows)
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(rows[0]["secret"].encode())
    # The old key removed: deliveries are still signed with the secret shown once.
    async with delivering(nrt, msgspec.structs.replace(options, secrets_key=new)):
        await publish(js, second)
        await eventually(
            lambda: holds(len(receiver.to("/hook")) == 2 and len(receiver.to("/legacy")) == 2),
            what="the second event at both receivers",
        )
    assert [verified(secret, r).id for r in receiver.to("/hook")] == [first.id, second.id]
    assert [verified(legacy["secret"], r).id for r in receiver.to("/legacy")] == [
        first.id,
        second.id,
    ]
