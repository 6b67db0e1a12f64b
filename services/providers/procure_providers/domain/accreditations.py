"""Accreditations: a provider is accredited in a category by someone, for a period.

An accreditation is valid on the days from ``valid_from`` to ``valid_to`` inclusive. Its
``expiring`` notice falls due ``notice_days`` before the end and its ``expired`` notice the day
after; each is emitted once per validity period (a renewal moves ``valid_to`` and starts a new
one).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

import msgspec

from procure_shared.categories import Category
from procure_shared.errors import Conflict, RuleBroken
from procure_shared.events.providers import (
    AccreditationData,
    AccreditationDue,
    AccreditationRevoked,
)

__all__ = [
    "Accreditation",
    "AccreditationChanges",
    "AccreditationDraft",
    "AccreditationStatus",
    "Notice",
    "amend",
    "due_notices",
    "event_data",
    "grant",
    "notice_data",
    "revoke",
    "revoked_data",
]


class AccreditationStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Notice(StrEnum):
    EXPIRING = "expiring"
    EXPIRED = "expired"


class Accreditation(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    provider_id: str
    category: Category
    granted_by: str
    valid_from: date
    valid_to: date | None
    evidence_ref: str | None
    status: AccreditationStatus
    revoked_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    def valid_on(self, day: date) -> bool:
        return (
            self.status is AccreditationStatus.ACTIVE
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )


class AccreditationDraft(msgspec.Struct, frozen=True, kw_only=True):
    category: Category
    granted_by: str
    valid_from: date
    valid_to: date | None
    evidence_ref: str | None


class AccreditationChanges(msgspec.Struct, frozen=True, kw_only=True):
    granted_by: str | msgspec.UnsetType = msgspec.UNSET
    valid_from: date | msgspec.UnsetType = msgspec.UNSET
    valid_to: date | msgspec.UnsetType | None = msgspec.UNSET
    evidence_ref: str | msgspec.UnsetType | None = msgspec.UNSET


def _check_period(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise RuleBroken(f"validTo ({valid_to}) is before validFrom ({valid_from})", "validTo")


def grant(draft: AccreditationDraft, *, id: str, provider_id: str, now: datetime) -> Accreditation:
    _check_period(draft.valid_from, draft.valid_to)
    if not draft.granted_by.strip():
        raise RuleBroken("grantedBy must name who granted the accreditation", "grantedBy")
    return Accreditation(
        id=id,
        provider_id=provider_id,
        category=draft.category,
        granted_by=draft.granted_by.strip(),
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        evidence_ref=draft.evidence_ref,
        status=AccreditationStatus.ACTIVE,
        revoked_reason=None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _require_active(accreditation: Accreditation, what: str) -> None:
    if accreditation.status is not AccreditationStatus.ACTIVE:
        raise Conflict(
            f"a revoked accreditation cannot be {what}; grant a new one",
            current=accreditation.status.value,
        )


def amend(
    accreditation: Accreditation, changes: AccreditationChanges, *, now: datetime
) -> tuple[Accreditation, list[str]]:
    _require_active(accreditation, "changed")
    values = {
        field: getattr(changes, field)
        for field in changes.__struct_fields__
        if getattr(changes, field) is not msgspec.UNSET
        and getattr(changes, field) != getattr(accreditation, field)
    }
    if not values:
        return accreditation, []
    amended = msgspec.structs.replace(
        accreditation, **values, version=accreditation.version + 1, updated_at=now
    )
    _check_period(amended.valid_from, amended.valid_to)
    head = {"granted_by": "grantedBy", "valid_from": "validFrom", "valid_to": "validTo"}
    return amended, [head.get(name, "evidenceRef") for name in values]


def revoke(accreditation: Accreditation, *, reason: str, now: datetime) -> Accreditation:
    _require_active(accreditation, "revoked again")
    return msgspec.structs.replace(
        accreditation,
        status=AccreditationStatus.REVOKED,
        revoked_reason=reason,
        version=accreditation.version + 1,
        updated_at=now,
    )


def due_notices(
    accreditation: Accreditation, *, today: date, notice_days: int, sent: frozenset[Notice]
) -> list[Notice]:
    """The notices that have fallen due and were not sent for the current ``valid_to``, in the
    order they fell due (after an outage both can be due at once)."""
    end = accreditation.valid_to
    if accreditation.status is not AccreditationStatus.ACTIVE or end is None:
        return []
    due = []
    if today >= end - timedelta(days=notice_days) and Notice.EXPIRING not in sent:
        due.append(Notice.EXPIRING)
    if today > end and Notice.EXPIRED not in sent:
        due.append(Notice.EXPIRED)
    return due


def event_data(accreditation: Accreditation) -> AccreditationData:
    return AccreditationData(
        accreditation_id=accreditation.id,
        provider_id=accreditation.provider_id,
        category=accreditation.category.value,
        granted_by=accreditation.granted_by,
        valid_from=accreditation.valid_from,
        valid_to=accreditation.valid_to,
        evidence_ref=accreditation.evidence_ref,
        status=accreditation.status.value,
    )


def notice_data(accreditation: Accreditation, notice: Notice, today: date) -> AccreditationDue:
    assert accreditation.valid_to is not None
    days_left = (accreditation.valid_to - today).days
    return AccreditationDue(
        accreditation_id=accreditation.id,
        provider_id=accreditation.provider_id,
        category=accreditation.category.value,
        valid_to=accreditation.valid_to,
        days_left=max(days_left, 0) if notice is Notice.EXPIRING else 0,
    )


def revoked_data(accreditation: Accreditation) -> AccreditationRevoked:
    return AccreditationRevoked(
        accreditation_id=accreditation.id,
        provider_id=accreditation.provider_id,
        category=accreditation.category.value,
        reason=accreditation.revoked_reason or "",
    )
