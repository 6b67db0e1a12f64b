"""The events the contracts service publishes (``contracts.*``, stream ``CONTRACTS``) that other
services consume. The contracts service registers the rest of its types as they land.

Events about a contract, its milestones and KPIs name the contract's providers, so that a
consumer can attribute them without waiting for another aggregate's events.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

__all__ = [
    "RATINGS",
    "AwardCancelled",
    "AwardImported",
    "AwardMade",
    "ContractClosed",
    "ContractData",
    "ContractImported",
    "ImportedFrom",
    "KpiData",
    "KpiObserved",
    "KpiRatingChanged",
    "LotData",
    "LotImported",
    "MilestoneData",
    "MilestoneDue",
    "MilestoneImported",
    "MilestoneSettled",
    "Money",
    "Rating",
    "TenderData",
    "TenderImported",
]

# The contract performance assessment ratings of the Procurement Act 2023 (s.71).
Rating = Literal["good", "approaching_target", "requires_improvement", "inadequate", "other"]
RATINGS: tuple[Rating, ...] = (
    "good",
    "approaching_target",
    "requires_improvement",
    "inadequate",
    "other",
)


class _Data(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class Money(_Data, frozen=True, kw_only=True):
    amount: str  # a decimal string, never a float
    currency: str = "GBP"


class TenderData(_Data, frozen=True, kw_only=True):
    """``contracts.tender.*``: the tender as it now stands."""

    tender_id: str
    title: str
    status: str
    value: Money | None = None
    lot_ids: list[str] = []
    enquiry_deadline: datetime | None = None
    submission_deadline: datetime | None = None
    reason: str | None = None
    changed: list[str] = []  # the fields an update changed


class LotData(_Data, frozen=True, kw_only=True):
    """``contracts.lot.*``: the lot as it now stands."""

    lot_id: str
    tender_id: str
    title: str
    category: str
    status: str
    value: Money | None = None
    award_ids: list[str] = []
    reason: str | None = None
    changed: list[str] = []


class AwardMade(_Data, frozen=True, kw_only=True):
    """``contracts.award.made``: one per provider awarded a lot."""

    award_id: str
    tender_id: str
    lot_id: str
    provider_id: str
    category: str
    value: Money | None = None
    date: datetime
    standstill_ends: datetime | None = None


class AwardCancelled(_Data, frozen=True, kw_only=True):
    award_id: str
    tender_id: str
    lot_id: str
    provider_id: str
    reason: str | None = None


class ContractData(_Data, frozen=True, kw_only=True):
    """``contracts.contract.created|signed|amended|option_exercised``: the contract as it now
    stands (``value`` is its current value, amendments and options included)."""

    contract_id: str
    award_ids: list[str]
    provider_ids: list[str]
    title: str
    status: str
    value: Money | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    lot_ids: list[str] = []
    original_value: Money | None = None
    # The net cumulative value of the amendments has passed the configured share of the
    # original value (options exercised do not count).
    threshold_exceeded: bool = False
    amendment_id: str | None = None  # on ``amended``: the amendment that made this change
    option_id: str | None = None  # on ``option_added|option_exercised``
    changed: list[str] = []
    # Why the contract has no KPIs although worth more than £5m (Procurement Act 2023 s.52).
    kpi_exemption: str | None = None


class ContractClosed(_Data, frozen=True, kw_only=True):
    """``contracts.contract.completed|terminated|cancelled``."""

    contract_id: str
    provider_ids: list[str]
    status: str
    on: date
    reason: str | None = None


class MilestoneData(_Data, frozen=True, kw_only=True):
    """``contracts.milestone.scheduled|updated``: the milestone as it now stands. ``kind`` is
    delivery, reporting or payment; ``amount`` is set on payment milestones."""

    milestone_id: str
    contract_id: str
    provider_ids: list[str]
    kind: str
    title: str
    status: str
    due_on: date
    lot_id: str | None = None
    planned_quantity: int | None = None
    quantity_unit: str | None = None
    amount: Money | None = None
    changed: list[str] = []  # the fields an update changed


class MilestoneSettled(_Data, frozen=True, kw_only=True):
    """``contracts.milestone.met|not_met|waived``. ``met_on`` is set when met (also partly:
    ``status`` is then ``partially_met``, on a ``met`` event)."""

    milestone_id: str
    contract_id: str
    provider_ids: list[str]
    title: str
    status: str
    due_on: date
    met_on: date | None = None
    kind: str | None = None
    lot_id: str | None = None
    achieved_quantity: int | None = None
    reason: str | None = None  # why it was waived or not met
    # On a payment milestone: the OCDS implementation transaction this settlement made.
    transaction_id: str | None = None
    paid: Money | None = None


class MilestoneDue(_Data, frozen=True, kw_only=True):
    """``contracts.milestone.due_soon|overdue``: a scheduled milestone falls due within the lead
    days (``days`` until it is due, 0 on the day) or is past its due date (``days`` late), as
    the service's clock saw it on ``as_of``. Sent once per milestone, notice and due date."""

    milestone_id: str
    contract_id: str
    provider_ids: list[str]
    kind: str
    title: str
    due_on: date
    as_of: date
    days: int
    lot_id: str | None = None
    planned_quantity: int | None = None
    quantity_unit: str | None = None
    amount: Money | None = None


