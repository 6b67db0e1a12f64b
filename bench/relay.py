"""Relay throughput: outbox rows to JetStream acks, events per second.

Baseline (no procure code): one transaction claims 100 rows FOR UPDATE SKIP LOCKED, publishes
them with Nats-Msg-Id and pipelined acks, marks them published, commits; repeated until empty.
Project: procure_shared.outbox.Relay with batch 100 draining rows written by outbox.add.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import nats
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from bench.harness import Figure, Servers, execute
from procure_shared import outbox
from procure_shared.events import Envelope
from procure_shared.outbox import Relay
from procure_shared.postgres import create_pool

ROWS = 20_000
STREAM = StreamConfig(
    name="BENCH",
    subjects=["bench.>"],
    storage=StorageType.FILE,
    num_replicas=1,
    duplicate_window=2 * 3600,
)
BARE_TABLE = """
CREATE TABLE bare_outbox (
    position bigserial PRIMARY KEY, id uuid NOT NULL, subject text NOT NULL,
    payload bytea NOT NULL, published_at timestamptz
);
-- The same partial index as the real outbox, so that both claim queries cost the same.
CREATE INDEX bare_outbox_unpublished ON bare_outbox (position) WHERE published_at IS NULL
"""


class Changed(msgspec.Struct):
    thing_id: str
    version: int


def envelope(i: int) -> Envelope:
    return Envelope.new(
        service="bench",
        type="bench.thing.changed",
        subject=f"thing-{i % 500}",
        time=datetime.now(UTC),
        sequence=i // 500 + 1,
        data=Changed(thing_id=f"thing-{i % 500}", version=i // 500 + 1),
    )


async def fresh_stream(js: JetStreamContext) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream("BENCH")
    await js.add_stream(STREAM)


async def bare_relay(dsn: str, js: JetStreamContext) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(BARE_TABLE)
        payload = msgspec.json.encode(envelope(0))
        await conn.executemany(
            "INSERT INTO bare_outbox (id, subject, payload) VALUES ($1, $2, $3)",
            [(uuid.uuid4(), "bench.thing.changed", payload) for _ in range(ROWS)],
        )
        started = time.perf_counter()
        done = 0
        while done < ROWS:
            async with conn.transaction():
                rows = await conn.fetch(
                    "SELECT position, id, subject, payload FROM bare_outbox"
                    " WHERE published_at IS NULL ORDER BY position LIMIT 100"
                    " FOR UPDATE SKIP LOCKED"
                )
                futures = [
                    await js.publish_async(
                        r["subject"], r["payload"], headers={"Nats-Msg-Id": str(r["id"])}
                    )
                    for r in rows
                ]
                await asyncio.wait(futures, timeout=10)
                await conn.execute(
                    "UPDATE bare_outbox SET published_at = now() WHERE position = ANY($1)",
                    [r["position"] for r in rows],
                )
            done += len(rows)
        return ROWS / (time.perf_counter() - started)
    finally:
        await conn.close()


async def project_relay(dsn: str, js: JetStreamContext) -> float:
    pool = await create_pool(dsn, size=4)
    try:
        async with pool.acquire() as conn:
            for start in range(0, ROWS, 500):
                async with conn.transaction():
                    await outbox.add(conn, *(envelope(i) for i in range(start, start + 500)))
        relay = Relay(service="bench", dsn=dsn, pool=pool, js=js, batch_size=100)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while relay.stats.published < ROWS:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        return ROWS / elapsed
    finally:
        await pool.close()


async def measure(servers: Servers, repetitions: int) -> Figure:
    figure = Figure("relay throughput", "events/s", target=">= 0.7x the bare loop")
    client = await nats.connect(servers.nats.url)
    js = client.jetstream()
    try:
        for _ in range(repetitions):
            for run, values in ((bare_relay, figure.baseline), (project_relay, figure.project)):
                dsn = await servers.new_database()
                await fresh_stream(js)
                values.append(await run(dsn, js))
                await execute(servers.postgres.url, "CHECKPOINT")
    finally:
        await client.close()
    return figure
