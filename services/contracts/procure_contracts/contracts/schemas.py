"""What the contracts API takes (a contract, its options, amendments and closing; unknown
fields are a 400) and the list pages it gives."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from procure_contracts.api.schemas import (
    ANY_TEXT,
    UNSET,
    ChangeIn,
    Id,
    MoneyIn,
    Reason,
    RequestBody,
    Text,
    Title,
    Unset,
    money_or_none,
    unless_unset,
)
from procure_contracts.contracts import rules as c
from procure_contracts.contracts.rules import Amendment, Contract, ContractOption

__all__ = [
    "AmendmentIn",
    "AmendmentList",
    "CloseIn",
    "ContractIn",
    "ContractPage",
    "ContractPatch",
    "EndDateChangeIn",
    "ExerciseIn",
    "OptionIn",
    "OptionList",
    "ScopeChangeIn",
    "SuppliersChangeIn",
    "ValueChangeIn",
]


class ContractIn(RequestBody, frozen=True, kw_only=True):
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
            value=money_or_none(self.value),
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            scope=self.scope,
        )


class ContractPatch(RequestBody, frozen=True, kw_only=True):
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
            value=unless_unset(self.value, money_or_none),  # type: ignore[arg-type]
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            scope=self.scope,
            kpi_exemption=self.kpi_exemption,
        )


class CloseIn(RequestBody, frozen=True, kw_only=True):
    on: date | None = None  # default: today
    reason: Reason | None = None  # required to terminate or cancel


class OptionIn(RequestBody, frozen=True, kw_only=True):
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]
    value: MoneyIn | None = None
    scope: Text | None = None

    def draft(self) -> c.OptionDraft:
        return c.OptionDraft(
            description=self.description, value=money_or_none(self.value), scope=self.scope
        )


class ExerciseIn(RequestBody, frozen=True, kw_only=True):
    on: date
    note: Text | None = None

    def exercise(self) -> c.Exercise:
        return c.Exercise(on=self.on, note=self.note)


class ValueChangeIn(RequestBody, frozen=True, kw_only=True, tag="value", tag_field="kind"):
    change: ChangeIn


class EndDateChangeIn(RequestBody, frozen=True, kw_only=True, tag="end_date", tag_field="kind"):
    ends_on: date


class ScopeChangeIn(RequestBody, frozen=True, kw_only=True, tag="scope", tag_field="kind"):
    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000, pattern=ANY_TEXT)]


class SuppliersChangeIn(RequestBody, frozen=True, kw_only=True, tag="suppliers", tag_field="kind"):
    add: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    remove: Annotated[list[Id], msgspec.Meta(max_length=20)] = []


class AmendmentIn(RequestBody, frozen=True, kw_only=True):
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


class ContractPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Contract]
    next_cursor: str | None


class AmendmentList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Amendment]


class OptionList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ContractOption]
