import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.js import JetStreamContext

from procure_shared.db.postgres import Connection, Pool
from procure_shared.events import Envelope, encode_envelope
from procure_shared.messaging.consumer import Consumer, gap_delay
from procure_shared.messaging.deadletters import DeadLetterRecorder
from tests.support.effects import (
    create_effects,
    effect_count,
    effects_consumer,
    record_effect,
    versions_in_applied_order,
)
from tests.support.producer import EVENT_TYPE, TEST_STREAM, thing_event
from tests.support.wait import equals, eventually, holds, running


async def publish(js: JetStreamContext, payload: bytes, subject: str = EVENT_TYPE) -> None:
    await js.publish(subject, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})


async def dead_letters(pool: Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM dead_letters ORDER BY id")
    return [dict(r) for r in rows]


@pytest.mark.check
async def test_each_event_is_applied_once_even_when_it_arrives_twice(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    events = [thing_event("thing-1", v) for v in range(1, 6)]
    for event in [*events, events[2], events[4]]:
        # A re-publish outside the duplicate window reaches the stream twice.
        await publish(js, encode_envelope(event))
    consumer = Consumer(effects_consumer(), pool=pool, js=js)
    async with running(consumer):
        await eventually(lambda: holds(consumer.stats.duplicates == 2), what="two duplicates")
    assert await effect_count(pool) == 5
    assert consumer.stats.applied == 5


async def test_an_aggregates_events_are_applied_in_sequence_order_whatever_the_arrival_order(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    for version in [3, 1, 5, 2, 4]:
        await publish(js, encode_envelope(thing_event("thing-1", version)))
    consumer = Consumer(effects_consumer(batch=1), pool=pool, js=js)
    async with running(consumer):
        await eventually(lambda: equals(effect_count(pool), 5), what="five effects")
    assert await versions_in_applied_order(pool, "thing-1") == [1, 2, 3, 4, 5]
    assert consumer.stats.gaps > 0


async def test_an_event_type_without_a_handler_is_acked_and_ignored_but_keeps_the_order(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    renamed = Envelope.new(
        service="tests",
        type="tests.thing.renamed",  # no handler for this type
        subject="thing-1",
        time=datetime.now(UTC),
        sequence=1,
        data={"thingId": "thing-1", "name": "new name"},
    )
    # Version 2 arrives first and must still be applied after version 1, which is ignored.
    await publish(js, encode_envelope(thing_event("thing-1", 2)))
    await publish(js, encode_envelope(renamed), subject=renamed.type)
    consumer = Consumer(effects_consumer(), pool=pool, js=js)
    async with running(consumer):
        await eventually(lambda: equals(effect_count(pool), 1), what="version 2 applied")
    assert consumer.stats.ignored == 1
    assert await versions_in_applied_order(pool, "thing-1") == [2]


async def test_a_poison_message_is_terminated_and_dead_lettered_while_others_flow(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    await publish(js, b"{not json", subject="tests.thing.changed")
    for version in range(1, 4):
        await publish(js, encode_envelope(thing_event("thing-1", version)))
    consumer = Consumer(effects_consumer(), pool=pool, js=js)
    recorder = DeadLetterRecorder(
        service="tests", consumers=[(TEST_STREAM.name, "tests__effects")], pool=pool, js=js
    )
    # Its stream first, as a service does: a termination before it exists is not captured.
    await recorder.prepare()
    async with running(consumer, recorder):
        await eventually(lambda: equals(effect_count(pool), 3), what="three effects")
        letters = await eventually(lambda: dead_letters(pool), what="a dead letter")
    assert consumer.stats.terminated == 1
    assert [(d["reason"], d["payload"]) for d in letters] == [("terminated", b"{not json")]


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_max_deliver(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    doomed = thing_event("thing-doomed", 1)

    async def fail_on_doomed(conn: Connection, envelope: Any) -> None:
        if envelope.id == doomed.id:
            raise RuntimeError("this handler cannot apply it")
        await record_effect(conn, envelope)

    await publish(js, encode_envelope(doomed))
    for version in range(1, 4):
        await publish(js, encode_envelope(thing_event("thing-ok", version)))
    consumer = Consumer(effects_consumer(fail_on_doomed, max_deliver=4), pool=pool, js=js)
    recorder = DeadLetterRecorder(
        service="tests", consumers=[(TEST_STREAM.name, "tests__effects")], pool=pool, js=js
    )
    async with running(consumer, recorder):
        await eventually(lambda: equals(effect_count(pool), 3), what="healthy events applied")
        letters = await eventually(lambda: dead_letters(pool), what="a dead letter")
    assert letters[0]["reason"] == "max_deliveries"
    assert letters[0]["deliveries"] == 4
    assert letters[0]["event_id"] == doomed.id
    assert consumer.stats.errors == 4


async def test_a_slow_handler_keeps_its_message_in_progress_and_is_not_redelivered(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    calls = 0

    async def slow(conn: Connection, envelope: Any) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(2.5)  # the slow work itself, 2.5x the ack wait
        await record_effect(conn, envelope)

    await publish(js, encode_envelope(thing_event("thing-1", 1)))
    consumer = Consumer(effects_consumer(slow, ack_wait=1.0), pool=pool, js=js)
    async with running(consumer):
        await eventually(lambda: equals(effect_count(pool), 1), what="the effect")
    assert calls == 1
    info = await js.consumer_info(TEST_STREAM.name, "tests__effects")
    assert info.num_redelivered == 0


async def test_a_later_event_outwaits_an_earlier_one_held_by_a_consumer_that_died(
    pool: Pool, js: JetStreamContext
) -> None:
    await create_effects(pool)
    spec = effects_consumer(ack_wait=1.0, max_deliver=6)
    consumer = Consumer(spec, pool=pool, js=js)
    await js.add_consumer(spec.stream, consumer.consumer_config())
    await publish(js, encode_envelope(thing_event("thing-1", 1)))
    await publish(js, encode_envelope(thing_event("thing-1", 2)))
    # Another instance took the first event and died before acking it: it comes back only
    # after ack_wait, while the second is fetched at once and finds a gap every time.
    dead = await js.pull_subscribe_bind(durable=spec.name, stream=spec.stream)
    [held] = await dead.fetch(1, timeout=5)
    assert held.metadata.sequence.stream == 1
    async with running(consumer):
        await eventually(lambda: equals(effect_count(pool), 2), what="both events applied")
    assert await versions_in_applied_order(pool, "thing-1") == [1, 2]
    assert consumer.stats.gaps >= 1
    info = await js.consumer_info(spec.stream, spec.name)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


def test_the_gaps_a_message_may_meet_wait_twice_the_ack_wait_in_all_the_first_ones_quickly() -> (
    None
):
    for max_deliver, ack_wait in [(20, 30.0), (8, 30.0), (6, 1.0), (3, 5.0), (2, 5.0)]:
        spec = effects_consumer(max_deliver=max_deliver, ack_wait=ack_wait, gap_delay=0.2)
        delays = [gap_delay(spec, n) for n in range(1, max_deliver)]
        assert sum(delays) >= 2 * ack_wait, (max_deliver, delays)
    spec = effects_consumer(max_deliver=20, ack_wait=30.0, gap_delay=0.2)
    assert [gap_delay(spec, n) for n in (1, 2, 3)] == [0.2, 0.2, 0.2]
    assert gap_delay(spec, 4) == 60 / 16
