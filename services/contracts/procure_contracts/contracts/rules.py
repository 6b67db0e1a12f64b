"""Contracts: made from one or more awards (so a contract may cover several lots, and a lot may
lead to several contracts), signed once every award's standstill has ended, then completed or
terminated with a reason; a contract never signed may be cancelled.

Its current value is the original value plus the amendments plus the options exercised. When
the net cumulative value of the amendments (options do not count) passes a share of the
original value (``threshold``), the contract is flagged, and stays flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import msgspec

from procure_contracts.domain.changes import a, camel, changed_fields, not_blank, refused
from procure_contracts.domain.imported import Imported
from procure_contracts.domain.money import Money, event_money, total
from procure_contracts.tenders.awards_rules import Award, AwardStatus
from procure_shared.errors import Conflict, RuleBroken
from procure_shared.events.contracts import ContractClosed, ContractData

__all__ = [
    "CONTRACT_MOVES",
    "Amendment",
    "AmendmentDraft",
    "Contract",
    "ContractChanges",
    "ContractDraft",
    "ContractOption",
    "ContractStatus",
    "EndDateChange",
    "Exercise",
    "OptionDraft",
    "ScopeChange",
    "Supplier",
    "SuppliersChange",
    "ValueChange",
    "add_option",
    "amend",
    "cancel",
    "closed_data",
    "complete",
    "contract_data",
    "create",
    "exercise",
    "require_live",
    "sign",
    "terminate",
    "update",
]


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"  # signed
    COMPLETED = "completed"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"  # never signed


C = ContractStatus
CONTRACT_MOVES: dict[ContractStatus, tuple[ContractStatus, ...]] = {
    C.PENDING: (C.ACTIVE, C.CANCELLED),
    C.ACTIVE: (C.COMPLETED, C.TERMINATED),
    C.COMPLETED: (),
    C.TERMINATED: (),
    C.CANCELLED: (),
}
LIVE = (C.PENDING, C.ACTIVE)


class Supplier(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None  # as the provider read model knew it


class ContractOption(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An option written into the contract (e.g. to scale up to more areas), and its use."""

    id: str
    description: str
    value: Money | None
    scope: str | None
    exercised: bool = False
    exercised_on: date | None = None
    exercise_note: str | None = None
    added_at: datetime


class ValueChange(
    msgspec.Struct, frozen=True, kw_only=True, tag="value", tag_field="kind", rename="camel"
):
    change: Money  # signed: a reduction is negative


class EndDateChange(
    msgspec.Struct, frozen=True, kw_only=True, tag="end_date", tag_field="kind", rename="camel"
):
    ends_on: date


class ScopeChange(
    msgspec.Struct, frozen=True, kw_only=True, tag="scope", tag_field="kind", rename="camel"
):
    scope: str


class SuppliersChange(
    msgspec.Struct, frozen=True, kw_only=True, tag="suppliers", tag_field="kind", rename="camel"
):
    add: list[str] = []
    remove: list[str] = []


Change = ValueChange | EndDateChange | ScopeChange | SuppliersChange


class Amendment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    change: Change
    rationale: str
    made_at: datetime
    made_by: str
    before: Mapping[str, object]  # the changed fields as they were


class AmendmentDraft(msgspec.Struct, frozen=True, kw_only=True):
    change: Change
    rationale: str


