"""11. The cost of three-replica streams: JetStream publish throughput into a stream of three
replicas on a three-node cluster (project: what production runs, ``PROCURE_STREAM_REPLICAS=3``)
against one replica on one node (baseline: what development runs), in the same run.

Both sides: the project's stream configuration (``messaging.stream_config``: file storage; every
node's ``sync_interval: always``), 20,000 events of the relay bench's envelope, published with
``Nats-Msg-Id`` and pipelined acks 100 at a time, as the relay publishes a batch. The publisher
is this process on core 1; the cluster's nodes are started on core 0 like the harness's
nats-server. Each run has a fresh stream.

Measured on 2026-11-24 (three repetitions): 3 replicas 20,932 events/s (19,961-22,901), one
replica on one node 3,906/s: 5.4x, the opposite of the cost expected. Not yet explained; the
likely reason, unverified, is that a clustered stream writes through its Raft log, which syncs
once per batch of appends, while a single node with ``sync_interval: always`` syncs each
message. Until that is understood, read the figure as "replication did not cost throughput
here", not as a speed-up to plan on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator

import nats
from nats.js.errors import APIError

from bench import bare, cpu, relay
from bench.harness import CLIENT_CORE, SERVER_CORE, Figure, Run, Servers, guarded, pin_process
from procure_shared.devstack import EmbeddedNats, free_port, nats_cluster
from procure_shared.events import encode_envelope
from procure_shared.messaging import stream_config

EVENTS = 20_000
BATCH = 100
NODES = 3


@contextlib.contextmanager
def _cluster(servers: Servers) -> Iterator[list[EmbeddedNats]]:
    folder = servers.folder / f"cluster-{uuid.uuid4().hex[:6]}"
    clients = [free_port() for _ in range(NODES)]
    routes = [free_port() for _ in range(NODES)]
    nodes = nats_cluster(folder, clients, routes)
    try:
        if servers.pinned:
            pin_process(os.getpid(), SERVER_CORE)  # the nodes inherit core 0
        try:
            for node in nodes:
                node.start()
        finally:
            if servers.pinned:
                pin_process(os.getpid(), CLIENT_CORE)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _publish(url: str, replicas: int) -> Run:
    nc = await nats.connect(servers=url.split(","))
    js = nc.jetstream()
    config = stream_config(relay.SPEC, replicas)
    try:
        deadline = time.monotonic() + 60
        while True:  # a new cluster takes a moment to elect its JetStream leader
            try:
                await bare.fresh_stream(js, config)
                break
            except (APIError, TimeoutError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        events = [relay.envelope(i) for i in range(EVENTS)]
        messages = [(e.type, encode_envelope(e), e.id) for e in events]
        meter = cpu.Meter()
        began = time.perf_counter()
        for start in range(0, EVENTS, BATCH):
            futures = [
                await js.publish_async(subject, payload, headers={"Nats-Msg-Id": key})
                for subject, payload, key in messages[start : start + BATCH]
            ]
            _, pending = await asyncio.wait(futures, timeout=30)
            if pending or any(f.exception() is not None for f in futures):
                raise RuntimeError(f"publishes unacknowledged at {start} ({replicas} replicas)")
        seconds = time.perf_counter() - began
        load = meter.stop()
        assert config.name is not None
        info = await js.stream_info(config.name)
        if info.state.messages != EVENTS or info.config.num_replicas != replicas:
            raise RuntimeError(
                f"the stream holds {info.state.messages} events in "
                f"{info.config.num_replicas} replicas, not {EVENTS} in {replicas}"
            )
        await js.delete_stream(config.name)
    finally:
        await nc.close()
    return Run(EVENTS / seconds, load, {"seconds": seconds})


async def measure(servers: Servers, repetitions: int, log: list[str]) -> list[Figure]:
    figure = Figure(
        "stream_replicas_publish",
        f"JetStream publish, {EVENTS:,} events: 3 replicas on 3 nodes (baseline 1 on 1)",
        "events/s",
        note="the ratio is the cost of replication (production) over one node (development)",
    )
    with _cluster(servers) as nodes:
        url = ",".join(node.url for node in nodes)
        log.append(f"replicas: a cluster of {NODES} nodes at {url}")
        for rep in range(repetitions):
            figure.project.append(await guarded("replicas 3", log, lambda: _publish(url, 3)))
            figure.baseline.append(
                await guarded("replicas 1", log, lambda: _publish(servers.nats.url, 1))
            )
            print(
                f"  replicas #{rep + 1}: 3 replicas {figure.project[-1].value:,.0f} events/s, "
                f"1 replica {figure.baseline[-1].value:,.0f} events/s",
                flush=True,
            )
    return [figure]
