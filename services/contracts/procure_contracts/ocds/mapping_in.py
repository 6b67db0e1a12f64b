"""An OCDS contracting process (its compiled release) as our aggregates: one tender, its lots,
awards (one per supplier of each award: two awards to one supplier stay two), contracts, their
milestones and their metrics (KPIs with their observations), each marked as imported.

Imports bypass the guarded transitions (decision 17): every aggregate takes the status its
publisher gave it, read backwards through ``domain.md``'s table (our export's own words in
``statusDetails`` read back as the statuses they stand for), amounts keep the places they
were written with, and days keep the date-time written for them (in the import mark). Ids
are derived from the buyer, the ocid and the publisher's ids (uuid5), so that importing a
process again finds what the last import made. The mapping remembers which fields it read;
the rest is "unplaced". ``docs/ocds.md`` ("Import") lists every field and where it goes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from procure_contracts.contracts.rules import (
    Amendment,
    Contract,
    ContractStatus,
    ScopeChange,
    Supplier,
)
from procure_contracts.domain.imported import Imported
from procure_contracts.domain.money import total
from procure_contracts.kpis.observations import latest_period, rated
from procure_contracts.kpis.ratings import (
    Combine,
    Direction,
    Exact,
    Range,
    Target,
    default_thresholds,
)
from procure_contracts.kpis.rules import Dimension, Kpi, Observation, unrated
from procure_contracts.milestones.rules import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    PaymentParty,
    Transaction,
)
from procure_contracts.ocds.reader import Obj, Reader, unplaced
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_contracts.tenders.rules import Lot, LotStatus, Tender, TenderStatus
from procure_shared.categories import Category

__all__ = [
    "OCDS_PARTY",
    "STANDSTILL",
    "Mapped",
    "PartyRef",
    "Provider",
    "map_process",
    "ocds_uuid",
    "suppliers_of",
]

# The scheme of a party its publisher gave no usable identifier (the providers service's).
OCDS_PARTY = "OCDS-PARTY"
# A pending (OCDS: awaiting approval) award's standstill, from its date: the UK's minimum of
# eight working days, rounded up.
STANDSTILL = timedelta(days=10)
_NAMESPACE = uuid.UUID("6f1d2c1e-6a7b-5c3d-9e8f-0c0d5e0a7c15")


def ocds_uuid(buyer_id: str, ocid: str, kind: str, key: str) -> str:
    """The id an import gives the ``kind`` of aggregate the publisher calls ``key`` in process
    ``ocid``, for ``buyer_id``: the same on every import."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join((buyer_id, ocid, kind, key))))


class PartyRef(msgspec.Struct, frozen=True, kw_only=True):
    """A supplier as a process names it: the key (its party id, else its name), its name and
    the identifiers its publisher gave (usable or not: the providers service decides)."""

    key: str
    name: str | None
    legal_name: str | None  # its identifier's legalName
    identifiers: tuple[tuple[str, str], ...]
    ocid: str

    @property
    def fallback(self) -> tuple[str, str]:
        """The identifier of a party with no usable one: the party within its process."""
        return OCDS_PARTY, f"{self.ocid}/{self.key}"


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None


@dataclass
class Mapped:
    tender: Tender
    lots: list[Lot]
    awards: list[Award]
    contracts: list[Contract]
    milestones: list[Milestone]
    links: list[tuple[str, list[str]]]  # contract id, its award ids
    problems: list[str]
    kpis: list[Kpi] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    unplaced: Counter[str] = field(default_factory=Counter)


def _identifier(obj: Obj) -> tuple[str, str] | None:
    scheme, id = obj.get("scheme"), obj.get("id")
    if isinstance(id, int) and not isinstance(id, bool):
        id = str(id)
    if isinstance(scheme, str) and isinstance(id, str) and scheme.strip() and id.strip():
        return scheme.strip(), id.strip()
    return None


def _party_key(ref: Obj) -> str | None:
    for name in ("id", "name"):
        value = ref.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def suppliers_of(compiled: Obj) -> list[PartyRef]:
    """Every supplier the process's awards name, with the identifiers of its party (or those
    the reference carries itself, as OCDS 1.0 did)."""
    ocid = str(compiled.get("ocid") or "")
    parties = {_party_key(p): p for p in compiled.get("parties") or [] if isinstance(p, dict)}
    found: dict[str, PartyRef] = {}
    for award in compiled.get("awards") or []:
        if not isinstance(award, dict):
            continue
        for ref in award.get("suppliers") or []:
            if not isinstance(ref, dict) or (key := _party_key(ref)) is None or key in found:
                continue
            party = parties.get(key) or {}
            identifiers = []
            legal_name = None
            for source in (party, ref):
                main = source.get("identifier")
                if isinstance(main, dict) and legal_name is None:
                    legal_name = _str(main.get("legalName"))
                extra = source.get("additionalIdentifiers")
                for candidate in [main, *(extra if isinstance(extra, list) else [])]:
                    if isinstance(candidate, dict) and (pair := _identifier(candidate)):
                        identifiers.append(pair)
            name = ref.get("name") or party.get("name")
            found[key] = PartyRef(
                key=key,
                name=name.strip() if isinstance(name, str) and name.strip() else None,
                legal_name=legal_name,
                identifiers=tuple(dict.fromkeys(identifiers)),
                ocid=ocid,
            )
    return list(found.values())


