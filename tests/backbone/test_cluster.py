"""Three nats-server processes clustered on loopback, the streams with three replicas: one node
killed with -9 and started again loses no acknowledged event, and catches up."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from procure_tools.devstack import nats_cluster_config

from procure_shared.events import STREAMS
from procure_shared.identities import route_password
from procure_shared.messaging.nats import ensure_streams
from tests.support.servers import (
    access_in,
    cluster_url,
    embedded_nats_cluster,
    scratch_dir,
    session_credentials,
)
from tests.support.wait import eventually

CONTRACTS = STREAMS[0]


def test_a_cluster_node_syncs_every_write_and_routes_to_every_node() -> None:
    config = nats_cluster_config(
        port=24222,
        store_dir=scratch_dir("cfg-"),
        server_name="procure-1",
        cluster_port=26222,
        routes=[26222, 26223, 26224],
        credentials=session_credentials(),
    )
    lines = [line.split("#", 1)[0].strip() for line in config.splitlines()]
    assert "sync_interval: always" in lines
    assert "listen: 127.0.0.1:26222" in lines
    secret = route_password(session_credentials())
    assert f'authorization {{ user: procure_route, password: "{secret}" }}' in lines
    assert [line for line in lines if line.startswith("nats-route://")] == [
        f"nats-route://procure_route:{secret}@127.0.0.1:26222",
        f"nats-route://procure_route:{secret}@127.0.0.1:26223",
        f"nats-route://procure_route:{secret}@127.0.0.1:26224",
    ]


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[Client]:
    client = await nats.connect(
        servers=url.split(","),
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **access_in(session_credentials()).options(),
    )
    try:
        yield client
    finally:
        await client.close()


async def created(js: JetStreamContext) -> bool:
    """The streams with three replicas, once the cluster has elected its meta leader."""
    try:
        await ensure_streams(js, 3, (CONTRACTS,))
    except (NatsError, TimeoutError):
        return False
    return True


async def published(js: JetStreamContext, n: int) -> bool:
    """One event, acknowledged (a retry keeps its Nats-Msg-Id: stored once whatever happens)."""
    try:
        await js.publish(
            "contracts.contract.amended", b"{}", headers={"Nats-Msg-Id": f"e{n}"}, timeout=2
        )
    except (NatsError, TimeoutError):
        return False
    return True


@pytest.mark.slow
async def test_a_three_replica_stream_keeps_every_event_through_a_kill_9_of_one_node() -> None:
    with embedded_nats_cluster(3) as nodes:
        async with connected(cluster_url(nodes)) as client:
            js = client.jetstream()
            await eventually(lambda: created(js), within=30, what="the R3 stream created")
            info = await js.stream_info(CONTRACTS.name)
            assert info.config.num_replicas == 3
            for n in range(100):
                await eventually(partial(published, js, n), within=20, what=f"event {n}")
            nodes[0].kill()
            for n in range(100, 200):
                await eventually(partial(published, js, n), within=20, what=f"event {n}")
            nodes[0].start()

            async def caught_up() -> bool:
                try:
                    info = await js.stream_info(CONTRACTS.name)
                except (NatsError, TimeoutError):
                    return False
                replicas = (info.cluster.replicas if info.cluster else None) or []
                return (
                    info.state.messages == 200
                    and len(replicas) == 2
                    and all(r.current and not r.offline for r in replicas)
                )

            await eventually(caught_up, within=30, what="the restarted node caught up")
        # Each node, asked on its own, answers with every event (direct get reads any replica).
        for node in nodes:
            async with connected(node.url) as alone:
                state = (await alone.jetstream().stream_info(CONTRACTS.name)).state
                assert (state.messages, state.first_seq, state.last_seq) == (200, 1, 200)
