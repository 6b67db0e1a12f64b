"""A provider's track record, built from the contracts service's events."""

from __future__ import annotations

from datetime import date

import msgspec

__all__ = ["ContractHeld", "LatestRating", "MilestoneTally", "Portfolio", "ValueTotal"]


class LatestRating(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    kpi_id: str
    name: str
    contract_id: str
    rating: str
    period_end: date


class ValueTotal(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    amount: str
    currency: str


class ContractHeld(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    contract_id: str
    title: str
    status: str
    value: ValueTotal | None
    starts_on: date | None
    ends_on: date | None


class MilestoneTally(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    met_on_time: int
    met_late: int
    not_met: int
    waived: int


class Portfolio(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    provider_id: str
    awards_won: int
    awards_cancelled: int
    contracts_held: int
    contracts_completed: int
    contracts_terminated: int
    current_value: list[ValueTotal]  # per currency, contracts held only
    contracts: list[ContractHeld]
    milestones: MilestoneTally
    latest_ratings: list[LatestRating]  # the latest rating of each KPI, newest first