# domain.md's table, read backwards; a code not in the list is read as its nearest.
# The closed codelist of tender.mainProcurementCategory.
_CATEGORIES = frozenset({"goods", "works", "services"})
_TENDER = {
    "planning": TenderStatus.DRAFT,
    "planned": TenderStatus.DRAFT,
    "active": TenderStatus.PUBLISHED,
    "complete": TenderStatus.COMPLETE,
    "cancelled": TenderStatus.CANCELLED,
    "withdrawn": TenderStatus.CANCELLED,
    "unsuccessful": TenderStatus.UNSUCCESSFUL,
}
_LOT = {
    "planning": LotStatus.ACTIVE,
    "planned": LotStatus.ACTIVE,
    "active": LotStatus.ACTIVE,
    "complete": LotStatus.AWARDED,
    "cancelled": LotStatus.CANCELLED,
    "withdrawn": LotStatus.CANCELLED,
    "unsuccessful": LotStatus.UNSUCCESSFUL,
}
_AWARD = {
    "pending": AwardStatus.PENDING,
    "active": AwardStatus.ACTIVE,
    "cancelled": AwardStatus.CANCELLED,
    "unsuccessful": AwardStatus.CANCELLED,
}
_CONTRACT = {
    "pending": ContractStatus.PENDING,
    "active": ContractStatus.ACTIVE,
    "terminated": ContractStatus.TERMINATED,
    "cancelled": ContractStatus.CANCELLED,
}
_MILESTONE = {
    "scheduled": MilestoneStatus.SCHEDULED,
    "met": MilestoneStatus.MET,
    "partiallyMet": MilestoneStatus.PARTIALLY_MET,
    "notMet": MilestoneStatus.NOT_MET,
}
# Nearest readings of codes seen in the wild (other codelists, 1.0 codes, typos).
_NEAREST_TENDER = {"closed": TenderStatus.CLOSED, "awarded": TenderStatus.COMPLETE}
_NEAREST_CONTRACT = {
    "completed": ContractStatus.COMPLETED,
    "closed": ContractStatus.COMPLETED,
    "signed": ContractStatus.ACTIVE,
}
# Our statuses with no OCDS twin, as our export says them: the nearest code and our word in
# ``statusDetails`` (``mapping_out.py``, decision 15). Read back, the word gives our status
# and is no reason.
_CLOSED_DETAILS = "closed: the submission deadline has passed; bids are being evaluated"
_AWARDED_DETAILS = "awarded"
_COMPLETED_DETAILS = "completed"
_WAIVED_DETAILS = "waived"
_KINDS = {
    "delivery": MilestoneKind.DELIVERY,
    "reporting": MilestoneKind.REPORTING,
    "financing": MilestoneKind.PAYMENT,
    "payment": MilestoneKind.PAYMENT,  # the 1.2 code
}


def _status(
    read: Reader,
    obj: Obj,
    path: str,
    table: Mapping[str, Any],
    nearest: Mapping[str, Any],
    fallback: Any,
) -> Any:
    code = read.text(obj, path, "status")
    if code is None:
        return None
    if code in table:
        return table[code]
    taken = nearest.get(code) or nearest.get(code.lower()) or table.get(code.lower()) or fallback
    read.problem(f"{path}/status {code!r} is no OCDS code: read as {taken}")
    return taken


