"""The delivery worker: leases due deliveries from the table and makes their attempts.

It is woken by ``NOTIFY deliveries`` (new deliveries, a resumed subscription, a replay) and
looks again every ``delivery_poll`` seconds for retries falling due. Up to
``delivery_concurrency`` attempts run at once; an attempt's end wakes the loop, since it may
free the next delivery of the same aggregate. The lease outlives the attempt's timeout: when a
process dies mid-attempt, the delivery is taken up again once the lease runs out, with the same
id (the receiver dedupes on it). Several workers may run: claims skip each other's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from typing import Any

from procure_notifications.delivery.metrics import DeliveryMetrics
from procure_notifications.domain.deliveries import DeliveryStatus, Outcome
from procure_notifications.domain.retries import RetryPolicy
from procure_notifications.domain.subscriptions import channel_kind
from procure_notifications.senders.response import Response, failure, since
from procure_notifications.storage import deliveries as delivery_store
from procure_notifications.storage import subscriptions as subscription_store
from procure_notifications.storage.sealing import SecretBox
from procure_notifications.usecases.sending import Channels, send, send_digest, settle
from procure_shared.aio import first_of, sleep_or_stop
from procure_shared.clock import Clock, SystemClock
from procure_shared.db.postgres import Connection, Pool, connect_dedicated, is_connection_error

__all__ = ["DeliveryWorker"]

log = logging.getLogger("procure.notifications.delivery")

CHANNEL = "deliveries"


class DeliveryWorker:
    role = "consumers"

    def __init__(
        self,
        *,
        pool: Pool,
        dsn: str,
        clock: Clock,
        channels: Channels,
        box: SecretBox,
        policy: RetryPolicy,
        timeout: float,
        concurrency: int,
        poll: float,
        digest_hour: int = 7,
        metrics: DeliveryMetrics | None = None,
        wall: Clock | None = None,
        spread: Callable[[], float] = random.random,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._clock = clock
        self._wall = wall or SystemClock()
        self._channels = channels
        self._box = box
        self._resealed = False
        self._policy = policy
        self._timeout = timeout
        self._lease = timeout + 5.0  # an attempt ends within timeout + 1 s (asyncio.timeout)
        self._concurrency = concurrency
        self._poll = poll
        self._digest_hour = digest_hour
        self._metrics = metrics
        self._spread = spread
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._notices = 0  # NOTIFYs heard: new deliveries, a resumed subscription, a replay
        self._saturated = False  # the last claim filled every free slot: more may be due
        self._digests_at = 0.0  # when to look for digests next (time.monotonic())
        self._counted_at = 0.0
        self.attempts = 0

    def idle(self) -> bool:
        """No attempt under way."""
        return not self._in_flight

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.1
        try:
            while not stop.is_set():
                try:
                    await self._work(stop)
                    delay = 0.1
                except Exception as exc:
                    if not is_connection_error(exc):
                        log.exception("delivery worker failed; restarting it")
                    else:
                        log.warning("delivery worker lost the database", extra={"error": str(exc)})
                    await sleep_or_stop(stop, delay)
                    delay = min(delay * 2, 5.0)
        finally:
            if self._in_flight:
                await asyncio.wait(self._in_flight, timeout=self._timeout + 1)
            await self._channels.webhooks.close()

    async def _work(self, stop: asyncio.Event) -> None:
        if not self._resealed:
            await self.reseal()
        listener = await connect_dedicated(self._dsn)
        try:
            await listener.add_listener(CHANNEL, lambda *_: self._notified())
            while not stop.is_set():
                self._wake.clear()
                await self.run_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        first_of(self._wake.wait(), stop.wait()), timeout=self._poll
                    )
                if listener.is_closed():
                    raise ConnectionError("the delivery worker's listening connection was lost")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.close(), timeout=2)

    def _notified(self) -> None:
        self._notices += 1
        self._wake.set()

    async def reseal(self) -> int:
        """Seal every stored signing secret with the first key (plain ones stored before
        sealing, and ones sealed with a later key of the list): after a new key is put first
        and this has run once, the old key can be removed."""
        async with self._pool.acquire() as conn, conn.transaction():
            count = await subscription_store.reseal_secrets(conn, self._box)
        self._resealed = True
        log.info("signing secrets sealed with the first key", extra={"subscriptions": count})
        return count

    async def run_once(self) -> int:
        """Lease what is due, as far as free slots allow, and start its attempts."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        now = self._clock.now()
        notices = self._notices
        digests: list[delivery_store.Claimed] = []
        async with self._pool.acquire() as conn:
            claimed = await delivery_store.claim(conn, now, free, self._lease, self._box)
            # Digests go out once a day: a look each poll is enough.
            if len(claimed) < free and time.monotonic() >= self._digests_at:
                digests = await delivery_store.claim_digests(
                    conn, now, free - len(claimed), self._lease, self._digest_hour, self._box
                )
                if len(digests) < free - len(claimed):
                    self._digests_at = time.monotonic() + self._poll
            await self._count_pending(conn)
        self._saturated = len(claimed) + len(digests) >= free
        for c in claimed:
            self._start(self._attempt(c), c.followed, notices)
        groups: dict[tuple[str, date], list[delivery_store.Claimed]] = defaultdict(list)
        for c in digests:
            groups[c.subscription.id, c.event_time.date()].append(c)
        for (_, day), group in groups.items():
            self._start(self._digest(group, day), False, notices)
        return len(claimed) + len(digests)

    def _start(self, work: Coroutine[Any, Any, None], followed: bool, notices: int) -> None:
        """Run an attempt. Its end calls for another claim only if it may have freed a
        delivery held back behind it (one was waiting then, or deliveries were written since)
        or due work is waiting for a free slot; otherwise the next NOTIFY or poll will do."""
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(lambda t: self._done(t, followed, notices))

    def _done(self, task: asyncio.Task[None], followed: bool, notices: int) -> None:
        self._in_flight.discard(task)
        if followed or notices != self._notices or self._saturated:
            self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "a delivery's outcome was not recorded; it is tried again when its lease ends",
                extra={"error": repr(task.exception())},
            )

    async def _attempt(self, c: delivery_store.Claimed) -> None:
        started = self._clock.now()
        clock_started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout + 1):
                response = await send(
                    c.id,
                    c.subscription,
                    c.secrets,
                    c.body,
                    self._channels,
                    now=started,
                    timestamp=int(self._wall.now().timestamp()),
                )
        except TimeoutError:
            response = failure(
                f"no answer within {self._timeout:g} s",
                address=None,
                latency_ms=since(clock_started),
            )
        await self._settle([c], response, started)

    async def _digest(self, group: Sequence[delivery_store.Claimed], day: date) -> None:
        started = self._clock.now()
        response = await send_digest(group, self._channels, day)
        await self._settle(group, response, started)

    async def _settle(
        self, claimed: Sequence[delivery_store.Claimed], response: Response, started: datetime
    ) -> None:
        now = self._clock.now()
        async with self._pool.acquire() as conn:
            for c in claimed:
                outcome, status = await settle(
                    conn,
                    c,
                    response,
                    started=started,
                    now=now,
                    policy=self._policy,
                    spread=self._spread(),
                )
                self.attempts += 1
                if self._metrics is not None:
                    lag = (
                        (now - c.event_time).total_seconds()
                        if outcome is Outcome.DELIVERED
                        else None
                    )
                    self._metrics.observe(
                        channel_kind(c.subscription.channel),
                        outcome,
                        response.latency_ms / 1000,
                        lag,
                        dead=status is DeliveryStatus.DEAD,
                    )

    async def _count_pending(self, conn: Connection) -> None:
        if self._metrics is None or time.monotonic() - self._counted_at < 1.0:
            return
        self._counted_at = time.monotonic()
        self._metrics.pending.set(await delivery_store.count_pending(conn))
