"""What every feature's API takes alike: the text, time and quantity types of request fields,
the base of every request body (unknown fields are a 400: a typo is refused), money, and a
reason. Each feature's own bodies and list pages are in its ``schemas.py``; resources are
returned as the Structs they are."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.domain.money import Money

__all__ = [
    "ANY_TEXT",
    "SINGLE_LINE",
    "UNSET",
    "ChangeIn",
    "Id",
    "Instant",
    "MoneyIn",
    "Quantity",
    "Reason",
    "ReasonIn",
    "RequestBody",
    "Text",
    "Title",
    "Unit",
    "Unset",
    "money_or_none",
    "unless_unset",
]

ANY_TEXT = r"^[^\x00]*$"
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=SINGLE_LINE)]
Text = Annotated[str, msgspec.Meta(max_length=10_000, pattern=ANY_TEXT)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=ANY_TEXT)]
# An instant names its offset: a naive time would be ambiguous (and incomparable).
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=SINGLE_LINE)]
Quantity = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=SINGLE_LINE)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class RequestBody(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"
):
    pass


class MoneyIn(RequestBody, frozen=True, kw_only=True):
    amount: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$",
            description="A decimal string, at most two decimal places (never a float).",
            examples=["7987500.00"],
        ),
    ]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["GBP"])] = "GBP"

    def money(self) -> Money:
        return Money(amount=Decimal(self.amount), currency=self.currency)


class ChangeIn(MoneyIn, frozen=True, kw_only=True):
    """A change of value: negative for a reduction."""

    amount: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$",
            description="A decimal string, negative for a reduction.",
            examples=["-250000.00"],
        ),
    ]


def money_or_none(value: MoneyIn | None) -> Money | None:
    return None if value is None else value.money()


def unless_unset(value: object, convert: object = None) -> object:
    if value is UNSET:
        return UNSET
    return convert(value) if callable(convert) else value


class ReasonIn(RequestBody, frozen=True, kw_only=True):
    reason: Reason
