"""Events from a test producer (straight into JetStream, as a service's relay would put them)
become deliveries: one per subscription that wants the event and may see it, with the same id
however often the event arrives."""

from __future__ import annotations

import uuid

from nats.js import JetStreamContext

from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.usecases.fanout import delivery_id
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
from tests.notifications.conftest import Api, event, publish, webhook
from tests.support.wait import eventually, running

HOOK = "http://127.0.0.1:9/hook"


async def deliveries(pool: Pool) -> list[tuple[str, str, str, int]]:
    rows = await pool.fetch(
        "SELECT id::text, subscription_id::text, event_type, sequence FROM deliveries"
        " ORDER BY subscription_id, sequence"
    )
    return [(r["id"], r["subscription_id"], r["event_type"], r["sequence"]) for r in rows]


async def test_each_event_becomes_one_delivery_per_subscription_that_wants_and_may_see_it(
    napi: Api, npool: Pool, js: JetStreamContext
) -> None:
    contract = str(uuid.uuid4())
    signed_only = (await napi.subscribe(webhook(HOOK, "contracts.contract.signed"))).json()
    this_contract = (await napi.subscribe(webhook(HOOK, "contracts.>", contractId=contract))).json()
    other_buyer = (await napi.subscribe(webhook(HOOK, ">"), sub="dan", buyer="dhsc")).json()
    admin = (
        await napi.subscribe(
            webhook(HOOK, "contracts.contract.*"), sub="root", buyer=None, role=Role.ADMIN
        )
    ).json()

    signed = event("contracts.contract.signed", contract, 1, contractId=contract)
    amended = event("contracts.contract.amended", contract, 2, contractId=contract)
    elsewhere = event("contracts.contract.signed", str(uuid.uuid4()), 1, contractId="x")
    shared = event(
        "providers.provider.registered", str(uuid.uuid4()), 1, buyer=None, providerId="p"
    )
    for e in (signed, amended, elsewhere, shared):
        await publish(js, e)
    await publish(js, signed)  # a repeat within the duplicate window is dropped by JetStream

    expected = sorted(
        [
            (str(delivery_id(signed_only["id"], signed.id)), signed_only["id"], signed.type, 1),
            (
                str(delivery_id(signed_only["id"], elsewhere.id)),
                signed_only["id"],
                elsewhere.type,
                1,
            ),
            (str(delivery_id(this_contract["id"], signed.id)), this_contract["id"], signed.type, 1),
            (
                str(delivery_id(this_contract["id"], amended.id)),
                this_contract["id"],
                amended.type,
                2,
            ),
            (str(delivery_id(other_buyer["id"], shared.id)), other_buyer["id"], shared.type, 1),
            (str(delivery_id(admin["id"], signed.id)), admin["id"], signed.type, 1),
            (str(delivery_id(admin["id"], amended.id)), admin["id"], amended.type, 2),
            (str(delivery_id(admin["id"], elsewhere.id)), admin["id"], elsewhere.type, 1),
        ]
    )
    consumers = [Consumer(spec, pool=npool, js=js) for spec in fanout_consumers()]
    async with running(*consumers):

        async def all_there() -> bool:
            return sorted(await deliveries(npool)) == expected

        await eventually(all_there, within=15, what="every delivery recorded")
    # The same consumers again from the start of the streams (a redelivery of everything):
    # nothing new.
    for c in consumers:
        await js.delete_consumer(c.spec.stream, c.spec.name)
    await npool.execute("DELETE FROM inbox; DELETE FROM inbox_positions")
    again = [Consumer(spec, pool=npool, js=js) for spec in fanout_consumers()]
    async with running(*again):

        async def reapplied() -> bool:
            return sum(c.stats.applied for c in again) >= 4  # the four events

        await eventually(reapplied, within=15, what="the streams read again")
    assert sorted(await deliveries(npool)) == expected
