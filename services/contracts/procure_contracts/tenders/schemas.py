"""What the tenders API takes (a tender, its lots and a lot's awards; unknown fields are a
400) and the list pages it gives."""

from __future__ import annotations

from typing import Annotated

import msgspec

from procure_contracts.api.schemas import (
    UNSET,
    Id,
    Instant,
    MoneyIn,
    RequestBody,
    Text,
    Title,
    Unset,
    money_or_none,
    unless_unset,
)
from procure_contracts.tenders.awards_rules import Award, AwardDraft, AwardItem
from procure_contracts.tenders.rules import (
    Lot,
    LotChanges,
    LotDraft,
    Tender,
    TenderChanges,
    TenderDraft,
)
from procure_shared.categories import Category

__all__ = [
    "AwardIn",
    "AwardItemIn",
    "AwardList",
    "AwardPage",
    "LotIn",
    "LotPage",
    "LotPatch",
    "TenderIn",
    "TenderPage",
    "TenderPatch",
]


class TenderIn(RequestBody, frozen=True, kw_only=True):
    title: Title
    description: Text | None = None
    value: MoneyIn | None = None
    enquiry_deadline: Instant | None = None
    submission_deadline: Instant | None = None

    def draft(self) -> TenderDraft:
        return TenderDraft(
            title=self.title,
            description=self.description,
            value=money_or_none(self.value),
            enquiry_deadline=self.enquiry_deadline,
            submission_deadline=self.submission_deadline,
        )


class TenderPatch(RequestBody, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    description: Text | Unset | None = UNSET
    value: MoneyIn | Unset | None = UNSET
    enquiry_deadline: Instant | Unset | None = UNSET
    submission_deadline: Instant | Unset | None = UNSET

    def changes(self) -> TenderChanges:
        return TenderChanges(
            title=self.title,
            description=self.description,
            value=unless_unset(self.value, money_or_none),  # type: ignore[arg-type]
            enquiry_deadline=self.enquiry_deadline,
            submission_deadline=self.submission_deadline,
        )


class LotIn(RequestBody, frozen=True, kw_only=True):
    title: Title
    category: Category
    description: Text | None = None
    value: MoneyIn | None = None

    def draft(self) -> LotDraft:
        return LotDraft(
            title=self.title,
            category=self.category,
            description=self.description,
            value=money_or_none(self.value),
        )


class LotPatch(RequestBody, frozen=True, kw_only=True):
    title: Title | Unset = UNSET
    category: Category | Unset = UNSET
    description: Text | Unset | None = UNSET
    value: MoneyIn | Unset | None = UNSET

    def changes(self) -> LotChanges:
        return LotChanges(
            title=self.title,
            category=self.category,
            description=self.description,
            value=unless_unset(self.value, money_or_none),  # type: ignore[arg-type]
        )


class AwardItemIn(RequestBody, frozen=True, kw_only=True):
    provider_id: Id
    value: MoneyIn | None = None


class AwardIn(RequestBody, frozen=True, kw_only=True):
    """One award per provider (framework-style multi-award)."""

    providers: Annotated[list[AwardItemIn], msgspec.Meta(min_length=1, max_length=50)]
    date: Instant
    standstill_ends: Instant

    def draft(self) -> AwardDraft:
        return AwardDraft(
            providers=[
                AwardItem(provider_id=p.provider_id, value=money_or_none(p.value))
                for p in self.providers
            ],
            date=self.date,
            standstill_ends=self.standstill_ends,
        )


class TenderPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Tender]
    next_cursor: str | None


class LotPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Lot]
    next_cursor: str | None


class AwardPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Award]
    next_cursor: str | None


class AwardList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Award]
