"""A provider's track record, built from the contracts service's events, as a buyer may see it.

Every row of the track record belongs to the buyer of the event that wrote it. A reader sees
its own buyer's business with the provider in full (contracts, their titles and values, KPI
names and ratings) and the other buyers' only as anonymous totals: how many awards and
contracts, their value per currency, milestones and the latest ratings counted, no ids, titles,
KPI names or buyers. Rows of no known buyer (written before buyers were recorded) count as
another buyer's. An admin sees everything in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

import msgspec

from procure_providers.domain.buyers import Who

__all__ = [
    "HELD",
    "AwardTally",
    "BuyerMilestones",
    "ContractHeld",
    "LatestRating",
    "MilestoneTally",
    "OtherBuyers",
    "Portfolio",
    "RatingCounts",
    "TrackRecord",
    "TrackedContract",
    "ValueTotal",
    "as_seen",
]

# The statuses of a contract the provider holds (its value counts in the current value).
HELD = ("pending", "active")


class LatestRating(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    kpi_id: str
    name: str
    contract_id: str
    rating: str
    period_end: date
    buyer_id: str | None = None  # the buyer of the contract (None: not known)


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
    buyer_id: str | None = None  # the buyer of the contract (None: not known)


class MilestoneTally(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    met_on_time: int = 0
    met_late: int = 0
    not_met: int = 0
    waived: int = 0

    def __add__(self, other: MilestoneTally) -> MilestoneTally:
        return MilestoneTally(
            met_on_time=self.met_on_time + other.met_on_time,
            met_late=self.met_late + other.met_late,
            not_met=self.not_met + other.not_met,
            waived=self.waived + other.waived,
        )


class RatingCounts(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """How many KPIs have each latest rating."""

    good: int = 0
    approaching_target: int = 0
    requires_improvement: int = 0
    inadequate: int = 0
    other: int = 0


class OtherBuyers(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The other buyers' business with the provider, as anonymous totals."""

    awards_won: int = 0
    awards_cancelled: int = 0
    contracts_held: int = 0
    contracts_completed: int = 0
    contracts_terminated: int = 0
    current_value: list[ValueTotal] = []  # per currency, contracts held only
    milestones: MilestoneTally = MilestoneTally()
    latest_ratings: RatingCounts = RatingCounts()  # the latest rating of each KPI, counted


class Portfolio(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    provider_id: str
    # Whose business the fields from awardsWon to latestRatings show in full: the reader's
    # buyer, or None for every buyer's (an admin's view, whose otherBuyers is all zero).
    buyer_id: str | None
    awards_won: int
    awards_cancelled: int
    contracts_held: int
    contracts_completed: int
    contracts_terminated: int
    current_value: list[ValueTotal]  # per currency, contracts held only
    contracts: list[ContractHeld]
    milestones: MilestoneTally
    latest_ratings: list[LatestRating]  # the latest rating of each KPI, newest first
    other_buyers: OtherBuyers


class AwardTally(msgspec.Struct, frozen=True, kw_only=True):
    """A buyer's awards to the provider, counted."""

    buyer_id: str | None
    won: int
    cancelled: int


class BuyerMilestones(msgspec.Struct, frozen=True, kw_only=True):
    buyer_id: str | None
    tally: MilestoneTally


class TrackedContract(msgspec.Struct, frozen=True, kw_only=True):
    """A contract as shown, and its exact value (what totals add up)."""

    held: ContractHeld
    amount: Decimal | None


class TrackRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the track record holds of one provider, every buyer's."""

    provider_id: str
    awards: Sequence[AwardTally] = ()
    contracts: Sequence[TrackedContract] = ()  # in the order to show them
    milestones: Sequence[BuyerMilestones] = ()
    ratings: Sequence[LatestRating] = ()  # newest first


def _current_value(contracts: Iterable[TrackedContract]) -> list[ValueTotal]:
    totals: dict[str, Decimal] = {}
    for c in contracts:
        if c.held.status in HELD and c.held.value is not None and c.amount is not None:
            currency = c.held.value.currency
            totals[currency] = totals.get(currency, Decimal(0)) + c.amount
    return [
        ValueTotal(amount=f"{amount:.2f}", currency=currency)
        for currency, amount in sorted(totals.items())
    ]


def _count(contracts: Sequence[TrackedContract], *statuses: str) -> int:
    return sum(1 for c in contracts if c.held.status in statuses)


def _ratings(ratings: Iterable[LatestRating]) -> RatingCounts:
    counts = dict.fromkeys(RatingCounts.__struct_fields__, 0)
    for r in ratings:
        counts[r.rating if r.rating in counts else "other"] += 1
    return RatingCounts(**counts)


def _milestones(tallies: Iterable[BuyerMilestones]) -> MilestoneTally:
    total = MilestoneTally()
    for t in tallies:
        total += t.tally
    return total


def as_seen(record: TrackRecord, who: Who) -> Portfolio:
    """The provider's portfolio as ``who`` may see it."""
    awards = [a for a in record.awards if who.owns(a.buyer_id)]
    contracts = [c for c in record.contracts if who.owns(c.held.buyer_id)]
    ratings = [r for r in record.ratings if who.owns(r.buyer_id)]
    theirs = [c for c in record.contracts if not who.owns(c.held.buyer_id)]
    their_awards = [a for a in record.awards if not who.owns(a.buyer_id)]
    return Portfolio(
        provider_id=record.provider_id,
        buyer_id=None if who.admin else who.buyer,
        awards_won=sum(a.won for a in awards),
        awards_cancelled=sum(a.cancelled for a in awards),
        contracts_held=_count(contracts, *HELD),
        contracts_completed=_count(contracts, "completed"),
        contracts_terminated=_count(contracts, "terminated"),
        current_value=_current_value(contracts),
        contracts=[c.held for c in contracts],
        milestones=_milestones(m for m in record.milestones if who.owns(m.buyer_id)),
        latest_ratings=ratings,
        other_buyers=OtherBuyers(
            awards_won=sum(a.won for a in their_awards),
            awards_cancelled=sum(a.cancelled for a in their_awards),
            contracts_held=_count(theirs, *HELD),
            contracts_completed=_count(theirs, "completed"),
            contracts_terminated=_count(theirs, "terminated"),
            current_value=_current_value(theirs),
            milestones=_milestones(m for m in record.milestones if not who.owns(m.buyer_id)),
            latest_ratings=_ratings(r for r in record.ratings if not who.owns(r.buyer_id)),
        ),
    )
