"""KPIs (Procurement Act 2023 s.52): a contract's (optionally one lot's) key performance
indicators, each with a target (a figure or a range; none for a qualitative KPI), a direction,
rating thresholds, an optional dimension (e.g. area: Knowsley, Doncaster, ...) and the rule
that combines one period's observations (sum across dimension values, or their mean).

A KPI carries its current rating: the latest period's observations combined and rated
(``observations.py``). Defined and changed while its contract is pending or active.

Section 52: a contract worth more than £5,000,000 is signed only once it has at least three
KPIs, or a recorded reason why it has none (``kpiExemption``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from procure_contracts.contracts.rules import Contract, require_live
from procure_contracts.domain.changes import camel, changed_fields, not_blank
from procure_contracts.domain.imported import Imported
from procure_contracts.kpis.ratings import (
    LABELS,
    Combine,
    Direction,
    Exact,
    Target,
    Thresholds,
    check_target,
    check_thresholds,
    default_thresholds,
    number,
)
from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import KpiData, KpiRatingChanged, Rating

__all__ = [
    "SECTION_52_KPIS",
    "SECTION_52_VALUE",
    "Dimension",
    "DimensionFigure",
    "Frequency",
    "Kpi",
    "KpiChanges",
    "KpiDraft",
    "Observation",
    "Rated",
    "check_section_52",
    "define",
    "kpi_data",
    "rating_data",
    "unrated",
    "update",
]

# Procurement Act 2023 s.52: more than £5m (GBP), at least three KPIs.
SECTION_52_VALUE = Decimal("5000000")
SECTION_52_KPIS = 3


class Frequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    TERMLY = "termly"
    ANNUALLY = "annually"


class Dimension(msgspec.Struct, frozen=True, kw_only=True):
    """What a KPI's figures are broken down by (``area``) and its allowed values."""

    name: str
    values: list[str]


