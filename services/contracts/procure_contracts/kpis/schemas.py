"""What the KPI endpoints take (unknown fields are a 400) and the lists they give. Figures,
targets and threshold percentages are decimal strings, never floats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.api.schemas import ANY_TEXT, SINGLE_LINE, Id, Text, Title, Unit
from procure_contracts.kpis import rules as k
from procure_contracts.kpis.observations import ObservationDraft
from procure_contracts.kpis.ratings import Combine, Direction, Exact, Range, Target, Thresholds
from procure_contracts.kpis.rules import Frequency, Kpi, Observation

__all__ = ["KpiIn", "KpiList", "KpiPatch", "ObservationIn", "ObservationPage"]

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
Figure = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$",
        description="A decimal string (never a float).",
        examples=["165230"],
    ),
]
Positive = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$",
        description="A decimal string, zero or more.",
        examples=["524000"],
    ),
]
Percent = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,4}(\.[0-9]{1,2})?$",
        description="A percentage of the target, as a decimal string.",
        examples=["90"],
    ),
]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=SINGLE_LINE)]
Note = Annotated[str, msgspec.Meta(max_length=2000, pattern=ANY_TEXT)]


class _In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class ExactIn(_In, frozen=True, kw_only=True, tag="value", tag_field="kind"):
    value: Positive


class RangeIn(_In, frozen=True, kw_only=True, tag="range", tag_field="kind"):
    min: Positive
    max: Positive


class ThresholdsIn(_In, frozen=True, kw_only=True):
    """Where each rating starts, as percentages of the target: at or above them when higher
    is better (default 100, 90, 70), at or below them when lower is better (100, 110, 130)."""

    good: Percent
    approaching_target: Percent
    requires_improvement: Percent

    def thresholds(self) -> Thresholds:
        return Thresholds(
            good=Decimal(self.good),
            approaching_target=Decimal(self.approaching_target),
            requires_improvement=Decimal(self.requires_improvement),
        )


class DimensionIn(_In, frozen=True, kw_only=True):
    name: Label  # e.g. "area"
    values: Annotated[list[Label], msgspec.Meta(min_length=1, max_length=200)]

    def dimension(self) -> k.Dimension:
        return k.Dimension(name=self.name, values=list(self.values))


def _target(value: ExactIn | RangeIn | None) -> Target | None:
    if value is None:
        return None
    if isinstance(value, ExactIn):
        return Exact(value=Decimal(value.value))
    return Range(min=Decimal(value.min), max=Decimal(value.max))


def _set(value: object, convert: object) -> object:
    if value is UNSET or value is None:
        return value
    return convert(value) if callable(convert) else value


class KpiIn(_In, frozen=True, kw_only=True):
    """A KPI of the contract (optionally of one of its lots). No target: a qualitative KPI
    (rated Other)."""

    name: Title
    direction: Direction = Direction.HIGHER_IS_BETTER
    target: ExactIn | RangeIn | None = None
    unit: Unit | None = None
    description: Text | None = None
    lot_id: Id | None = None
    thresholds: ThresholdsIn | None = None
    dimension: DimensionIn | None = None
    combine: Combine = Combine.SUM
    frequency: Frequency | None = None

    def draft(self) -> k.KpiDraft:
        return k.KpiDraft(
            name=self.name,
            direction=self.direction,
            target=_target(self.target),
            unit=self.unit,
            description=self.description,
            lot_id=self.lot_id,
            thresholds=self.thresholds.thresholds() if self.thresholds else None,
            dimension=self.dimension.dimension() if self.dimension else None,
            combine=self.combine,
            frequency=self.frequency,
        )


class KpiPatch(_In, frozen=True, kw_only=True):
    name: Title | Unset = UNSET
    description: Text | Unset | None = UNSET
    unit: Unit | Unset | None = UNSET
    direction: Direction | Unset = UNSET
    target: ExactIn | RangeIn | Unset | None = UNSET
    thresholds: ThresholdsIn | Unset = UNSET
    dimension: DimensionIn | Unset | None = UNSET
    combine: Combine | Unset = UNSET
    frequency: Frequency | Unset | None = UNSET

    def changes(self) -> k.KpiChanges:
        return k.KpiChanges(
            name=self.name,
            description=self.description,
            unit=self.unit,
            direction=self.direction,
            target=_set(self.target, _target),  # type: ignore[arg-type]
            thresholds=_set(self.thresholds, ThresholdsIn.thresholds),  # type: ignore[arg-type]
            dimension=_set(self.dimension, DimensionIn.dimension),  # type: ignore[arg-type]
            combine=self.combine,
            frequency=self.frequency,
        )


class ObservationIn(_In, frozen=True, kw_only=True):
    """A figure for a period (a note, for a qualitative KPI), for one of the KPI's dimension
    values when it has a dimension."""

    period_start: date
    period_end: date
    value: Figure | None = None
    dimension_value: Label | None = None
    source: Note | None = None  # where the figure comes from
    note: Note | None = None

    def draft(self) -> ObservationDraft:
        return ObservationDraft(
            period_start=self.period_start,
            period_end=self.period_end,
            value=None if self.value is None else Decimal(self.value),
            dimension_value=self.dimension_value,
            source=self.source,
            note=self.note,
        )


class KpiList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Kpi]


class ObservationPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: list[Observation]
    next_cursor: str | None
