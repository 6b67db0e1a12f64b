"""The NATS connection and the JetStream streams.

The connection reconnects forever, reports through our own callbacks (the library's default
prints a traceback on every attempt), and exposes its state so that readiness fails while it is
disconnected. Publishing is never buffered during a reconnection (``pending_size=0``): a publish
while disconnected fails at once, so the relay knows it was not sent, rather than guessing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from procure_shared.events.streams import STREAMS, StreamSpec

__all__ = [
    "DEAD_LETTER_STREAM",
    "DUPLICATE_WINDOW_SECONDS",
    "NatsState",
    "connect_nats",
    "ensure_streams",
]

log = logging.getLogger("procure.nats")

# Longer than the relay's longest retry horizon: a relay that published but died before marking
# its rows re-publishes them when it (or its successor) next runs, within seconds normally and
# within this window while PostgreSQL is down; JetStream then drops the repeat by Nats-Msg-Id.
DUPLICATE_WINDOW_SECONDS = 2 * 3600.0
# Events are kept for replay to new subscribers.
EVENT_RETENTION_SECONDS = 90 * 24 * 3600.0

# Captures the server's advisories about messages consumers gave up on, so that a worker can
# record them as dead letters (advisories are not stored otherwise).
DEAD_LETTER_STREAM = StreamSpec(
    "DEADLETTERS",
    (
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>",
    ),
    "",
)


@dataclass
class NatsState:
    """What readiness needs to know about the connection."""

    name: str
    connected: bool = False
    closed: bool = False
    last_error: str | None = None
    reconnects: int = 0
    closing: bool = False  # set before a deliberate close


async def connect_nats(url: str, state: NatsState) -> Client:
    """Connect to the first server that answers of ``url``, which may list several separated
    by commas (the nodes of a cluster); ``state`` follows the connection from then on."""

    async def on_error(exc: Exception) -> None:
        state.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("nats error", extra={"error": state.last_error})

    async def on_disconnected() -> None:
        state.connected = False
        if not state.closing:
            log.warning("nats disconnected")

    async def on_reconnected() -> None:
        state.connected = True
        state.reconnects += 1
        log.info("nats reconnected")

    async def on_closed() -> None:
        state.connected = False
        state.closed = True
        if state.closing:
            log.info("nats connection closed")
        else:
            log.error("nats connection closed unexpectedly")

    client = await nats.connect(
        servers=[server.strip() for server in url.split(",") if server.strip()],
        name=state.name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        connect_timeout=2,
        ping_interval=10,
        max_outstanding_pings=3,
        pending_size=0,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        closed_cb=on_closed,
    )
    state.connected = True
    return client


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=EVENT_RETENTION_SECONDS,
        allow_direct=True,
    )


async def ensure_streams(
    js: JetStreamContext,
    replicas: int = 1,
    streams: tuple[StreamSpec, ...] = (*STREAMS, DEAD_LETTER_STREAM),
) -> None:
    """Create or update the streams, idempotently: every process does it at start."""
    for spec in streams:
        config = stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
