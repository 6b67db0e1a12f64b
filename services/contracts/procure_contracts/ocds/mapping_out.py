"""Our data in the Open Contracting Data Standard (OCDS 1.1.5, with the lots and metrics
extensions): each change a release of the contracting process it belongs to.

A contracting process is a tender (its ``ocid``: the publisher's for an imported one, else our
prefix and the tender's id). Every audited change of a tender, lot, award, contract, milestone
or KPI becomes a release holding the object as the change left it, tagged by what happened;
merged by the OCDS rules, a process's releases give its compiled release. ``docs/ocds.md``
lists every mapping and what OCDS cannot say. Pure functions over the domain's Structs: the
caller supplies what a change refers to (the process, awards, contracts, parties).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

from procure_contracts.contracts.rules import (
    Amendment,
    Contract,
    ContractStatus,
    EndDateChange,
    ScopeChange,
    ValueChange,
)
from procure_contracts.domain.money import Money
from procure_contracts.kpis.ratings import Exact, Range
from procure_contracts.kpis.rules import Kpi, Observation
from procure_contracts.milestones.rules import Milestone, MilestoneKind, MilestoneStatus
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.rules import Lot, LotStatus, Tender, TenderStatus

__all__ = [
    "CURRENCIES",
    "EXTENSIONS",
    "OCDS_VERSION",
    "Change",
    "Links",
    "PartyInfo",
    "ocid_of",
    "published_lot",
    "published_milestone",
    "releases_of",
    "standstill_ends",
]

OCDS_VERSION = "1.1"
# The extensions our releases use, as OCDS names them: by their extension.json, each at the
# tag or commit whose release schema ships in ``standard/extensions`` (its README), never a
# branch, whose schema could move under releases already published.
EXTENSIONS = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
    "v1.1.5/extension.json",
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_metrics_extension/"
    "09325d191eb6be767b95effa0b280925b2bf47c3/extension.json",
)


def _currencies() -> frozenset[str]:
    """The codes of OCDS 1.1.5's closed currency codelist (as shipped in ``standard/``)."""
    path = resources.files("procure_contracts") / "ocds/standard/1.1.5/codelists/currency.csv"
    text = path.read_text(encoding="utf-8")
    return frozenset(row["Code"] for row in csv.DictReader(text.splitlines()))


# A value in a currency outside this list is kept in our data and left out of releases.
CURRENCIES = _currencies()

# Our statuses and their OCDS codes (domain.md). Where the code is only the nearest, the
# release says our word in ``statusDetails`` (decision 15).
TENDER_STATUS = {
    TenderStatus.DRAFT: "planned",
    TenderStatus.PUBLISHED: "active",
    TenderStatus.CLOSED: "active",
    TenderStatus.COMPLETE: "complete",
    TenderStatus.CANCELLED: "cancelled",
    TenderStatus.UNSUCCESSFUL: "unsuccessful",
}
LOT_STATUS = {
    LotStatus.ACTIVE: "active",
    LotStatus.AWARDED: "complete",
    LotStatus.CANCELLED: "cancelled",
    LotStatus.UNSUCCESSFUL: "unsuccessful",
}
AWARD_STATUS = {
    AwardStatus.PENDING: "pending",
    AwardStatus.ACTIVE: "active",
    AwardStatus.CANCELLED: "cancelled",
}
CONTRACT_STATUS = {
    ContractStatus.PENDING: "pending",
    ContractStatus.ACTIVE: "active",
    ContractStatus.COMPLETED: "terminated",  # 1.1: "terminated" is also a contract completed
    ContractStatus.TERMINATED: "terminated",
    ContractStatus.CANCELLED: "cancelled",
}
MILESTONE_STATUS = {
    MilestoneStatus.SCHEDULED: "scheduled",
    MilestoneStatus.MET: "met",
    MilestoneStatus.PARTIALLY_MET: "partiallyMet",
    MilestoneStatus.NOT_MET: "notMet",
    MilestoneStatus.WAIVED: "notMet",  # no code for waived: statusDetails says it
}
MILESTONE_TYPE = {
    MilestoneKind.DELIVERY: "delivery",
    MilestoneKind.REPORTING: "reporting",
    MilestoneKind.PAYMENT: "financing",
}
# Whose statuses have no exact twin: (our word -> the details the release gives).
_DETAILS: dict[object, str] = {
    TenderStatus.CLOSED: "closed: the submission deadline has passed; bids are being evaluated",
    LotStatus.AWARDED: "awarded",
    ContractStatus.COMPLETED: "completed",
    MilestoneStatus.WAIVED: "waived",
}


