"""What the milestones API takes (a milestone, its changes and whether it was met; unknown
fields are a 400) and the list pages it gives."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from procure_contracts.api.schemas import (
    ANY_TEXT,
    UNSET,
    Id,
    MoneyIn,
    Quantity,
    Reason,
    RequestBody,
    Text,
    Title,
    Unit,
    Unset,
    money_or_none,
    unless_unset,
)
from procure_contracts.milestones import rules as m
from procure_contracts.milestones.rules import Milestone, MilestoneKind

__all__ = [
    "MetIn",
    "MilestoneIn",
    "MilestoneList",
    "MilestonePage",
    "MilestonePatch",
    "MilestoneSummary",
    "NotMetIn",
]


class MilestoneIn(RequestBody, frozen=True, kw_only=True):
    """A milestone of the contract (optionally of one of its lots); payment ones carry an
    amount, others none."""

    kind: MilestoneKind
    title: Title
    due_on: date
    description: Text | None = None
    lot_id: Id | None = None
    planned_quantity: Quantity | None = None
    quantity_unit: Unit | None = None
    amount: MoneyIn | None = None

    def draft(self) -> m.MilestoneDraft:
        return m.MilestoneDraft(
            kind=self.kind,
            title=self.title,
            due_on=self.due_on,
            description=self.description,
            lot_id=self.lot_id,
            planned_quantity=self.planned_quantity,
            quantity_unit=self.quantity_unit,
            amount=money_or_none(self.amount),
        )


class MilestonePatch(RequestBody, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    description: Text | Unset | None = UNSET
    due_on: date | Unset = UNSET
    planned_quantity: Quantity | Unset | None = UNSET
    quantity_unit: Unit | Unset | None = UNSET
    amount: MoneyIn | Unset | None = UNSET

    def changes(self) -> m.MilestoneChanges:
        return m.MilestoneChanges(
            title=self.title,
            description=self.description,
            due_on=self.due_on,
            planned_quantity=self.planned_quantity,
            quantity_unit=self.quantity_unit,
            amount=unless_unset(self.amount, money_or_none),  # type: ignore[arg-type]
        )


class MetIn(RequestBody, frozen=True, kw_only=True):
    """Met in full, or in part (``partially``), on ``metOn`` (default: today)."""

    evidence: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]
    met_on: date | None = None
    partially: bool = False
    achieved_quantity: Quantity | None = None
    paid: MoneyIn | None = None  # payment: default what is left to pay; required when partly
    payee_id: Id | None = None  # payment: default the contract's only supplier

    def settlement(self, today: date) -> m.Settlement:
        return m.Settlement(
            met_on=self.met_on or today,
            evidence=self.evidence,
            partially=self.partially,
            achieved_quantity=self.achieved_quantity,
            paid=money_or_none(self.paid),
            payee_id=self.payee_id,
        )


class NotMetIn(RequestBody, frozen=True, kw_only=True):
    reason: Reason | None = None


class MilestonePage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Milestone]
    next_cursor: str | None


class MilestoneSummary(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    today: date
    overdue: int
    due_soon: int
    due_soon_days: int


class MilestoneList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Milestone]
