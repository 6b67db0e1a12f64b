"""12. Two service instances against one on this machine's two cores (issue 8): the project side
runs two processes of a service against the same database and the same JetStream consumers, the
baseline side one, in the same run against the same servers; ratio = two / one.

``write``: amendments through the contracts service's HTTP API (bench.contracts' write path: a
scope change with an Idempotency-Key; row lock, version-checked update, audit row, outbox row)
by ``python -m procure_contracts serve --role http`` processes, as deployed (one uvicorn worker
each, a pool of 10 each), on one database of bench.contracts' generated contracts (the plan's
``contracts``). The load generator is bench.contracts' (a closed loop of the plan's
``contracts_connections`` keep-alive HTTP/1.1 connections on asyncio streams, in the bench
process): with two instances connection k goes to instance k mod 2, as a load balancer spreading
connections would; the same 50 connections on both sides. The contracts benchmark's warm-up (2
s), then its 10 s timed; throughput, and the client's p50 and p99 (closed loop: at saturation
they are mostly queueing, about 50 / throughput). The relay does not run (``--role http``): the
outbox rows stay.

``delivery``: the plan's ``instances_delivery_events`` (5,000) contract amendments
(bench.notifications' events: 1,000 contracts, ten webhook subscriptions, one match each)
through ``python -m procure_notifications serve --role consumers`` processes, as deployed: the
fan-out consumer of the CONTRACTS stream (one durable pull consumer that the instances share:
competing consumers) records a delivery per event, and the delivery worker (woken by NOTIFY;
leases with FOR UPDATE SKIP LOCKED, so instances share the work) signs and POSTs each to
bench.notifications_bare's receiver. The instances start and fetch; the durable consumer is then
paused (JetStream's consumer pause), the events published to the stream as the relay publishes
them (Nats-Msg-Id), the consumer resumed; timed from the resume until every delivery is
``delivered`` (polled every 50 ms); when the last fan-out transaction began (the inbox's
``applied_at``) says how much of that the fan-out took. Redeliveries (an instance that meets an
aggregate's event before its predecessor, held by the other instance, puts it back for 0.2 s)
are counted from the consumer's delivered sequence.

What a second instance cannot add: the outbox relay is a singleton per service (it holds a
PostgreSQL advisory lock; a second instance's relay waits for it, so that a service's events are
published in order), so relay throughput is one relay's whatever the number of instances
(``python -m bench relay`` measures it); neither figure here includes it (the write path runs
without it, the delivery path starts from events already in the stream).

Placement: nothing is pinned during this measurement. PostgreSQL and nats-server (moved off
core 0 for it, and back after), the service instances, the receiver and the bench process (the
load generator, the publisher) may all run on either core, on both sides: a two-core host
running the whole stack. Pinning both instances to one core would cap them at that core and
measure nothing; one instance a core would leave the baseline's instance a core the project's
two must share with the servers. The price: the scheduler places things differently from run to
run, so the spread is wider than in the pinned benches.

What bounds the gain: on two cores PostgreSQL, nats-server, the load generator (or the
receiver) and the service processes share 200% of a core. The notes give, for each side, how
busy the two cores were and the CPU of each kind of process (per request or event), and the
ceiling the baseline leaves: 200% over the busy percentage the one instance ran at (the most two
could reach if each request cost the CPU it cost with one). A process that is one event loop
(one core at most) gains from a second instance only while the cores have idle time.

Measured on 2026-11-24 07:43 UTC (three repetitions, foreign load at most 1% of a core; an
earlier trial the same day gave 0.95x and 1.12x, so read the ratios as what bounds the gain,
give or take 0.15):
- Writes: 944 req/s with two instances (871-962) against 816 with one, 1.16x; p50 48 ms against
  57, p99 161 ms against 233. With one instance the cores were 172% busy of 200% (the instance
  86% of a core), which leaves room for at most 1.16x at the same CPU per request; two filled
  both cores (200%, each instance 51%), and the CPU per request stayed the same (the service
  processes 1.05 -> 1.06 ms of a core, PostgreSQL's backends 0.94 -> 0.93 ms). So the gain
  was exactly the idle CPU one instance left.
- Deliveries: 702 events/s with two instances (680-783) against 676, 1.04x. One instance left
  the cores 162% busy (room for 1.25x); two filled them (195%) but each event cost more (the
  service processes 1.05 -> 1.21 ms, PostgreSQL's backends 0.99 -> 1.11 ms), which took most
  of the room. Not broken down: each event loop does half as much per wake-up, twice as many
  connections compete in PostgreSQL. The delivery path is paced by the fan-out consumer (the
  last fan-out transaction begins within about 0.05 s of the end; no redeliveries).
None of this says what a second instance adds on a host with cores to spare. It does say that
PostgreSQL spent about as much CPU per request and per event as the service processes did, so
its cores must grow with the instances; and events still leave each service through one relay.

Each side has fresh state: the contracts table restored from a pristine copy (and no audit,
outbox or idempotency rows), or a new notifications database, fresh streams and a new
receiver; the sides alternate which goes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from procure_tools.devstack import free_port

from bench import contracts, cpu, notifications
from bench.harness import (
    Figure,
    Run,
    Servers,
    by_process,
    cpu_per,
    guarded,
    keep_run,
    quiet,
    spawn_python,
    stop_process,
    unpinned,
)
from bench.plan import Plan
from procure_notifications.events.fanout import fanout_consumers
from procure_shared.clock import SystemClock

INSTANCES = 2
SIDES = (INSTANCES, 1)
# The notifications service's fan-out consumer of the stream the events are on.
FANOUT = next(s for s in fanout_consumers() if s.stream == "CONTRACTS")


def _side(n: int) -> str:
    return f"{n} instance{'s' if n > 1 else ''}"


def _percents(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.0f}%" for v in values)


# --- the write path ---------------------------------------------------------------------------


async def write_run(
    servers: Servers,
    plan: Plan,
    dsn: str,
    n: int,
    requests: contracts.Requests,
    log: list[str],
    log_file: Path,
) -> Run:
    """``n`` contracts HTTP instances on a restored table, amended for the plan's time."""
    await contracts.restore(servers, dsn)
    apps = await asyncio.gather(
        *(contracts.start_app(servers, contracts.SERVICE, dsn, log_file, None) for _ in range(n))
    )
    try:
        ports = [port for _, port in apps]
        for port in ports:
            await contracts.verify(port, contracts.SERVICE, requests)
        label = f"instances write, {_side(n)}"
        pids = [proc.pid for proc, _ in apps]
        connections = plan.contracts_connections
        run = partial(contracts.timed, plan, ports, requests.amend, connections, log, label, pids)
        r = await guarded(plan, label, log, run)
        r.extra["instances"] = n
        return r
    finally:
        for proc, _ in apps:
            await stop_process(proc)