@dataclass(frozen=True, slots=True)
class PartyInfo:
    """A provider as the contracts service knows it (from the providers' events)."""

    id: str
    name: str | None
    identifiers: Sequence[str] = ()  # "SCHEME:ID"


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change: the object as it was and as the change left it."""

    id: int
    at: datetime
    action: str  # the event type, e.g. contracts.award.made
    resource_type: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Links:
    """What changes refer to, as it stands now (ids and processes do not change)."""

    tenders: Mapping[str, Tender] = field(default_factory=dict)
    lots: Mapping[str, Lot] = field(default_factory=dict)
    awards: Mapping[str, Award] = field(default_factory=dict)
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    parties: Mapping[str, PartyInfo] = field(default_factory=dict)
    observations: Mapping[str, Sequence[Observation]] = field(default_factory=dict)
    buyer_names: Mapping[str, str] = field(default_factory=dict)


def ocid_of(tender: Tender, prefix: str) -> str:
    return tender.imported.ocid if tender.imported is not None else f"{prefix}-{tender.id}"


def _ocds_id(thing: Tender | Lot | Award | Contract | Milestone | Kpi) -> str:
    mark = thing.imported
    return mark.ocds_id if mark is not None and mark.ocds_id else thing.id


def _instant(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T00:00:00Z"


def _as_written(thing: Contract | Milestone, path: str, day: date | None) -> str | None:
    """The day as its publisher wrote it (instant and offset), if imported so; else ours."""
    written = thing.imported.instants.get(path) if thing.imported is not None else None
    if written is not None and written.date() == day:
        return _instant(written)
    return _instant(day)


def _value(money: Money | None) -> dict[str, Any] | None:
    """The OCDS value of ``money``; none when its currency is not one OCDS knows (an amount
    without its currency would say less than nothing)."""
    if money is None or money.currency not in CURRENCIES:
        return None
    return {"amount": money.amount, "currency": money.currency}


def published_lot(lot: Lot) -> bool:
    """Whether a lot is the publisher's or ours: not the one an import made for a process
    its publisher gave no lots (marked by no publisher's id), which the export never shows."""
    return lot.imported is None or lot.imported.ocds_id is not None


def published_milestone(milestone: Milestone) -> bool:
    """Whether a milestone is the publisher's or ours: not the payment milestone an import
    made to hold a transaction that names none (marked by no publisher's id). Its
    transactions are published; the milestone is not."""
    return milestone.imported is None or milestone.imported.ocds_id is not None


def _clean(block: dict[str, Any]) -> dict[str, Any]:
    """Without absent values, empty strings and empty lists or objects (OCDS forbids most)."""
    out: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, dict):
            value = _clean(value)
        if value is None or value == "" or value == [] or value == {}:
            continue
        out[key] = value
    return out


def _details(status: object) -> str | None:
    return _DETAILS.get(status)


def _described(thing: Tender | Lot, statuses: Mapping[Any, str]) -> dict[str, Any]:
    """What a tender and a lot both say: id, title, description, status, value."""
    return {
        "id": _ocds_id(thing),
        "title": thing.title,
        "description": thing.description,
        "status": statuses[thing.status],
        "statusDetails": thing.reason or _details(thing.status),
        "value": _value(thing.value),
    }


def tender_block(tender: Tender) -> dict[str, Any]:
    return _clean(
        {
            **_described(tender, TENDER_STATUS),
            # Ours are services; an imported process's category is what its publisher said.
            "mainProcurementCategory": "services"
            if tender.imported is None
            else tender.imported.said.get("mainProcurementCategory"),
            "tenderPeriod": {
                "startDate": _instant(tender.published_at),
                "endDate": _instant(tender.submission_deadline),
            },
            "enquiryPeriod": {"endDate": _instant(tender.enquiry_deadline)},
        }
    )


def lot_block(lot: Lot) -> dict[str, Any]:
    return _clean(_described(lot, LOT_STATUS))


def _supplier(provider_id: str, name: str | None, links: Links) -> dict[str, Any]:
    known = links.parties.get(provider_id)
    return _clean({"id": provider_id, "name": name or (known.name if known else None)})


def _award_title(award: Award, lot: Lot | None) -> str | None:
    if award.imported is not None:
        return award.imported.said.get("title")
    return lot.title if lot is not None else None


def award_block(award: Award, links: Links) -> dict[str, Any]:
    lot = links.lots.get(award.lot_id)
    shown = lot is not None and published_lot(lot)
    return _clean(
        {
            "id": _ocds_id(award),
            # Ours are titled by their lot; an imported award by what its publisher said.
            "title": _award_title(award, lot if shown else None),
            "status": AWARD_STATUS[award.status],
            "statusDetails": award.reason,
            "date": _instant(award.date),
            "value": _value(award.value),
            "suppliers": [_supplier(award.provider_id, award.provider_name, links)],
            "relatedLots": (
                [_ocds_id(lot) if lot is not None else award.lot_id]
                if shown or lot is None
                else None
            ),
        }
    )


def _amendment(amendment: Amendment) -> dict[str, Any]:
    change = amendment.change
    if isinstance(change, ValueChange):
        what = f"Value changed by {change.change.amount} {change.change.currency}"
    elif isinstance(change, EndDateChange):
        what = f"End date changed to {change.ends_on.isoformat()}"
    elif isinstance(change, ScopeChange):
        what = change.scope
    else:
        parts = [f"added {', '.join(change.add)}"] if change.add else []
        parts += [f"removed {', '.join(change.remove)}"] if change.remove else []
        what = "Suppliers " + "; ".join(parts)
    return _clean(
        {
            "id": amendment.id,
            "date": _instant(amendment.made_at),
            "rationale": amendment.rationale,
            "description": what,
        }
    )


def _awards_in(contract: Contract, tender_id: str, links: Links) -> list[Award]:
    return [
        a
        for a in (links.awards.get(i) for i in contract.award_ids)
        if a is not None and a.tender_id == tender_id
    ]


def contract_block(contract: Contract, tender_id: str, links: Links) -> dict[str, Any] | None:
    """The contract as a release of the process ``tender_id`` has it; none when it rests on
    no award of that process (an import's contract whose awardID was null or named no award):
    OCDS requires a contract's awardID, and a made-up one would be a lie."""
    awards = _awards_in(contract, tender_id, links)
    if not awards:
        return None
    return _clean(
        {
            "id": _ocds_id(contract),
            # OCDS 1.1 gives a contract one award: the first of this process's (docs/ocds.md).
            "awardID": _ocds_id(awards[0]),
            "title": contract.title,
            "description": contract.description or contract.scope,
            "status": CONTRACT_STATUS[contract.status],
            "statusDetails": contract.reason or _details(contract.status),
            "value": _value(contract.current_value),
            "period": {
                "startDate": _as_written(contract, "period/startDate", contract.starts_on),
                "endDate": _as_written(contract, "period/endDate", contract.ends_on),
            },
            "dateSigned": _instant(contract.signed_at),
            "amendments": [_amendment(a) for a in contract.amendments],
        }
    )


def _contract_ref(contract: Contract, tender_id: str, links: Links) -> dict[str, Any] | None:
    block = contract_block(contract, tender_id, links)
    return None if block is None else {"id": block["id"], "awardID": block["awardID"]}


def milestone_block(milestone: Milestone, links: Links) -> dict[str, Any]:
    lot = links.lots.get(milestone.lot_id) if milestone.lot_id else None
    if lot is not None and not published_lot(lot):
        lot = None
    details = milestone.reason if milestone.status is not MilestoneStatus.MET else None
    if milestone.status is MilestoneStatus.WAIVED:
        details = f"waived: {milestone.reason}" if milestone.reason else "waived"
    return _clean(
        {
            "id": _ocds_id(milestone),
            "title": milestone.title,
            "type": MILESTONE_TYPE[milestone.kind],
            "description": milestone.description,
            "dueDate": _as_written(milestone, "dueDate", milestone.due_on),
            "dateMet": _as_written(milestone, "dateMet", milestone.met_on),
            "status": MILESTONE_STATUS[milestone.status],
            "statusDetails": details,
            "value": _value(milestone.amount),
            "relatedLots": [_ocds_id(lot)] if lot is not None else None,
        }
    )


def transactions_of(milestone: Milestone) -> list[dict[str, Any]]:
    return [
        _clean(
            {
                "id": t.id,
                "date": _as_written(milestone, f"transactions/{t.id}/date", t.date),
                "value": _value(t.value),
                "payer": _clean({"id": t.payer.id, "name": t.payer.name}),
                "payee": _clean({"id": t.payee.id, "name": t.payee.name}),
            }
        )
        for t in milestone.transactions
    ]


