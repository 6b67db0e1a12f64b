"""Aggregates the unit tests of the contracts rules start from, built directly (no use case,
no database): a contract of £1m for a year, at the tests' clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from procure_contracts.contracts.rules import Contract, ContractStatus, Supplier
from procure_contracts.domain.money import Money

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=30)  # a tender's submission deadline


def a_contract(status: ContractStatus = ContractStatus.ACTIVE) -> Contract:
    value = Money(amount=Decimal("1000000.00"))
    return Contract(
        id="c1",
        buyer_id="dfe",
        title="Tutoring in the North East",
        description=None,
        award_ids=["a1"],
        lot_ids=["l1"],
        tender_ids=["t1"],
        categories=["tuition_delivery"],
        suppliers=[Supplier(id="p1", name="Tutors Ltd")],
        value=value,
        current_value=value,
        amendments_value=Decimal("0.00"),
        threshold_exceeded=False,
        starts_on=date(2026, 4, 1),
        ends_on=date(2027, 3, 31),
        scope=None,
        status=status,
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )
