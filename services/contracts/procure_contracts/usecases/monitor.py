"""The milestone monitor's use case: send the due-soon and overdue notices owed by the clock.

Each notice is a new version of its milestone (the notice recorded on it), one audit row and
one event, in the caller's transaction, so it goes out once however many monitors run and
however often they restart; after downtime the first pass sends what fell due meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from procure_contracts.domain import due
from procure_contracts.domain.milestones import NoticeKind
from procure_contracts.storage import store
from procure_contracts.usecases.context import Who, record
from procure_shared.audit import Actor
from procure_shared.events import registry as events
from procure_shared.postgres import Connection

__all__ = ["MONITOR", "send_milestone_notices"]

MONITOR = Who(actor=Actor(id="system:contracts/milestone-monitor"), scope=None)
_EVENTS = {
    NoticeKind.DUE_SOON: events.MILESTONE_DUE_SOON,
    NoticeKind.OVERDUE: events.MILESTONE_OVERDUE,
}


async def send_milestone_notices(
    conn: Connection, *, now: datetime, lead_days: int, limit: int = 100
) -> int:
    """One batch of the notices owed (at most ``limit`` of each kind); how many were sent."""
    today = now.date()
    sent = 0
    for milestone, provider_ids in await store.claim_owed_notices(
        conn, today=today, horizon=due.horizon(today, lead_days), limit=limit
    ):
        kind = due.due_notice(milestone, today=today, lead_days=lead_days)
        if kind is None:  # the claim takes only what is owed: never here
            continue
        after = due.noticed(milestone, kind, today=today, now=now)
        await store.milestones.save(conn, after)
        data = due.due_data(after, provider_ids, today=today)
        await record(conn, MONITOR, now, _EVENTS[kind], "milestone", milestone, after, data)
        sent += 1
    return sent
