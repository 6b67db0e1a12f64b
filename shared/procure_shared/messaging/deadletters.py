"""Dead letters: messages a consumer gave up on.

JetStream emits an advisory when a message reaches ``max_deliver`` or is terminated; advisories
carry no payload and are not stored unless captured, so each service's dead-letter stream
(``DEADLETTERS_<SERVICE>``, created by this recorder) captures those of its own consumers, and
the recorder (one durable consumer per service) fetches each original message by its stream
sequence and writes a ``dead_letters`` row in the service's database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from procure_shared.aio import sleep_or_stop
from procure_shared.db.postgres import Pool
from procure_shared.db.sqlfiles import load_queries
from procure_shared.identities import dead_letter_consumer, dead_letter_stream
from procure_shared.messaging.nats import ensure_streams

__all__ = ["DeadLetterRecorder"]

log = logging.getLogger("procure.deadletters")
Q = load_queries(Path(__file__).parent / "sql" / "inbox.sql")

_REASONS = {"MAX_DELIVERIES": "max_deliveries", "MSG_TERMINATED": "terminated"}


class _Advisory(msgspec.Struct):
    stream: str
    consumer: str
    stream_seq: int
    deliveries: int | None = None


class _EnvelopeHead(msgspec.Struct):
    id: str | None = None
    type: str | None = None


class DeadLetterRecorder:
    def __init__(
        self,
        *,
        service: str,
        consumers: Sequence[tuple[str, str]],  # (stream, durable consumer name)
        pool: Pool,
        js: JetStreamContext,
        replicas: int = 1,
    ) -> None:
        self.name = dead_letter_consumer(service)
        self.stream = dead_letter_stream(service, consumers)
        self._replicas = replicas
        self._pool = pool
        self._js = js
        self.recorded = 0

    async def prepare(self) -> None:
        """Create (or update) the dead-letter stream: before the consumers start, or an
        advisory of theirs finds no stream to keep it."""
        if self.stream.subjects:
            await ensure_streams(self._js, self._replicas, (self.stream,))

    async def run(self, stop: asyncio.Event) -> None:
        if not self.stream.subjects:
            return
        config = ConsumerConfig(
            durable_name=self.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
        )
        delay = 0.2
        while not stop.is_set():
            try:
                await self.prepare()
                await self._js.add_consumer(self.stream.name, config)
                sub = await self._js.pull_subscribe_bind(durable=self.name, stream=self.stream.name)
                delay = 0.2
                while not stop.is_set():
                    try:
                        msgs = await sub.fetch(32, timeout=1.0)
                    except TimeoutError:
                        continue
                    for msg in msgs:
                        await self._record(msg)
            except Exception as exc:
                if stop.is_set():
                    break
                log.warning("dead-letter recorder interrupted", extra={"error": str(exc)})
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)

    async def _record(self, msg: Msg) -> None:
        kind = msg.subject.split(".")[4]
        advisory = msgspec.json.decode(msg.data, type=_Advisory)
        payload: bytes | None = None
        head = _EnvelopeHead()
        try:
            original = await self._js.get_msg(advisory.stream, advisory.stream_seq)
            payload = original.data
            if payload:
                head = msgspec.json.decode(payload, type=_EnvelopeHead)
        except Exception as exc:
            # The original may be gone (retention) or not be an envelope at all (poison).
            log.info("dead letter without a readable original", extra={"error": str(exc)})
        async with self._pool.acquire() as conn:
            await conn.execute(
                Q.dead_letter,
                advisory.consumer,
                advisory.stream,
                advisory.stream_seq,
                _REASONS[kind],
                advisory.deliveries,
                head.id,
                head.type,
                payload,
            )
        await msg.ack()
        self.recorded += 1
        log.error(
            "dead letter recorded",
            extra={
                "consumer": advisory.consumer,
                "stream_seq": advisory.stream_seq,
                "reason": _REASONS[kind],
                "event_id": head.id,
            },
        )
