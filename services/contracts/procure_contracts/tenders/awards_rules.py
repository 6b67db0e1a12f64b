"""Awards: a lot goes to one or more providers (framework-style multi-award), each with a value,
a decision date and the end of its standstill period.

An award is ``pending`` while its standstill runs and ``active`` once it has ended (no stored
transition: the status follows the clock), or ``cancelled``. Every provider must be eligible
for the lot's category on the decision date (the providers service decides); a performance
warning is kept on the award.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

import msgspec

from procure_contracts.domain.changes import a
from procure_contracts.domain.imported import Imported
from procure_contracts.domain.money import Money, event_money
from procure_contracts.tenders.rules import Lot, LotStatus, Tender, require_lot
from procure_shared.errors import Conflict, Duplicate, RuleBroken
from procure_shared.events.contracts import AwardCancelled, AwardMade
from procure_shared.events.eligibility import EligibilityResult

__all__ = [
    "Award",
    "AwardDraft",
    "AwardStatus",
    "Warning",
    "cancel",
    "cancelled_data",
    "made_data",
    "make",
]


class AwardStatus(StrEnum):
    PENDING = "pending"  # standstill running
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Warning(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class Award(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    buyer_id: str
    tender_id: str
    lot_id: str
    category: str
    provider_id: str
    provider_name: str | None  # as the provider read model knew it when awarded
    value: Money | None
    date: datetime  # the award decision
    standstill_ends: datetime
    status: AwardStatus
    warnings: list[Warning] = []
    reason: str | None = None  # why it was cancelled
    imported: Imported | None = None  # eligibility was not checked: imported
    version: int
    created_at: datetime
    updated_at: datetime

    def seen_at(self, now: datetime) -> Award:
        """The award with its status on ``now``: pending turns active when standstill ends."""
        if self.status is AwardStatus.PENDING and now >= self.standstill_ends:
            return msgspec.structs.replace(self, status=AwardStatus.ACTIVE)
        return self


class AwardItem(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    value: Money | None = None


class AwardDraft(msgspec.Struct, frozen=True, kw_only=True):
    providers: Sequence[AwardItem]
    date: datetime
    standstill_ends: datetime


def make(
    tender: Tender,
    lot: Lot,
    draft: AwardDraft,
    *,
    live_awards: Sequence[Award],
    answers: Mapping[str, EligibilityResult],
    names: Mapping[str, str],
    ids: Sequence[str],
    now: datetime,
) -> list[Award]:
    """One award per provider of ``draft``, if the lot can take them and every provider is
    eligible (``answers`` by provider id, from the providers service)."""
    require_lot(tender, lot, "awarded")
    if lot.status not in (LotStatus.ACTIVE, LotStatus.AWARDED):
        raise Conflict(
            f"{a(lot.status)} lot cannot be awarded",
            current=lot.status,
            allowed=(),
        )
    if not draft.providers:
        raise RuleBroken("name at least one provider", "providers")
    if draft.standstill_ends < draft.date:
        raise RuleBroken("the standstill period cannot end before the award date", "standstillEnds")
    if draft.date > now:
        raise RuleBroken("the award decision date is in the future", "date")
    provider_ids = [item.provider_id for item in draft.providers]
    if len(set(provider_ids)) != len(provider_ids):
        raise RuleBroken("a provider is named twice", "providers")
    holders = {a.provider_id for a in live_awards}
    again = [p for p in provider_ids if p in holders]
    if again:
        raise Duplicate(
            "the lot is already awarded to " + ", ".join(again),
            title="Already awarded",
            errors=[(f"providers/{i}", "already holds an award of this lot") for i in again],
        )
    refused = [
        (index, answers[p]) for index, p in enumerate(provider_ids) if not answers[p].eligible
    ]
    if refused:
        raise RuleBroken(
            "not every provider is eligible for "
            + lot.category
            + " on "
            + draft.date.date().isoformat(),
            errors=[
                (f"providers/{index}/providerId", f"{r.code}: {r.message}")
                for index, answer in refused
                for r in answer.reasons
            ],
        )
    return [
        Award(
            id=award_id,
            buyer_id=tender.buyer_id,
            tender_id=tender.id,
            lot_id=lot.id,
            category=lot.category,
            provider_id=item.provider_id,
            provider_name=names.get(item.provider_id),
            value=item.value,
            date=draft.date,
            standstill_ends=draft.standstill_ends,
            status=AwardStatus.PENDING,
            warnings=[
                Warning(code=w.code, message=w.message) for w in answers[item.provider_id].warnings
            ],
            version=1,
            created_at=now,
            updated_at=now,
        )
        for award_id, item in zip(ids, draft.providers, strict=True)
    ]


def cancel(award: Award, reason: str, *, held_by_contract: str | None, now: datetime) -> Award:
    if award.status is AwardStatus.CANCELLED:
        raise Conflict("the award is already cancelled", current=award.status, allowed=())
    if held_by_contract is not None:
        raise Conflict(
            f"contract {held_by_contract} rests on this award: cancel or terminate it first",
            current=award.seen_at(now).status,
            allowed=(AwardStatus.CANCELLED,),
        )
    if not reason.strip():
        raise RuleBroken("say why (reason)", "reason")
    return msgspec.structs.replace(
        award,
        status=AwardStatus.CANCELLED,
        reason=reason.strip(),
        version=award.version + 1,
        updated_at=now,
    )


def made_data(award: Award) -> AwardMade:
    return AwardMade(
        award_id=award.id,
        tender_id=award.tender_id,
        lot_id=award.lot_id,
        provider_id=award.provider_id,
        category=award.category,
        value=event_money(award.value),
        date=award.date,
        standstill_ends=award.standstill_ends,
    )


def cancelled_data(award: Award) -> AwardCancelled:
    return AwardCancelled(
        award_id=award.id,
        tender_id=award.tender_id,
        lot_id=award.lot_id,
        provider_id=award.provider_id,
        reason=award.reason,
    )
