"""The milestone monitor: a sweep (``procure_shared.sweep``) of the contracts service that sends
``contracts.milestone.due_soon`` and ``contracts.milestone.overdue`` as milestones fall due by
the service's clock, once each, with any number of replicas, catching up after downtime."""

from __future__ import annotations

from datetime import datetime

from procure_contracts.milestones.monitor import send_milestone_notices
from procure_shared.clock import Clock
from procure_shared.db.postgres import Connection, Pool
from procure_shared.sweep import Sweep

__all__ = ["milestone_monitor"]


def milestone_monitor(
    *, pool: Pool, clock: Clock, lead_days: int, interval: float, batch: int = 200
) -> Sweep:
    async def step(conn: Connection, now: datetime, limit: int) -> int:
        return await send_milestone_notices(conn, now=now, lead_days=lead_days, limit=limit)

    return Sweep("milestone monitor", step, pool=pool, clock=clock, interval=interval, batch=batch)