class ProcessTranslator:
    """Translates one process's compiled release (``compiled``) into our aggregates, a step
    per kind, in the order ``map_process`` takes them: ``tender``, ``lots``, ``awards``, then
    ``contracts`` (each with its amendments, milestones and transactions, and its metrics as
    KPIs and observations). ``read`` reads the publisher's values tolerantly and records each
    field it used and each problem; ``id`` and ``mark`` give an aggregate its stable id and
    its import mark."""

    def __init__(
        self,
        compiled: Obj,
        *,
        buyer_id: str,
        source: str,
        actor: str,
        at: datetime,
        providers: Mapping[str, Provider],
    ) -> None:
        self.compiled = compiled
        self.ocid = str(compiled.get("ocid") or "")
        self.buyer_id = buyer_id
        self.source = source
        self.actor = actor
        self.at = at
        self.providers = providers
        self.read = Reader(self.ocid)
        for name in ("ocid", "id", "date", "tag"):
            self.read.use(name)
        self.date = self.read.when(compiled, "", "date") or at
        self.given: set[str] = set()  # the lots whose status the publisher gave
        self.kpis: list[Kpi] = []  # the contracts' metrics
        self.observations: list[Observation] = []

    def id(self, kind: str, key: str) -> str:
        return ocds_uuid(self.buyer_id, self.ocid, kind, key)

    def mark(
        self,
        ocds_id: str | None,
        award_ocds_id: str | None = None,
        instants: Mapping[str, datetime | None] | None = None,
        said: Mapping[str, str | None] | None = None,
    ) -> Imported:
        return Imported(
            source=self.source,
            ocid=self.ocid,
            ocds_id=ocds_id,
            award_ocds_id=award_ocds_id,
            instants={k: v for k, v in (instants or {}).items() if v is not None},
            said={k: v for k, v in (said or {}).items() if v is not None},
            at=self.at,
        )

    # -- tender and lots ------------------------------------------------------------------
    def _category(self, tender: Obj) -> str | None:
        """The process's mainProcurementCategory when it is a code of the closed codelist
        (the export may give back nothing else), else a problem line."""
        said = self.read.text(tender, "tender", "mainProcurementCategory")
        if said is not None and said not in _CATEGORIES:
            self.read.problem(
                f"tender mainProcurementCategory {said!r} is not an OCDS code: not kept"
            )
            return None
        return said

    def tender(self, has_awards: bool) -> Tender:
        read, tender_data = self.read, self.read.obj(self.compiled, "", "tender")
        title = read.text(tender_data, "tender", "title")
        if title is None:
            title = self._first_title() or self.ocid
        status = _status(
            read, tender_data, "tender", _TENDER, _NEAREST_TENDER, TenderStatus.PUBLISHED
        )
        if status is None:  # a process published from its award or contract on
            status = TenderStatus.COMPLETE if has_awards else TenderStatus.PUBLISHED
        period = read.obj(tender_data, "tender", "tenderPeriod")
        enquiry = read.obj(tender_data, "tender", "enquiryPeriod")
        reason = read.text(tender_data, "tender", "statusDetails")
        if status is TenderStatus.PUBLISHED and reason == _CLOSED_DETAILS:
            status, reason = TenderStatus.CLOSED, None
        return Tender(
            id=self.id("tender", ""),
            buyer_id=self.buyer_id,
            title=title,
            description=read.text(tender_data, "tender", "description"),
            value=read.money(tender_data, "tender", "value"),
            enquiry_deadline=read.when(enquiry, "tender/enquiryPeriod", "endDate"),
            submission_deadline=read.when(period, "tender/tenderPeriod", "endDate"),
            status=status,
            published_at=read.when(period, "tender/tenderPeriod", "startDate"),
            reason=reason
            or (
                f"the publisher's status: {tender_data.get('status')}"
                if status in (TenderStatus.CANCELLED, TenderStatus.UNSUCCESSFUL)
                else None
            ),
            imported=self.mark(
                read.text(tender_data, "tender", "id"),
                said={"mainProcurementCategory": self._category(tender_data)},
            ),
            version=1,
            created_at=self.at,
            updated_at=self.at,
        )

    def _first_title(self) -> str | None:
        for key in ("awards", "contracts"):
            for obj in self.read.objs(self.compiled, "", key):
                title = obj.get("title")
                if isinstance(title, str) and title.strip():
                    return title.strip()
        return None

    def lots(self, tender: Tender) -> dict[str, Lot]:
        """The tender's lots by the publisher's lot id ("" for the one lot of a tender
        published without lots)."""
        read, tender_data = self.read, self.read.obj(self.compiled, "", "tender")
        found: dict[str, Lot] = {}
        for n, lot in enumerate(read.objs(tender_data, "tender", "lots")):
            path = "tender/lots"
            key = read.text(lot, path, "id") or f"#{n}"
            category = Category.OTHER
            code = read.obj(lot, path, "classification").get("id")
            if isinstance(code, str) and code in set(Category):
                read.use(f"{path}/classification/id")
                category = Category(code)
            status = _status(read, lot, path, _LOT, {}, LotStatus.ACTIVE)
            if status is not None:
                self.given.add(key)
            found[key] = Lot(
                id=self.id("lot", key),
                tender_id=tender.id,
                buyer_id=self.buyer_id,
                title=read.text(lot, path, "title") or f"Lot {key}",
                description=read.text(lot, path, "description"),
                category=category,
                value=read.money(lot, path, "value"),
                status=status if status is not None else LotStatus.ACTIVE,
                reason=_unless(read.text(lot, path, "statusDetails"), _AWARDED_DETAILS),
                imported=self.mark(key),
                version=1,
                created_at=self.at,
                updated_at=self.at,
            )
        if not found:
            found[""] = Lot(
                id=self.id("lot", ""),
                tender_id=tender.id,
                buyer_id=self.buyer_id,
                title=tender.title,
                description=tender.description,
                category=Category.OTHER,
                value=tender.value,
                status=LotStatus.ACTIVE,
                imported=self.mark(None),
                version=1,
                created_at=self.at,
                updated_at=self.at,
            )
        return found

    # -- awards ---------------------------------------------------------------------------
    def awards(self, lots: Mapping[str, Lot]) -> dict[str, list[Award]]:
        """Our awards by the publisher's award id: one per lot and supplier of each (two
        awards to one supplier stay two)."""
        read, path = self.read, "awards"
        made: dict[str, list[Award]] = {}
        for n, award in enumerate(read.objs(self.compiled, "", "awards")):
            key = read.text(award, path, "id") or f"#{n}"
            status = _status(read, award, path, _AWARD, {}, AwardStatus.ACTIVE)
            if status is None:
                status = AwardStatus.ACTIVE
            decided = read.when(award, path, "date") or self.date
            value = read.money(award, path, "value")
            reason = None
            if status is AwardStatus.CANCELLED:
                reason = read.text(award, path, "statusDetails") or (
                    f"the publisher's status: {award.get('status')}"
                )
            said = {"title": read.text(award, path, "title")}
            targets = self._award_lots(award, lots, key)
            suppliers = [s for s in read.objs(award, path, "suppliers") if _party_key(s)]
            if not suppliers:
                self.read.problem(f"award {key} names no supplier: an award here is a supplier's")
                continue
            read.use(f"{path}/suppliers/id")
            read.use(f"{path}/suppliers/name")
            for lot in targets:
                for ref in suppliers:
                    party = _party_key(ref)
                    provider = self.providers.get(party or "")
                    if provider is None:
                        self.read.problem(f"award {key}: supplier {party} has no provider")
                        continue
                    ours = Award(
                        id=self.id("award", f"{key}\x1f{lot.imported_key}\x1f{party}"),
                        buyer_id=self.buyer_id,
                        tender_id=lot.lot.tender_id,
                        lot_id=lot.lot.id,
                        category=lot.lot.category,
                        provider_id=provider.id,
                        provider_name=provider.name,
                        value=value,
                        date=decided,
                        standstill_ends=decided + STANDSTILL
                        if status is AwardStatus.PENDING
                        else decided,
                        status=status,
                        reason=reason,
                        imported=self.mark(key, said=said),
                        version=1,
                        created_at=self.at,
                        updated_at=self.at,
                    )
                    made.setdefault(key, []).append(ours)
        return made

    def _award_lots(self, award: Obj, lots: Mapping[str, Lot], key: str) -> list[_LotKey]:
        read, path = self.read, "awards"
        named = [str(x) for x in read.raw(award, path, "relatedLots") or [] if x is not None]
        single = read.text(award, path, "lotID")  # Prozorro's
        if single:
            named.append(single)
        known = [_LotKey(k, lots[k]) for k in dict.fromkeys(named) if k in lots]
        for k in named:
            if k not in lots:
                self.read.problem(f"award {key} names lot {k}, which the tender does not have")
        if known:
            return known
        if len(lots) > 1:
            self.read.problem(f"award {key} names no lot of the tender's {len(lots)}: the first")
        first = next(iter(lots))
        return [_LotKey(first, lots[first])]

    # -- contracts and milestones -----------------------------------------------------------
    def contracts(
        self, tender: Tender, awards: Mapping[str, list[Award]], lots: Mapping[str, Lot]
    ) -> tuple[list[Contract], list[Milestone], list[tuple[str, list[str]]]]:
        read, path = self.read, "contracts"
        contracts: list[Contract] = []
        milestones: list[Milestone] = []
        links: list[tuple[str, list[str]]] = []
        for n, contract_data in enumerate(read.objs(self.compiled, "", "contracts")):
            key = read.text(contract_data, path, "id") or f"#{n}"
            award_key = read.text(contract_data, path, "awardID")
            held = awards.get(award_key or "", [])
            if award_key is None:
                self.read.problem(f"contract {key} names no award (awardID)")
            elif not held:
                self.read.problem(f"contract {key}'s awardID {award_key} names no award")
            status = _status(
                read, contract_data, path, _CONTRACT, _NEAREST_CONTRACT, ContractStatus.ACTIVE
            )
            if status is None:
                status = (
                    ContractStatus.ACTIVE
                    if contract_data.get("dateSigned")
                    else ContractStatus.PENDING
                )
            reason = read.text(contract_data, path, "statusDetails")
            if status is ContractStatus.TERMINATED and (reason or "").lower() == _COMPLETED_DETAILS:
                status, reason = ContractStatus.COMPLETED, None
            period = read.obj(contract_data, path, "period")
            starts_at = read.when(period, f"{path}/period", "startDate")
            ends_at = read.when(period, f"{path}/period", "endDate")
            starts = starts_at.date() if starts_at else None
            ends = ends_at.date() if ends_at else None
            value = read.money(contract_data, path, "value")
            if value is None and held:
                value = total((a.value for a in held[:1]), "value")
            signed = read.when(contract_data, path, "dateSigned")
            closed = None
            if status in (ContractStatus.TERMINATED, ContractStatus.COMPLETED):
                closed = ends or self.date.date()
            elif status is ContractStatus.CANCELLED:
                closed = self.date.date()
            contract_id = self.id("contract", key)
            providers = list(dict.fromkeys((a.provider_id, a.provider_name) for a in held))
            contract = Contract(
                id=contract_id,
                buyer_id=self.buyer_id,
                title=read.text(contract_data, path, "title") or tender.title,
                description=read.text(contract_data, path, "description"),
                award_ids=[a.id for a in held],
                lot_ids=list(dict.fromkeys(a.lot_id for a in held)),
                tender_ids=[tender.id],
                categories=list(dict.fromkeys(a.category for a in held)),
                suppliers=[Supplier(id=p, name=name) for p, name in providers],
                value=value,
                current_value=value,
                amendments_value=Decimal("0.00"),
                threshold_exceeded=False,
                starts_on=starts,
                ends_on=ends,
                scope=None,
                status=status,
                signed_at=signed,
                closed_on=closed,
                reason=reason,
                amendments=self._amendments(contract_data, key),
                imported=self.mark(
                    key,
                    award_key,
                    {"period/startDate": starts_at, "period/endDate": ends_at},
                ),
                version=1,
                created_at=self.at,
                updated_at=self.at,
            )
            contracts.append(contract)
            links.append((contract_id, contract.award_ids))
            milestones.extend(self._milestones(contract_data, contract, key, lots))
            self._metrics(contract_data, contract, key)
        return contracts, milestones, links

    # -- metrics (the OCDS metrics extension) -----------------------------------------------
    def _metrics(self, contract_data: Obj, contract: Contract, key: str) -> None:
        """Each metric (by id: ``agreedMetrics`` and ``implementation/metrics`` together) a
        KPI: its agreed observations the target (one figure, or two a range), its
        implementation's observations the KPI's observations."""
        read = self.read
        agreed_path, actual_path = "contracts/agreedMetrics", "contracts/implementation/metrics"
        implementation = read.obj(contract_data, "contracts", "implementation")
        agreed = {
            read.text(m, agreed_path, "id") or f"#{n}": m
            for n, m in enumerate(read.objs(contract_data, "contracts", "agreedMetrics"))
        }
        actual = {
            read.text(m, actual_path, "id") or f"#{n}": m
            for n, m in enumerate(read.objs(implementation, "contracts/implementation", "metrics"))
        }
        for mkey in dict.fromkeys([*agreed, *actual]):
            a, x = agreed.get(mkey, {}), actual.get(mkey, {})
            titles = (read.text(a, agreed_path, "title"), read.text(x, actual_path, "title"))
            name = titles[0] or titles[1] or mkey
            # What the metric is: its agreement says; the implementation's description is
            # read when there is no agreement (ours says the rating there).
            described = read.text(x, actual_path, "description")
            description = read.text(a, agreed_path, "description") or (None if a else described)
            targets = [
                (f"{agreed_path}/observations", o)
                for o in read.objs(a, agreed_path, "observations")
            ]
            seen = [
                (f"{actual_path}/observations", o)
                for o in read.objs(x, actual_path, "observations")
            ]
            units = [u for where, o in targets + seen if (u := _unit(read, o, where)) is not None]
            unit = units[0] if units else None
            kpi_id = self.id("kpi", f"{key}\x1f{mkey}")
            made, named = self._observations(seen, contract, kpi_id, key, mkey)
            target = self._target(targets, key, mkey)
            kpi = Kpi(
                id=kpi_id,
                buyer_id=self.buyer_id,
                contract_id=contract.id,
                lot_id=None,
                name=name,
                description=description,
                unit=unit,
                direction=Direction.HIGHER_IS_BETTER,
                target=target,
                thresholds=default_thresholds(Direction.HIGHER_IS_BETTER),
                dimension=_dimension_of(made, named),
                combine=Combine.SUM,
                frequency=None,
                rating=unrated(target),
                rated_at=self.at,
                observation_count=len(made),
                last_observation=made[-1] if made else None,
                imported=self.mark(mkey),
                version=1,
                created_at=self.at,
                updated_at=self.at,
            )
            self.kpis.append(msgspec.structs.replace(kpi, rating=rated(kpi, latest_period(made))))
            self.observations.extend(made)

    def _target(self, targets: list[tuple[str, Obj]], key: str, mkey: str) -> Target | None:
        for path, _ in targets:
            self.read.use(f"{path}/id")  # read as the target's part (one figure, or a bound)
        figures = [f for path, o in targets if (f := _figure(self.read, o, path)) is not None]
        if len(figures) == 1:
            return Exact(value=figures[0])
        if len(figures) == 2:
            return Range(min=min(figures), max=max(figures))
        if figures:
            self.read.problem(
                f"contract {key}'s metric {mkey} agrees {len(figures)} figures: a target is one "
                "figure or a range of two, so it is read as qualitative"
            )
        return None

    def _observations(
        self, seen: list[tuple[str, Obj]], contract: Contract, kpi_id: str, key: str, mkey: str
    ) -> tuple[list[Observation], set[str]]:
        """The observations with a period, and the names of the dimensions they give."""
        read = self.read
        made: list[Observation] = []
        named: set[str] = set()
        for n, (path, o) in enumerate(seen):
            ocds_id = read.text(o, path, "id")
            okey = ocds_id or f"#{n}"
            period = read.obj(o, path, "period")
            start = read.day(period, f"{path}/period", "startDate")
            end = read.day(period, f"{path}/period", "endDate") or start
            if start is None or end is None:
                read.problem(
                    f"contract {key}'s metric {mkey} observation {okey} has no period: an "
                    "observation here is a period's"
                )
                continue
            value = _figure(read, o, path)
            notes = read.text(o, path, "notes")
            measure = o.get("measure")
            if value is None and isinstance(measure, str) and measure.strip():
                notes = f"{measure.strip()}. {notes}" if notes else measure.strip()
            dimensions = read.obj(o, path, "dimensions")
            pairs = [(str(k), _str(v)) for k, v in dimensions.items() if _str(v) is not None]
            for k, _ in pairs:
                read.use(f"{path}/dimensions/{k}")
            made.append(
                Observation(
                    id=self.id("observation", f"{key}\x1f{mkey}\x1f{okey}"),
                    buyer_id=self.buyer_id,
                    kpi_id=kpi_id,
                    contract_id=contract.id,
                    number=len(made) + 1,
                    period_start=min(start, end),
                    period_end=max(start, end),
                    value=value,
                    dimension_value=pairs[0][1] if pairs else None,
                    source=self.source,
                    note=notes,
                    recorded_by=self.actor,
                    recorded_at=self.at,
                    ocds_id=ocds_id,
                )
            )
            if len(pairs) > 1:
                read.problem(
                    f"contract {key}'s metric {mkey} observation {okey} has "
                    f"{len(pairs)} dimensions: the first ({pairs[0][0]}) is read"
                )
            if pairs:
                named.add(pairs[0][0])
        return made, named

    def _amendments(self, contract_data: Obj, key: str) -> list[Amendment]:
        read = self.read
        found = [
            ("contracts/amendments", a) for a in read.objs(contract_data, "contracts", "amendments")
        ]
        single = contract_data.get("amendment")  # OCDS 1.0's one amendment
        if isinstance(single, dict):
            found.append(("contracts/amendment", single))
        made = []
        for n, (where, a) in enumerate(found):
            description = read.text(a, where, "description")
            rationale = read.text(a, where, "rationale")
            made.append(
                Amendment(
                    id=read.text(a, where, "id") or f"#{n}",
                    change=ScopeChange(scope=description or rationale or "(not described)"),
                    rationale=rationale or description or "(no rationale given)",
                    made_at=read.when(a, where, "date") or self.date,
                    made_by=self.actor,
                    before={},
                )
            )
        return made

    def _milestones(
        self, contract_data: Obj, contract: Contract, key: str, lots: Mapping[str, Lot]
    ) -> list[Milestone]:
        read = self.read
        implementation = read.obj(contract_data, "contracts", "implementation")
        found = [
            ("contracts/implementation/milestones", m)
            for m in read.objs(implementation, "contracts/implementation", "milestones")
        ] + [
            ("contracts/milestones", m) for m in read.objs(contract_data, "contracts", "milestones")
        ]
        made: list[Milestone] = []
        for n, (path, m) in enumerate(found):
            mkey = read.text(m, path, "id") or f"#{n}"
            due_at = read.when(m, path, "dueDate")
            due = due_at.date() if due_at else None
            if due is None:
                self.read.problem(
                    f"contract {key}'s milestone {mkey} has no due date: a milestone here has one"
                )
                continue
            code = read.text(m, path, "type")
            kind = _KINDS.get(code or "", MilestoneKind.REPORTING)
            description = read.text(m, path, "description")
            if code is not None and code not in _KINDS:
                description = f"[{code}] {description}" if description else f"[{code}]"
            status = _status(read, m, path, _MILESTONE, {}, MilestoneStatus.SCHEDULED)
            reason = read.text(m, path, "statusDetails")
            if status is MilestoneStatus.NOT_MET and reason is not None:
                word, _, why = reason.partition(":")
                if word == _WAIVED_DETAILS:
                    status, reason = MilestoneStatus.WAIVED, why.strip() or None
            related = [str(x) for x in read.raw(m, path, "relatedLots") or []]
            lot_id = next((lots[x].id for x in related if x in lots), None)
            met_at = read.when(m, path, "dateMet")
            met_on = met_at.date() if met_at else None
            made.append(
                Milestone(
                    id=self.id("milestone", f"{key}\x1f{mkey}"),
                    buyer_id=self.buyer_id,
                    contract_id=contract.id,
                    lot_id=lot_id if lot_id in contract.lot_ids else None,
                    kind=kind,
                    title=read.text(m, path, "title") or description or code or "Milestone",
                    description=description,
                    due_on=due,
                    planned_quantity=None,
                    quantity_unit=None,
                    amount=read.money(m, path, "value") if kind is MilestoneKind.PAYMENT else None,
                    status=status if status is not None else MilestoneStatus.SCHEDULED,
                    met_on=met_on,
                    settled_at=datetime.combine(met_on, datetime.min.time(), UTC)
                    if met_on
                    else None,
                    reason=reason if status is not MilestoneStatus.MET else None,
                    imported=self.mark(mkey, None, {"dueDate": due_at, "dateMet": met_at}),
                    version=1,
                    created_at=self.at,
                    updated_at=self.at,
                )
            )
        return self._transactions(implementation, contract, key, made)

    def _transactions(
        self, implementation: Obj, contract: Contract, key: str, milestones: list[Milestone]
    ) -> list[Milestone]:
        """Each transaction on the payment milestone it names or matches (amount and day), or
        on a met payment milestone of its own (``imported.ocdsId`` null)."""
        read, path = self.read, "contracts/implementation/transactions"
        by_key = {m.imported.ocds_id: i for i, m in enumerate(milestones) if m.imported}
        suppliers = {s.name: s.id for s in contract.suppliers}
        parties = {
            _party_key(p): p for p in self.compiled.get("parties") or [] if isinstance(p, dict)
        }
        for n, tx in enumerate(
            read.objs(implementation, "contracts/implementation", "transactions")
        ):
            tkey = read.text(tx, path, "id") or f"#{n}"
            at = read.when(tx, path, "date")
            on = at.date() if at else None
            written = {f"transactions/{tkey}/date": at}
            value = read.money(tx, path, "value") or read.money(tx, path, "amount")
            if on is None or value is None:
                self.read.problem(f"contract {key}'s transaction {tkey} has no date or no value")
                continue
            payer = read.obj(tx, path, "payer")
            payee = read.obj(tx, path, "payee")
            for part in ("payer", "payee"):
                read.use(f"{path}/{part}/id")
                read.use(f"{path}/{part}/name")
            payee_key = _party_key(payee)
            payee_name = payee.get("name") or (parties.get(payee_key) or {}).get("name")
            provider = self.providers.get(payee_key or "")
            transaction = Transaction(
                id=tkey,
                date=on,
                value=value,
                payer=PaymentParty(id=self.buyer_id, name=_str(payer.get("name"))),
                payee=PaymentParty(
                    id=provider.id if provider else suppliers.get(payee_name) or payee_key or "",
                    name=_str(payee_name),
                ),
            )
            related = read.obj(tx, path, "relatedImplementationMilestone")
            target = by_key.get(_str(related.get("id")))
            if target is not None:
                read.use(f"{path}/relatedImplementationMilestone/id")
            if target is None or milestones[target].kind is not MilestoneKind.PAYMENT:
                target = next(
                    (
                        i
                        for i, m in enumerate(milestones)
                        if m.kind is MilestoneKind.PAYMENT
                        and not m.transactions
                        and m.amount == value
                        and on in (m.met_on, m.due_on)
                    ),
                    None,
                )
            if target is not None:
                m = milestones[target]
                mark = m.imported
                if mark is not None and at is not None:
                    mark = msgspec.structs.replace(mark, instants={**mark.instants, **written})
                milestones[target] = msgspec.structs.replace(
                    m, transactions=[*m.transactions, transaction], imported=mark
                )
                continue
            milestones.append(
                Milestone(
                    id=self.id("milestone", f"{key}\x1ftransaction\x1f{tkey}"),
                    buyer_id=self.buyer_id,
                    contract_id=contract.id,
                    lot_id=None,
                    kind=MilestoneKind.PAYMENT,
                    title=f"Payment {tkey}",
                    description=None,
                    due_on=on,
                    planned_quantity=None,
                    quantity_unit=None,
                    amount=value,
                    status=MilestoneStatus.MET,
                    met_on=on,
                    transactions=[transaction],
                    settled_at=datetime.combine(on, datetime.min.time(), UTC),
                    imported=self.mark(None, None, {"dueDate": at, "dateMet": at, **written}),
                    version=1,
                    created_at=self.at,
                    updated_at=self.at,
                )
            )
        return milestones


