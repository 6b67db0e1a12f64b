"""The outbox, relay and consumer under process kills and a broker outage, on real servers."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from functools import partial

import nats
import pytest
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.messaging import outbox
from procure_shared.messaging.consumer import Consumer
from tests.support.effects import create_effects, effects_consumer
from tests.support.processes import spawn
from tests.support.producer import TEST_STREAM, count_unpublished, thing_event
from tests.support.servers import access_in, embedded_nats, session_credentials
from tests.support.wait import eventually, running

EVENTS = 10_000
WRITERS = 20


async def write_burst(pool: Pool, writer: int, events: int, pace: float) -> None:
    """One writer's share: transactions of 1-10 events for its own aggregates."""
    rng = random.Random(writer)
    versions: dict[str, int] = {}
    written = 0
    while written < events:
        batch = min(rng.randint(1, 10), events - written)
        envelopes = []
        for _ in range(batch):
            thing = f"w{writer}-t{rng.randint(0, 9)}"
            versions[thing] = versions.get(thing, 0) + 1
            envelopes.append(thing_event(thing, versions[thing]))
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, *envelopes)
        written += batch
        await asyncio.sleep(pace)


async def scalar(pool: Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


@pytest.mark.slow
async def test_every_event_is_applied_exactly_once_through_relay_kills_and_a_nats_outage(
    database: str, pool: Pool, report: Callable[[str], None]
) -> None:
    await create_effects(pool)
    started = time.monotonic()
    with embedded_nats() as server:
        client = await nats.connect(
            server.url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            **access_in(session_credentials()).options(),
        )
        js = client.jetstream()
        consumer = Consumer(
            effects_consumer(max_deliver=100),
            pool=pool,
            js=js,
        )
        relay = spawn("relay", database, server.url)
        kills = 0
        try:
            async with running(consumer):
                writers = asyncio.gather(
                    *(write_burst(pool, w, EVENTS // WRITERS, pace=0.25) for w in range(WRITERS))
                )
                # Five kills, each between a publish and its mark: the new relay is working
                # (it has marked rows) and the stream holds messages it has not marked yet.
                for _ in range(5):
                    working = partial(holds_more, pool, MARKED, await scalar(pool, MARKED))
                    await eventually(working, within=30, what="the new relay working")
                    await eventually(
                        lambda: published_but_unmarked(pool, js),
                        within=30,
                        interval=0.001,
                        what="a batch published but not yet marked",
                    )
                    os.kill(relay.pid, signal.SIGKILL)
                    relay.wait()
                    kills += 1
                    relay = spawn("relay", database, server.url)
                # A broker outage while events wait in the outbox.
                os.kill(relay.pid, signal.SIGKILL)
                relay.wait()
                await eventually(lambda: holds_backlog(pool, 1), within=30, what="a backlog")
                backlog_at_outage = await count_unpublished(pool)
                assert backlog_at_outage > 0
                await asyncio.to_thread(server.stop)
                relay = spawn("relay", database, server.url)  # it starts while NATS is down
                await asyncio.sleep(10)  # the outage itself; the writers go on writing
                await asyncio.to_thread(server.start)
                await writers
                await eventually(
                    lambda: holds_count(pool, "SELECT count(*) FROM effects", EVENTS),
                    within=120,
                    what=f"{EVENTS} effects",
                )
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.wait(15)
            await client.close()
    effects = await scalar(pool, "SELECT count(*) FROM effects")
    distinct = await scalar(pool, "SELECT count(DISTINCT event_id) FROM effects")
    unpublished = await count_unpublished(pool)
    duplicate_acks = await scalar(pool, "SELECT count(*) FROM outbox WHERE acked_duplicate")
    report(
        f"outbox under faults: {EVENTS} events, {WRITERS} writers, {kills} relay kills, "
        f"NATS down 10 s with {backlog_at_outage} events waiting; {effects} effects "
        f"({distinct} distinct), {unpublished} unpublished, {duplicate_acks} re-published events "
        f"JetStream already had, {consumer.stats.duplicates} duplicate deliveries skipped; "
        f"{time.monotonic() - started:.0f} s"
    )
    assert (effects, distinct, unpublished) == (EVENTS, EVENTS, 0)
    # The run proves the dedupe rather than passing by luck: a kill landed between a publish
    # and its mark, and the re-publish was recognised.
    assert duplicate_acks + consumer.stats.duplicates > 0


MARKED = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"


async def holds_more(pool: Pool, sql: str, than: int) -> bool:
    return await scalar(pool, sql) > than


async def published_but_unmarked(pool: Pool, js: JetStreamContext) -> bool:
    marked = await scalar(pool, MARKED)
    stored = (await js.stream_info(TEST_STREAM.name)).state.messages
    return bool(stored > marked)


async def holds_backlog(pool: Pool, at_least: int) -> bool:
    return await count_unpublished(pool) >= at_least


async def holds_count(pool: Pool, sql: str, expected: int) -> bool:
    return await scalar(pool, sql) == expected
