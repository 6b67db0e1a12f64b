"""Deliveries reach a real local HTTP receiver: signed by the Standard Webhooks rules, once per
event and subscription, in sequence order per aggregate, retried on the controlled clock's
backoff, dead-lettered (with ``notifications.delivery.failed``) when the receiver never answers,
and replayed on demand."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from nats.js import JetStreamContext

from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases.fanout import delivery_id
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import decode_envelope
from procure_shared.http import Role
from procure_shared.service import Runtime
from tests.notifications.conftest import (
    NOW,
    Api,
    amended,
    delivering,
    publish,
    verified,
    webhook,
)
from tests.support.receiver import HOLD, Receiver
from tests.support.wait import eventually, holds


async def status_of(npool: Pool, delivery: uuid.UUID) -> dict[str, Any]:
    row = await npool.fetchrow(
        "SELECT status, attempts, next_attempt_at, leased_until FROM deliveries WHERE id = $1",
        delivery,
    )
    return dict(row) if row is not None else {}


@pytest.mark.check
async def test_each_event_reaches_the_receiver_signed_once_and_in_sequence_per_aggregate(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    made = (await napi.subscribe(webhook(receiver.url("/a"), "contracts.>"))).json()
    elsewhere = (
        await napi.subscribe(webhook(receiver.url("/dhsc"), ">"), sub="dan", buyer="dhsc")
    ).json()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    events = [amended(c, n) for n in range(1, 6) for c in (first, second)]
    for e in events:
        await publish(js, e)

    async with delivering(nrt, options) as running:
        await eventually(
            lambda: holds(len(receiver.to("/a")) == 10), what="every event at the receiver"
        )
    # JetStream delivers every event again (the consumers start over from the streams' start):
    # the deliveries are the same ones, already made; the receiver hears nothing new.
    for c in running.consumers:
        await js.delete_consumer(c.spec.stream, c.spec.name)
    await npool.execute("DELETE FROM inbox; DELETE FROM inbox_positions")
    async with delivering(nrt, options) as again:
        await eventually(
            lambda: holds(sum(c.stats.applied for c in again.consumers) >= 10),
            what="every event redelivered and applied",
        )
        await eventually(lambda: holds(again.worker.idle()), what="the worker idle")

    got = [verified(made["secret"], r) for r in receiver.to("/a")]
    assert len(got) == 10
    ids = [r.id for r in receiver.to("/a")]
    assert sorted(ids) == sorted(str(delivery_id(made["id"], e.id)) for e in events)
    for contract in (first, second):
        assert [e.sequence for e in got if e.subject == contract] == [1, 2, 3, 4, 5]
    assert receiver.to("/dhsc") == []  # another buyer's subscription never sees dfe's events
    recorded = await npool.fetch("SELECT subscription_id::text AS s FROM deliveries")
    assert elsewhere["id"] not in {r["s"] for r in recorded}
    assert await npool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'") == 10


async def test_a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt_at_the_backoff_times(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
    clock: FixedClock,
) -> None:
    options = msgspec.structs.replace(options, retry_first_delay=5.0, retry_jitter=0.0)
    receiver.answer("/flaky", 500, 500)
    made = (await napi.subscribe(webhook(receiver.url("/flaky")))).json()
    e = amended(str(uuid.uuid4()), 1)
    key = delivery_id(made["id"], e.id)

    async def settled(attempts: int) -> dict[str, Any]:
        s = await status_of(npool, key)
        return s if s.get("attempts") == attempts and s["leased_until"] is None else {}

    async with delivering(nrt, options):
        await publish(js, e)
        first = await eventually(lambda: settled(1), what="the first attempt recorded")
        assert (first["status"], first["next_attempt_at"]) == (
            "pending",
            NOW + timedelta(seconds=5),
        )
        clock.advance(timedelta(seconds=4.9))  # not due yet: nothing is sent
        clock.advance(timedelta(seconds=0.1))
        second = await eventually(lambda: settled(2), what="the second attempt recorded")
        assert (second["status"], second["next_attempt_at"]) == (
            "pending",
            NOW + timedelta(seconds=15),
        )
        clock.advance(timedelta(seconds=10))
        third = await eventually(lambda: settled(3), what="the third attempt recorded")
        assert third["status"] == "delivered"

    detail = (await napi.get(f"/v1/deliveries/{key}")).json()
    assert [
        (a["attempt"], a["startedAt"], a["outcome"], a["statusCode"]) for a in detail["attemptLog"]
    ] == [
        (1, "2026-11-23T09:00:00Z", "failed", 500),
        (2, "2026-11-23T09:00:05Z", "failed", 500),
        (3, "2026-11-23T09:00:15Z", "delivered", 200),
    ]
    assert [r.status for r in receiver.to("/flaky")] == [500, 500, 200]
    assert {r.id for r in receiver.to("/flaky")} == {str(key)}  # one webhook-id, every attempt
    for r in receiver.to("/flaky"):
        assert verified(made["secret"], r).id == e.id


async def test_a_receiver_that_never_answers_gets_a_dead_letter_and_an_alert_while_others_flow(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
    clock: FixedClock,
) -> None:
    options = msgspec.structs.replace(
        options, webhook_timeout=0.5, retry_first_delay=5.0, retry_jitter=0.0, retry_horizon=10.0
    )
    stuck, flowing = str(uuid.uuid4()), str(uuid.uuid4())
    receiver.answer("/slow", HOLD, HOLD, when=stuck.encode())
    made = (await napi.subscribe(webhook(receiver.url("/slow"), ">"))).json()
    ops = (
        await napi.subscribe(
            webhook(receiver.url("/ops"), "notifications.delivery.*"),
            sub="root",
            buyer=None,
            role=Role.ADMIN,
        )
    ).json()
    a1, a2, b1 = amended(stuck, 1), amended(stuck, 2), amended(flowing, 1)
    dead = delivery_id(made["id"], a1.id)

    async def attempted(attempts: int) -> bool:
        s = await status_of(npool, dead)
        return s.get("attempts") == attempts and s["leased_until"] is None

    def subjects() -> list[str]:
        return [decode_envelope(r.body).subject for r in receiver.answered("/slow")]

    async with delivering(nrt, options, relay=True):
        for e in (a1, a2, b1):
            await publish(js, e)
        await eventually(lambda: holds(subjects() == [flowing]), what="the other contract's")
        await eventually(lambda: attempted(1), what="the first attempt timed out")
        assert subjects() == [flowing]  # the stuck contract's second event waits its turn
        clock.advance(timedelta(seconds=5))
        await eventually(lambda: attempted(2), what="the second attempt timed out")
        assert (await status_of(npool, dead))["status"] == "dead"
        # Dead-lettered: the contract's next event goes, and the failure is published.
        await eventually(lambda: holds(subjects() == [flowing, stuck]), what="a2 delivered")
        assert [decode_envelope(r.body).sequence for r in receiver.answered("/slow")] == [1, 2]
        await eventually(lambda: holds(len(receiver.answered("/ops")) == 1), what="the alert")
        failed = verified(ops["secret"], receiver.answered("/ops")[0])
        assert failed.type == "notifications.delivery.failed"
        assert (failed.subject, failed.sequence, failed.buyerid) == (made["id"], 1, "dfe")
        data = msgspec.json.decode(failed.data)
        assert {k: data[k] for k in ("subscriptionId", "deliveryId", "eventId", "attempts")} == {
            "subscriptionId": made["id"],
            "deliveryId": str(dead),
            "eventId": a1.id,
            "attempts": 2,
        }
        assert data["lastError"] == "no answer within 0.5 s"

        # Replayed (the receiver answers now): delivered, with the same webhook-id.
        replayed = await napi.act("POST", f"/v1/deliveries/{dead}/replay")
        assert replayed.status_code == 200, replayed.text
        await eventually(lambda: holds(subjects() == [flowing, stuck, stuck]), what="replayed")
    # a1's three requests (two timed out, the replay) carry one webhook-id; b1's may have
    # reached the receiver first.
    assert [r.id for r in receiver.to("/slow") if decode_envelope(r.body).id == a1.id] == [
        str(dead)
    ] * 3
    assert (await status_of(npool, dead))["status"] == "delivered"
    # A subscription never hears of its own failures (only the ops subscription did).
    assert all(decode_envelope(r.body).type != failed.type for r in receiver.to("/slow"))
    detail = (await napi.get(f"/v1/deliveries/{dead}")).json()
    assert [a["outcome"] for a in detail["attemptLog"]] == ["failed", "failed", "delivered"]


async def test_metrics_count_attempts_by_outcome_time_them_and_show_the_pending_deliveries(
    napi: Api,
    nrt: Runtime,
    options: NotificationsOptions,
    receiver: Receiver,
    js: JetStreamContext,
    npool: Pool,
) -> None:
    receiver.answer("/m", 500, when=b'"sequence":2')
    await napi.subscribe(webhook(receiver.url("/m")))
    contract = str(uuid.uuid4())
    async with delivering(nrt, options, metrics=True):
        for n in (1, 2):
            await publish(js, amended(contract, n))
        await eventually(lambda: holds(len(receiver.to("/m")) == 2), what="both attempted")
        await eventually(
            lambda: npool.fetchval(
                "SELECT count(*) = 2 FROM deliveries WHERE leased_until IS NULL AND attempts = 1"
            ),
            what="both outcomes recorded",
        )

        async def figures() -> str:
            text = (await napi.get("/metrics")).text
            return text if "procure_deliveries_pending 1.0" in text else ""

        text = await eventually(figures, what="the pending delivery counted")
    assert 'procure_delivery_attempts_total{channel="webhook",outcome="delivered"} 1.0' in text
    assert 'procure_delivery_attempts_total{channel="webhook",outcome="failed"} 1.0' in text
    assert 'procure_delivery_attempt_seconds_count{channel="webhook"} 2.0' in text
    assert 'procure_delivery_latency_seconds_count{channel="webhook"} 1.0' in text
