"""Milestones: the dated deliverables of a contract (optionally of one of its lots): a
delivery, a report or a payment, with an optional planned quantity (e.g. pupils to reach).

A milestone is ``scheduled`` until it is settled: ``met`` (on time or late), ``partially_met``
(which may later be met in full, or the rest waived), ``not_met``, or ``waived`` with a reason.
Milestones are scheduled and changed only on a live (pending or active) contract; settling
one is possible whatever became of the contract (a final payment follows completion).

A payment milestone carries an amount. Meeting it (also partly) makes an OCDS implementation
transaction: paid by the buyer to one of the contract's suppliers, kept on the milestone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import msgspec

from procure_contracts.contracts.rules import Contract, require_live
from procure_contracts.domain.changes import a, camel, changed_fields, not_blank, refused
from procure_contracts.domain.imported import Imported
from procure_contracts.domain.money import Money, event_money
from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import MilestoneData, MilestoneSettled

__all__ = [
    "LATEST_AFTER_END",
    "MILESTONE_MOVES",
    "Milestone",
    "MilestoneChanges",
    "MilestoneDraft",
    "MilestoneKind",
    "MilestoneStatus",
    "Notice",
    "NoticeKind",
    "PaymentParty",
    "Settlement",
    "Transaction",
    "met",
    "milestone_data",
    "not_met",
    "schedule",
    "settled_data",
    "update",
    "waive",
]


class MilestoneKind(StrEnum):
    DELIVERY = "delivery"
    REPORTING = "reporting"
    PAYMENT = "payment"


class MilestoneStatus(StrEnum):
    SCHEDULED = "scheduled"
    MET = "met"
    PARTIALLY_MET = "partially_met"
    NOT_MET = "not_met"
    WAIVED = "waived"


M = MilestoneStatus
MILESTONE_MOVES: dict[MilestoneStatus, tuple[MilestoneStatus, ...]] = {
    M.SCHEDULED: (M.MET, M.PARTIALLY_MET, M.NOT_MET, M.WAIVED),
    # The rest delivered (or paid) later, or the rest waived.
    M.PARTIALLY_MET: (M.MET, M.WAIVED),
    M.MET: (),
    M.NOT_MET: (),
    M.WAIVED: (),
}

# A final report or payment commonly falls due after the service ends; a due date more than a
# year after the contract's end is taken for a typo.
LATEST_AFTER_END = timedelta(days=365)


class PaymentParty(msgspec.Struct, frozen=True, kw_only=True):
    """An OCDS organization reference."""

    id: str
    name: str | None


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """An OCDS implementation transaction: a payment made under the contract."""

    id: str
    date: date
    value: Money
    payer: PaymentParty  # the buyer
    payee: PaymentParty  # one of the contract's suppliers


class NoticeKind(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class Notice(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A notice the milestone monitor sent: which, about which due date, on which day."""

    kind: NoticeKind
    due_on: date
    sent_on: date