def agreed_metric(kpi: Kpi) -> dict[str, Any]:
    """The KPI as agreed: its target (an exact figure, or a range as two observations)."""
    unit = {"name": kpi.unit} if kpi.unit else None
    target = kpi.target
    metric = _ocds_id(kpi)
    observations: list[dict[str, Any]] = []
    if isinstance(target, Exact):
        observations.append({"id": f"{metric}-target", "measure": target.value, "unit": unit})
    elif isinstance(target, Range):
        observations.append({"id": f"{metric}-target-min", "measure": target.min, "unit": unit})
        observations.append({"id": f"{metric}-target-max", "measure": target.max, "unit": unit})
    return _clean(
        {
            "id": metric,
            "title": kpi.name,
            "description": kpi.description,
            "observations": [_clean(o) for o in observations],
        }
    )


def actual_metric(kpi: Kpi, observations: Sequence[Observation]) -> dict[str, Any] | None:
    """The KPI's reported figures (and its current rating, in the description)."""
    if not observations:
        return None
    unit = {"name": kpi.unit} if kpi.unit else None
    dimension = kpi.dimension.name if kpi.dimension is not None else None
    return _clean(
        {
            "id": _ocds_id(kpi),
            "title": kpi.name,
            "description": f"{kpi.rating.label}: {kpi.rating.explanation}",
            "observations": [
                _clean(
                    {
                        "id": o.ocds_id or o.id,
                        "period": {
                            "startDate": _instant(o.period_start),
                            "endDate": _instant(o.period_end),
                        },
                        "measure": o.value,
                        "unit": unit,
                        "dimensions": (
                            {dimension: o.dimension_value}
                            if dimension and o.dimension_value
                            else None
                        ),
                        "notes": o.note,
                    }
                )
                for o in observations
            ],
        }
    )


def _tag(resource_type: str, action: str, after: Any) -> str | None:
    """The release tag of a change; ``None``: the change says nothing OCDS publishes."""
    verb = action.rsplit(".", 1)[-1]
    if resource_type == "tender":
        if verb == "imported":
            return "planning" if after.status is TenderStatus.DRAFT else "tender"
        return {
            "drafted": "planning",
            "published": "tender",
            "cancelled": "tenderCancellation",
        }.get(verb, "tenderUpdate")
    if resource_type == "lot":
        return "tenderUpdate"
    if resource_type == "award":
        return {"made": "award", "imported": "award", "cancelled": "awardCancellation"}.get(
            verb, "awardUpdate"
        )
    if resource_type == "contract":
        return {
            "created": "contract",
            "imported": "contract",
            "amended": "contractAmendment",
            "option_exercised": "contractAmendment",
            "terminated": "contractTermination",
            "cancelled": "contractTermination",
        }.get(verb, "contractUpdate")
    if resource_type in ("milestone", "kpi"):
        if verb in ("due_soon", "overdue"):  # the monitor's notices: nothing new to publish
            return None
        return (
            "implementation"
            if verb in ("scheduled", "defined", "imported")
            else ("implementationUpdate")
        )
    return None


def _parties(buyer_id: str, suppliers: Sequence[str], links: Links) -> list[dict[str, Any]]:
    parties = [
        {
            "id": buyer_id,
            "name": links.buyer_names.get(buyer_id, buyer_id),
            "roles": ["buyer", "procuringEntity"],
        }
    ]
    for provider_id in dict.fromkeys(suppliers):
        known = links.parties.get(provider_id)
        identifiers = [i.split(":", 1) for i in (known.identifiers if known else ())]
        party: dict[str, Any] = {
            "id": provider_id,
            "name": known.name if known else None,
            "roles": ["supplier"],
        }
        if identifiers:
            scheme, id = identifiers[0]
            party["identifier"] = {"scheme": scheme, "id": id, "legalName": party["name"]}
            party["additionalIdentifiers"] = [{"scheme": s, "id": i} for s, i in identifiers[1:]]
        parties.append(_clean(party))
    return parties


def _release(
    ocid: str,
    change: Change,
    tag: str,
    buyer_id: str,
    section: dict[str, Any],
    suppliers: Sequence[str],
    links: Links,
) -> dict[str, Any]:
    return {
        "ocid": ocid,
        "id": f"{ocid}-{change.id}" if change.id else f"{ocid}-{change.action}",
        "date": _instant(change.at),
        "tag": [tag],
        "initiationType": "tender",
        "buyer": {"id": buyer_id, "name": links.buyer_names.get(buyer_id, buyer_id)},
        "parties": _parties(buyer_id, suppliers, links),
        **section,
    }


