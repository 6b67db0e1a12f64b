"""A forged event never reaches a webhook: the bus refuses a service that publishes on another's
subjects, and what a service may publish on its own subjects but claims to be another's is
terminated by the consumer and recorded as a dead letter, while genuine events flow."""

from __future__ import annotations

import uuid

import nats
from nats.js import JetStreamContext

from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.settings import NotificationsOptions
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import encode_envelope
from procure_shared.messaging.deadletters import DeadLetterRecorder
from procure_shared.service import Runtime
from tests.notifications.conftest import Api, amended, delivering, verified, webhook
from tests.support.receiver import Receiver
from tests.support.servers import NatsHandle
from tests.support.wait import eventually, holds, running


async def test_a_forged_event_on_a_foreign_subject_never_reaches_a_webhook(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
    nats_handle: NatsHandle,
) -> None:
    made = (await napi.subscribe(webhook(receiver.url("/dfe"), ">"))).json()
    contract = str(uuid.uuid4())
    forged = amended(contract, 1)  # contracts.contract.amended from /procure/contracts, for dfe
    refused: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        refused.append(exc)

    providers = await nats.connect(
        nats_handle.url, error_cb=on_error, **nats_handle.access("providers").options()
    )
    try:
        # On the contracts service's subject: the server refuses it.
        await providers.publish(forged.type, encode_envelope(forged))
        # On its own subject, dressed as a contracts event: the stream takes it, the
        # consumer does not.
        await providers.jetstream().publish(
            "providers.provider.registered",
            encode_envelope(forged),
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )
        await providers.flush()
    finally:
        await providers.close()
    assert len(refused) == 1
    assert "permissions violation" in str(refused[0]).lower()

    genuine = amended(contract, 1)
    contracts = await nats.connect(nats_handle.url, **nats_handle.access("contracts").options())
    try:
        await contracts.jetstream().publish(
            genuine.type, encode_envelope(genuine), headers={"Nats-Msg-Id": genuine.id}
        )
    finally:
        await contracts.close()

    specs = fanout_consumers()
    recorder = DeadLetterRecorder(
        service="notifications", consumers=[(s.stream, s.name) for s in specs], pool=npool, js=js
    )
    await recorder.prepare()
    async with running(recorder), delivering(nrt, options) as flowing:
        await eventually(lambda: holds(len(receiver.to("/dfe")) == 1), what="the genuine event")
        letters = await eventually(
            lambda: npool.fetch("SELECT reason, stream, event_id FROM dead_letters"),
            what="the forged event as a dead letter",
        )
        await eventually(lambda: holds(flowing.worker.idle()), what="the worker idle")
    assert [verified(made["secret"], r).id for r in receiver.to("/dfe")] == [genuine.id]
    assert sum(c.stats.terminated for c in flowing.consumers) == 1
    assert [(r["reason"], r["stream"], r["event_id"]) for r in letters] == [
        ("terminated", "PROVIDERS", forged.id)
    ]
    assert await npool.fetchval("SELECT count(*) FROM deliveries") == 1
