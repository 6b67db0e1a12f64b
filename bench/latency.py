"""End-to-end latency from the producer's commit to the consumer's handler, at 500 events/s.

In one process (so that both ends read the same clock): a producer commits one event per
transaction through outbox.add, paced at 500/s for 10 s, and notes the time right after each
commit; the real Relay (woken by NOTIFY) publishes; the real Consumer's handler notes when it
starts. Reported in milliseconds.
"""

from __future__ import annotations

import asyncio
import time

import nats

from bench.harness import Figure, Servers, percentile
from bench.relay import envelope, fresh_stream
from procure_shared import outbox
from procure_shared.consumer import Consumer, ConsumerSpec
from procure_shared.events import Envelope
from procure_shared.outbox import Relay
from procure_shared.postgres import Connection, create_pool

RATE = 500
SECONDS = 10


async def run_once(servers: Servers) -> list[float]:
    dsn = await servers.new_database()
    client = await nats.connect(servers.nats.url)
    js = client.jetstream()
    await fresh_stream(js)
    pool = await create_pool(dsn, size=10)
    committed: dict[str, int] = {}
    latencies: list[float] = []

    async def handler(conn: Connection, e: Envelope) -> None:
        latencies.append((time.perf_counter_ns() - committed[e.id]) / 1e6)

    relay = Relay(service="bench", dsn=dsn, pool=pool, js=js)
    consumer = Consumer(
        ConsumerSpec(
            name="bench__latency",
            stream="BENCH",
            filter_subjects=("bench.>",),
            handlers={"bench.thing.changed": handler},
            ordered=False,
        ),
        pool=pool,
        js=js,
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (relay, consumer)]
    await asyncio.sleep(1.0)  # both connected and leading
    total = RATE * SECONDS
    started = time.perf_counter()
    for i in range(total):
        e = envelope(i)
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, e)
        committed[e.id] = time.perf_counter_ns()
        delay = started + (i + 1) / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    deadline = time.perf_counter() + 30
    while len(latencies) < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)
    await pool.close()
    await client.close()
    return latencies


async def measure(servers: Servers, repetitions: int) -> tuple[Figure, Figure, int]:
    p50 = Figure("end-to-end latency p50 at 500 events/s", "ms", higher_is_better=False)
    p99 = Figure(
        "end-to-end latency p99 at 500 events/s", "ms", target="<= 50 ms", higher_is_better=False
    )
    received = 0
    for _ in range(repetitions):
        latencies = await run_once(servers)
        received = len(latencies)
        p50.project.append(percentile(latencies, 50))
        p99.project.append(percentile(latencies, 99))
    return p50, p99, received
