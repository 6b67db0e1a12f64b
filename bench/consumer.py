"""2. Consumer throughput, one PostgreSQL transaction per message, messages per second.

One stream is pre-loaded with M events (the plan's ``consumer_messages``) (1,000 aggregates, 10
versions each, interleaved) and each run reads all of it through its own durable consumer, into
a fresh database.

Baseline (bench.bare.consumer): fetch a batch; handle up to 8 at once, each in one transaction
(inbox INSERT ... ON CONFLICT DO NOTHING, then the effect INSERT); ack after commit.
Project: procure_shared.messaging.consumer.Consumer with the default spec (batch 64, concurrency 8,
ordered), its handler doing the effect INSERT. A second project figure runs it unordered, to
show what the in-order admission (one more statement per message) costs.

Both sides connect as the bench identity (bench.feeds.CONSUMER); the authentication benchmark
(bench.auth) runs the project's side on the contracts' stream as the providers service's track
record consumer instead (bench.feeds.SERVICES).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from functools import partial

from nats.js.errors import NotFoundError

from bench import bare, cpu, feeds
from bench.feeds import Feed
from bench.harness import Figure, Run, Servers, guarded, quiet
from bench.plan import Plan
from procure_shared.db.postgres import Connection, create_pool
from procure_shared.events import Envelope
from procure_shared.messaging.consumer import Consumer, ConsumerSpec
from procure_shared.messaging.nats import NatsState, connect_nats, stream_config

SPEC = feeds.CONSUMER.stream
CONCURRENCY = 8
# The production default batch (ConsumerSpec.batch), fetched the same way by the baseline.
BATCH = ConsumerSpec(name="-", stream="-", filter_subjects=(), handlers={}).batch


async def record_effect(conn: Connection, e: Envelope) -> None:
    await conn.execute(bare.INSERT_EFFECT, e.id, e.subject, e.sequence)


def _durable(prefix: str) -> str:
    return f"{prefix}_{time.monotonic_ns()}"


async def bare_run(servers: Servers, plan: Plan, log: list[str], *, reset: bool = False) -> Run:
    messages = plan.consumer_messages
    dsn = await bare.create_database(
        servers.postgres.url, servers.bare_database_name(), [bare.INBOX_DDL, bare.EFFECTS_DDL]
    )
    try:
        await servers.sql("CHECKPOINT")
        await quiet(plan, log, "consumer baseline")
        meter = cpu.Meter()
        elapsed = await bare.consumer(
            dsn,
            servers.nats.url,
            servers.nats_options(),
            SPEC.name,
            _durable("bare"),
            messages,
            batch=BATCH,
            concurrency=CONCURRENCY,
            reset_on_release=reset,
        )
        load = meter.stop()
        applied = await bare.count(dsn, "effects")
        if applied != messages:
            raise RuntimeError(f"the bare consumer applied {applied} of {messages}")
        return Run(messages / elapsed, load, {"events": messages, "seconds_timed": elapsed})
    finally:
        await servers.drop_database(dsn)


async def bare_run_with_reset(servers: Servers, plan: Plan, log: list[str]) -> Run:
    return await bare_run(servers, plan, log, reset=True)


async def project_run(
    servers: Servers,
    plan: Plan,
    log: list[str],
    *,
    ordered: bool = True,
    feed: Feed = feeds.CONSUMER,
) -> Run:
    """The project's consumer of ``feed``'s stream (``preload``ed), connected as its reader."""
    messages = plan.consumer_messages
    dsn = await servers.project_database()
    await servers.sql(bare.EFFECTS_DDL, dsn)
    pool = await create_pool(dsn, size=10, min_size=10)
    name = feed.consumer_name("bench__effects")
    if feed.durable is not None:  # the one its identity may run: read from the start again
        await _forget_consumer(servers, feed.stream.name, name)
    state = NatsState(name="bench-consumer")
    nc = await connect_nats(servers.nats.url, state, servers.access(feed.reader))
    try:
        spec = ConsumerSpec(
            name=name,
            stream=feed.stream.name,
            filter_subjects=feed.stream.subjects,
            handlers={feed.event_type: record_effect},
            ordered=ordered,
            batch=BATCH,
            concurrency=CONCURRENCY,
            producer=feed.producer,
        )
        consumer = Consumer(spec, pool=pool, js=nc.jetstream())
        await servers.sql("CHECKPOINT")
        await quiet(plan, log, "consumer project")
        stop = asyncio.Event()
        meter = cpu.Meter()
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run(stop))
        while consumer.stats.applied < messages:
            if task.done():
                raise RuntimeError(f"the consumer stopped: {consumer.stats}")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        load = meter.stop()
        stop.set()
        task.cancel()  # rather than wait for its idle fetch to time out (1 s)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with pool.acquire() as conn:
            applied = await conn.fetchval("SELECT count(*) FROM effects")
        s = consumer.stats
        if applied != messages or s.errors or s.terminated:
            raise RuntimeError(f"the consumer applied {applied} of {messages}: {s}")
        return Run(
            messages / elapsed,
            load,
            {
                "events": messages,
                "seconds_timed": elapsed,
                "gaps": s.gaps,
                "duplicates": s.duplicates,
            },
        )
    finally:
        state.closing = True
        await nc.close()
        await pool.close()
        await servers.drop_database(dsn)


async def project_run_unordered(servers: Servers, plan: Plan, log: list[str]) -> Run:
    return await project_run(servers, plan, log, ordered=False)


async def _forget_consumer(servers: Servers, stream: str, name: str) -> None:
    nc = await servers.connect()
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_consumer(stream, name)
    finally:
        await nc.close()


async def preload(servers: Servers, plan: Plan, feed: Feed = feeds.CONSUMER) -> int:
    """``feed``'s stream, afresh, holding the plan's events (published by the harness);
    their payload bytes."""
    return await bare.preload(
        servers.nats.url,
        servers.nats_options(),
        stream_config(feed.stream, 1),
        plan.consumer_messages,
        producer=feed.producer,
    )


RunFn = Callable[[Servers, Plan, list[str]], Awaitable[Run]]


async def _alternate(
    servers: Servers, plan: Plan, log: list[str], sides: list[tuple[RunFn, list[Run]]]
) -> None:
    messages = plan.consumer_messages
    size = await preload(servers, plan)
    log.append(f"consumer stream: {messages:,} events of {size / messages:.0f} bytes on average")
    for rep in range(plan.repetitions):
        # Rotate which side goes first, so that drift over the run favours none.
        for i in range(len(sides)):
            run, runs = sides[(i + rep) % len(sides)]
            label = f"consumer {run.__name__}"
            runs.append(await guarded(plan, label, log, partial(run, servers, plan, log)))
            print(f"  consumer {run.__name__} #{rep + 1}: {runs[-1].value:,.0f} msgs/s", flush=True)


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    title = f"consumer throughput, 1 tx per message, batch {BATCH}, concurrency {CONCURRENCY}"
    ordered = Figure(
        "consumer_throughput",
        f"{title} (ordered, the default)",
        "msgs/s",
        target=">= 0.7x",
        min_ratio=0.7,
    )
    unordered = Figure(
        "consumer_throughput_unordered",
        f"{title} (unordered; for comparison)",
        "msgs/s",
        note="same baseline runs as the ordered figure",
    )
    await _alternate(
        servers,
        plan,
        log,
        [
            (bare_run, ordered.baseline),
            (project_run, ordered.project),
            (project_run_unordered, unordered.project),
        ],
    )
    unordered.baseline = ordered.baseline
    return [ordered, unordered]


async def measure_pool_reset(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    """Decision 0002, measured on the bare consumer: a pool without reset vs asyncpg's reset."""
    figure = Figure(
        "bare_consumer_pool_no_reset",
        "bare consumer, pool without reset (baseline: asyncpg's default reset)",
        "msgs/s",
        target="> 1x",
        min_ratio=1.0,
    )
    await _alternate(
        servers,
        plan,
        log,
        [(bare_run_with_reset, figure.baseline), (bare_run, figure.project)],
    )
    return [figure]
