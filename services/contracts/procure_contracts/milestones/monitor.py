"""The milestone monitor's use case: send the due-soon and overdue notices owed by the clock.

Each notice is a new version of its milestone (the notice recorded on it), one audit row and
one event, written in the caller's transaction, so it goes out once however many monitors run and
however often they restart; after downtime the first pass sends what fell due meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from procure_contracts.milestones import due, store
from procure_contracts.milestones.rules import Milestone, NoticeKind
from procure_shared.db.audit import Actor
from procure_shared.db.changes import Change, publish_all
from procure_shared.db.postgres import Connection
from procure_shared.events import registry as events

__all__ = ["MONITOR", "send_milestone_notices"]

MONITOR = Actor(id="system:contracts/milestone-monitor")
_EVENTS = {
    NoticeKind.DUE_SOON: events.MILESTONE_DUE_SOON,
    NoticeKind.OVERDUE: events.MILESTONE_OVERDUE,
}


async def send_milestone_notices(
    conn: Connection, *, now: datetime, lead_days: int, limit: int = 100
) -> int:
    """One batch of the notices owed (at most ``limit`` of each kind); how many were sent.
    The batch's milestones are written together, then their audit rows and events."""
    today = now.date()
    noticed: list[Milestone] = []
    changes: list[Change] = []
    for milestone, provider_ids in await store.claim_owed_notices(
        conn, today=today, horizon=due.horizon(today, lead_days), limit=limit
    ):
        kind = due.due_notice(milestone, today=today, lead_days=lead_days)
        if kind is None:  # the claim takes only what is owed: never here
            continue
        after = due.noticed(milestone, kind, today=today, now=now)
        noticed.append(after)
        changes.append(
            Change(
                actor=MONITOR,
                at=now,
                event=_EVENTS[kind],
                subject=after.id,
                sequence=after.version,
                data=due.due_data(after, provider_ids, today=today),
                resource_type="milestone",
                before=milestone,
                after=after,
                buyer_id=after.buyer_id,
            )
        )
    await store.milestones.save_locked(conn, noticed)
    await publish_all(conn, changes)
    return len(changes)