def _tender_section(tender: Tender, block: dict[str, Any]) -> dict[str, Any]:
    return {"tender": {"id": _ocds_id(tender), **block}}


def _without_cleared(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """``after`` with an explicit null for each text the change cleared: merging keeps what a
    release leaves out, and removes what it sets to null."""
    if before is None:
        return after
    cleared = {k: None for k, v in before.items() if k not in after and isinstance(v, str)}
    return {**after, **cleared}


def releases_of(change: Change, links: Links, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """(ocid, release) for each contracting process the change belongs to (one, except for a
    contract resting on awards of several tenders)."""
    after = change.after
    tag = _tag(change.resource_type, change.action, after)
    if after is None or tag is None:
        return []
    out: list[tuple[str, dict[str, Any]]] = []

    def process(tender_id: str) -> tuple[str, Tender] | None:
        tender = links.tenders.get(tender_id)
        return None if tender is None else (ocid_of(tender, prefix), tender)

    if isinstance(after, Tender):
        block = _without_cleared(
            tender_block(change.before) if isinstance(change.before, Tender) else None,
            tender_block(after),
        )
        ocid = ocid_of(after, prefix)
        out.append(
            (ocid, _release(ocid, change, tag, after.buyer_id, {"tender": block}, (), links))
        )
    elif isinstance(after, Lot):
        found = process(after.tender_id) if published_lot(after) else None
        if found is not None:
            ocid, tender = found
            lot = _without_cleared(
                lot_block(change.before) if isinstance(change.before, Lot) else None,
                lot_block(after),
            )
            section = _tender_section(tender, {"lots": [lot]})
            out.append((ocid, _release(ocid, change, tag, after.buyer_id, section, (), links)))
    elif isinstance(after, Award):
        found = process(after.tender_id)
        if found is not None:
            ocid, _ = found
            section = {"awards": [award_block(after, links)]}
            release = _release(
                ocid, change, tag, after.buyer_id, section, [after.provider_id], links
            )
            out.append((ocid, release))
    elif isinstance(after, Contract):
        for tender_id in after.tender_ids:
            found = process(tender_id)
            shown = contract_block(after, tender_id, links)
            if found is not None and shown is not None:
                ocid, _ = found
                section = {"contracts": [shown]}
                release = _release(
                    ocid, change, tag, after.buyer_id, section, after.provider_ids, links
                )
                out.append((ocid, release))
    elif isinstance(after, Milestone | Kpi):
        contract = links.contracts.get(after.contract_id)
        if contract is not None:
            implementation = _implementation(after, change, links)
            for tender_id in contract.tender_ids:
                found = process(tender_id)
                ref = _contract_ref(contract, tender_id, links)
                if found is not None and ref is not None:
                    ocid, _ = found
                    if isinstance(after, Kpi):
                        ref["agreedMetrics"] = [agreed_metric(after)]
                    if implementation:
                        ref["implementation"] = implementation
                    section = {"contracts": [ref]}
                    release = _release(ocid, change, tag, after.buyer_id, section, (), links)
                    out.append((ocid, release))
    return out


def standstill_ends(
    ocid: str, awards: Sequence[Award], links: Links, now: datetime
) -> list[dict[str, Any]]:
    """A release for each award of the process whose standstill has ended by ``now``: an award
    turns active by the clock, not by a change, so no audited change says it."""
    out = []
    for award in awards:
        seen = award.seen_at(now)
        if seen.status is not award.status:
            change = Change(0, award.standstill_ends, f"standstill-{award.id}", "award", None, seen)
            section = {"awards": [award_block(seen, links)]}
            out.append(
                _release(
                    ocid, change, "awardUpdate", award.buyer_id, section, [award.provider_id], links
                )
            )
    return out


def _implementation(after: Milestone | Kpi, change: Change, links: Links) -> dict[str, Any]:
    if isinstance(after, Milestone):
        shown = [milestone_block(after, links)] if published_milestone(after) else None
        return _clean({"milestones": shown, "transactions": transactions_of(after)})
    seen = [o for o in links.observations.get(after.id, ()) if o.recorded_at <= change.at]
    metric = actual_metric(after, seen)
    return {"metrics": [metric]} if metric is not None else {}