async def measure_write(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = await contracts._database(servers)
    log_file = servers.folder / "instances-contracts.log"
    try:
        await contracts.load(dsn, 1, plan.contracts)
        await contracts.snapshot(servers, dsn)
        ids, live = await contracts._ids(dsn)
        title = (
            f"contracts API: amendments, {plan.contracts_connections} connections spread over "
            f"{INSTANCES} instances (baseline 1)"
        )
        note = "baseline: one `serve --role http` process; the same load, servers and data"
        figures = (
            Figure("instances_write_throughput", f"{title}: throughput", "req/s", note=note),
            Figure("instances_write_p50", f"{title}: p50", "ms", note=note),
            Figure("instances_write_p99", f"{title}: p99", "ms", note=note),
        )
        bearer = contracts.token()
        for rep in range(plan.repetitions):
            for n in SIDES if rep % 2 == 0 else SIDES[::-1]:
                requests = contracts.Requests(
                    contracts.SERVICE, bearer, ids, live, uuid.uuid4().hex[:12]
                )
                r = await write_run(servers, plan, dsn, n, requests, log, log_file)
                keep_run(figures, r, baseline=n == 1)
                print(
                    f"  instances write, {_side(n)} #{rep + 1}: {r.value:,.0f} req/s, p50 "
                    f"{r.extra['p50_ms']:.2f} ms, p99 {r.extra['p99_ms']:.2f} ms; cores "
                    f"{r.load.busy_pct[0]:.0f}% / {r.load.busy_pct[1]:.0f}%, foreign "
                    f"{r.load.foreign_pct:.0f}%; {by_process(r.load)}; instances "
                    f"{_percents(r.load.watched_pct)}",
                    flush=True,
                )
        log += _bound("write", figures[0], "requests", "request")
        return list(figures)
    finally:
        await servers.drop_database(dsn)


# --- event delivery ---------------------------------------------------------------------------


async def start_consumers(servers: Servers, dsn: str, log_file: Path) -> asyncio.subprocess.Process:
    """``python -m procure_notifications serve --role consumers`` on every core."""
    env = {
        **os.environ,
        "DATABASE_URL": await servers.as_service(dsn, "notifications"),
        **servers.service_env("notifications"),
        "PROCURE_WEBHOOK_ALLOW_LOOPBACK": "true",
        "PROCURE_HTTP_PORT": str(free_port()),  # every role serves its probes and /metrics
    }
    argv = ["-m", "procure_notifications", "serve", "--role", "consumers"]
    return await spawn_python(argv, env, log_file, None)


async def _fetching(
    js: JetStreamContext, procs: Sequence[asyncio.subprocess.Process], log_file: Path
) -> None:
    """Until the shared fan-out consumer has a pull request waiting from every instance."""
    deadline = time.monotonic() + 30
    while True:
        if any(p.returncode is not None for p in procs):
            raise RuntimeError(f"a notifications instance exited: see {log_file}")
        with contextlib.suppress(NotFoundError):
            info = await js.consumer_info(FANOUT.stream, FANOUT.name)
            if (info.num_waiting or 0) >= len(procs):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the notifications instances did not fetch: see {log_file}")
        await asyncio.sleep(0.05)


async def delivery_run(servers: Servers, plan: Plan, n: int, log: list[str]) -> Run:
    """``n`` notifications instances deliver the plan's events waiting on the stream."""
    events = plan.instances_delivery_events
    tag = uuid.uuid4().hex[:8]
    received_file = servers.folder / f"instances-received-{tag}.json"
    log_file = servers.folder / "instances-notifications.log"
    label = f"instances delivery, {_side(n)}"
    dsn = await notifications.notifications_database(servers)
    procs: list[asyncio.subprocess.Process] = []
    nc = await servers.connect()
    js = nc.jetstream()
    try:
        await notifications.fresh_streams(servers)
        anywhere = notifications.Placement(service=None, receiver=None)
        recv, port = await notifications.receiver(anywhere, log_file, received_file)
        procs.append(recv)
        await notifications.subscribe(dsn, port)
        instances = list(
            await asyncio.gather(*(start_consumers(servers, dsn, log_file) for _ in range(n)))
        )
        procs += instances
        await _fetching(js, instances, log_file)
        await js.pause_consumer(FANOUT.stream, FANOUT.name, "2100-01-01T00:00:00Z")
        clock = SystemClock()
        await notifications.preload(
            servers, [notifications.amendment(i, clock.now()) for i in range(events)]
        )
        info = await js.consumer_info(FANOUT.stream, FANOUT.name)
        if info.num_pending != events or info.delivered.consumer_seq != 0:
            raise RuntimeError(
                f"{label}: the paused consumer has {info.num_pending} pending and delivered "
                f"{info.delivered.consumer_seq}, not {events} and none"
            )
        await servers.sql("CHECKPOINT")
        await quiet(plan, log, label)
        meter = cpu.Meter([p.pid for p in instances])
        resumed_wall = time.time()
        began = time.perf_counter()
        await js.resume_consumer(FANOUT.stream, FANOUT.name)
        delivered = await notifications.wait_for_deliveries(
            dsn, events, "WHERE status = 'delivered'", 120
        )
        seconds = time.perf_counter() - began
        load = meter.stop()
        if delivered != events:
            raise RuntimeError(f"{label}: {delivered} of {events} delivered (none more for 120 s)")
        info = await js.consumer_info(FANOUT.stream, FANOUT.name)
        conn = await asyncpg.connect(dsn)
        try:
            last_fanout = await conn.fetchval(
                "SELECT extract(epoch FROM max(applied_at)) FROM inbox WHERE consumer = $1",
                FANOUT.name,
            )
        finally:
            await conn.close()
        for proc in instances:
            await stop_process(proc)
        receiver_stats = await notifications.finish(procs[0])
        if receiver_stats.get("distinct") != events:
            raise RuntimeError(f"{label}: the receiver had {receiver_stats}")
        return Run(
            events / seconds,
            load,
            {
                "events": events,
                "instances": n,
                "seconds_timed": seconds,
                "last_fanout_began_seconds": round(float(last_fanout) - resumed_wall, 3),
                "redeliveries": info.delivered.consumer_seq - events,
                "receiver": receiver_stats,
            },
        )
    finally:
        await notifications._kill(procs)
        await nc.close()
        received_file.unlink(missing_ok=True)
        await servers.drop_database(dsn)


async def measure_delivery(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    figure = Figure(
        "instances_delivery_throughput",
        f"notifications: {plan.instances_delivery_events:,} events from the CONTRACTS stream "
        f"to delivered webhooks, {INSTANCES} consumer instances (baseline 1)",
        "events/s",
        note="baseline: one `serve --role consumers` process; the same events, servers and "
        "receiver",
    )
    for rep in range(plan.repetitions):
        for n in SIDES if rep % 2 == 0 else SIDES[::-1]:
            label = f"instances delivery, {_side(n)}"
            r = await guarded(plan, label, log, partial(delivery_run, servers, plan, n, log))
            (figure.baseline if n == 1 else figure.project).append(r)
            print(
                f"  instances delivery, {_side(n)} #{rep + 1}: {r.value:,.0f} events/s "
                f"({r.extra['seconds_timed']:.2f} s, the last fan-out began at "
                f"{r.extra['last_fanout_began_seconds']:.2f} s, {r.extra['redeliveries']} "
                f"redeliveries); cores {r.load.busy_pct[0]:.0f}% / {r.load.busy_pct[1]:.0f}%, "
                f"foreign {r.load.foreign_pct:.0f}%; {by_process(r.load)}; instances "
                f"{_percents(r.load.watched_pct)}",
                flush=True,
            )
    log += _bound("delivery", figure, "events", "event")
    return [figure]


# --- the measurement ----------------------------------------------------------------------------


def _bound(name: str, figure: Figure, count: str, unit: str) -> list[str]:
    """The notes on what the cores did on each side, and the ceiling the baseline leaves."""
    lines = []
    for n, runs in ((1, figure.baseline), (INSTANCES, figure.project)):
        busy = [statistics.median(r.load.busy_pct[i] for r in runs) for i in range(2)]
        shares = [statistics.median(r.load.watched_pct[i] for r in runs) for i in range(n)]
        lines.append(
            f"instances {name}, {_side(n)}: cores busy {busy[0]:.0f}% / {busy[1]:.0f}% "
            f"(median), {sum(busy):.0f}% of 200%; the instance"
            f"{'s' if n > 1 else ''} {_percents(shares)} of a core; CPU "
            f"per {unit} (ms of a core, median): {cpu_per(runs, count)}"
        )
    busy_one = statistics.median(sum(r.load.busy_pct) for r in figure.baseline)
    ratio = figure.ratio
    lines.append(
        f"instances {name}: with one instance the cores were {busy_one:.0f}% busy of 200%; "
        f"at the same CPU per {unit} two instances could reach at most "
        f"{200 / max(busy_one, 1):.2f}x; measured {ratio:.2f}x"
        if ratio is not None
        else f"instances {name}: no ratio"
    )
    return lines


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    log.append(
        "instances: nothing pinned during this measurement (PostgreSQL, nats-server, the "
        "service instances, the receiver and the bench process on either core, both sides); "
        f"write: {plan.contracts:,} contracts, {plan.contracts_connections} connections spread "
        f"evenly over the instances, {plan.contracts_warmup_seconds:g} s warm-up, "
        f"{plan.contracts_seconds:g} s timed, the table restored before each side; delivery: "
        f"{plan.instances_delivery_events:,} events on the CONTRACTS stream, "
        f"{notifications.SUBSCRIPTIONS} webhook subscriptions, fresh database, streams and "
        "receiver each side; the relay (one per service, advisory lock) is in neither"
    )
    with unpinned(servers):
        figures = await measure_write(servers, plan, log)
        figures += await measure_delivery(servers, plan, log)
    return figures
