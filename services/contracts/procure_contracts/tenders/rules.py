"""Tenders and their lots, as explicit state machines with guarded transitions.

A tender is drafted, published (its tender period opens, with enquiry and submission
deadlines), closed for evaluation once submissions are in, then complete (every lot awarded,
cancelled or unsuccessful, at least one awarded), or cancelled or unsuccessful with a reason.
A lot is active until it is awarded (its first award), cancelled or unsuccessful; cancelling its
last award opens it again while the tender is being evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

import msgspec

from procure_contracts.domain.changes import a, camel, changed_fields, not_blank, refused
from procure_contracts.domain.imported import Imported
from procure_contracts.domain.money import Money, event_money
from procure_shared.categories import Category
from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import LotData, TenderData

__all__ = [
    "LOT_MOVES",
    "TENDER_MOVES",
    "Lot",
    "LotChanges",
    "LotDraft",
    "LotStatus",
    "Tender",
    "TenderChanges",
    "TenderDraft",
    "TenderStatus",
    "add_lot",
    "cancel",
    "cancel_lot",
    "close",
    "complete",
    "draft",
    "follow_tender",
    "lot_awarded",
    "lot_data",
    "lot_reopened",
    "lot_unsuccessful",
    "publish",
    "require_lot",
    "tender_data",
    "unsuccessful",
    "update",
    "update_lot",
]


class TenderStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"


class LotStatus(StrEnum):
    ACTIVE = "active"
    AWARDED = "awarded"
    CANCELLED = "cancelled"
    UNSUCCESSFUL = "unsuccessful"


T = TenderStatus
L = LotStatus
# Where each status may go: the state machines, in one place.
TENDER_MOVES: dict[TenderStatus, tuple[TenderStatus, ...]] = {
    T.DRAFT: (T.PUBLISHED, T.CANCELLED),
    T.PUBLISHED: (T.CLOSED, T.CANCELLED, T.UNSUCCESSFUL),
    T.CLOSED: (T.COMPLETE, T.CANCELLED, T.UNSUCCESSFUL),
    T.COMPLETE: (),
    T.CANCELLED: (),
    T.UNSUCCESSFUL: (),
}
LOT_MOVES: dict[LotStatus, tuple[LotStatus, ...]] = {
    L.ACTIVE: (L.AWARDED, L.CANCELLED, L.UNSUCCESSFUL),
    L.AWARDED: (L.ACTIVE,),
    L.CANCELLED: (),
    L.UNSUCCESSFUL: (),
}
SETTLED = frozenset({L.AWARDED, L.CANCELLED, L.UNSUCCESSFUL})


class Tender(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    buyer_id: str
    title: str
    description: str | None
    value: Money | None  # the estimated value
    enquiry_deadline: datetime | None
    submission_deadline: datetime | None
    status: TenderStatus
    published_at: datetime | None = None  # the tender period opens
    closed_at: datetime | None = None
    reason: str | None = None  # why it was cancelled or unsuccessful
    imported: Imported | None = None  # an OCDS import made it
    version: int
    created_at: datetime
    updated_at: datetime


class TenderDraft(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    description: str | None = None
    value: Money | None = None
    enquiry_deadline: datetime | None = None
    submission_deadline: datetime | None = None


class TenderChanges(msgspec.Struct, frozen=True, kw_only=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    value: Money | msgspec.UnsetType | None = msgspec.UNSET
    enquiry_deadline: datetime | msgspec.UnsetType | None = msgspec.UNSET
    submission_deadline: datetime | msgspec.UnsetType | None = msgspec.UNSET


class Lot(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    tender_id: str
    buyer_id: str
    title: str
    description: str | None
    category: Category
    value: Money | None
    status: LotStatus
    reason: str | None = None
    imported: Imported | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class LotDraft(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    category: Category
    description: str | None = None
    value: Money | None = None


class LotChanges(msgspec.Struct, frozen=True, kw_only=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    category: Category | msgspec.UnsetType = msgspec.UNSET
    value: Money | msgspec.UnsetType | None = msgspec.UNSET


def _move(tender: Tender, to: TenderStatus, verb: str) -> None:
    if to not in TENDER_MOVES[tender.status]:
        raise refused(
            f"{a(tender.status)} tender cannot be {verb}",
            tender.status,
            TENDER_MOVES,
        )


def _move_lot(lot: Lot, to: LotStatus, verb: str) -> None:
    if to not in LOT_MOVES[lot.status]:
        raise refused(
            f"{a(lot.status)} lot cannot be {verb}",
            lot.status,
            LOT_MOVES,
        )


def _check_deadlines(enquiry: datetime | None, submission: datetime | None) -> None:
    if enquiry is not None and submission is not None and enquiry > submission:
        raise RuleBroken(
            f"the enquiry deadline ({enquiry.isoformat()}) is after the submission deadline "
            f"({submission.isoformat()})",
            "enquiryDeadline",
        )


def draft(d: TenderDraft, *, id: str, buyer_id: str, now: datetime) -> Tender:
    _check_deadlines(d.enquiry_deadline, d.submission_deadline)
    return Tender(
        id=id,
        buyer_id=buyer_id,
        title=not_blank(d.title, "title"),
        description=d.description,
        value=d.value,
        enquiry_deadline=d.enquiry_deadline,
        submission_deadline=d.submission_deadline,
        status=T.DRAFT,
        version=1,
        created_at=now,
        updated_at=now,
    )


def update(tender: Tender, changes: TenderChanges, *, now: datetime) -> tuple[Tender, list[str]]:
    """The tender with ``changes`` (only while it is a draft) and the fields that changed."""
    if tender.status is not T.DRAFT:
        raise refused(
            f"{a(tender.status)} tender's details cannot change (only a draft's)",
            tender.status,
            TENDER_MOVES,
        )
    changed = changed_fields(tender, changes)
    if not changed:
        return tender, []
    if "title" in changed:
        changed["title"] = not_blank(str(changed["title"]), "title")
    after = msgspec.structs.replace(tender, **changed, version=tender.version + 1, updated_at=now)
    _check_deadlines(after.enquiry_deadline, after.submission_deadline)
    return after, [camel(name) for name in changed]


def publish(tender: Tender, lots: Sequence[Lot], *, now: datetime) -> Tender:
    _move(tender, T.PUBLISHED, "published")
    if not lots:
        raise RuleBroken("a tender needs at least one lot to be published", "lots")
    deadline = tender.submission_deadline
    if deadline is None:
        raise RuleBroken(
            "a tender needs a submission deadline to be published", "submissionDeadline"
        )
    if deadline <= now:
        raise RuleBroken(
            f"the submission deadline ({deadline.isoformat()}) has passed", "submissionDeadline"
        )
    return msgspec.structs.replace(
        tender, status=T.PUBLISHED, published_at=now, version=tender.version + 1, updated_at=now
    )


def close(tender: Tender, *, now: datetime) -> Tender:
    _move(tender, T.CLOSED, "closed")
    deadline = tender.submission_deadline
    if deadline is not None and now < deadline:
        raise RuleBroken(
            f"submissions are open until {deadline.isoformat()}: cancel the tender to stop early",
            "submissionDeadline",
        )
    return msgspec.structs.replace(
        tender, status=T.CLOSED, closed_at=now, version=tender.version + 1, updated_at=now
    )


def _end(
    tender: Tender, lots: Sequence[Lot], to: TenderStatus, verb: str, reason: str, now: datetime
) -> Tender:
    _move(tender, to, verb)
    awarded = [lot for lot in lots if lot.status is L.AWARDED]
    if awarded:
        raise refused(
            f"lot {awarded[0].id} is awarded: cancel its awards before the tender can be {verb}",
            tender.status,
            TENDER_MOVES,
        )
    if not reason.strip():
        raise RuleBroken("say why (reason)", "reason")
    return msgspec.structs.replace(
        tender, status=to, reason=reason.strip(), version=tender.version + 1, updated_at=now
    )


def cancel(tender: Tender, lots: Sequence[Lot], reason: str, *, now: datetime) -> Tender:
    return _end(tender, lots, T.CANCELLED, "cancelled", reason, now)


def unsuccessful(tender: Tender, lots: Sequence[Lot], reason: str, *, now: datetime) -> Tender:
    return _end(tender, lots, T.UNSUCCESSFUL, "marked unsuccessful", reason, now)


def follow_tender(tender: Tender, lot: Lot, *, now: datetime) -> Lot | None:
    """An open lot of a tender just cancelled or ended unsuccessfully goes the same way."""
    if lot.status is not L.ACTIVE or tender.status not in (T.CANCELLED, T.UNSUCCESSFUL):
        return None
    to = L.CANCELLED if tender.status is T.CANCELLED else L.UNSUCCESSFUL
    return _settle_lot(lot, to, str(to), f"the tender was {tender.status}: {tender.reason}", now)


def complete(tender: Tender, lots: Sequence[Lot], *, now: datetime) -> Tender:
    _move(tender, T.COMPLETE, "completed")
    open_lots = [lot for lot in lots if lot.status not in SETTLED]
    if open_lots:
        raise RuleBroken(
            "every lot must be awarded, cancelled or unsuccessful first",
            errors=[(f"lots/{lot.id}", f"{lot.title!r} is {lot.status}") for lot in open_lots],
        )
    if not any(lot.status is L.AWARDED for lot in lots):
        raise RuleBroken("no lot was awarded: mark the tender unsuccessful instead", "lots")
    return msgspec.structs.replace(
        tender, status=T.COMPLETE, version=tender.version + 1, updated_at=now
    )


def _lots_editable(tender: Tender, verb: str) -> None:
    if tender.status is not T.DRAFT:
        raise refused(
            f"lots of {a(tender.status)} tender cannot be {verb} (only a draft's)",
            tender.status,
            TENDER_MOVES,
        )


def add_lot(tender: Tender, d: LotDraft, *, id: str, now: datetime) -> Lot:
    _lots_editable(tender, "added")
    return Lot(
        id=id,
        tender_id=tender.id,
        buyer_id=tender.buyer_id,
        title=not_blank(d.title, "title"),
        description=d.description,
        category=d.category,
        value=d.value,
        status=L.ACTIVE,
        version=1,
        created_at=now,
        updated_at=now,
    )


def update_lot(
    tender: Tender, lot: Lot, changes: LotChanges, *, now: datetime
) -> tuple[Lot, list[str]]:
    _lots_editable(tender, "changed")
    changed = changed_fields(lot, changes)
    if not changed:
        return lot, []
    if "title" in changed:
        changed["title"] = not_blank(str(changed["title"]), "title")
    after = msgspec.structs.replace(lot, **changed, version=lot.version + 1, updated_at=now)
    return after, [camel(name) for name in changed]


def require_lot(tender: Tender, lot: Lot, verb: str) -> None:
    """Awards are made, and lots settled, while the tender is being evaluated (closed)."""
    if tender.status is not T.CLOSED:
        raise refused(
            f"lots are {verb} while the tender is closed for evaluation; it is {tender.status}",
            tender.status,
            TENDER_MOVES,
        )


def _settle_lot(lot: Lot, to: LotStatus, verb: str, reason: str | None, now: datetime) -> Lot:
    _move_lot(lot, to, verb)
    return msgspec.structs.replace(
        lot, status=to, reason=reason, version=lot.version + 1, updated_at=now
    )


def cancel_lot(tender: Tender, lot: Lot, reason: str, *, now: datetime) -> Lot:
    if tender.status not in (T.DRAFT, T.PUBLISHED, T.CLOSED):
        raise refused(
            f"lots of {a(tender.status)} tender cannot be cancelled",
            tender.status,
            TENDER_MOVES,
        )
    if not reason.strip():
        raise RuleBroken("say why (reason)", "reason")
    return _settle_lot(lot, L.CANCELLED, "cancelled", reason.strip(), now)


def lot_unsuccessful(tender: Tender, lot: Lot, reason: str, *, now: datetime) -> Lot:
    require_lot(tender, lot, "marked unsuccessful")
    if not reason.strip():
        raise RuleBroken("say why (reason)", "reason")
    return _settle_lot(lot, L.UNSUCCESSFUL, "marked unsuccessful", reason.strip(), now)


def lot_awarded(lot: Lot, *, now: datetime) -> Lot:
    return _settle_lot(lot, L.AWARDED, "awarded", None, now)


def lot_reopened(lot: Lot, *, now: datetime) -> Lot:
    return _settle_lot(lot, L.ACTIVE, "opened again", None, now)


def tender_data(tender: Tender, lot_ids: Sequence[str], changed: Sequence[str] = ()) -> TenderData:
    return TenderData(
        tender_id=tender.id,
        title=tender.title,
        status=tender.status,
        value=event_money(tender.value),
        lot_ids=list(lot_ids),
        enquiry_deadline=tender.enquiry_deadline,
        submission_deadline=tender.submission_deadline,
        reason=tender.reason,
        changed=list(changed),
    )


def lot_data(lot: Lot, award_ids: Sequence[str] = (), changed: Sequence[str] = ()) -> LotData:
    return LotData(
        lot_id=lot.id,
        tender_id=lot.tender_id,
        title=lot.title,
        category=lot.category,
        status=lot.status,
        value=event_money(lot.value),
        award_ids=list(award_ids),
        reason=lot.reason,
        changed=list(changed),
    )
