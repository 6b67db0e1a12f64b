"""The catalogue of every event type Procure publishes, with its data Struct (``interfaces.md``
names). Producers refer to the specs below, never to a type name typed out by hand."""

from __future__ import annotations

from procure_shared.events import contracts as c
from procure_shared.events import identity as i
from procure_shared.events import notifications as n
from procure_shared.events import providers as p
from procure_shared.events.catalogue import Catalogue

__all__ = [
    "ACCREDITATION_EXPIRED",
    "ACCREDITATION_EXPIRING",
    "ACCREDITATION_GRANTED",
    "ACCREDITATION_REVOKED",
    "ACCREDITATION_UPDATED",
    "AWARD_CANCELLED",
    "AWARD_IMPORTED",
    "AWARD_MADE",
    "CATALOGUE",
    "CONTRACT_AMENDED",
    "CONTRACT_CANCELLED",
    "CONTRACT_COMPLETED",
    "CONTRACT_CREATED",
    "CONTRACT_IMPORTED",
    "CONTRACT_OPTION_ADDED",
    "CONTRACT_OPTION_EXERCISED",
    "CONTRACT_SIGNED",
    "CONTRACT_TERMINATED",
    "CONTRACT_UPDATED",
    "DELIVERY_FAILED",
    "EXCLUSION_LIFTED",
    "EXCLUSION_RECORDED",
    "KPI_DEFINED",
    "KPI_OBSERVED",
    "KPI_RATING_CHANGED",
    "KPI_UPDATED",
    "LOT_ADDED",
    "LOT_AWARDED",
    "LOT_CANCELLED",
    "LOT_IMPORTED",
    "LOT_REOPENED",
    "LOT_UNSUCCESSFUL",
    "LOT_UPDATED",
    "MILESTONE_DUE_SOON",
    "MILESTONE_IMPORTED",
    "MILESTONE_MET",
    "MILESTONE_NOT_MET",
    "MILESTONE_OVERDUE",
    "MILESTONE_SCHEDULED",
    "MILESTONE_UPDATED",
    "MILESTONE_WAIVED",
    "PROVIDER_REGISTERED",
    "PROVIDER_UPDATED",
    "SUBJECT_REVOKED",
    "TENDER_CANCELLED",
    "TENDER_CLOSED",
    "TENDER_COMPLETED",
    "TENDER_DRAFTED",
    "TENDER_IMPORTED",
    "TENDER_PUBLISHED",
    "TENDER_UNSUCCESSFUL",
    "TENDER_UPDATED",
    "TOKEN_REVOKED",
]

CATALOGUE = Catalogue()
_register = CATALOGUE.register

PROVIDER_REGISTERED = _register(
    "providers.provider.registered", p.ProviderData, "A provider joined the registry."
)
PROVIDER_UPDATED = _register(
    "providers.provider.updated",
    p.ProviderData,
    "A provider's details or status changed (`changed` names the fields).",
)
ACCREDITATION_GRANTED = _register(
    "providers.accreditation.granted", p.AccreditationData, "A provider was accredited."
)
ACCREDITATION_UPDATED = _register(
    "providers.accreditation.updated",
    p.AccreditationData,
    "An accreditation's dates or evidence changed (a renewal moves `validTo`).",
)
ACCREDITATION_EXPIRING = _register(
    "providers.accreditation.expiring",
    p.AccreditationDue,
    "An accreditation expires within the configured notice period (once per validity).",
)
ACCREDITATION_EXPIRED = _register(
    "providers.accreditation.expired",
    p.AccreditationDue,
    "An accreditation's validity ended (once per validity).",
)
ACCREDITATION_REVOKED = _register(
    "providers.accreditation.revoked",
    p.AccreditationRevoked,
    "An accreditation was withdrawn before its end.",
)
EXCLUSION_RECORDED = _register(
    "providers.exclusion.recorded",
    p.ExclusionData,
    "A provider was excluded (debarred) for a period.",
)
EXCLUSION_LIFTED = _register(
    "providers.exclusion.lifted", p.ExclusionLifted, "An exclusion was lifted."
)

