"""Money: a decimal amount in a currency (never a float). An amount that is not known is
``None``, never zero: the 2021/22 NTP strands' values were not published."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from procure_shared.errors import RuleBroken
from procure_shared.events.contracts import Money as EventMoney

__all__ = ["CENT", "Money", "amount_of", "event_money", "total"]

CENT = Decimal("0.01")


class Money(msgspec.Struct, frozen=True, kw_only=True):
    amount: Decimal
    currency: str = "GBP"

    def __post_init__(self) -> None:
        # At least two decimal places; more are kept as written (an imported 55463.776; ours
        # have two, as the API takes them).
        exponent = self.amount.as_tuple().exponent
        if not isinstance(exponent, int) or exponent > -2:
            msgspec.structs.force_setattr(self, "amount", self.amount.quantize(CENT))

    def plus(self, other: Money, field: str) -> Money:
        if other.currency != self.currency:
            raise RuleBroken(
                f"{field} is in {other.currency}, the contract in {self.currency}", field
            )
        return Money(amount=self.amount + other.amount, currency=self.currency)


def amount_of(money: Money | None) -> Decimal | None:
    """The amount alone (what a table's value column holds); ``None`` when unknown."""
    return None if money is None else money.amount


def event_money(money: Money | None) -> EventMoney | None:
    return None if money is None else EventMoney(amount=str(money.amount), currency=money.currency)


def total(values: Iterable[Money | None], field: str) -> Money | None:
    """The sum of ``values``; unknown (None) if any is unknown or there are none."""
    result: Money | None = None
    for value in values:
        if value is None:
            return None
        result = value if result is None else result.plus(value, field)
    return result
