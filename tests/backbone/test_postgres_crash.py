"""PostgreSQL killed with -9 during a write burst and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from procure_shared.db.migrations import migrate
from procure_shared.db.postgres import Pool, create_pool, is_connection_error
from procure_shared.messaging import outbox
from procure_shared.messaging.consumer import Consumer
from procure_shared.messaging.deadletters import DeadLetterRecorder
from procure_shared.messaging.nats import ensure_streams
from procure_shared.messaging.outbox import Relay
from tests.support.effects import CREATE_EFFECTS, effects_consumer
from tests.support.producer import TEST_STREAM, thing_event
from tests.support.servers import NatsHandle, embedded_postgres
from tests.support.wait import eventually


async def writer(pool: Pool, writer_id: int, stop: asyncio.Event, committed: list[str]) -> int:
    """Write one event per transaction until told to stop; remember what committed.

    There is no HTTP here: "the commit returned" stands for "the client got a 2xx". A commit
    whose answer was lost with the connection is ambiguous and not counted as acknowledged."""
    attempts = 0
    version = 0
    generation = 0
    while not stop.is_set():
        envelope = thing_event(f"pg-w{writer_id}-g{generation}", version + 1)
        attempts += 1
        try:
            async with pool.acquire(timeout=2) as conn, conn.transaction():
                await outbox.add(conn, envelope)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            # The commit may have happened (an ambiguous outcome): go on with a new aggregate
            # rather than reuse this version.
            generation, version = generation + 1, 0
            await asyncio.sleep(0.05)
            continue
        version += 1
        committed.append(envelope.id)
    return attempts


async def count(pool: Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


@pytest.mark.slow
async def test_every_acknowledged_write_survives_a_postgres_crash_and_flows_on_without_restarts(
    nats_handle: NatsHandle,
    report: Callable[[str], None],
) -> None:
    with embedded_postgres() as server:
        dsn = server.dsn(f"crash_{uuid.uuid4().hex[:8]}")
        await migrate(dsn, None)
        pool = await create_pool(dsn, size=10)
        async with pool.acquire() as conn:
            await conn.execute(CREATE_EFFECTS)
        client = await nats.connect(
            nats_handle.url, max_reconnect_attempts=-1, **nats_handle.access().options()
        )
        js: JetStreamContext = client.jetstream()
        recorder = DeadLetterRecorder(
            service="tests", consumers=[(TEST_STREAM.name, "tests__effects")], pool=pool, js=js
        )
        for name in (TEST_STREAM.name, recorder.stream.name):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
        await ensure_streams(js, 1, (TEST_STREAM,))
        relay = Relay(service="tests", dsn=dsn, pool=pool, js=js, poll_interval=0.2)
        consumer = Consumer(
            effects_consumer(max_deliver=5),
            pool=pool,
            js=js,
        )
        stop_workers, stop_writing = asyncio.Event(), asyncio.Event()
        workers = [asyncio.create_task(w.run(stop_workers)) for w in (relay, consumer, recorder)]
        committed: list[str] = []
        started = time.monotonic()
        try:
            writing = asyncio.gather(*(writer(pool, w, stop_writing, committed) for w in range(8)))
            await eventually(lambda: _at_least(committed, 500), what="500 writes")
            before_crash = len(committed)
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(1.0)  # down for a second; the writers keep trying
            await asyncio.to_thread(server.start)
            await eventually(
                lambda: _at_least(committed, before_crash + 500), within=60, what="writes resume"
            )
            stop_writing.set()
            attempts = sum(await writing)
            expected = len(committed)
            await eventually(
                lambda: _at_least_count(pool, "SELECT count(*) FROM effects", expected),
                within=60,
                what="every acknowledged write applied",
            )
            async with pool.acquire() as conn:
                in_outbox = {str(r["id"]) for r in await conn.fetch("SELECT id FROM outbox")}
                applied = [
                    str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM effects")
                ]
            letters = await count(pool, "SELECT count(*) FROM dead_letters")
            info = await js.consumer_info(TEST_STREAM.name, "tests__effects")
            assert info.delivered.consumer_seq is not None
            redeliveries = info.delivered.consumer_seq - len(applied)
        finally:
            stop_workers.set()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=15)
            await client.close()
            await pool.close()
    report(
        f"postgres crash: {attempts} write attempts, {expected} acknowledged "
        f"({before_crash} before the kill), {len(in_outbox)} in the outbox, {len(applied)} "
        f"applied, {letters} dead letters, {redeliveries} redeliveries, "
        f"{consumer.stats.errors} handler errors, {consumer.stats.applied} applied by one consumer "
        f"task that never restarted; {time.monotonic() - started:.0f} s"
    )
    assert set(committed) <= in_outbox, "an acknowledged write is missing"
    assert len(applied) == len(set(applied)), "an event was applied twice"
    assert set(committed) <= set(applied)
    assert letters == 0, "a healthy event was dead-lettered"
    # The consumer held its messages through the outage instead of failing them: the outage
    # used up no delivery.
    assert consumer.stats.errors == 0
    assert redeliveries == 0


async def _at_least(items: list[str], n: int) -> bool:
    return len(items) >= n


async def _at_least_count(pool: Pool, sql: str, n: int) -> bool:
    return await count(pool, sql) >= n
