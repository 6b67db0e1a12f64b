"""What the HTTP API takes (request bodies reject unknown fields: a typo is a 400) and the list
pages it gives; resources are returned as the domain Structs they are."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.domain import contracts as c
from procure_contracts.domain import milestones as m
from procure_contracts.domain.awards import Award, AwardDraft, AwardItem
from procure_contracts.domain.contracts import Amendment, Contract, ContractOption
from procure_contracts.domain.milestones import Milestone, MilestoneKind
from procure_contracts.domain.money import Money
from procure_contracts.domain.tenders import (
    Lot,
    LotChanges,
    LotDraft,
    Tender,
    TenderChanges,
    TenderDraft,
)
from procure_shared.categories import Category

__all__ = [
    "AmendmentIn",
    "AmendmentList",
    "AwardIn",
    "AwardPage",
    "CloseIn",
    "ContractIn",
    "ContractPage",
    "ContractPatch",
    "ExerciseIn",
    "LotIn",
    "LotPage",
    "LotPatch",
    "MetIn",
    "MilestoneIn",
    "MilestoneList",
    "MilestonePage",
    "MilestonePatch",
    "MilestoneSummary",
    "MoneyIn",
    "NotMetIn",
    "OptionIn",
    "OptionList",
    "ReasonIn",
    "TenderIn",
    "TenderPage",
    "TenderPatch",
]

ANY_TEXT = r"^[^\x00]*$"
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=SINGLE_LINE)]
Text = Annotated[str, msgspec.Meta(max_length=10_000, pattern=ANY_TEXT)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]
# An instant names its offset: a naive time would be ambiguous (and incomparable).
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=SINGLE_LINE)]
Quantity = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=SINGLE_LINE)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class _In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class MoneyIn(_In, frozen=True, kw_only=True):
    amount: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$",
            description="A decimal string, at most two decimal places (never a float).",
            examples=["7987500.00"],
        ),
    ]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["GBP"])] = "GBP"

    def money(self) -> Money:
        return Money(amount=Decimal(self.amount), currency=self.currency)


class ChangeIn(MoneyIn, frozen=True, kw_only=True):
    """A change of value: negative for a reduction."""

    amount: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$",
            description="A decimal string, negative for a reduction.",
            examples=["-250000.00"],
        ),
    ]


def _money(value: MoneyIn | None) -> Money | None:
    return None if value is None else value.money()


def _set(value: object, convert: object = None) -> object:
    if value is UNSET:
        return UNSET
    return convert(value) if callable(convert) else value


class TenderIn(_In, frozen=True, kw_only=True):
    title: Title
    description: Text | None = None
    value: MoneyIn | None = None
    enquiry_deadline: Instant | None = None
    submission_deadline: Instant | None = None

    def draft(self) -> TenderDraft:
        return TenderDraft(
            title=self.title,
            description=self.description,
            value=_money(self.value),
            enquiry_deadline=self.enquiry_deadline,
            submission_deadline=self.submission_deadline,
        )


class TenderPatch(_In, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    description: Text | Unset | None = UNSET
    value: MoneyIn | Unset | None = UNSET
    enquiry_deadline: Instant | Unset | None = UNSET
    submission_deadline: Instant | Unset | None = UNSET

    def changes(self) -> TenderChanges:
        return TenderChanges(
            title=self.title,
            description=self.description,
            value=_set(self.value, _money),  # type: ignore[arg-type]
            enquiry_deadline=self.enquiry_deadline,
            submission_deadline=self.submission_deadline,
        )


class ReasonIn(_In, frozen=True, kw_only=True):
    reason: Reason


class LotIn(_In, frozen=True, kw_only=True):
    title: Title
    category: Category
    description: Text | None = None
    value: MoneyIn | None = None

    def draft(self) -> LotDraft:
        return LotDraft(
            title=self.title,
            category=self.category,
            description=self.description,
            value=_money(self.value),
        )


class LotPatch(_In, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    category: Category | Unset = UNSET
    description: Text | Unset | None = UNSET
    value: MoneyIn | Unset | None = UNSET

    def changes(self) -> LotChanges:
        return LotChanges(
            title=self.title,
            category=self.category,
            description=self.description,
            value=_set(self.value, _money),  # type: ignore[arg-type]
        )


class AwardItemIn(_In, frozen=True, kw_only=True):
    provider_id: Id
    value: MoneyIn | None = None


class AwardIn(_In, frozen=True, kw_only=True):
    """One award per provider (framework-style multi-award)."""

    providers: Annotated[list[AwardItemIn], msgspec.Meta(min_length=1, max_length=50)]
    date: Instant
    standstill_ends: Instant

    def draft(self) -> AwardDraft:
        return AwardDraft(
            providers=[
                AwardItem(provider_id=p.provider_id, value=_money(p.value)) for p in self.providers
            ],
            date=self.date,
            standstill_ends=self.standstill_ends,
        )


class ContractIn(_In, frozen=True, kw_only=True):
    award_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    title: Title
    description: Text | None = None
    value: MoneyIn | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    scope: Text | None = None

    def draft(self) -> c.ContractDraft:
        return c.ContractDraft(
            award_ids=self.award_ids,
            title=self.title,
            description=self.description,
            value=_money(self.value),
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            scope=self.scope,
        )


class ContractPatch(_In, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    description: Text | Unset | None = UNSET
    value: MoneyIn | Unset | None = UNSET
    starts_on: date | Unset | None = UNSET
    ends_on: date | Unset | None = UNSET
    scope: Text | Unset | None = UNSET
    # Why a contract worth more than £5m has no KPIs (Procurement Act 2023 s.52); before
    # signing only.
    kpi_exemption: Reason | Unset | None = UNSET

    def changes(self) -> c.ContractChanges:
        return c.ContractChanges(
            title=self.title,
            description=self.description,
            value=_set(self.value, _money),  # type: ignore[arg-type]
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            scope=self.scope,
            kpi_exemption=self.kpi_exemption,
        )


class CloseIn(_In, frozen=True, kw_only=True):
    on: date | None = None  # default: today
    reason: Reason | None = None  # required to terminate or cancel


class OptionIn(_In, frozen=True, kw_only=True):
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]
    value: MoneyIn | None = None
    scope: Text | None = None

    def draft(self) -> c.OptionDraft:
        return c.OptionDraft(
            description=self.description, value=_money(self.value), scope=self.scope
        )


class ExerciseIn(_In, frozen=True, kw_only=True):
    on: date
    note: Text | None = None

    def exercise(self) -> c.Exercise:
        return c.Exercise(on=self.on, note=self.note)


class ValueChangeIn(_In, frozen=True, kw_only=True, tag="value", tag_field="kind"):
    change: ChangeIn


class EndDateChangeIn(_In, frozen=True, kw_only=True, tag="end_date", tag_field="kind"):
    ends_on: date


class ScopeChangeIn(_In, frozen=True, kw_only=True, tag="scope", tag_field="kind"):
    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000, pattern=ANY_TEXT)]


class SuppliersChangeIn(_In, frozen=True, kw_only=True, tag="suppliers", tag_field="kind"):
    add: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    remove: Annotated[list[Id], msgspec.Meta(max_length=20)] = []


class AmendmentIn(_In, frozen=True, kw_only=True):
    change: ValueChangeIn | EndDateChangeIn | ScopeChangeIn | SuppliersChangeIn
    rationale: Reason

    def draft(self) -> c.AmendmentDraft:
        ch = self.change
        change: c.ValueChange | c.EndDateChange | c.ScopeChange | c.SuppliersChange
        if isinstance(ch, ValueChangeIn):
            change = c.ValueChange(change=ch.change.money())
        elif isinstance(ch, EndDateChangeIn):
            change = c.EndDateChange(ends_on=ch.ends_on)
        elif isinstance(ch, ScopeChangeIn):
            change = c.ScopeChange(scope=ch.scope)
        else:
            change = c.SuppliersChange(add=ch.add, remove=ch.remove)
        return c.AmendmentDraft(change=change, rationale=self.rationale)


class MilestoneIn(_In, frozen=True, kw_only=True):
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
            amount=_money(self.amount),
        )


class MilestonePatch(_In, frozen=True, kw_only=True):
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
            amount=_set(self.amount, _money),  # type: ignore[arg-type]
        )


class MetIn(_In, frozen=True, kw_only=True):
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
            paid=_money(self.paid),
            payee_id=self.payee_id,
        )


class NotMetIn(_In, frozen=True, kw_only=True):
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


class TenderPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Tender]
    next_cursor: str | None


class LotPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Lot]
    next_cursor: str | None


class AwardPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Award]
    next_cursor: str | None


class ContractPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Contract]
    next_cursor: str | None


class AwardList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Award]


class AmendmentList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Amendment]


class OptionList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ContractOption]
