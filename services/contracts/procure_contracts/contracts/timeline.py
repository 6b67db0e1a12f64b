"""A contract's story in date order: its tenders published and closed, the awards it rests
on, the contract itself (created, signed, closed), its options exercised and amendments, and
its milestones (due, and how they were settled). Pure: the caller loads what it needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum

import msgspec

from procure_contracts.contracts.rules import (
    Contract,
    EndDateChange,
    ScopeChange,
    SuppliersChange,
    ValueChange,
)
from procure_contracts.milestones.rules import Milestone, MilestoneStatus
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.rules import Tender

__all__ = ["Stage", "Step", "timeline"]


class Stage(StrEnum):
    TENDER = "tender"
    AWARD = "award"
    CONTRACT = "contract"
    AMENDMENT = "amendment"
    MILESTONE = "milestone"


class Step(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    stage: Stage
    title: str
    detail: str | None = None
    state: str | None = None  # a milestone's status, an award's


def _day(on: date) -> datetime:
    return datetime.combine(on, time(12), tzinfo=UTC)


def _change(amendment_change: object) -> str:
    match amendment_change:
        case ValueChange(change=change):
            return f"value changed by {change.amount:,} {change.currency}"
        case EndDateChange(ends_on=ends_on):
            return f"end date moved to {ends_on.isoformat()}"
        case ScopeChange():
            return "scope changed"
        case SuppliersChange(add=add, remove=remove):
            return f"suppliers changed ({len(add)} added, {len(remove)} removed)"
    return "amended"


def _tender_steps(tender: Tender) -> list[Step]:
    steps = []
    if tender.published_at is not None:
        steps.append(
            Step(at=tender.published_at, stage=Stage.TENDER, title=f"Published: {tender.title}")
        )
    if tender.closed_at is not None:
        steps.append(
            Step(
                at=tender.closed_at,
                stage=Stage.TENDER,
                title=f"Closed for evaluation: {tender.title}",
            )
        )
    return steps


def _award_step(award: Award) -> Step:
    standstill = award.standstill_ends.date().isoformat()
    return Step(
        at=award.date,
        stage=Stage.AWARD,
        title=f"Awarded to {award.provider_name or award.provider_id}",
        detail=f"standstill until {standstill}",
        state="cancelled" if award.status is AwardStatus.CANCELLED else None,
    )


def _contract_steps(contract: Contract) -> list[Step]:
    steps = [Step(at=contract.created_at, stage=Stage.CONTRACT, title="Contract created")]
    if contract.signed_at is not None:
        starts = contract.starts_on.isoformat() if contract.starts_on else "a date to be set"
        steps.append(
            Step(
                at=contract.signed_at,
                stage=Stage.CONTRACT,
                title="Contract signed",
                detail=f"starts on {starts}",
            )
        )
    for option in contract.options:
        if option.exercised and option.exercised_on is not None:
            steps.append(
                Step(
                    at=_day(option.exercised_on),
                    stage=Stage.AMENDMENT,
                    title=f"Option exercised: {option.description}",
                    detail=option.exercise_note,
                )
            )
    steps += [
        Step(
            at=amendment.made_at,
            stage=Stage.AMENDMENT,
            title=f"Amended: {_change(amendment.change)}",
            detail=amendment.rationale,
        )
        for amendment in contract.amendments
    ]
    if contract.closed_on is not None:
        steps.append(
            Step(
                at=_day(contract.closed_on),
                stage=Stage.CONTRACT,
                title=f"Contract {contract.status.value}",
                detail=contract.reason,
            )
        )
    return steps


def _milestone_step(milestone: Milestone, today: date) -> Step:
    state = milestone.status.value
    if milestone.status is MilestoneStatus.SCHEDULED and milestone.due_on < today:
        state = "overdue"
    detail = f"{milestone.kind.value}, due {milestone.due_on.isoformat()}"
    if milestone.met_on is not None:
        detail += f", met on {milestone.met_on.isoformat()}"
    if milestone.reason:
        detail += f": {milestone.reason}"
    return Step(
        at=_day(milestone.due_on),
        stage=Stage.MILESTONE,
        title=milestone.title,
        detail=detail,
        state=state,
    )


def timeline(
    contract: Contract,
    tenders: Sequence[Tender],
    awards: Sequence[Award],
    milestones: Sequence[Milestone],
    *,
    today: date,
) -> list[Step]:
    """Every step, earliest first (a milestone at noon of its due date)."""
    steps = [s for t in tenders for s in _tender_steps(t)]
    steps += [_award_step(a) for a in awards]
    steps += _contract_steps(contract)
    steps += [_milestone_step(m, today) for m in milestones]
    return sorted(steps, key=lambda s: s.at)
