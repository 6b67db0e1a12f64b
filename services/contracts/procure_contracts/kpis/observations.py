"""Observations of KPIs and the ratings made of them.

An observation is a figure for a period (within the contract's dates, on a signed contract),
for one of the KPI's dimension values when it has a dimension. A period's figure combines the
latest observation of each dimension value (a later one of the same period and value corrects
the earlier); the KPI's current rating is its latest period's (latest end, then latest start).
A contract performance assessment (s.71) rates each KPI by the latest period ending within the
assessment's dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import msgspec

from procure_contracts.contracts.rules import CONTRACT_MOVES, Contract, ContractStatus
from procure_contracts.domain.changes import a, refused
from procure_contracts.kpis.ratings import LABELS, combine, rate
from procure_contracts.kpis.rules import DimensionFigure, Kpi, Observation, Rated, unrated
from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import KpiObserved

__all__ = [
    "SIGNED",
    "ObservationDraft",
    "assessed",
    "latest_period",
    "observe",
    "observed",
    "observed_data",
    "rated",
    "refreshed",
    "with_rating",
]

# Performance is observed once a contract is signed, also after it ended (reports follow).
SIGNED = (ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.TERMINATED)


class ObservationDraft(msgspec.Struct, frozen=True, kw_only=True):
    period_start: date
    period_end: date
    value: Decimal | None = None
    dimension_value: str | None = None
    source: str | None = None
    note: str | None = None


def _check_period(contract: Contract, d: ObservationDraft, today: date) -> None:
    if d.period_end < d.period_start:
        raise RuleBroken(
            f"periodEnd ({d.period_end}) is before periodStart ({d.period_start})", "periodEnd"
        )
    if d.period_start > today:
        raise RuleBroken(f"periodStart ({d.period_start}) is in the future", "periodStart")
    if contract.starts_on is not None and d.period_start < contract.starts_on:
        raise RuleBroken(
            f"periodStart ({d.period_start}) is before the contract starts ({contract.starts_on})",
            "periodStart",
        )
    if contract.ends_on is not None and d.period_end > contract.ends_on:
        raise RuleBroken(
            f"periodEnd ({d.period_end}) is after the contract ends ({contract.ends_on})",
            "periodEnd",
        )


def _check_figure(kpi: Kpi, d: ObservationDraft) -> tuple[str | None, str | None]:
    note = d.note.strip() or None if d.note is not None else None
    if kpi.target is None:
        if d.value is not None:
            raise RuleBroken("a qualitative KPI is observed with a note, not a value", "value")
        if note is None:
            raise RuleBroken("say what was observed (note)", "note")
    elif d.value is None:
        raise RuleBroken(f"a figure in {kpi.unit or 'the KPI unit'} is needed", "value")
    dimension = kpi.dimension
    value = d.dimension_value
    if dimension is None:
        if value is not None:
            raise RuleBroken(f"KPI {kpi.name!r} has no dimension", "dimensionValue")
    elif value is None:
        raise RuleBroken(
            f"name the {dimension.name} (one of: {', '.join(dimension.values)})", "dimensionValue"
        )
    elif value not in dimension.values:
        raise RuleBroken(
            f"{value!r} is not {a(dimension.name)} of KPI {kpi.name!r} "
            f"(one of: {', '.join(dimension.values)})",
            "dimensionValue",
        )
    return value, note


def observe(
    kpi: Kpi, contract: Contract, d: ObservationDraft, *, id: str, by: str, now: datetime
) -> Observation:
    if contract.status not in SIGNED:
        raise refused(
            f"performance is observed on a signed contract; this one is {contract.status}",
            contract.status,
            CONTRACT_MOVES,
        )
    _check_period(contract, d, now.date())
    dimension_value, note = _check_figure(kpi, d)
    return Observation(
        id=id,
        buyer_id=kpi.buyer_id,
        kpi_id=kpi.id,
        contract_id=kpi.contract_id,
        number=kpi.observation_count + 1,
        period_start=d.period_start,
        period_end=d.period_end,
        value=d.value,
        dimension_value=dimension_value,
        source=d.source.strip() or None if d.source is not None else None,
        note=note,
        recorded_by=by,
        recorded_at=now,
    )


def latest_period(observations: Sequence[Observation]) -> list[Observation]:
    """The observations of the latest period (latest end, then latest start)."""
    if not observations:
        return []
    last = max((o.period_end, o.period_start) for o in observations)
    return [o for o in observations if (o.period_end, o.period_start) == last]


def rated(kpi: Kpi, period: Sequence[Observation], *, none: str = "") -> Rated:
    """The rating of one period's observations (recorded in order): the latest of each
    dimension value counts. ``none`` says why there are none."""
    if not period:
        return unrated(kpi.target, none) if none else unrated(kpi.target)
    start, end = period[0].period_start, period[0].period_end
    if kpi.target is None:
        return msgspec.structs.replace(unrated(None), period_start=start, period_end=end)
    latest = {o.dimension_value: o for o in period}
    values = [o.value for o in latest.values() if o.value is not None]
    figures: list[DimensionFigure] = []
    if kpi.dimension is not None:
        figures = [
            DimensionFigure(dimension_value=v, value=latest[v].value if v in latest else None)
            for v in kpi.dimension.values
        ]
    if not values:
        return Rated(
            rating="other",
            label=LABELS["other"],
            explanation="the period's observations carry no figure: Other",
            period_start=start,
            period_end=end,
            by_dimension=figures,
        )
    value = combine(values, kpi.combine)
    judged = rate(value, kpi.target, kpi.direction, kpi.thresholds, kpi.unit)
    explanation = judged.explanation
    if kpi.dimension is not None and len(values) < len(kpi.dimension.values):
        explanation += (
            f" ({kpi.combine} of {len(values)} of the {len(kpi.dimension.values)} "
            f"{kpi.dimension.name} values)"
        )
    return Rated(
        rating=judged.rating,
        label=LABELS[judged.rating],
        explanation=explanation,
        value=value,
        period_start=start,
        period_end=end,
        by_dimension=figures,
    )


def assessed(kpi: Kpi, observations: Sequence[Observation], start: date, end: date) -> Rated:
    """The rating for an assessment of ``start`` to ``end``: the latest period ending within
    those dates."""
    within = [o for o in observations if start <= o.period_end <= end]
    return rated(
        kpi, latest_period(within), none=f"no observation of a period ending {start} to {end}"
    )


def observed(kpi: Kpi, observation: Observation, *, now: datetime) -> Kpi:
    """The KPI once ``observation`` is recorded: a new version."""
    return msgspec.structs.replace(
        kpi,
        observation_count=kpi.observation_count + 1,
        last_observation=observation,
        version=kpi.version + 1,
        updated_at=now,
    )


def refreshed(kpi: Kpi, figure: Rated, *, now: datetime) -> Kpi:
    """The KPI with its current figure and explanation refreshed while its rating (the word)
    stays (in the version being made); a new rating is a version of its own."""
    if figure.rating != kpi.rating.rating or figure == kpi.rating:
        return kpi
    return msgspec.structs.replace(kpi, rating=figure, rated_at=now)


def with_rating(kpi: Kpi, figure: Rated, *, now: datetime) -> Kpi:
    """The KPI with a new rating, as a new version; as it is if the rating stays."""
    if figure.rating == kpi.rating.rating:
        return kpi
    return msgspec.structs.replace(
        kpi, rating=figure, rated_at=now, version=kpi.version + 1, updated_at=now
    )


def observed_data(o: Observation, kpi: Kpi, provider_ids: Sequence[str]) -> KpiObserved:
    return KpiObserved(
        kpi_id=kpi.id,
        contract_id=kpi.contract_id,
        provider_ids=list(provider_ids),
        name=kpi.name,
        observation_id=o.id,
        period_start=o.period_start,
        period_end=o.period_end,
        value=None if o.value is None else str(o.value),
        unit=kpi.unit,
        dimension_value=o.dimension_value,
        source=o.source,
        note=o.note,
    )
