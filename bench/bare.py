"""The bare baselines: asyncpg, nats-py and msgspec only. Nothing here imports procure code.

Each baseline does the work its project figure does, written as directly as the libraries
allow, on tables and a stream configured like the project's (the DDL below copies the shared
migrations' columns and indexes; the stream copies procure_shared.messaging.nats.stream_config).
Each connects to NATS with the nats-py ``connect`` arguments it is given (``options``: the bench
identity's nkey seed and inbox, which the harness makes), as any client of the bus must.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError


def event_type(producer: str) -> str:
    """The type of the benchmarks' events of ``producer`` (its first word is its producer's, as
    a consumer checks)."""
    return f"{producer}.thing.changed"


EVENT_TYPE = event_type("bench")
AGGREGATES = 1_000

# The same columns, partial index and defaults as the project's outbox (the NOTIFY trigger is
# left out: nothing listens to the baseline's table).
OUTBOX_DDL = """
CREATE TABLE bare_outbox (
    position      bigserial PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,
    subject       text        NOT NULL,
    aggregate_id  text        NOT NULL,
    sequence      bigint      NOT NULL,
    payload       bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    acked_duplicate boolean   NOT NULL DEFAULT false,
    last_error    text
);
CREATE INDEX bare_outbox_unpublished ON bare_outbox (position) WHERE published_at IS NULL
"""
# The same table and key as the project's inbox.
INBOX_DDL = """
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    event_type    text        NOT NULL,
    aggregate_id  text        NOT NULL,
    sequence      bigint      NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
)
"""
# The consumers' side effect, the same on both sides.
EFFECTS_DDL = """
CREATE TABLE effects (
    applied       bigserial PRIMARY KEY,
    event_id      uuid   NOT NULL,
    aggregate_id  text   NOT NULL,
    sequence      bigint NOT NULL
)
"""
INSERT_EFFECT = "INSERT INTO effects (event_id, aggregate_id, sequence) VALUES ($1, $2, $3)"

CLAIM = (
    "SELECT position, id, subject, payload FROM bare_outbox WHERE published_at IS NULL"
    " ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED"
)
MARK = "UPDATE bare_outbox SET published_at = now() WHERE position = ANY($1::bigint[])"
INBOX_INSERT = (
    "INSERT INTO inbox (consumer, event_id, event_type, aggregate_id, sequence)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
)

# As procure_shared.messaging.nats: 2 h duplicate window, 90 days retention, file storage, R1.
DUPLICATE_WINDOW_SECONDS = 2 * 3600.0
RETENTION_SECONDS = 90 * 24 * 3600.0


def stream_config(name: str, subjects: list[str]) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        storage=StorageType.FILE,
        num_replicas=1,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=RETENTION_SECONDS,
        allow_direct=True,
    )


def consumer_config(durable: str, subject: str, batch: int) -> ConsumerConfig:
    """As procure_shared.messaging.consumer.Consumer.consumer_config with its default spec."""
    return ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_deliver=20,
        max_ack_pending=max(batch * 4, 256),
        filter_subject=subject,
    )


class Head(msgspec.Struct):
    """What the bare consumer reads from an envelope."""

    id: uuid.UUID
    type: str
    subject: str
    sequence: int


class _Data(msgspec.Struct, rename="camel"):
    thing_id: str
    version: int


def event(i: int, *, aggregates: int = AGGREGATES, producer: str = "bench") -> dict[str, Any]:
    """Event ``i`` of ``producer``: aggregate ``i % aggregates`` at sequence ``i // aggregates
    + 1``, with the envelope's attribute names (CloudEvents plus Procure's extensions)."""
    aggregate = f"thing-{i % aggregates}"
    sequence = i // aggregates + 1
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/procure/{producer}",
        "type": event_type(producer),
        "subject": aggregate,
        "time": datetime.now(UTC),
        "datacontenttype": "application/json",
        "procureversion": 1,
        "sequence": sequence,
        "data": _Data(thing_id=aggregate, version=sequence),
        "buyerid": "dfe",
    }


_encoder = msgspec.json.Encoder()


def encode(e: dict[str, Any]) -> bytes:
    return _encoder.encode(e)


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


async def create_database(server_dsn: str, name: str, ddl: list[str]) -> str:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(server_dsn, name)
    conn = await asyncpg.connect(dsn)
    try:
        for statement in ddl:
            await conn.execute(statement)
    finally:
        await conn.close()
    return dsn


async def fresh_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """``config`` created afresh, alone on the server (the bench owns it): an earlier
    measurement's stream would capture the same subjects."""
    for info in await js.streams_info():
        if info.config.name is not None:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(info.config.name)
    await js.add_stream(config)


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


# --- relay ------------------------------------------------------------------------------------


async def prefill_outbox(dsn: str, rows: int) -> int:
    """``rows`` unpublished events in ``bare_outbox``, by plain SQL; returns the payload bytes."""
    conn = await asyncpg.connect(dsn)
    size = 0
    try:
        for start in range(0, rows, 500):
            batch = []
            for i in range(start, min(start + 500, rows)):
                e = event(i)
                payload = encode(e)
                size += len(payload)
                batch.append((uuid.UUID(e["id"]), EVENT_TYPE, e["subject"], e["sequence"], payload))
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bare_outbox (id, subject, aggregate_id, sequence, payload)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    batch,
                )
    finally:
        await conn.close()
    return size


