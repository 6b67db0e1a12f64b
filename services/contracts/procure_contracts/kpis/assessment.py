"""A contract performance assessment (Procurement Act 2023 s.71): for a period, each KPI of
the contract with its target, the figure of its latest period ending within the assessment's
dates (and per dimension value), its rating and the explanation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import msgspec

from procure_contracts.contracts.rules import Contract
from procure_contracts.domain.money import Money
from procure_contracts.kpis.observations import assessed
from procure_contracts.kpis.ratings import Combine, Direction, Target, target_text
from procure_contracts.kpis.rules import DimensionFigure, Kpi, Observation
from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import Rating

__all__ = ["AssessedParty", "Assessment", "KpiAssessment", "assess", "check_dates"]


class AssessedParty(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None


class KpiAssessment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    kpi_id: str
    name: str
    lot_id: str | None
    unit: str | None
    direction: Direction
    target: Target | None
    target_text: str | None  # "524,000", "500 to 1,000"
    combine: Combine
    dimension: str | None
    rating: Rating
    label: str  # the statutory word
    explanation: str
    value: Decimal | None  # the period's figure (its observations combined)
    period_start: date | None  # of the period rated
    period_end: date | None
    by_dimension: list[DimensionFigure]


class Assessment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    contract_id: str
    title: str
    status: str
    value: Money | None  # the contract's current value
    buyer: AssessedParty
    suppliers: list[AssessedParty]
    start: date = msgspec.field(name="from")  # the assessment's dates (inclusive)
    end: date = msgspec.field(name="to")
    kpis: list[KpiAssessment]
    assessed_at: datetime


def check_dates(start: date, end: date) -> None:
    if end < start:
        raise RuleBroken(f"from ({start}) is after to ({end})", "from")


def assess(
    contract: Contract,
    kpis: Sequence[Kpi],
    observations: Sequence[Observation],
    *,
    names: Mapping[str, str],
    start: date,
    end: date,
    now: datetime,
) -> Assessment:
    """``observations``: the KPIs' observations (any), oldest recorded first; ``names``: the
    provider directory's names of the suppliers (else the names the contract holds)."""
    check_dates(start, end)
    by_kpi: dict[str, list[Observation]] = {k.id: [] for k in kpis}
    for o in observations:
        by_kpi.setdefault(o.kpi_id, []).append(o)
    rows = []
    for kpi in kpis:
        r = assessed(kpi, by_kpi[kpi.id], start, end)
        rows.append(
            KpiAssessment(
                kpi_id=kpi.id,
                name=kpi.name,
                lot_id=kpi.lot_id,
                unit=kpi.unit,
                direction=kpi.direction,
                target=kpi.target,
                target_text=None if kpi.target is None else target_text(kpi.target),
                combine=kpi.combine,
                dimension=kpi.dimension.name if kpi.dimension else None,
                rating=r.rating,
                label=r.label,
                explanation=r.explanation,
                value=r.value,
                period_start=r.period_start,
                period_end=r.period_end,
                by_dimension=r.by_dimension,
            )
        )
    return Assessment(
        contract_id=contract.id,
        title=contract.title,
        status=contract.status,
        value=contract.current_value,
        buyer=AssessedParty(id=contract.buyer_id, name=None),
        suppliers=[
            AssessedParty(id=s.id, name=names.get(s.id, s.name)) for s in contract.suppliers
        ],
        start=start,
        end=end,
        kpis=rows,
        assessed_at=now,
    )
