"""A sweep: a worker that, every so often, does whatever has fallen due by the service's clock,
in batches, each batch in its own transaction, until nothing is left.

It is state-driven, not timer-driven: each pass does what is due and not yet done, so after a
restart (or with the clock moved on) it catches up on everything that fell due meanwhile.
Several instances may run at once when each step locks the rows it takes (``FOR UPDATE SKIP
LOCKED``) and records what it did in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from procure_shared.aio import sleep_or_stop
from procure_shared.clock import Clock
from procure_shared.db.postgres import Connection, Pool

__all__ = ["Step", "Sweep"]

log = logging.getLogger("procure.sweep")

# One batch: given a connection in a transaction, the clock's now and the most to take, it
# does what is due and says how many it did (0: nothing left).
Step = Callable[[Connection, datetime, int], Awaitable[int]]


class Sweep:
    role = "consumers"

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        pool: Pool,
        clock: Clock,
        interval: float,
        batch: int = 100,
    ) -> None:
        self.name = name
        self._step = step
        self._pool = pool
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self.done = 0  # what the steps did, in all
        self.passes = 0

    async def run_once(self) -> int:
        """One pass: batches until nothing is due. Returns what they did."""
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                did = await self._step(conn, self._clock.now(), self._batch)
            total += did
            if did == 0:
                break
        self.done += total
        self.passes += 1
        return total

    async def run(self, stop: asyncio.Event) -> None:
        delay = self._interval
        while not stop.is_set():
            try:
                did = await self.run_once()
                if did:
                    log.info("sweep did its work", extra={"sweep": self.name, "count": did})
                delay = self._interval
            except Exception as exc:
                log.warning(
                    "sweep failed; will retry", extra={"sweep": self.name, "error": repr(exc)}
                )
                delay = min(self._interval, 5.0)
            await sleep_or_stop(stop, delay)
