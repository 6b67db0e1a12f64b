"""When a milestone falls due: the rule of the milestone monitor.

A scheduled milestone is *due soon* from ``lead_days`` before its due date to the due date
itself, and *overdue* from the day after. Each notice goes out once per milestone and due date:
a milestone moved to another date is noticed afresh, moved back it is not noticed twice. A
milestone found already overdue (scheduled late, or the monitor was down) gets only the overdue
notice. The milestone is watched whatever became of its contract: a final payment or report of
a completed contract that slips is what operations staff must hear of, and a scheduled milestone
of a terminated contract is settled (not met, waived) to be silenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import msgspec

from procure_contracts.domain.money import event_money
from procure_contracts.milestones.rules import (
    Milestone,
    Notice,
    NoticeKind,
)
from procure_shared.events.contracts import MilestoneDue

__all__ = ["due_data", "due_notice", "horizon", "noticed"]


def horizon(today: date, lead_days: int) -> date:
    """The last due date that is due soon today."""
    return today + timedelta(days=lead_days)


def due_notice(milestone: Milestone, *, today: date, lead_days: int) -> NoticeKind | None:
    """The notice the milestone is owed today, if any."""
    if milestone.due_on < today and milestone.owed(NoticeKind.OVERDUE):
        return NoticeKind.OVERDUE
    if today <= milestone.due_on <= horizon(today, lead_days) and milestone.owed(
        NoticeKind.DUE_SOON
    ):
        return NoticeKind.DUE_SOON
    return None


def noticed(milestone: Milestone, kind: NoticeKind, *, today: date, now: datetime) -> Milestone:
    """The milestone with the notice recorded: a new version (the notice is in its history)."""
    notice = Notice(kind=kind, due_on=milestone.due_on, sent_on=today)
    return msgspec.structs.replace(
        milestone,
        notices=[*milestone.notices, notice],
        version=milestone.version + 1,
        updated_at=now,
    )


def due_data(milestone: Milestone, provider_ids: Sequence[str], *, today: date) -> MilestoneDue:
    return MilestoneDue(
        milestone_id=milestone.id,
        contract_id=milestone.contract_id,
        provider_ids=list(provider_ids),
        kind=milestone.kind,
        title=milestone.title,
        due_on=milestone.due_on,
        as_of=today,
        days=abs((milestone.due_on - today).days),
        lot_id=milestone.lot_id,
        planned_quantity=milestone.planned_quantity,
        quantity_unit=milestone.quantity_unit,
        amount=event_money(milestone.amount),
    )