async def relay(
    dsn: str, nats_url: str, options: dict[str, Any], rows: int, batch_size: int = 100
) -> float:
    """Drain ``rows`` outbox rows to JetStream acks; returns the elapsed seconds.

    One transaction per batch: claim (FOR UPDATE SKIP LOCKED, in position order), publish each
    with Nats-Msg-Id and pipelined acks, mark published, commit.
    """
    conn = await asyncpg.connect(dsn)
    nc = await nats.connect(nats_url, **options)
    js = nc.jetstream()
    try:
        started = time.perf_counter()
        done = 0
        while done < rows:
            async with conn.transaction():
                claimed = await conn.fetch(CLAIM, batch_size)
                if not claimed:
                    raise RuntimeError(f"the bare relay found no rows after {done}")
                futures = [
                    await js.publish_async(
                        r["subject"], r["payload"], headers={"Nats-Msg-Id": str(r["id"])}
                    )
                    for r in claimed
                ]
                _, pending = await asyncio.wait(futures, timeout=10)
                failed = [f for f in futures if f in pending or f.exception() is not None]
                if failed:
                    raise RuntimeError(f"the bare relay had {len(failed)} unacknowledged publishes")
                await conn.execute(MARK, [r["position"] for r in claimed])
            done += len(claimed)
        return time.perf_counter() - started
    finally:
        await nc.close()
        await conn.close()


async def outbox_backlog(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM bare_outbox WHERE published_at IS NULL")
        )
    finally:
        await conn.close()


# --- consumer ---------------------------------------------------------------------------------


async def preload(
    nats_url: str,
    options: dict[str, Any],
    stream: StreamConfig,
    messages: int,
    *,
    producer: str = "bench",
) -> int:
    """A fresh stream holding ``messages`` events of ``producer``; returns the payload bytes."""
    nc = await nats.connect(nats_url, **options)
    js = nc.jetstream()
    size = 0
    try:
        await fresh_stream(js, stream)
        futures = []
        for i in range(messages):
            e = event(i, producer=producer)
            payload = encode(e)
            size += len(payload)
            futures.append(
                await js.publish_async(e["type"], payload, headers={"Nats-Msg-Id": e["id"]})
            )
        await asyncio.wait(futures, timeout=60)
        if any(not f.done() or f.exception() is not None for f in futures):
            raise RuntimeError("the preload was not acknowledged")
        assert stream.name is not None
        info = await js.stream_info(stream.name)
        if info.state.messages != messages:
            raise RuntimeError(f"the stream holds {info.state.messages}, not {messages}")
    finally:
        await nc.close()
    return size


async def consumer(
    dsn: str,
    nats_url: str,
    options: dict[str, Any],
    stream: str,
    durable: str,
    messages: int,
    *,
    batch: int,
    concurrency: int,
    reset_on_release: bool = False,
) -> float:
    """Consume ``messages``; returns the elapsed seconds.

    Fetch ``batch``; handle up to ``concurrency`` at once, each in one transaction (inbox
    INSERT ... ON CONFLICT DO NOTHING, then the effect INSERT), ack after commit; fetch again
    when the batch is done. The pool does not reset connections on release, as the project's
    (``reset_on_release`` restores asyncpg's default reset, for the pool-reset comparison).
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=concurrency,
        max_size=concurrency,
        reset=None if reset_on_release else _no_reset,  # None: asyncpg's default reset
    )
    nc = await nats.connect(nats_url, **options)
    js = nc.jetstream()
    decoder = msgspec.json.Decoder(Head)
    limit = asyncio.Semaphore(concurrency)
    try:
        started = time.perf_counter()
        await js.add_consumer(stream, consumer_config(durable, f"{EVENT_TYPE}", batch))
        sub = await js.pull_subscribe_bind(durable=durable, stream=stream)

        async def handle(msg: Msg) -> None:
            head = decoder.decode(msg.data)
            async with limit, pool.acquire() as conn, conn.transaction():
                status = await conn.execute(
                    INBOX_INSERT, durable, head.id, head.type, head.subject, head.sequence
                )
                if not status.endswith(" 0"):
                    await conn.execute(INSERT_EFFECT, head.id, head.subject, head.sequence)
            await msg.ack()

        done = 0
        while done < messages:
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except TimeoutError:
                continue
            await asyncio.gather(*(handle(m) for m in msgs))
            done += len(msgs)
        return time.perf_counter() - started
    finally:
        await nc.close()
        await pool.close()


async def count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


# --- request/reply ----------------------------------------------------------------------------

# Outside every stream the bench creates (they capture bench.> and the event types): a stream
# capturing it would answer requests with its publish acks.
ECHO_SUBJECT = "rpc.bench.echo"


async def echo(
    nats_url: str, options: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event
) -> int:
    """Answer each request on ``ECHO_SUBJECT`` with its own payload until ``stop``; returns how
    many were answered. A plain subscription: nats-py runs its callback one message at a time."""
    nc = await nats.connect(nats_url, **options)
    answered = 0

    async def respond(msg: Msg) -> None:
        nonlocal answered
        await msg.respond(msg.data)
        answered += 1

    try:
        await nc.subscribe(ECHO_SUBJECT, cb=respond)
        await nc.flush()
        ready.set()
        await stop.wait()
    finally:
        await nc.close()
    return answered
