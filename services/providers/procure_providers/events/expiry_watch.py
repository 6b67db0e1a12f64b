"""The expiry watch: sends accreditation notices as they fall due, by the service's clock.

It is state-driven, not timer-driven: each pass sends whatever is due and unsent, so after a
restart (or with the clock moved on) it catches up on everything that fell due meanwhile. Several
instances may run: rows are locked with SKIP LOCKED and each notice is recorded with its event.
"""

from __future__ import annotations

import asyncio
import logging

from procure_providers.usecases.accreditations import send_due_notices
from procure_shared.aio import sleep_or_stop
from procure_shared.clock import Clock
from procure_shared.postgres import Pool

__all__ = ["ExpiryWatch"]

log = logging.getLogger("procure.providers.expiry")


class ExpiryWatch:
    role = "consumers"

    def __init__(
        self, *, pool: Pool, clock: Clock, notice_days: int, interval: float, batch: int = 100
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._notice_days = notice_days
        self._interval = interval
        self._batch = batch
        self.sent = 0
        self.passes = 0

    async def run_once(self) -> int:
        """One pass: batches until nothing is due. Returns the notices sent."""
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                sent = await send_due_notices(
                    conn, now=self._clock.now(), notice_days=self._notice_days, limit=self._batch
                )
            total += sent
            if sent == 0:
                break
        self.sent += total
        self.passes += 1
        return total

    async def run(self, stop: asyncio.Event) -> None:
        delay = self._interval
        while not stop.is_set():
            try:
                sent = await self.run_once()
                if sent:
                    log.info("accreditation notices sent", extra={"count": sent})
                delay = self._interval
            except Exception as exc:
                log.warning("expiry watch failed; will retry", extra={"error": repr(exc)})
                delay = min(self._interval, 5.0)
            await sleep_or_stop(stop, delay)