TENDER_DRAFTED = _register(
    "contracts.tender.drafted", c.TenderData, "A tender was drafted (not yet public)."
)
TENDER_UPDATED = _register(
    "contracts.tender.updated", c.TenderData, "A draft tender's details changed."
)
TENDER_PUBLISHED = _register(
    "contracts.tender.published", c.TenderData, "A tender was published: its tender period is open."
)
TENDER_CLOSED = _register(
    "contracts.tender.closed", c.TenderData, "A tender closed for bids: evaluation begins."
)
TENDER_COMPLETED = _register(
    "contracts.tender.completed",
    c.TenderData,
    "A tender is complete: every lot is awarded, cancelled or unsuccessful.",
)
TENDER_CANCELLED = _register(
    "contracts.tender.cancelled", c.TenderData, "A tender was cancelled, with the reason."
)
TENDER_UNSUCCESSFUL = _register(
    "contracts.tender.unsuccessful",
    c.TenderData,
    "A tender ended without award, with the reason.",
)
LOT_ADDED = _register("contracts.lot.added", c.LotData, "A lot was added to a tender.")
LOT_UPDATED = _register("contracts.lot.updated", c.LotData, "A lot's details changed.")
LOT_AWARDED = _register(
    "contracts.lot.awarded", c.LotData, "A lot was awarded (its first award was made)."
)
LOT_REOPENED = _register(
    "contracts.lot.reopened", c.LotData, "A lot's last award was cancelled: it is open again."
)
LOT_CANCELLED = _register("contracts.lot.cancelled", c.LotData, "A lot was cancelled.")
LOT_UNSUCCESSFUL = _register(
    "contracts.lot.unsuccessful", c.LotData, "A lot ended without an award."
)
AWARD_MADE = _register(
    "contracts.award.made", c.AwardMade, "A lot was awarded to a provider (one per provider)."
)
AWARD_CANCELLED = _register(
    "contracts.award.cancelled", c.AwardCancelled, "An award was cancelled."
)
CONTRACT_CREATED = _register(
    "contracts.contract.created", c.ContractData, "A contract was created from awards."
)
CONTRACT_UPDATED = _register(
    "contracts.contract.updated", c.ContractData, "A contract's details changed."
)
CONTRACT_OPTION_ADDED = _register(
    "contracts.contract.option_added", c.ContractData, "An option was added to a contract."
)
CONTRACT_CANCELLED = _register(
    "contracts.contract.cancelled", c.ContractClosed, "A contract was cancelled before signing."
)
CONTRACT_SIGNED = _register("contracts.contract.signed", c.ContractData, "A contract was signed.")
CONTRACT_AMENDED = _register(
    "contracts.contract.amended", c.ContractData, "A contract was amended (varied)."
)
CONTRACT_OPTION_EXERCISED = _register(
    "contracts.contract.option_exercised", c.ContractData, "An option of a contract was exercised."
)
CONTRACT_COMPLETED = _register(
    "contracts.contract.completed", c.ContractClosed, "A contract was completed."
)
CONTRACT_TERMINATED = _register(
    "contracts.contract.terminated", c.ContractClosed, "A contract was terminated early."
)
MILESTONE_SCHEDULED = _register(
    "contracts.milestone.scheduled",
    c.MilestoneData,
    "A milestone (delivery, reporting or payment) was scheduled on a contract.",
)
MILESTONE_UPDATED = _register(
    "contracts.milestone.updated",
    c.MilestoneData,
    "A scheduled milestone's details changed (`changed` names the fields).",
)
MILESTONE_MET = _register(
    "contracts.milestone.met",
    c.MilestoneSettled,
    "A milestone was met (on time or late), or partly met (`status`: `partially_met`).",
)
MILESTONE_NOT_MET = _register(
    "contracts.milestone.not_met", c.MilestoneSettled, "A milestone was not met."
)
MILESTONE_WAIVED = _register(
    "contracts.milestone.waived", c.MilestoneSettled, "A milestone was waived."
)
MILESTONE_DUE_SOON = _register(
    "contracts.milestone.due_soon",
    c.MilestoneDue,
    "A scheduled milestone falls due within the lead days (`days` until it is due).",
)
MILESTONE_OVERDUE = _register(
    "contracts.milestone.overdue",
    c.MilestoneDue,
    "A scheduled milestone is past its due date and not settled (`days` late).",
)
KPI_DEFINED = _register(
    "contracts.kpi.defined",
    c.KpiData,
    "A KPI (target, direction, dimension) was defined on a contract (Procurement Act 2023 s.52).",
)
KPI_UPDATED = _register(
    "contracts.kpi.updated", c.KpiData, "A KPI's definition changed (`changed` names the fields)."
)
KPI_OBSERVED = _register(
    "contracts.kpi.observed",
    c.KpiObserved,
    "A KPI's figure for a period was recorded (`rating_changed` follows if its rating moved).",
)
KPI_RATING_CHANGED = _register(
    "contracts.kpi.rating_changed",
    c.KpiRatingChanged,
    "A KPI's performance rating changed (Good, Approaching target, Requires improvement, "
    "Inadequate, Other), with the previous one and the explanation.",
)
# OCDS imports (decision 15): an explicit, audited path beside the guarded transitions. Each
# aggregate an import made or changed has one of these (its sequence its version), carrying
# the status its publisher gave it and where it came from.
TENDER_IMPORTED = _register(
    "contracts.tender.imported",
    c.TenderImported,
    "An OCDS import made or changed a tender (its status as its publisher gave it).",
)
LOT_IMPORTED = _register(
    "contracts.lot.imported", c.LotImported, "An OCDS import made or changed a lot."
)
AWARD_IMPORTED = _register(
    "contracts.award.imported",
    c.AwardImported,
    "An OCDS import made or changed an award (one per supplier; eligibility not checked).",
)
CONTRACT_IMPORTED = _register(
    "contracts.contract.imported",
    c.ContractImported,
    "An OCDS import made or changed a contract (with its amendments).",
)
MILESTONE_IMPORTED = _register(
    "contracts.milestone.imported",
    c.MilestoneImported,
    "An OCDS import made or changed a milestone (with its transactions).",
)
DELIVERY_FAILED = _register(
    "notifications.delivery.failed",
    n.DeliveryFailed,
    "A delivery was dead-lettered after its last attempt; never sent to its own subscription.",
)
TOKEN_REVOKED = _register(
    "identity.token.revoked",
    i.TokenRevoked,
    "An admin revoked one bearer token (by its jti): every service refuses it from now on.",
)
SUBJECT_REVOKED = _register(
    "identity.subject.revoked",
    i.SubjectRevoked,
    "An admin revoked every token of a subject issued before a time: every service refuses "
    "them from now on.",
)
