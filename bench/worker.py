"""A service-side process for the latency benchmark: the project's Relay or Consumer alone.

    python -m bench.worker relay|consumer --dsn DSN --nats URL [--core N] [--stream S --out F]

Prints ``ready`` once leading (relay) or fetching (consumer); on SIGTERM stops, prints its
stats as one JSON line and exits. The consumer's handler notes time.time_ns() on entry for each
event id (then does the effect INSERT); the relay notes it when it hands each event to
``publish_async`` (through a thin proxy of the JetStream context, for the breakdown of the
latency). The notes are written to --out as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, cast

import msgspec
import uvloop
from nats.js import JetStreamContext

from bench import bare
from procure_shared.consumer import Consumer, ConsumerSpec
from procure_shared.events import Envelope
from procure_shared.messaging import NatsState, connect_nats
from procure_shared.outbox import Relay
from procure_shared.postgres import Connection, create_pool


def _pin(core: int | None) -> None:
    # Before the event loop or any thread exists: every later thread inherits it.
    if core is not None:
        os.sched_setaffinity(0, {core})


class _StampingJetStream:
    """Delegates to the JetStream context; notes when each message is handed over."""

    def __init__(self, js: Any, stamps: dict[str, int]) -> None:
        self._js = js
        self._stamps = stamps

    async def publish_async(self, subject: str, payload: bytes, **kwargs: Any) -> Any:
        self._stamps.setdefault(kwargs["headers"]["Nats-Msg-Id"], time.time_ns())
        return await self._js.publish_async(subject, payload, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pool = await create_pool(args.dsn, size=10)
    state = NatsState(name=f"bench-{args.role}")
    nc = await connect_nats(args.nats, state)
    js = nc.jetstream()
    stamps: dict[str, int] = {}

    async def handler(conn: Connection, e: Envelope) -> None:
        stamps.setdefault(e.id, time.time_ns())
        await conn.execute(bare.INSERT_EFFECT, e.id, e.subject, e.sequence)

    worker: Relay | Consumer
    if args.role == "relay":
        proxy = cast(JetStreamContext, _StampingJetStream(js, stamps))
        worker = Relay(service="bench", dsn=args.dsn, pool=pool, js=proxy)
    else:
        spec = ConsumerSpec(
            name="bench__latency",
            stream=args.stream,
            filter_subjects=(bare.EVENT_TYPE,),
            handlers={bare.EVENT_TYPE: handler},
        )
        worker = Consumer(spec, pool=pool, js=js)
    task = asyncio.create_task(worker.run(stop))
    while not (worker.stats.active if isinstance(worker, Relay) else worker.stats.fetching):
        if task.done():
            break
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await stop.wait()
    await task
    state.closing = True
    await nc.close()
    await pool.close()
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, msgspec.json.encode(stamps))
    print(msgspec.json.encode(worker.stats).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("role", choices=["relay", "consumer"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--core", type=int)
    parser.add_argument("--stream", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    _pin(args.core)
    uvloop.run(_serve(args))


if __name__ == "__main__":
    main()
