"""Exclusions (debarment): a provider is excluded from public contracts for a period, on a
ground, by a source (e.g. the central debarment list), until the period ends or it is lifted."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from procure_shared.errors import Conflict, RuleBroken
from procure_shared.events.providers import ExclusionData, ExclusionLifted

__all__ = ["Exclusion", "ExclusionDraft", "lift", "lifted_data", "record", "recorded_data"]


class Exclusion(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    provider_id: str
    ground: str
    source: str
    starts_on: date
    ends_on: date | None
    lifted_on: date | None
    lift_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str:
        return "lifted" if self.lifted_on is not None else "recorded"

    def in_force_on(self, day: date) -> bool:
        return (
            self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
            and (self.lifted_on is None or day < self.lifted_on)
        )

    def in_force_until(self) -> date | None:
        """The last day in force, if the exclusion has an end."""
        ends = [d for d in (self.ends_on,) if d is not None]
        if self.lifted_on is not None:
            ends.append(date.fromordinal(self.lifted_on.toordinal() - 1))
        return min(ends) if ends else None


class ExclusionDraft(msgspec.Struct, frozen=True, kw_only=True):
    ground: str
    source: str
    starts_on: date
    ends_on: date | None


def record(draft: ExclusionDraft, *, id: str, provider_id: str, now: datetime) -> Exclusion:
    if draft.ends_on is not None and draft.ends_on < draft.starts_on:
        raise RuleBroken(
            f"endsOn ({draft.ends_on}) is before startsOn ({draft.starts_on})", "endsOn"
        )
    for field, value in (("ground", draft.ground), ("source", draft.source)):
        if not value.strip():
            raise RuleBroken(f"{field} must not be blank", field)
    return Exclusion(
        id=id,
        provider_id=provider_id,
        ground=draft.ground.strip(),
        source=draft.source.strip(),
        starts_on=draft.starts_on,
        ends_on=draft.ends_on,
        lifted_on=None,
        lift_reason=None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def lift(exclusion: Exclusion, *, on: date, reason: str, now: datetime) -> Exclusion:
    if exclusion.lifted_on is not None:
        raise Conflict(
            f"the exclusion was lifted on {exclusion.lifted_on} already", current="lifted"
        )
    if on < exclusion.starts_on:
        raise RuleBroken(
            f"an exclusion cannot be lifted ({on}) before it starts ({exclusion.starts_on})", "on"
        )
    if not reason.strip():
        raise RuleBroken("say why the exclusion is lifted", "reason")
    return msgspec.structs.replace(
        exclusion,
        lifted_on=on,
        lift_reason=reason.strip(),
        version=exclusion.version + 1,
        updated_at=now,
    )


def recorded_data(exclusion: Exclusion) -> ExclusionData:
    return ExclusionData(
        exclusion_id=exclusion.id,
        provider_id=exclusion.provider_id,
        ground=exclusion.ground,
        source=exclusion.source,
        starts_on=exclusion.starts_on,
        ends_on=exclusion.ends_on,
    )


def lifted_data(exclusion: Exclusion) -> ExclusionLifted:
    assert exclusion.lifted_on is not None
    assert exclusion.lift_reason is not None
    return ExclusionLifted(
        exclusion_id=exclusion.id,
        provider_id=exclusion.provider_id,
        lifted_on=exclusion.lifted_on,
        reason=exclusion.lift_reason,
    )
