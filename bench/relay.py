"""1. Relay throughput: N outbox rows (the plan's ``relay_rows``) drained to JetStream acks,
events per second.

Baseline (bench.bare.relay): one transaction claims 100 rows FOR UPDATE SKIP LOCKED in position
order, publishes them with Nats-Msg-Id and pipelined acks, marks them published, commits.
Project: procure_shared.messaging.outbox.Relay(batch_size=100).run(stop), on rows written by
outbox.add, until it has published them all. Each run has a fresh database and a fresh
stream; the rows are vacuumed, analysed and checkpointed before the clock starts.

Both sides connect as the bench identity (the events are the bench's, on its stream:
bench.feeds.RELAY); the authentication benchmark (bench.auth) runs the project's side with the
contracts service's events and identity instead (bench.feeds.SERVICES).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from functools import partial

import msgspec
from nats.js.api import StreamConfig

from bench import bare, cpu, feeds
from bench.feeds import Feed
from bench.harness import Figure, Run, Servers, guarded, quiet
from bench.plan import Plan
from procure_shared.db.postgres import create_pool
from procure_shared.events import Envelope, StreamSpec, encode_envelope
from procure_shared.messaging import outbox
from procure_shared.messaging.nats import NatsState, connect_nats, ensure_streams, stream_config
from procure_shared.messaging.outbox import Relay

BATCH = 100
SPEC = feeds.RELAY.stream


class ThingChanged(msgspec.Struct, rename="camel"):
    thing_id: str
    version: int


def envelope(i: int, *, aggregates: int = bare.AGGREGATES, producer: str = "bench") -> Envelope:
    """The project's envelope for event ``i`` of ``producer`` (the same fields as
    bench.bare.event)."""
    aggregate = f"thing-{i % aggregates}"
    sequence = i // aggregates + 1
    return Envelope.new(
        service=producer,
        type=bare.event_type(producer),
        subject=aggregate,
        time=datetime.now(UTC),
        sequence=sequence,
        data=ThingChanged(thing_id=aggregate, version=sequence),
        buyer_id="dfe",
    )


def same_stream_config(spec: StreamSpec) -> StreamConfig:
    """The project's stream configuration, checked equal to the baseline's."""
    project = stream_config(spec, 1)
    baseline = bare.stream_config(spec.name, list(spec.subjects))
    if project != baseline:
        raise RuntimeError(f"stream configurations differ: {project} != {baseline}")
    return project


async def bare_run(servers: Servers, plan: Plan, log: list[str]) -> Run:
    rows = plan.relay_rows
    dsn = await bare.create_database(
        servers.postgres.url, servers.bare_database_name(), [bare.OUTBOX_DDL]
    )
    try:
        size = await bare.prefill_outbox(dsn, rows)
        await servers.settle(dsn, "bare_outbox")
        nc = await servers.connect()
        await bare.fresh_stream(nc.jetstream(), same_stream_config(SPEC))
        await nc.close()
        await quiet(plan, log, "relay baseline")
        meter = cpu.Meter()
        elapsed = await bare.relay(dsn, servers.nats.url, servers.nats_options(), rows, BATCH)
        load = meter.stop()
        left = await bare.outbox_backlog(dsn)
        if left:
            raise RuntimeError(f"the bare relay left {left} rows")
        return Run(
            rows / elapsed,
            load,
            {"events": rows, "seconds_timed": elapsed, "payload_bytes": size / rows},
        )
    finally:
        await servers.drop_database(dsn)


async def project_run(
    servers: Servers, plan: Plan, log: list[str], *, feed: Feed = feeds.RELAY
) -> Run:
    """The project's relay of ``feed``'s events, connected as their producer."""
    rows = plan.relay_rows
    spec = feed.stream
    dsn = await servers.project_database()
    pool = await create_pool(dsn, size=10, min_size=10)
    harness = await servers.connect()
    state = NatsState(name="bench-relay")
    nc = await connect_nats(servers.nats.url, state, servers.access(feed.producer))
    try:
        js = nc.jetstream()
        size = 0
        async with pool.acquire() as conn:
            for start in range(0, rows, 500):
                events = [
                    envelope(i, producer=feed.producer)
                    for i in range(start, min(start + 500, rows))
                ]
                size += sum(len(encode_envelope(e)) for e in events)
                async with conn.transaction():
                    await outbox.add(conn, *events)
        await servers.settle(dsn, "outbox")
        same_stream_config(spec)
        await bare.fresh_stream(harness.jetstream(), stream_config(spec, 1))
        await ensure_streams(js, 1, (spec,))
        await quiet(plan, log, "relay project")
        relay = Relay(service=feed.producer, dsn=dsn, pool=pool, js=js, batch_size=BATCH)
        stop = asyncio.Event()
        meter = cpu.Meter()
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while relay.stats.published < rows:
            if task.done():
                raise RuntimeError(f"the relay stopped: {relay.stats}")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        load = meter.stop()
        stop.set()
        await task
        async with pool.acquire() as conn:
            left = await outbox.backlog(conn)
        stats = relay.stats
        if left or stats.failures or stats.published != rows:
            raise RuntimeError(f"the relay left {left} rows: {stats}")
        return Run(
            rows / elapsed,
            load,
            {
                "events": rows,
                "seconds_timed": elapsed,
                "payload_bytes": size / rows,
                "batches": stats.batches,
                "duplicates": stats.duplicates,
            },
        )
    finally:
        state.closing = True
        await nc.close()
        await harness.close()
        await pool.close()
        await servers.drop_database(dsn)


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    figure = Figure(
        "relay_throughput",
        f"relay throughput, {plan.relay_rows:,} rows, batch {BATCH}",
        "events/s",
        target=">= 0.7x",
        min_ratio=0.7,
    )
    for rep in range(plan.repetitions):
        # Alternate which side goes first, so that drift over the run favours neither.
        order = [(bare_run, figure.baseline), (project_run, figure.project)]
        for run, runs in order if rep % 2 == 0 else order[::-1]:
            label = f"relay {run.__name__}"
            runs.append(await guarded(plan, label, log, partial(run, servers, plan, log)))
            print(f"  relay {run.__name__} #{rep + 1}: {runs[-1].value:,.0f} events/s", flush=True)
    return [figure]