class KpiData(_Data, frozen=True, kw_only=True):
    """``contracts.kpi.defined|updated``: the KPI's definition as it now stands. The target is
    ``target_value``, or ``target_min`` to ``target_max`` (decimal strings), or neither for a
    qualitative KPI."""

    kpi_id: str
    contract_id: str
    provider_ids: list[str]
    name: str
    direction: str  # higher_is_better or lower_is_better
    unit: str | None = None
    target_value: str | None = None
    target_min: str | None = None
    target_max: str | None = None
    lot_id: str | None = None
    dimension: str | None = None  # e.g. "area"
    dimension_values: list[str] = []
    combine: str = "sum"  # how one period's observations combine: sum or mean
    frequency: str | None = None
    changed: list[str] = []  # the fields an update changed


class KpiObserved(_Data, frozen=True, kw_only=True):
    """``contracts.kpi.observed``: a figure (or, for a qualitative KPI, a note) recorded for a
    period; ``contracts.kpi.rating_changed`` follows when it changed the KPI's rating."""

    kpi_id: str
    contract_id: str
    provider_ids: list[str]
    name: str
    observation_id: str
    period_start: date
    period_end: date
    value: str | None = None  # a decimal string
    unit: str | None = None
    dimension_value: str | None = None
    source: str | None = None
    note: str | None = None


class KpiRatingChanged(_Data, frozen=True, kw_only=True):
    """``contracts.kpi.rating_changed``: a KPI's rating for the period ending ``period_end``
    (its latest), with the figure rated and the explanation."""

    kpi_id: str
    contract_id: str
    provider_ids: list[str]
    name: str
    rating: Rating
    previous_rating: Rating | None = None
    period_end: date
    rated_at: datetime
    period_start: date | None = None
    value: str | None = None  # the period's figure, a decimal string
    explanation: str | None = None


class ImportedFrom(_Data, frozen=True, kw_only=True):
    """Where an imported aggregate came from: the import's source, the OCDS process and the
    publisher's id of the object in it."""

    source: str
    ocid: str
    ocds_id: str | None = None


class TenderImported(TenderData, frozen=True, kw_only=True):
    """``contracts.tender.imported``: a tender as an OCDS import made or changed it."""

    imported: ImportedFrom


class LotImported(LotData, frozen=True, kw_only=True):
    """``contracts.lot.imported``."""

    imported: ImportedFrom


class AwardImported(AwardMade, frozen=True, kw_only=True):
    """``contracts.award.imported``: an award as its publisher gave it (eligibility was not
    checked); ``status`` is pending, active or cancelled (with ``reason``)."""

    status: str
    reason: str | None = None
    provider_name: str | None = None
    imported: ImportedFrom


class ContractImported(ContractData, frozen=True, kw_only=True):
    """``contracts.contract.imported``."""

    imported: ImportedFrom


class MilestoneImported(MilestoneData, frozen=True, kw_only=True):
    """``contracts.milestone.imported``: ``met_on`` is set when it was met (also partly)."""

    met_on: date | None = None
    imported: ImportedFrom
