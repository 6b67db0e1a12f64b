"""Per-aggregate order with competing consumer processes, random delays and redeliveries."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable

import pytest
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.events import encode_envelope
from tests.support.effects import create_effects, versions_in_applied_order
from tests.support.processes import spawn
from tests.support.producer import EVENT_TYPE, thing_event
from tests.support.servers import NatsHandle
from tests.support.wait import eventually

AGGREGATES = 100
EVENTS_EACH = 50


async def scalar(pool: Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


@pytest.mark.slow
async def test_each_aggregates_events_are_applied_strictly_in_order_by_two_consumer_processes(
    database: str,
    pool: Pool,
    js: JetStreamContext,
    nats_handle: NatsHandle,
    report: Callable[[str], None],
) -> None:
    await create_effects(pool)
    # Interleave the aggregates and shuffle within a window, so that arrival order differs from
    # sequence order as it does after redeliveries.
    events = [
        (aggregate, version)
        for version in range(1, EVENTS_EACH + 1)
        for aggregate in range(AGGREGATES)
    ]
    rng = random.Random(7)
    for start in range(0, len(events), 300):
        window = events[start : start + 300]
        rng.shuffle(window)
        events[start : start + 300] = window
    for aggregate, version in events:
        envelope = thing_event(f"order-{aggregate}", version)
        await js.publish(
            EVENT_TYPE, encode_envelope(envelope), headers={"Nats-Msg-Id": envelope.id}
        )
    options = ("--delay-max", "0.005", "--fail-every", "97")
    consumers = [spawn("consumer", database, nats_handle.url, *options) for _ in range(2)]
    started = time.monotonic()
    try:
        total = AGGREGATES * EVENTS_EACH
        await eventually(
            lambda: _count_is(pool, total), within=180, interval=0.5, what=f"{total} effects"
        )
    finally:
        for process in consumers:
            process.send_signal(signal.SIGTERM)
        for process in consumers:
            process.wait(15)
    out_of_order = []
    for aggregate in range(AGGREGATES):
        applied = await versions_in_applied_order(pool, f"order-{aggregate}")
        if applied != list(range(1, EVENTS_EACH + 1)):
            out_of_order.append((aggregate, applied[:10]))
    distinct = await scalar(pool, "SELECT count(DISTINCT event_id) FROM effects")
    info = await js.consumer_info("TESTS", "tests__effects")
    assert info.delivered.consumer_seq is not None
    redeliveries = info.delivered.consumer_seq - AGGREGATES * EVENTS_EACH
    report(
        f"order: {AGGREGATES} aggregates x {EVENTS_EACH} events, two consumer processes, "
        f"random delays up to 5 ms, every 97th handling failed once; {distinct} distinct effects, "
        f"{redeliveries} redeliveries, {len(out_of_order)} aggregates out of order; "
        f"{time.monotonic() - started:.0f} s"
    )
    assert distinct == AGGREGATES * EVENTS_EACH
    assert redeliveries > 0, "the run must have exercised redeliveries"
    assert out_of_order == []


async def _count_is(pool: Pool, expected: int) -> bool:
    return await scalar(pool, "SELECT count(*) FROM effects") >= expected
