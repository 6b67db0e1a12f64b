"""3. End-to-end latency, from the producer's commit to the consumer's handler, at 500 events/s.

Three processes: this one (the producer) commits one event per transaction through outbox.add,
paced at 500/s for 10 s (the plan's ``latency_rate_per_s`` and ``latency_seconds``; open loop: a
transaction starts on schedule even if the previous one has not finished), and notes
time.time_ns() right after each commit; a relay process runs the project's Relay (woken by
LISTEN/NOTIFY, 1 s poll fallback: the defaults); a consumer process runs the project's Consumer
(the default spec: batch 64, concurrency 8, ordered) whose handler notes time.time_ns() on
entry, then does the effect INSERT. Latency is handler entry minus commit, per event, in
milliseconds; the relay also notes when it hands each event to JetStream, which splits the
latency in two. Every event must reach the handler (the run waits while they keep coming, and
fails when none has come for 30 s).

The relay and consumer connect as the bench identity, whose events they move
(bench.feeds.LATENCY); the authentication benchmark (bench.auth) runs them as the contracts
service's relay and the providers service's track record consumer instead (bench.feeds.SERVICES).

The servers stay alone on core 0 and the three processes share core 1, as the project's relay
and consumer do in measurements 1 and 2. ``--service-core 0`` puts the relay and consumer
processes on the servers' core instead (the method's placement of the service side), ``none``
leaves them to the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid

import msgspec

from bench import bare, feeds
from bench.feeds import Feed
from bench.harness import (
    Figure,
    InOrder,
    Latency,
    Run,
    Servers,
    count_until,
    finish_worker,
    guarded,
    open_loop,
    percentile,
    quiet,
    spawn_worker,
    summary,
)
from bench.plan import Plan
from bench.relay import envelope
from procure_shared.db.postgres import create_pool
from procure_shared.messaging import outbox
from procure_shared.messaging.nats import ensure_streams, stream_config

AGGREGATES = 100


async def run_once(
    servers: Servers,
    plan: Plan,
    log: list[str],
    service_core: int | None,
    *,
    feed: Feed = feeds.LATENCY,
) -> Latency:
    """One run: ``feed``'s events committed here, relayed as their producer and consumed as
    their reader, each in its own process."""
    dsn = await servers.project_database()
    await servers.sql(bare.EFFECTS_DDL, dsn)
    nc = await servers.connect()
    pool = await create_pool(dsn, size=10, min_size=10)
    procs: list[asyncio.subprocess.Process] = []
    tag = uuid.uuid4().hex[:8]
    published_file = servers.folder / f"published-{tag}.json"
    stamps_file = servers.folder / f"stamps-{tag}.json"
    try:
        js = nc.jetstream()
        await bare.fresh_stream(js, stream_config(feed.stream, 1))
        await ensure_streams(js, 1, (feed.stream,))
        common = ["--dsn", dsn, "--producer", feed.producer]
        if service_core is not None:
            common += ["--core", str(service_core)]
        relay_args = [*common, *servers.nats_args(feed.producer), "--out", str(published_file)]
        consumer_args = [
            *common,
            *servers.nats_args(feed.reader),
            "--stream",
            feed.stream.name,
            "--durable",
            feed.consumer_name("bench__latency"),
            "--out",
            str(stamps_file),
        ]
        started = await asyncio.gather(
            spawn_worker("relay", relay_args),
            spawn_worker("consumer", consumer_args),
            return_exceptions=True,
        )
        procs += [p for p in started if isinstance(p, asyncio.subprocess.Process)]
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed
        await servers.sql("CHECKPOINT")
        await quiet(plan, log, "latency")
        rate = plan.latency_rate_per_s
        total = round(rate * plan.latency_seconds)
        committed: dict[str, int] = {}
        commits: list[float] = []
        in_order = InOrder()

        async def commit(i: int) -> None:
            e = envelope(i, aggregates=AGGREGATES, producer=feed.producer)
            async with in_order.turn(e.subject):
                begun = time.perf_counter()
                async with pool.acquire() as conn:
                    async with conn.transaction():
                        await outbox.add(conn, e)
                    committed[e.id] = time.time_ns()
                commits.append((time.perf_counter() - begun) * 1000)

        # An aggregate's events are 200 ms apart, so they commit in order unless a busy core
        # holds one back; then its successor waits for it (InOrder). The producer is the
        # harness: a full garbage collection of this process's objects stopped it for 15-20 ms
        # (it fell that far behind its schedule, then started the events it owed at once), so
        # the objects made so far are frozen out of the collections while it runs.
        gc.collect()
        gc.freeze()
        try:
            run = await open_loop(rate, total, commit)
            produced, behind, meter = run.seconds, run.behind, run.meter
            await count_until(dsn, "SELECT count(*) FROM effects", total, stall=30)
            load = meter.stop()
        finally:
            gc.unfreeze()
        relay_stats = await finish_worker(procs[0])
        consumer_stats = await finish_worker(procs[1])
        procs.clear()
        stamps = msgspec.json.decode(stamps_file.read_bytes(), type=dict[str, int])
        published = msgspec.json.decode(published_file.read_bytes(), type=dict[str, int])
        latencies = [(stamps[k] - t) / 1e6 for k, t in committed.items() if k in stamps]
        to_relay = [(published[k] - t) / 1e6 for k, t in committed.items() if k in published]
        to_handler = [(stamps[k] - t) / 1e6 for k, t in published.items() if k in stamps]
        if len(latencies) != total:
            raise RuntimeError(
                f"latency: {len(latencies)} of {total} events reached the consumer (none more "
                f"for 30 s; the relay published {len(published)}: {relay_stats}; the "
                f"consumer: {consumer_stats})"
            )
        return Latency(
            percentile(latencies, 50),
            percentile(latencies, 99),
            max(latencies),
            load,
            {
                "events": total,
                "received": len(latencies),
                "producer_seconds": round(produced, 3),
                "producer_max_behind_ms": round(behind * 1000, 2),
                "producer_transaction_ms": summary(commits),
                "relay_batches": relay_stats.get("batches"),
                "relay_published": relay_stats.get("published"),
                "consumer_applied": consumer_stats.get("applied"),
                "consumer_gaps": consumer_stats.get("gaps"),
                "share_over_50ms": sum(v > 50 for v in latencies) / len(latencies),
                "commit_to_relay_publish_ms": summary(to_relay),
                "relay_publish_to_handler_ms": summary(to_handler),
            },
        )
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        stamps_file.unlink(missing_ok=True)
        published_file.unlink(missing_ok=True)
        await nc.close()
        await pool.close()
        await servers.drop_database(dsn)


async def measure(
    servers: Servers, plan: Plan, log: list[str], service_core: int | None
) -> list[Figure]:
    where = "unpinned" if service_core is None else f"on core {service_core}"
    log.append(
        f"latency: producer in the bench process; relay and consumer in two separate "
        f"processes {where}"
    )
    title = (
        f"end-to-end latency at {plan.latency_rate_per_s}/s for {plan.latency_seconds:g} s, "
        "commit to handler"
    )
    p50 = Figure("latency_p50", f"{title}, p50", "ms")
    p99 = Figure("latency_p99", f"{title}, p99", "ms", target="<= 50 ms", max_value=50.0)
    worst = Figure("latency_max", f"{title}, max", "ms")
    for rep in range(plan.repetitions):
        r = await guarded(plan, "latency", log, lambda: run_once(servers, plan, log, service_core))
        p50.project.append(Run(r.p50, r.load))
        p99.project.append(Run(r.p99, r.load, r.extra))
        worst.project.append(Run(r.max, r.load))
        print(
            f"  latency #{rep + 1}: p50 {r.p50:.2f} ms, p99 {r.p99:.2f} ms, "
            f"max {r.max:.2f} ms ({r.extra['received']} events); commit to relay "
            f"publish {r.extra['commit_to_relay_publish_ms']}, publish to handler "
            f"{r.extra['relay_publish_to_handler_ms']}",
            flush=True,
        )
    return [p50, p99, worst]
