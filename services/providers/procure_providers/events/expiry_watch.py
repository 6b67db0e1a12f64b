"""The expiry watch: sends accreditation notices as they fall due, by the service's clock.

A sweep (``procure_shared.sweep``): each pass sends whatever is due and unsent, so it catches up
after a restart; several instances may run (rows locked with SKIP LOCKED, each notice recorded
with its event).
"""

from __future__ import annotations

from datetime import datetime

from procure_providers.usecases.accreditations import send_due_notices
from procure_shared.clock import Clock
from procure_shared.db.postgres import Connection, Pool
from procure_shared.sweep import Sweep

__all__ = ["expiry_watch"]


def expiry_watch(
    *, pool: Pool, clock: Clock, notice_days: int, interval: float, batch: int = 100
) -> Sweep:
    async def step(conn: Connection, now: datetime, limit: int) -> int:
        return await send_due_notices(conn, now=now, notice_days=notice_days, limit=limit)

    return Sweep(
        "accreditation expiry", step, pool=pool, clock=clock, interval=interval, batch=batch
    )
