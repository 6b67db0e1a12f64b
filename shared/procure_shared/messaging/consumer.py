"""The durable pull consumer loop.

For each message: decode the envelope (undecodable: terminate, never retry forever); in one
transaction admit it through the inbox and apply the handler (a type without a handler is
admitted and ignored: tolerant reader); commit, then ack. An event that is not its stream's
producer's (its source, its type, the subject it came on) is terminated too, and so becomes a
dead letter. A gap in an aggregate's sequence rolls
back and naks with a short delay; a handler error naks with a growing delay, and after
``max_deliver`` deliveries the server's advisory turns the message into a dead letter
(``DeadLetterRecorder``). While the database is unreachable the consumer stops fetching and holds
the messages it has (in progress) until the database is back: an outage never uses up
deliveries of healthy events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from procure_shared.aio import first_of, sleep_or_stop
from procure_shared.db.postgres import Connection, Pool, is_connection_error
from procure_shared.events.envelope import Envelope, decode_envelope
from procure_shared.events.streams import StreamSpec, stranger, stream_named
from procure_shared.messaging.inbox import Admission, admit

__all__ = ["Consumer", "ConsumerSpec", "ConsumerStats", "Handler", "gap_delay"]

log = logging.getLogger("procure.consumer")

Handler = Callable[[Connection, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: ``name`` is ``<consuming service>__<purpose>``."""

    name: str
    stream: str
    filter_subjects: tuple[str, ...]
    handlers: Mapping[str, Handler]
    ordered: bool = True
    # The handler of every type without one of its own (a consumer of everything).
    fallback: Handler | None = None
    max_deliver: int = 20
    ack_wait: float = 30.0
    batch: int = 64
    concurrency: int = 8
    gap_delay: float = 0.2
    error_delay: float = 1.0
    max_error_delay: float = 60.0
    # The service whose events the stream holds; unset: the producer of the stream of that
    # name among ``STREAMS``.
    producer: str | None = None

    def source_stream(self) -> StreamSpec:
        """The stream, with the producer every event read from it must come from."""
        known = stream_named(self.stream)
        if self.producer is not None:
            return StreamSpec(self.stream, known.subjects if known else (), self.producer)
        if known is None:
            raise ValueError(f"consumer {self.name}: no producer is known for stream {self.stream}")
        return known


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    errors: int = 0
    terminated: int = 0
    ignored: int = 0
    db_available: bool = True
    fetching: bool = False
    by_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _DatabaseDown(Exception):
    pass


class Consumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        pool: Pool,
        js: JetStreamContext,
        db_probe_interval: float = 0.5,
    ) -> None:
        self.spec = spec
        self._source = spec.source_stream()
        self._pool = pool
        self._js = js
        self._probe_interval = db_probe_interval
        self._db_up = asyncio.Event()
        self._db_up.set()
        self._probe: asyncio.Task[None] | None = None
        self.stats = ConsumerStats()

    def consumer_config(self) -> ConsumerConfig:
        spec = self.spec
        subjects = list(spec.filter_subjects)
        return ConsumerConfig(
            durable_name=spec.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver,
            max_ack_pending=max(spec.batch * 4, 256),
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                await self._js.add_consumer(self.spec.stream, self.consumer_config())
                sub = await self._js.pull_subscribe_bind(
                    durable=self.spec.name, stream=self.spec.stream
                )
                delay = 0.2
                await self._loop(sub, stop)
            except Exception as exc:
                if stop.is_set():
                    break
                log.warning(
                    "consumer interrupted",
                    extra={"consumer": self.spec.name, "error": f"{type(exc).__name__}: {exc}"},
                )
                await sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        self.stats.fetching = False
        if self._probe is not None:
            self._probe.cancel()

    async def _loop(self, sub: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._db_up.is_set():
                # Stop fetching while the database is unreachable.
                self.stats.fetching = False
                await first_of(self._db_up.wait(), stop.wait())
                continue
            self.stats.fetching = True
            try:
                msgs = await sub.fetch(self.spec.batch, timeout=1.0)
            except TimeoutError:
                continue
            await self._handle_batch(msgs)

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        # One aggregate's messages in sequence order, one after the other; aggregates in
        # parallel, bounded by the consumer's concurrency.
        groups: dict[str, list[tuple[Msg, Envelope]]] = defaultdict(list)
        for msg in msgs:
            envelope = await self._decode(msg)
            if envelope is not None:
                groups[envelope.subject].append((msg, envelope))
        limit = asyncio.Semaphore(self.spec.concurrency)
        # Every message of the batch stays in progress until it is settled, including those
        # waiting for a slot or for their aggregate's earlier events (or for the database).
        unsettled = {id(msg): msg for items in groups.values() for msg, _ in items}

        async def run_group(items: list[tuple[Msg, Envelope]]) -> None:
            async with limit:
                for msg, envelope in sorted(items, key=lambda item: item[1].sequence):
                    await self._handle(msg, envelope)
                    del unsettled[id(msg)]

        heartbeat = asyncio.create_task(self._keep_in_progress(unsettled))
        try:
            await asyncio.gather(*(run_group(items) for items in groups.values()))
        finally:
            heartbeat.cancel()

    async def _decode(self, msg: Msg) -> Envelope | None:
        try:
            envelope = decode_envelope(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._terminate(msg, "an undecodable message", str(exc))
            return None
        wrong = stranger(
            self._source, subject=msg.subject, source=envelope.source, type=envelope.type
        )
        if wrong is not None:
            await self._terminate(msg, "an event foreign to its stream", wrong)
            return None
        return envelope

    async def _terminate(self, msg: Msg, what: str, why: str) -> None:
        """Never retried: the server's advisory makes it a dead letter."""
        self.stats.terminated += 1
        log.error(
            f"terminating {what}",
            extra={"consumer": self.spec.name, "subject": msg.subject, "error": why},
        )
        with contextlib.suppress(Exception):
            await msg.term()

    async def _handle(self, msg: Msg, envelope: Envelope) -> None:
        try:
            while True:
                try:
                    outcome = await self._apply(envelope)
                    break
                except _DatabaseDown:
                    # Hold the message (in progress) until the database is back, then retry.
                    await self._db_up.wait()
        except Exception as exc:
            self.stats.errors += 1
            delivered = _num_delivered(msg)
            delay = min(self.spec.error_delay * 2 ** (delivered - 1), self.spec.max_error_delay)
            log.warning(
                "handler failed; will retry",
                extra={
                    "consumer": self.spec.name,
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "delivered": delivered,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            await _settle(msg.nak(delay=delay))
            return
        if outcome is Admission.GAP:
            self.stats.gaps += 1
            await _settle(msg.nak(delay=gap_delay(self.spec, _num_delivered(msg))))
            return
        if outcome is Admission.DUPLICATE:
            self.stats.duplicates += 1
        await _settle(msg.ack())

    async def _apply(self, envelope: Envelope) -> Admission:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcome = await admit(conn, self.spec.name, envelope, ordered=self.spec.ordered)
                if outcome is not Admission.APPLY:
                    # A gap rolls back the inbox row it just wrote.
                    if outcome is Admission.GAP:
                        raise _Gap
                    return outcome
                handler = self.spec.handlers.get(envelope.type, self.spec.fallback)
                if handler is None:
                    self.stats.ignored += 1
                else:
                    await handler(conn, envelope)
        except _Gap:
            return Admission.GAP
        except Exception as exc:
            if is_connection_error(exc):
                self._database_down()
                raise _DatabaseDown from exc
            raise
        self.stats.applied += 1
        self.stats.by_type[envelope.type] += 1
        return Admission.APPLY

    async def _keep_in_progress(self, unsettled: dict[int, Msg]) -> None:
        interval = max(self.spec.ack_wait / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            for msg in list(unsettled.values()):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    def _database_down(self) -> None:
        self._db_up.clear()
        self.stats.db_available = False
        self.stats.fetching = False  # the loop waits for the held batch, then for the database
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_database())

    async def _probe_database(self) -> None:
        while True:
            try:
                async with self._pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
            except Exception as exc:
                if not is_connection_error(exc):
                    log.exception("database probe failed")
                await asyncio.sleep(self._probe_interval)
                continue
            self.stats.db_available = True
            self._db_up.set()
            log.info("database reachable again", extra={"consumer": self.spec.name})
            return


class _Gap(Exception):
    pass


QUICK_GAP_RETRIES = 3


def gap_delay(spec: ConsumerSpec, delivered: int) -> float:
    """How long a message whose aggregate's earlier event has not been applied waits before
    its next delivery (``delivered``: its deliveries so far).

    The earlier event is usually just being handled elsewhere (two instances share the
    consumer): the first retries come after ``gap_delay``. But it may be held by a consumer
    that died (killed, or its NATS node killed), and then comes back only after ``ack_wait``.
    Every gap counts against ``max_deliver``: the later retries are spread so that all of them
    together wait twice ``ack_wait``, rather than dead-lettering the later event (and, through
    the gap it leaves, every event of its aggregate after it) before the earlier one returns.
    """
    redeliveries = max(spec.max_deliver - 1, 1)  # a nak at the last delivery dead-letters
    quick = min(QUICK_GAP_RETRIES, redeliveries // 2)
    if delivered <= quick:
        return spec.gap_delay
    return max(spec.gap_delay, 2 * spec.ack_wait / (redeliveries - quick))


def _num_delivered(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


async def _settle(ack: Awaitable[None]) -> None:
    # An ack that cannot be sent (NATS reconnecting) is not an error: the message is
    # redelivered and the inbox skips it.
    with contextlib.suppress(Exception):
        await ack
