"""The data of the ``contracts.*.imported`` events: each aggregate as an import left it, and
where it came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from procure_contracts.contracts.rules import Contract, contract_data
from procure_contracts.domain.imported import Imported
from procure_contracts.milestones.rules import Milestone, milestone_data
from procure_contracts.tenders.awards_rules import Award, made_data
from procure_contracts.tenders.rules import Lot, Tender, lot_data, tender_data
from procure_shared.events.contracts import (
    AwardImported,
    ContractImported,
    ImportedFrom,
    LotImported,
    MilestoneImported,
    TenderImported,
)

__all__ = [
    "award_imported",
    "contract_imported",
    "lot_imported",
    "milestone_imported",
    "tender_imported",
]


def _from(mark: Imported | None) -> ImportedFrom:
    assert mark is not None  # an import marks everything it makes
    return ImportedFrom(source=mark.source, ocid=mark.ocid, ocds_id=mark.ocds_id)


def _fields(data: msgspec.Struct) -> dict[str, Any]:
    return msgspec.structs.asdict(data)


def tender_imported(tender: Tender, lot_ids: Sequence[str]) -> TenderImported:
    return TenderImported(**_fields(tender_data(tender, lot_ids)), imported=_from(tender.imported))


def lot_imported(lot: Lot, award_ids: Sequence[str]) -> LotImported:
    return LotImported(**_fields(lot_data(lot, award_ids)), imported=_from(lot.imported))


def award_imported(award: Award) -> AwardImported:
    return AwardImported(
        **_fields(made_data(award)),
        status=award.status,
        reason=award.reason,
        provider_name=award.provider_name,
        imported=_from(award.imported),
    )


def contract_imported(contract: Contract) -> ContractImported:
    return ContractImported(**_fields(contract_data(contract)), imported=_from(contract.imported))


def milestone_imported(milestone: Milestone, provider_ids: Sequence[str]) -> MilestoneImported:
    return MilestoneImported(
        **_fields(milestone_data(milestone, provider_ids)),
        met_on=milestone.met_on,
        imported=_from(milestone.imported),
    )