class Milestone(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    buyer_id: str
    contract_id: str
    lot_id: str | None
    kind: MilestoneKind
    title: str
    description: str | None
    due_on: date
    planned_quantity: int | None  # e.g. pupils to reach
    quantity_unit: str | None  # e.g. "pupils"
    amount: Money | None  # payment milestones only
    status: MilestoneStatus
    met_on: date | None = None  # met or partially met on
    evidence: str | None = None  # how it is known to be met: text or a reference
    achieved_quantity: int | None = None
    reason: str | None = None  # why it was waived or not met
    transactions: list[Transaction] = []
    settled_at: datetime | None = None
    notices: list[Notice] = []  # the monitor's, oldest first
    imported: Imported | None = None
    version: int
    created_at: datetime
    updated_at: datetime

    def noticed(self, kind: NoticeKind) -> bool:
        """Whether the monitor sent this notice about the milestone's current due date."""
        return any(n.kind is kind and n.due_on == self.due_on for n in self.notices)

    def owed(self, kind: NoticeKind) -> bool:
        """Whether the notice may still be owed when its day comes: the milestone is scheduled
        and has had neither this notice nor the overdue one about its current due date."""
        return (
            self.status is MilestoneStatus.SCHEDULED
            and not self.noticed(NoticeKind.OVERDUE)
            and not self.noticed(kind)
        )

    @property
    def paid(self) -> Decimal:
        return sum((t.value.amount for t in self.transactions), Decimal("0.00"))


class MilestoneDraft(msgspec.Struct, frozen=True, kw_only=True):
    kind: MilestoneKind
    title: str
    due_on: date
    description: str | None = None
    lot_id: str | None = None
    planned_quantity: int | None = None
    quantity_unit: str | None = None
    amount: Money | None = None


class MilestoneChanges(msgspec.Struct, frozen=True, kw_only=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    due_on: date | msgspec.UnsetType = msgspec.UNSET
    planned_quantity: int | msgspec.UnsetType | None = msgspec.UNSET
    quantity_unit: str | msgspec.UnsetType | None = msgspec.UNSET
    amount: Money | msgspec.UnsetType | None = msgspec.UNSET


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """A milestone met, in full or in part."""

    met_on: date
    evidence: str
    partially: bool = False
    achieved_quantity: int | None = None
    paid: Money | None = None  # payment: default the amount not yet paid (required if partly)
    payee_id: str | None = None  # payment: default the contract's only supplier


def _check_due(contract: Contract, due_on: date) -> None:
    if contract.starts_on is not None and due_on < contract.starts_on:
        raise RuleBroken(
            f"dueOn ({due_on}) is before the contract starts ({contract.starts_on})", "dueOn"
        )
    if contract.ends_on is not None and due_on > contract.ends_on + LATEST_AFTER_END:
        raise RuleBroken(
            f"dueOn ({due_on}) is more than a year after the contract ends ({contract.ends_on})",
            "dueOn",
        )


def _check_amount(kind: MilestoneKind, amount: Money | None, contract: Contract) -> None:
    if kind is MilestoneKind.PAYMENT:
        if amount is None:
            raise RuleBroken("a payment milestone carries an amount", "amount")
        if amount.amount <= 0:
            raise RuleBroken("a payment's amount is more than zero", "amount")
        if contract.value is not None:
            contract.value.plus(amount, "amount")  # same currency
    elif amount is not None:
        raise RuleBroken(f"only payment milestones carry an amount, not {kind} ones", "amount")


def _check_quantity(planned: int | None, unit: str | None) -> None:
    if unit is not None and planned is None:
        raise RuleBroken("a quantity unit goes with a planned quantity", "quantityUnit")


def schedule(contract: Contract, draft: MilestoneDraft, *, id: str, now: datetime) -> Milestone:
    require_live(contract, "milestones", "scheduled")
    if draft.lot_id is not None and draft.lot_id not in contract.lot_ids:
        raise RuleBroken(f"contract {contract.id} covers no lot {draft.lot_id}", "lotId")
    _check_due(contract, draft.due_on)
    _check_amount(draft.kind, draft.amount, contract)
    _check_quantity(draft.planned_quantity, draft.quantity_unit)
    return Milestone(
        id=id,
        buyer_id=contract.buyer_id,
        contract_id=contract.id,
        lot_id=draft.lot_id,
        kind=draft.kind,
        title=not_blank(draft.title, "title"),
        description=draft.description,
        due_on=draft.due_on,
        planned_quantity=draft.planned_quantity,
        quantity_unit=draft.quantity_unit,
        amount=draft.amount,
        status=M.SCHEDULED,
        version=1,
        created_at=now,
        updated_at=now,
    )


def update(
    milestone: Milestone, contract: Contract, changes: MilestoneChanges, *, now: datetime
) -> tuple[Milestone, list[str]]:
    """A scheduled milestone's details, on a live contract."""
    if milestone.status is not M.SCHEDULED:
        raise refused(
            f"only a scheduled milestone changes; this one is {milestone.status}",
            milestone.status,
            MILESTONE_MOVES,
        )
    require_live(contract, "milestones", "changed")
    changed = changed_fields(milestone, changes)
    if not changed:
        return milestone, []
    if "title" in changed:
        changed["title"] = not_blank(str(changed["title"]), "title")
    after = msgspec.structs.replace(
        milestone, **changed, version=milestone.version + 1, updated_at=now
    )
    if "due_on" in changed:
        _check_due(contract, after.due_on)
    _check_amount(after.kind, after.amount, contract)
    _check_quantity(after.planned_quantity, after.quantity_unit)
    return after, [camel(name) for name in changed]


def _move(milestone: Milestone, to: MilestoneStatus, verb: str) -> None:
    if to not in MILESTONE_MOVES[milestone.status]:
        raise refused(
            f"{a(milestone.status.replace('_', ' '))} milestone cannot be {verb}",
            milestone.status,
            MILESTONE_MOVES,
        )


def _transaction(
    milestone: Milestone, contract: Contract, s: Settlement, *, id: str
) -> Transaction | None:
    """The payment a payment milestone's settlement makes (none when nothing is left)."""
    if milestone.kind is not MilestoneKind.PAYMENT:
        if s.paid is not None or s.payee_id is not None:
            field = "paid" if s.paid is not None else "payeeId"
            raise RuleBroken(f"only a payment milestone is paid, not a {milestone.kind} one", field)
        return None
    assert milestone.amount is not None  # a payment milestone always has one
    left = milestone.amount.amount - milestone.paid
    if s.paid is None and s.partially:
        raise RuleBroken("say how much was paid (paid) when a payment is partly met", "paid")
    value = s.paid if s.paid is not None else Money(amount=left, currency=milestone.amount.currency)
    milestone.amount.plus(value, "paid")  # same currency
    if value.amount <= 0 and s.paid is not None:
        raise RuleBroken("a payment is more than zero", "paid")
    if value.amount > left:
        raise RuleBroken(
            f"{value.amount} is more than is left to pay ({left} of {milestone.amount.amount})",
            "paid",
        )
    if s.partially and value.amount == left:
        raise RuleBroken("that pays the whole amount: the milestone is met, not partly", "paid")
    if value.amount == 0:
        return None
    suppliers = {p.id: p.name for p in contract.suppliers}
    payee = s.payee_id
    if payee is None:
        if len(suppliers) != 1:
            raise RuleBroken(
                "name the supplier paid (payeeId): the contract has several", "payeeId"
            )
        (payee,) = suppliers
    elif payee not in suppliers:
        raise RuleBroken(f"{payee} is not a supplier of contract {contract.id}", "payeeId")
    return Transaction(
        id=id,
        date=s.met_on,
        value=value,
        payer=PaymentParty(id=contract.buyer_id, name=None),
        payee=PaymentParty(id=payee, name=suppliers[payee]),
    )


def met(
    milestone: Milestone,
    contract: Contract,
    s: Settlement,
    *,
    transaction_id: str,
    now: datetime,
) -> Milestone:
    """Met (on time or late) or partly met, on ``s.met_on``, with its evidence."""
    to = M.PARTIALLY_MET if s.partially else M.MET
    _move(milestone, to, "partially met" if s.partially else "met")
    if s.met_on > now.date():
        raise RuleBroken(f"metOn ({s.met_on}) is in the future", "metOn")
    if milestone.met_on is not None and s.met_on < milestone.met_on:
        raise RuleBroken(
            f"metOn ({s.met_on}) is before it was partly met ({milestone.met_on})", "metOn"
        )
    evidence = not_blank(s.evidence, "evidence")
    transaction = _transaction(milestone, contract, s, id=transaction_id)
    return msgspec.structs.replace(
        milestone,
        status=to,
        met_on=s.met_on,
        evidence=evidence,
        achieved_quantity=(
            s.achieved_quantity if s.achieved_quantity is not None else milestone.achieved_quantity
        ),
        transactions=[*milestone.transactions, *([transaction] if transaction else [])],
        settled_at=now,
        version=milestone.version + 1,
        updated_at=now,
    )


def not_met(milestone: Milestone, reason: str | None, *, now: datetime) -> Milestone:
    _move(milestone, M.NOT_MET, "recorded as not met")
    if reason is not None and not reason.strip():
        raise RuleBroken("reason must not be blank", "reason")
    return msgspec.structs.replace(
        milestone,
        status=M.NOT_MET,
        reason=reason.strip() if reason else None,
        settled_at=now,
        version=milestone.version + 1,
        updated_at=now,
    )


def waive(milestone: Milestone, reason: str, *, now: datetime) -> Milestone:
    _move(milestone, M.WAIVED, "waived")
    return msgspec.structs.replace(
        milestone,
        status=M.WAIVED,
        reason=not_blank(reason, "reason"),
        settled_at=now,
        version=milestone.version + 1,
        updated_at=now,
    )


def milestone_data(
    milestone: Milestone, provider_ids: Sequence[str], *, changed: Sequence[str] = ()
) -> MilestoneData:
    return MilestoneData(
        milestone_id=milestone.id,
        contract_id=milestone.contract_id,
        provider_ids=list(provider_ids),
        kind=milestone.kind,
        title=milestone.title,
        status=milestone.status,
        due_on=milestone.due_on,
        lot_id=milestone.lot_id,
        planned_quantity=milestone.planned_quantity,
        quantity_unit=milestone.quantity_unit,
        amount=event_money(milestone.amount),
        changed=list(changed),
    )


def settled_data(
    milestone: Milestone, provider_ids: Sequence[str], *, paid: Transaction | None = None
) -> MilestoneSettled:
    return MilestoneSettled(
        milestone_id=milestone.id,
        contract_id=milestone.contract_id,
        provider_ids=list(provider_ids),
        title=milestone.title,
        status=milestone.status,
        due_on=milestone.due_on,
        met_on=milestone.met_on,
        kind=milestone.kind,
        lot_id=milestone.lot_id,
        achieved_quantity=milestone.achieved_quantity,
        reason=milestone.reason,
        transaction_id=paid.id if paid else None,
        paid=event_money(paid.value) if paid else None,
    )
