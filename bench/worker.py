"""A service-side process: the project's Relay or Consumer alone (the latency benchmark), or a
request/reply responder (the eligibility benchmark): the bare echo or the project's
EligibilityResponder.

    python -m bench.worker relay --dsn DSN NATS [--producer P] [--core N] [--out F]
    python -m bench.worker consumer --dsn DSN NATS [--producer P] --stream S --durable D
        [--core N] [--out F]
    python -m bench.worker echo NATS [--core N]
    python -m bench.worker eligibility --dsn DSN NATS [--core N]

where NATS is ``--nats URL --identity NAME [--seed FILE]``: the process connects as that
identity, with its nkey seed (none for a server that lets anyone in; bench.harness's
``Servers.nats_args``). ``--producer`` is the service whose events are relayed or consumed
(the relay's advisory lock, the source and type the consumer expects; bench.feeds).

Prints ``ready`` once leading (relay), fetching (consumer) or subscribed (echo, eligibility);
on SIGTERM stops, prints its stats as one JSON line and exits (a responder forgets the timings
it has noted on SIGUSR1, after the warm-up). The consumer's handler notes
time.time_ns() on entry for each event id (then does the effect INSERT); the relay notes it
when it hands each event to ``publish_async`` (through a thin proxy of the JetStream context,
for the breakdown of the latency). The notes are written to --out as JSON.

The eligibility responder runs as the service runs it (the providers app's version, the default
concurrency and pool size); thin proxies time, for the breakdown of a round trip, its answer
(decode, pool, SQL, decisions, encode), the wait for a pooled connection and the SQL fetch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import msgspec
import uvloop
from nats.aio.client import Client
from nats.js import JetStreamContext

from bench import bare
from bench.harness import percentile
from procure_providers.api.rpc import EligibilityResponder
from procure_providers.app import VERSION
from procure_providers.settings import ProvidersOptions
from procure_shared.db.postgres import Connection, Pool, create_pool
from procure_shared.events import Envelope
from procure_shared.messaging.consumer import Consumer, ConsumerSpec
from procure_shared.messaging.nats import NatsAccess, NatsState, connect_nats
from procure_shared.messaging.outbox import Relay
from procure_shared.settings import Settings


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


def _access(args: argparse.Namespace) -> NatsAccess:
    return NatsAccess(identity=args.identity, seed_file=args.seed)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pool = await create_pool(args.dsn, size=10)
    state = NatsState(name=f"bench-{args.role}")
    nc = await connect_nats(args.nats, state, _access(args))
    js = nc.jetstream()
    stamps: dict[str, int] = {}

    async def handler(conn: Connection, e: Envelope) -> None:
        stamps.setdefault(e.id, time.time_ns())
        await conn.execute(bare.INSERT_EFFECT, e.id, e.subject, e.sequence)

    worker: Relay | Consumer
    if args.role == "relay":
        proxy = cast(JetStreamContext, _StampingJetStream(js, stamps))
        worker = Relay(service=args.producer, dsn=args.dsn, pool=pool, js=proxy)
    else:
        event_type = bare.event_type(args.producer)
        spec = ConsumerSpec(
            name=args.durable,
            stream=args.stream,
            filter_subjects=(event_type,),
            handlers={event_type: handler},
            producer=args.producer,
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


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


async def _started(task: asyncio.Task[Any], ready: asyncio.Event) -> None:
    """Until ``ready``; if ``task`` ends first, its error (or a complaint) instead."""
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if not ready.is_set():
        await task
        raise RuntimeError("the responder stopped before it was subscribed")


class _TimedConnection:
    """Delegates to a pooled connection; times each ``fetch`` (the eligibility statement)."""

    def __init__(self, conn: Any, fetches: list[float]) -> None:
        self._conn = conn
        self._fetches = fetches

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await self._conn.fetch(*args, **kwargs)
        finally:
            self._fetches.append((time.perf_counter() - began) * 1000)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _TimedPool:
    """Delegates to the pool; times the wait for a connection and lends timed connections."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self.waits: list[float] = []
        self.fetches: list[float] = []

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        began = time.perf_counter()
        async with self._pool.acquire() as conn:
            self.waits.append((time.perf_counter() - began) * 1000)
            yield _TimedConnection(conn, self.fetches)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class _TimedResponder(EligibilityResponder):
    """The project's responder; notes how long each answer takes, decode to encode."""

    def __init__(self, *, nc: Client, pool: Pool, version: str, concurrency: int) -> None:
        super().__init__(nc=nc, pool=pool, version=version, concurrency=concurrency)
        self.answers: list[float] = []

    async def answer(self, payload: bytes) -> bytes:
        began = time.perf_counter()
        try:
            return await super().answer(payload)
        finally:
            self.answers.append((time.perf_counter() - began) * 1000)


async def _respond(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    notes: list[list[float]] = []

    def forget() -> None:  # SIGUSR1: the timings so far (the warm-up's)
        for n in notes:
            n.clear()

    loop.add_signal_handler(signal.SIGUSR1, forget)
    if args.role == "echo":
        ready = asyncio.Event()
        echo = asyncio.create_task(bare.echo(args.nats, _access(args).options(), ready, stop))
        await _started(echo, ready)
        print("ready", flush=True)
        print(msgspec.json.encode({"answered": await echo}).decode(), flush=True)
        return
    settings = Settings(service="providers", database_url=args.dsn)
    size = settings.pool_size
    pool = await create_pool(args.dsn, size=size, min_size=size)
    timed = _TimedPool(pool)
    state = NatsState(name="bench-eligibility")
    nc = await connect_nats(args.nats, state, _access(args))
    concurrency = ProvidersOptions().eligibility_concurrency
    responder = _TimedResponder(
        nc=nc, pool=cast(Pool, timed), version=VERSION, concurrency=concurrency
    )
    notes += [responder.answers, timed.waits, timed.fetches]
    task = asyncio.create_task(responder.run(stop))
    await _started(task, responder.ready)
    print("ready", flush=True)
    await stop.wait()
    await task
    state.closing = True
    await nc.close()
    await pool.close()
    stats = {
        "answered": len(responder.answers),
        "pool_size": size,
        "concurrency": concurrency,
        "answer_ms": _summary(responder.answers),
        "pool_wait_ms": _summary(timed.waits),
        "fetch_ms": _summary(timed.fetches),
    }
    print(msgspec.json.encode(stats).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("role", choices=["relay", "consumer", "echo", "eligibility"])
    parser.add_argument("--dsn", default="")
    parser.add_argument("--nats", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--seed")
    parser.add_argument("--producer", default="bench")
    parser.add_argument("--core", type=int)
    parser.add_argument("--stream", default="")
    parser.add_argument("--durable", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.role != "echo" and not args.dsn:
        parser.error(f"the {args.role} worker needs --dsn")
    if args.role == "consumer" and not (args.stream and args.durable):
        parser.error("the consumer worker needs --stream and --durable")
    _pin(args.core)
    uvloop.run(_respond(args) if args.role in ("echo", "eligibility") else _serve(args))


if __name__ == "__main__":
    main()