class DimensionFigure(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    dimension_value: str
    value: Decimal | None


class Rated(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A rating: the statutory word (``label``), its code, why, and the figure rated (the
    period's observations combined; per dimension value too)."""

    rating: Rating
    label: str
    explanation: str
    value: Decimal | None = None
    period_start: date | None = None
    period_end: date | None = None
    by_dimension: list[DimensionFigure] = []


class Observation(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A KPI's figure for a period (for one dimension value, if the KPI has a dimension); a
    qualitative KPI's observation is a note. Never changed: a later observation of the same
    period and dimension value takes its place in the rating."""

    id: str
    buyer_id: str
    kpi_id: str
    contract_id: str
    number: int  # the KPI's first, second, ... observation: the order they were recorded in
    period_start: date
    period_end: date
    value: Decimal | None
    dimension_value: str | None
    source: str | None
    note: str | None
    recorded_by: str
    recorded_at: datetime
    # An imported observation's id at its publisher (its OCDS id), which the export gives back.
    ocds_id: str | None = None


class Kpi(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    buyer_id: str
    contract_id: str
    lot_id: str | None
    name: str
    description: str | None
    unit: str | None  # e.g. "pupils"
    direction: Direction
    target: Target | None  # None: a qualitative KPI (rated Other)
    thresholds: Thresholds
    dimension: Dimension | None
    combine: Combine
    frequency: Frequency | None
    rating: Rated  # the current rating: the latest period's
    rated_at: datetime
    observation_count: int = 0  # how many were recorded
    # The observation recorded last (so the audit trail shows each one).
    last_observation: Observation | None = None
    imported: Imported | None = None  # an OCDS import's metric (agreed and as implemented)
    version: int
    created_at: datetime
    updated_at: datetime


class KpiDraft(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    direction: Direction = Direction.HIGHER_IS_BETTER
    target: Target | None = None
    unit: str | None = None
    description: str | None = None
    lot_id: str | None = None
    thresholds: Thresholds | None = None  # default: by direction
    dimension: Dimension | None = None
    combine: Combine = Combine.SUM
    frequency: Frequency | None = None


class KpiChanges(msgspec.Struct, frozen=True, kw_only=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    unit: str | msgspec.UnsetType | None = msgspec.UNSET
    direction: Direction | msgspec.UnsetType = msgspec.UNSET
    target: Target | msgspec.UnsetType | None = msgspec.UNSET
    thresholds: Thresholds | msgspec.UnsetType = msgspec.UNSET
    dimension: Dimension | msgspec.UnsetType | None = msgspec.UNSET
    combine: Combine | msgspec.UnsetType = msgspec.UNSET
    frequency: Frequency | msgspec.UnsetType | None = msgspec.UNSET


NOT_YET = "no observation recorded yet"


def _dimension(dimension: Dimension | None) -> Dimension | None:
    if dimension is None:
        return None
    values = [v.strip() for v in dimension.values]
    if not values:
        raise RuleBroken("a dimension has at least one value", "dimension/values")
    if any(not v for v in values):
        raise RuleBroken("a dimension value must not be blank", "dimension/values")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise RuleBroken(f"dimension values repeat: {', '.join(twice)}", "dimension/values")
    return Dimension(name=not_blank(dimension.name, "dimension/name"), values=values)


def _check(kpi: Kpi) -> None:
    check_thresholds(kpi.direction, kpi.thresholds)
    if kpi.target is not None:
        check_target(kpi.direction, kpi.target)


def unrated(target: Target | None, why: str = NOT_YET) -> Rated:
    """Other: nothing to rate (``why``), or a qualitative KPI (no ``target``)."""
    reason = why if target is not None else "a qualitative KPI (no numeric target)"
    return Rated(rating="other", label=LABELS["other"], explanation=f"{reason}: Other")


def define(contract: Contract, draft: KpiDraft, *, id: str, now: datetime) -> Kpi:
    require_live(contract, "KPIs", "defined")
    if draft.lot_id is not None and draft.lot_id not in contract.lot_ids:
        raise RuleBroken(f"contract {contract.id} covers no lot {draft.lot_id}", "lotId")
    kpi = Kpi(
        id=id,
        buyer_id=contract.buyer_id,
        contract_id=contract.id,
        lot_id=draft.lot_id,
        name=not_blank(draft.name, "name"),
        description=draft.description,
        unit=draft.unit.strip() or None if draft.unit is not None else None,
        direction=draft.direction,
        target=draft.target,
        thresholds=draft.thresholds or default_thresholds(draft.direction),
        dimension=_dimension(draft.dimension),
        combine=draft.combine,
        frequency=draft.frequency,
        rating=unrated(draft.target),
        rated_at=now,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _check(kpi)
    return kpi


def update(
    kpi: Kpi, contract: Contract, changes: KpiChanges, *, now: datetime
) -> tuple[Kpi, list[str]]:
    """A KPI's definition, on a live contract. Once observed, its dimension keeps the values
    observations may name (values may be added). A new direction without thresholds takes
    that direction's defaults. The rating is recomputed by the caller."""
    require_live(contract, "KPIs", "changed")
    changed = changed_fields(kpi, changes)
    if not changed:
        return kpi, []
    if "name" in changed:
        changed["name"] = not_blank(str(changed["name"]), "name")
    if "dimension" in changed:
        before, after_dimension = kpi.dimension, _dimension(changed["dimension"])  # type: ignore[arg-type]
        kept = (
            before is None
            if after_dimension is None
            else before is not None and set(before.values) <= set(after_dimension.values)
        )
        if kpi.observation_count and not kept:
            raise RuleBroken(
                "an observed KPI keeps its dimension and its values (values may be added)",
                "dimension",
            )
        changed["dimension"] = after_dimension
    if "direction" in changed and "thresholds" not in changed:
        changed["thresholds"] = default_thresholds(changes.direction)  # type: ignore[arg-type]
    after = msgspec.structs.replace(kpi, **changed, version=kpi.version + 1, updated_at=now)
    _check(after)
    return after, [camel(name) for name in changed]


def check_section_52(contract: Contract, kpis: int) -> None:
    """Procurement Act 2023 s.52: before a contract worth more than £5,000,000 is entered
    into, at least three KPIs are set, unless a reason is recorded why none apply. A value
    not known (or not in GBP) is not known to pass the threshold."""
    value = contract.current_value
    if value is None or value.currency != "GBP" or value.amount <= SECTION_52_VALUE:
        return
    if contract.kpi_exemption is not None or kpis >= SECTION_52_KPIS:
        return
    raise RuleBroken(
        f"Procurement Act 2023 s.52: a contract worth more than £{number(SECTION_52_VALUE)} is "
        f"signed only with at least {SECTION_52_KPIS} KPIs; this one (£{number(value.amount)}) "
        f"has {kpis}: define {SECTION_52_KPIS - kpis} more (POST /v1/contracts/{contract.id}"
        "/kpis) or record why KPIs do not apply (kpiExemption)",
        "kpis",
    )


def _target_fields(target: Target | None) -> dict[str, str | None]:
    if target is None:
        return {"target_value": None, "target_min": None, "target_max": None}
    if isinstance(target, Exact):
        return {"target_value": str(target.value), "target_min": None, "target_max": None}
    return {"target_value": None, "target_min": str(target.min), "target_max": str(target.max)}


def kpi_data(kpi: Kpi, provider_ids: Sequence[str], *, changed: Sequence[str] = ()) -> KpiData:
    return KpiData(
        kpi_id=kpi.id,
        contract_id=kpi.contract_id,
        provider_ids=list(provider_ids),
        name=kpi.name,
        unit=kpi.unit,
        direction=kpi.direction,
        lot_id=kpi.lot_id,
        dimension=kpi.dimension.name if kpi.dimension else None,
        dimension_values=list(kpi.dimension.values) if kpi.dimension else [],
        combine=kpi.combine,
        frequency=kpi.frequency,
        changed=list(changed),
        **_target_fields(kpi.target),
    )


def rating_data(kpi: Kpi, previous: Rating, provider_ids: Sequence[str]) -> KpiRatingChanged:
    r = kpi.rating
    assert r.period_end is not None  # a rating moves only once something was observed
    return KpiRatingChanged(
        kpi_id=kpi.id,
        contract_id=kpi.contract_id,
        provider_ids=list(provider_ids),
        name=kpi.name,
        rating=r.rating,
        previous_rating=previous,
        period_end=r.period_end,
        rated_at=kpi.rated_at,
        period_start=r.period_start,
        value=None if r.value is None else str(r.value),
        explanation=r.explanation,
    )