class Contract(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    buyer_id: str
    title: str
    description: str | None
    award_ids: list[str]
    lot_ids: list[str]
    tender_ids: list[str]
    categories: list[str]
    suppliers: list[Supplier]
    value: Money | None  # the original value
    current_value: Money | None
    amendments_value: Decimal  # net cumulative value of the amendments
    threshold_exceeded: bool
    starts_on: date | None
    ends_on: date | None
    scope: str | None
    status: ContractStatus
    signed_at: datetime | None = None
    closed_on: date | None = None  # completed, terminated or cancelled on
    reason: str | None = None
    options: list[ContractOption] = []
    amendments: list[Amendment] = []
    # Why it has no KPIs though worth more than £5m (Procurement Act 2023 s.52), set before
    # signing.
    kpi_exemption: str | None = None
    imported: Imported | None = None
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def provider_ids(self) -> list[str]:
        return [s.id for s in self.suppliers]


class ContractDraft(msgspec.Struct, frozen=True, kw_only=True):
    award_ids: Sequence[str]
    title: str
    description: str | None = None
    value: Money | None = None  # default: the sum of the awards' values, if all are known
    starts_on: date | None = None
    ends_on: date | None = None
    scope: str | None = None


class ContractChanges(msgspec.Struct, frozen=True, kw_only=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    value: Money | msgspec.UnsetType | None = msgspec.UNSET
    starts_on: date | msgspec.UnsetType | None = msgspec.UNSET
    ends_on: date | msgspec.UnsetType | None = msgspec.UNSET
    scope: str | msgspec.UnsetType | None = msgspec.UNSET
    kpi_exemption: str | msgspec.UnsetType | None = msgspec.UNSET


class OptionDraft(msgspec.Struct, frozen=True, kw_only=True):
    description: str
    value: Money | None = None
    scope: str | None = None


class Exercise(msgspec.Struct, frozen=True, kw_only=True):
    on: date
    note: str | None = None


def _move(contract: Contract, to: ContractStatus, verb: str) -> None:
    if to not in CONTRACT_MOVES[contract.status]:
        raise refused(
            f"{a(contract.status)} contract cannot be {verb}",
            contract.status,
            CONTRACT_MOVES,
        )


def require_live(contract: Contract, parts: str, verb: str) -> None:
    """A contract's parts (``milestones``, ``KPIs``) are ``verb`` only while it is live."""
    if contract.status not in LIVE:
        raise refused(
            f"{parts} are {verb} on a pending or active contract; this one is {contract.status}",
            contract.status,
            CONTRACT_MOVES,
        )


def _live(contract: Contract, verb: str) -> None:
    if contract.status not in LIVE:
        raise refused(
            f"{a(contract.status)} contract cannot be {verb}",
            contract.status,
            CONTRACT_MOVES,
        )


def _check_period(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise RuleBroken(f"endsOn ({ends_on}) is before startsOn ({starts_on})", "endsOn")


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def create(
    draft: ContractDraft,
    awards: Sequence[Award],
    *,
    names: Mapping[str, str],
    id: str,
    now: datetime,
) -> Contract:
    """A pending contract resting on ``awards`` (those of ``draft.award_ids``, all found)."""
    if not awards:
        raise RuleBroken("a contract rests on at least one award", "awardIds")
    cancelled = [a.id for a in awards if a.status is AwardStatus.CANCELLED]
    if cancelled:
        raise RuleBroken(
            "a contract cannot rest on a cancelled award",
            errors=[("awardIds", f"{a} is cancelled") for a in cancelled],
        )
    if len({a.buyer_id for a in awards}) > 1:
        raise RuleBroken("the awards belong to different buyers", "awardIds")
    _check_period(draft.starts_on, draft.ends_on)
    value = draft.value if draft.value is not None else total((a.value for a in awards), "value")
    providers = _unique([a.provider_id for a in awards])
    return Contract(
        id=id,
        buyer_id=awards[0].buyer_id,
        title=not_blank(draft.title, "title"),
        description=draft.description,
        award_ids=[a.id for a in awards],
        lot_ids=_unique([a.lot_id for a in awards]),
        tender_ids=_unique([a.tender_id for a in awards]),
        categories=_unique([a.category for a in awards]),
        suppliers=[Supplier(id=p, name=names.get(p)) for p in providers],
        value=value,
        current_value=value,
        amendments_value=Decimal("0.00"),
        threshold_exceeded=False,
        starts_on=draft.starts_on,
        ends_on=draft.ends_on,
        scope=draft.scope,
        status=C.PENDING,
        version=1,
        created_at=now,
        updated_at=now,
    )


_TERMS = ("value", "starts_on", "ends_on", "scope")
# What is settled before signing and never after (not by amendment either).
_BEFORE_SIGNING = ("kpi_exemption",)


def update(
    contract: Contract, changes: ContractChanges, *, now: datetime
) -> tuple[Contract, list[str]]:
    """Details change freely on a live contract; its terms (value, period, scope) only before
    it is signed: after that, by an amendment."""
    _live(contract, "changed")
    changed = changed_fields(contract, changes)
    if not changed:
        return contract, []
    terms = [name for name in changed if name in _TERMS]
    if terms and contract.status is not C.PENDING:
        raise RuleBroken(
            "a signed contract's terms change by amendment (POST .../amendments)",
            errors=[(camel(name), "changes by amendment once signed") for name in terms],
        )
    settled = [name for name in changed if name in _BEFORE_SIGNING]
    if settled and contract.status is not C.PENDING:
        raise RuleBroken(
            f"{camel(settled[0])} is recorded before the contract is signed", camel(settled[0])
        )
    for name in ("title", *settled):
        if changed.get(name) is not None:
            changed[name] = not_blank(str(changed[name]), camel(name))
    after = msgspec.structs.replace(
        contract, **changed, version=contract.version + 1, updated_at=now
    )
    _check_period(after.starts_on, after.ends_on)
    if "value" in changed:
        after = _revalue(after, threshold=None)
    return after, [camel(name) for name in changed]


def sign(contract: Contract, awards: Sequence[Award], *, now: datetime) -> Contract:
    _move(contract, C.ACTIVE, "signed")
    running = [a for a in awards if now < a.standstill_ends]
    if running:
        last = max(a.standstill_ends for a in running)
        raise refused(
            f"the standstill period of award {running[0].id} runs until {last.isoformat()}: "
            "the contract cannot be signed before it ends",
            contract.status,
            CONTRACT_MOVES,
        )
    gone = [a.id for a in awards if a.status is AwardStatus.CANCELLED]
    if gone:
        raise Conflict(
            f"award {gone[0]} was cancelled: the contract cannot be signed",
            current=contract.status,
            allowed=(C.CANCELLED,),
        )
    return msgspec.structs.replace(
        contract, status=C.ACTIVE, signed_at=now, version=contract.version + 1, updated_at=now
    )


def _close(
    contract: Contract, to: ContractStatus, verb: str, on: date, reason: str | None, now: datetime
) -> Contract:
    _move(contract, to, verb)
    if reason is not None and not reason.strip():
        raise RuleBroken("say why (reason)", "reason")
    if contract.starts_on is not None and on < contract.starts_on and to is not C.CANCELLED:
        raise RuleBroken(f"{on} is before the contract starts ({contract.starts_on})", "on")
    return msgspec.structs.replace(
        contract,
        status=to,
        closed_on=on,
        reason=reason.strip() if reason else None,
        version=contract.version + 1,
        updated_at=now,
    )


def complete(contract: Contract, on: date, *, now: datetime) -> Contract:
    return _close(contract, C.COMPLETED, "completed", on, None, now)


def terminate(contract: Contract, on: date, reason: str, *, now: datetime) -> Contract:
    return _close(contract, C.TERMINATED, "terminated", on, reason, now)


def cancel(contract: Contract, reason: str, *, now: datetime) -> Contract:
    return _close(contract, C.CANCELLED, "cancelled", now.date(), reason, now)


def _revalue(contract: Contract, *, threshold: Decimal | None) -> Contract:
    """Current value and threshold flag from the original value, amendments and options."""
    exercised = [o.value for o in contract.options if o.exercised]
    current: Money | None = contract.value
    if current is not None:
        current = Money(
            amount=current.amount + contract.amendments_value, currency=current.currency
        )
        for value in exercised:
            if value is not None:
                current = current.plus(value, "options")
    flagged = contract.threshold_exceeded
    if threshold is not None and contract.value is not None and contract.value.amount > 0:
        flagged = flagged or abs(contract.amendments_value) > contract.value.amount * threshold
    return msgspec.structs.replace(contract, current_value=current, threshold_exceeded=flagged)


def add_option(contract: Contract, draft: OptionDraft, *, id: str, now: datetime) -> Contract:
    _live(contract, "given options")
    if draft.value is not None and contract.value is not None:
        contract.value.plus(draft.value, "value")  # same currency
    option = ContractOption(
        id=id,
        description=not_blank(draft.description, "description"),
        value=draft.value,
        scope=draft.scope,
        added_at=now,
    )
    return msgspec.structs.replace(
        contract,
        options=[*contract.options, option],
        version=contract.version + 1,
        updated_at=now,
    )


def exercise(
    contract: Contract, option_id: str, ex: Exercise, *, threshold: Decimal, now: datetime
) -> Contract:
    if contract.status is not C.ACTIVE:
        raise refused(
            f"options are exercised on a signed (active) contract; it is {contract.status}",
            contract.status,
            CONTRACT_MOVES,
        )
    option = next((o for o in contract.options if o.id == option_id), None)
    if option is None:
        raise RuleBroken(f"contract {contract.id} has no option {option_id}", "optionId")
    if option.exercised:
        raise Conflict(
            f"option {option_id} was exercised on {option.exercised_on}",
            current="exercised",
            allowed=(),
        )
    used = msgspec.structs.replace(
        option, exercised=True, exercised_on=ex.on, exercise_note=ex.note
    )
    after = msgspec.structs.replace(
        contract,
        options=[used if o.id == option_id else o for o in contract.options],
        version=contract.version + 1,
        updated_at=now,
    )
    return _revalue(after, threshold=threshold)


def amend(
    contract: Contract,
    draft: AmendmentDraft,
    *,
    id: str,
    by: str,
    names: Mapping[str, str],
    threshold: Decimal,
    now: datetime,
) -> Contract:
    """The contract with one typed change and its rationale recorded."""
    _live(contract, "amended")
    rationale = not_blank(draft.rationale, "rationale")
    change = draft.change
    fields: dict[str, object]
    before: dict[str, object]
    if isinstance(change, ValueChange):
        if contract.value is not None:
            contract.value.plus(change.change, "change")
        if change.change.amount == 0:
            raise RuleBroken("a value amendment changes the value", "change")
        fields = {"amendments_value": contract.amendments_value + change.change.amount}
        before = {"currentValue": event_money(contract.current_value)}
    elif isinstance(change, EndDateChange):
        _check_period(contract.starts_on, change.ends_on)
        fields, before = {"ends_on": change.ends_on}, {"endsOn": contract.ends_on}
    elif isinstance(change, ScopeChange):
        fields, before = {"scope": not_blank(change.scope, "scope")}, {"scope": contract.scope}
    else:
        held = contract.provider_ids
        missing = [p for p in change.remove if p not in held]
        present = [p for p in change.add if p in held]
        if not change.add and not change.remove:
            raise RuleBroken("name suppliers to add or remove", "change")
        if missing or present:
            raise RuleBroken(
                "the suppliers named do not match the contract",
                errors=[("change/remove", f"{p} is not a supplier") for p in missing]
                + [("change/add", f"{p} is already a supplier") for p in present],
            )
        kept = [s for s in contract.suppliers if s.id not in change.remove]
        added = [Supplier(id=p, name=names.get(p)) for p in _unique(change.add)]
        if not kept and not added:
            raise RuleBroken("a contract keeps at least one supplier", "change/remove")
        fields = {"suppliers": kept + added}
        before = {"suppliers": [s.id for s in contract.suppliers]}
    amendment = Amendment(
        id=id, change=change, rationale=rationale, made_at=now, made_by=by, before=before
    )
    after = msgspec.structs.replace(
        contract,
        **fields,
        amendments=[*contract.amendments, amendment],
        version=contract.version + 1,
        updated_at=now,
    )
    return _revalue(after, threshold=threshold)


def contract_data(
    contract: Contract,
    *,
    changed: Sequence[str] = (),
    amendment_id: str | None = None,
    option_id: str | None = None,
) -> ContractData:
    return ContractData(
        contract_id=contract.id,
        award_ids=list(contract.award_ids),
        provider_ids=contract.provider_ids,
        title=contract.title,
        status=contract.status,
        value=event_money(contract.current_value),
        starts_on=contract.starts_on,
        ends_on=contract.ends_on,
        lot_ids=list(contract.lot_ids),
        original_value=event_money(contract.value),
        threshold_exceeded=contract.threshold_exceeded,
        amendment_id=amendment_id,
        option_id=option_id,
        changed=list(changed),
        kpi_exemption=contract.kpi_exemption,
    )


def closed_data(contract: Contract) -> ContractClosed:
    assert contract.closed_on is not None
    return ContractClosed(
        contract_id=contract.id,
        provider_ids=contract.provider_ids,
        status=contract.status,
        on=contract.closed_on,
        reason=contract.reason,
    )