@dataclass(frozen=True, slots=True)
class _LotKey:
    imported_key: str
    lot: Lot


def _str(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _unit(read: Reader, observation: Obj, path: str) -> str | None:
    unit = read.obj(observation, path, "unit")
    return read.text(unit, f"{path}/unit", "name")


def _figure(read: Reader, observation: Obj, path: str) -> Decimal | None:
    """An observation's numeric measure (a number, or a string of one)."""
    measure = read.raw(observation, path, "measure")
    if measure is None or isinstance(measure, bool):
        return None
    try:
        found = Decimal(str(measure).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def _dimension_of(made: Sequence[Observation], named: set[str]) -> Dimension | None:
    """The KPI's dimension: the one its observations give (its values as they come)."""
    if len(named) != 1:
        return None
    values = [o.dimension_value for o in made if o.dimension_value is not None]
    return Dimension(name=next(iter(named)), values=list(dict.fromkeys(values)))


def _unless(details: str | None, ours: str) -> str | None:
    """A publisher's ``statusDetails`` as a reason, unless it is our export's word for a
    status (which says the status, not why)."""
    return None if details == ours else details


def _lot_status(lot: Lot, awards: Sequence[Award], tender: Tender) -> Lot:
    """A lot its publisher gave no status: awarded if it has a live award, else as its tender
    ended, else active."""
    live = [a for a in awards if a.lot_id == lot.id and a.status is not AwardStatus.CANCELLED]
    status = LotStatus.ACTIVE
    if live:
        status = LotStatus.AWARDED
    elif tender.status is TenderStatus.CANCELLED:
        status = LotStatus.CANCELLED
    elif tender.status is TenderStatus.UNSUCCESSFUL:
        status = LotStatus.UNSUCCESSFUL
    return msgspec.structs.replace(lot, status=status)


def map_process(
    compiled: Obj,
    *,
    buyer_id: str,
    source: str,
    actor: str,
    at: datetime,
    providers: Mapping[str, Provider],
) -> Mapped:
    """The aggregates of one process (its compiled release), for ``buyer_id``, as imported at
    ``at`` by ``actor``; ``providers`` are its suppliers' providers by party key
    (``suppliers_of``)."""
    translator = ProcessTranslator(
        compiled, buyer_id=buyer_id, source=source, actor=actor, at=at, providers=providers
    )
    has_awards = bool(
        translator.read.objs(compiled, "", "awards")
        or translator.read.objs(compiled, "", "contracts")
    )
    tender = translator.tender(has_awards)
    lots = translator.lots(tender)
    awards = translator.awards(lots)
    all_awards = list({a.id: a for made in awards.values() for a in made}.values())
    contracts, milestones, links = translator.contracts(tender, awards, lots)
    settled = [
        lot if key in translator.given else _lot_status(lot, all_awards, tender)
        for key, lot in lots.items()
    ]
    translator.read.use("parties/id")
    translator.read.use("parties/name")
    translator.read.use("parties/roles")
    translator.read.use("parties/identifier")
    translator.read.use("parties/additionalIdentifiers")
    mapped = Mapped(
        tender=tender,
        lots=settled,
        awards=all_awards,
        contracts=contracts,
        milestones=milestones,
        links=links,
        problems=translator.read.problems,
        kpis=translator.kpis,
        observations=translator.observations,
    )
    mapped.unplaced = unplaced(compiled, translator.read.used)
    return mapped
