"""Consumer throughput with one PostgreSQL transaction per message, messages per second.

Both sides fetch 64 at a time and handle 8 concurrently, each message in one transaction doing
the same three statements (inbox insert, per-aggregate position, the effect insert), then ack.
Baseline: a bare loop with asyncpg and nats-py. Project: procure_shared.consumer.Consumer.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import msgspec
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from bench.harness import Figure, Servers, execute
from bench.relay import envelope, fresh_stream
from procure_shared.consumer import Consumer, ConsumerSpec
from procure_shared.events import Envelope, encode_envelope
from procure_shared.postgres import Connection, create_pool

MESSAGES = 10_000
CONCURRENCY = 8
BATCH = 64
EFFECTS = "CREATE TABLE effects (event_id uuid PRIMARY KEY, subject text, sequence bigint)"


class Head(msgspec.Struct):
    id: str
    subject: str
    sequence: int


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


async def preload(js: JetStreamContext) -> None:
    await fresh_stream(js)
    # One aggregate per message keeps both sides free of ordering waits.
    for i in range(MESSAGES):
        e = envelope(i)
        e = msgspec.structs.replace(e, subject=f"agg-{i}", sequence=1)
        await js.publish("bench.thing.changed", encode_envelope(e), headers={"Nats-Msg-Id": e.id})


async def bare_consumer(dsn: str, js: JetStreamContext, reset_on_release: bool = False) -> float:
    await execute(dsn, EFFECTS)
    # By default the same pool settings as the project (no reset on release: decision 1), so
    # that the ratio measures our code, not a setting.
    pool = await asyncpg.create_pool(
        dsn,
        min_size=CONCURRENCY,
        max_size=CONCURRENCY,
        reset=None if reset_on_release else _no_reset,  # None: asyncpg's default reset
    )
    decoder = msgspec.json.Decoder(Head)
    await js.add_consumer(
        "BENCH", ConsumerConfig(durable_name="bare", ack_policy=AckPolicy.EXPLICIT)
    )
    sub = await js.pull_subscribe_bind(durable="bare", stream="BENCH")
    limit = asyncio.Semaphore(CONCURRENCY)
    done = 0

    async def handle(msg: Msg) -> None:
        head = decoder.decode(msg.data)
        async with limit, pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO inbox (consumer, event_id, event_type, aggregate_id, sequence)"
                " VALUES ('bare', $1, 'bench.thing.changed', $2, $3) ON CONFLICT DO NOTHING",
                head.id,
                head.subject,
                head.sequence,
            )
            await conn.execute(
                "INSERT INTO inbox_positions VALUES ('bare', $1, $2) ON CONFLICT DO NOTHING",
                head.subject,
                head.sequence,
            )
            await conn.execute(
                "INSERT INTO effects VALUES ($1, $2, $3)", head.id, head.subject, head.sequence
            )
        await msg.ack()

    started = time.perf_counter()
    try:
        while done < MESSAGES:
            msgs = await sub.fetch(BATCH, timeout=5)
            await asyncio.gather(*(handle(m) for m in msgs))
            done += len(msgs)
        return MESSAGES / (time.perf_counter() - started)
    finally:
        await pool.close()


async def project_consumer(dsn: str, js: JetStreamContext) -> float:
    await execute(dsn, EFFECTS)
    pool = await create_pool(dsn, size=CONCURRENCY)

    async def effect(conn: Connection, e: Envelope) -> None:
        await conn.execute("INSERT INTO effects VALUES ($1, $2, $3)", e.id, e.subject, e.sequence)

    consumer = Consumer(
        ConsumerSpec(
            name="bench__effects",
            stream="BENCH",
            filter_subjects=("bench.>",),
            handlers={"bench.thing.changed": effect},
            batch=BATCH,
            concurrency=CONCURRENCY,
        ),
        pool=pool,
        js=js,
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop))
    try:
        while consumer.stats.applied < MESSAGES:
            await asyncio.sleep(0.005)
        return MESSAGES / (time.perf_counter() - started)
    finally:
        stop.set()
        await task
        await pool.close()


async def measure(servers: Servers, repetitions: int) -> Figure:
    figure = Figure("consumer throughput, 1 tx per message", "msgs/s", target=">= 0.7x")
    client = await nats.connect(servers.nats.url)
    js = client.jetstream()
    try:
        for _ in range(repetitions):
            for run, values in (
                (bare_consumer, figure.baseline),
                (project_consumer, figure.project),
            ):
                dsn = await servers.new_database()
                await preload(js)
                values.append(await run(dsn, js))
                await execute(servers.postgres.url, "CHECKPOINT")
    finally:
        await client.close()
    return figure


async def bare_consumer_with_reset(dsn: str, js: JetStreamContext) -> float:
    return await bare_consumer(dsn, js, reset_on_release=True)


async def measure_pool_reset(servers: Servers, repetitions: int) -> Figure:
    """Decision 1, measured: the bare consumer without the pool's reset vs with it."""
    figure = Figure(
        "bare consumer, pool without reset (vs asyncpg's default reset)",
        "msgs/s",
        target="decision 1: > 1x",
    )
    client = await nats.connect(servers.nats.url)
    js = client.jetstream()
    try:
        for _ in range(repetitions):
            for run, values in (
                (bare_consumer_with_reset, figure.baseline),
                (bare_consumer, figure.project),
            ):
                dsn = await servers.new_database()
                await preload(js)
                values.append(await run(dsn, js))
                await execute(servers.postgres.url, "CHECKPOINT")
    finally:
        await client.close()
    return figure
