"""11. The cost of three-replica streams: JetStream publish throughput into a stream of three
replicas on a three-node cluster (project: what production runs, ``PROCURE_STREAM_REPLICAS=3``)
against one replica on one node (baseline: what development runs), in the same run.

Both sides: the project's stream configuration (``messaging.stream_config``: file storage; every
node's ``sync_interval: always``), 20,000 events (the plan's ``replicas_events``) of the relay
bench's envelope, published with ``Nats-Msg-Id`` and pipelined acks 100 at a time, as the relay
publishes a batch. The publisher is this process on core 1; the cluster's nodes are started on
core 0 like the harness's nats-server. Each run has a fresh stream.

Why three replicas were faster here (5.4x on 2026-11-24): after the timed runs, one untimed run
per side publishes the plan's ``replicas_traced`` events (2,000) with strace attached to every
nats-server (``strace -f -y -e trace=fsync,fdatasync``) and counts the fsyncs by the file they
sync. With one replica, each event costs one fsync of the stream's message block:
``sync_interval: always`` syncs every message, one after another. With three, every node syncs
its Raft log once per append batch (the leader batches the proposals that arrived while the last
batch was out: 2,000 events took 33 fsyncs per node, about 60 events each, with 100 in flight),
and the stream's blocks are written but not synced, since the synced log is what recovery
replays. A publish is acknowledged once a majority has synced the batch that holds it. So the
clustered stream has group commit, and the single node does not. Replication does not cost
throughput on this machine for that reason, not because replication is free: on a network each
batch also waits for a round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import APIError
from procure_tools.devstack import EmbeddedNats, free_port, nats_cluster

from bench import bare, cpu, relay
from bench.harness import Figure, Run, Servers, guarded, start_on_server_core
from bench.plan import Plan
from procure_shared.events import encode_envelope
from procure_shared.messaging.nats import stream_config

BATCH = 100
NODES = 3


@contextlib.contextmanager
def _cluster(servers: Servers) -> Iterator[list[EmbeddedNats]]:
    folder = servers.folder / f"cluster-{uuid.uuid4().hex[:6]}"
    clients = [free_port() for _ in range(NODES)]
    routes = [free_port() for _ in range(NODES)]
    # The harness's identities, whose authorization every node requires (and whose route
    # password the nodes use between them).
    nodes = nats_cluster(folder, clients, routes, servers.credentials)
    try:
        start_on_server_core(servers, nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _stream(js: JetStreamContext, replicas: int) -> StreamConfig:
    config = stream_config(relay.SPEC, replicas)
    deadline = time.monotonic() + 60
    while True:  # a new cluster takes a moment to elect its JetStream leader
        try:
            await bare.fresh_stream(js, config)
            return config
        except (APIError, TimeoutError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _send(js: JetStreamContext, count: int, replicas: int) -> None:
    """``count`` events, ``BATCH`` publishes in flight, each acknowledged."""
    events = [relay.envelope(i) for i in range(count)]
    messages = [(e.type, encode_envelope(e), e.id) for e in events]
    for start in range(0, count, BATCH):
        futures = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": key})
            for subject, payload, key in messages[start : start + BATCH]
        ]
        _, pending = await asyncio.wait(futures, timeout=30)
        if pending or any(f.exception() is not None for f in futures):
            raise RuntimeError(f"publishes unacknowledged at {start} ({replicas} replicas)")


async def _publish(url: str, options: dict[str, Any], replicas: int, events: int) -> Run:
    nc = await nats.connect(servers=url.split(","), **options)
    js = nc.jetstream()
    try:
        config = await _stream(js, replicas)
        meter = cpu.Meter()
        began = time.perf_counter()
        await _send(js, events, replicas)
        seconds = time.perf_counter() - began
        load = meter.stop()
        assert config.name is not None
        info = await js.stream_info(config.name)
        if info.state.messages != events or info.config.num_replicas != replicas:
            raise RuntimeError(
                f"the stream holds {info.state.messages} events in "
                f"{info.config.num_replicas} replicas, not {events} in {replicas}"
            )
        await js.delete_stream(config.name)
    finally:
        await nc.close()
    return Run(events / seconds, load, {"seconds": seconds})


_SYNC = re.compile(r"^\d+\s+f(?:data)?sync\(\d+<([^>]*)>")


def _syncs(trace: Path) -> Counter[str]:
    """The fsyncs an strace output file shows, by what they synced: the Raft log (under the
    store's ``_js_`` account) or a stream's message blocks."""
    found: Counter[str] = Counter()
    for line in trace.read_text().splitlines():
        synced = _SYNC.match(line)
        if synced:
            found["raft log" if "/_js_/" in synced.group(1) else "stream blocks"] += 1
    return found


async def _count_syncs(
    url: str,
    options: dict[str, Any],
    replicas: int,
    nodes: list[EmbeddedNats],
    folder: Path,
    traced: int,
) -> str:
    """One untimed run of ``traced`` events with strace on every node: the fsyncs per event
    and per node, by file."""
    nc = await nats.connect(servers=url.split(","), **options)
    js = nc.jetstream()
    tracers: list[tuple[asyncio.subprocess.Process, Path]] = []
    try:
        config = await _stream(js, replicas)
        for node in nodes:
            trace = folder / f"syncs-r{replicas}-{node.pid}.strace"
            argv = ["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", str(trace)]
            tracer = await asyncio.create_subprocess_exec(
                "strace", *argv, "-p", str(node.pid), stderr=asyncio.subprocess.DEVNULL
            )
            tracers.append((tracer, trace))
        await asyncio.sleep(1.0)  # strace attaches to every thread
        await _send(js, traced, replicas)
        assert config.name is not None
        await js.delete_stream(config.name)
    finally:
        for tracer, _ in tracers:
            tracer.send_signal(signal.SIGINT)
            await tracer.wait()
        await nc.close()
    per_node = [_syncs(trace) for _, trace in tracers]
    parts = [
        ", ".join(f"{n / traced:.3f} of the {what}" for what, n in sorted(c.items())) or "none"
        for c in per_node
    ]
    return f"{replicas} replica(s): fsyncs per event on each node: " + "; ".join(parts)


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    events, traced = plan.replicas_events, plan.replicas_traced
    figure = Figure(
        "stream_replicas_publish",
        f"JetStream publish, {events:,} events: 3 replicas on 3 nodes (baseline 1 on 1)",
        "events/s",
        note="the ratio is the cost of replication (production) over one node (development)",
    )
    options = servers.nats_options()
    with _cluster(servers) as nodes:
        url = ",".join(node.url for node in nodes)
        log.append(f"replicas: a cluster of {NODES} nodes at {url}")
        for rep in range(plan.repetitions):
            figure.project.append(
                await guarded(plan, "replicas 3", log, lambda: _publish(url, options, 3, events))
            )
            figure.baseline.append(
                await guarded(
                    plan,
                    "replicas 1",
                    log,
                    lambda: _publish(servers.nats.url, options, 1, events),
                )
            )
            print(
                f"  replicas #{rep + 1}: 3 replicas {figure.project[-1].value:,.0f} events/s, "
                f"1 replica {figure.baseline[-1].value:,.0f} events/s",
                flush=True,
            )
        if shutil.which("strace") is None:
            log.append("replicas: strace is not on this machine, so the fsyncs were not counted")
        else:
            for count_url, replicas, watched in (
                (url, 3, nodes),
                (servers.nats.url, 1, [servers.nats]),
            ):
                counted = await _count_syncs(
                    count_url, options, replicas, watched, servers.folder, traced
                )
                log.append(f"replicas, {traced:,} events under strace: {counted}")
                print(f"  {counted}", flush=True)
    return [figure]
