"""Reading an OCDS compiled release as found in the wild: values of the wrong type, dates
without offsets, amounts as strings. Every read names the field it used (so that the rest can be
reported as having nowhere to go), and every fault is a problem line, never an exception.

Paths are JSON-pointer-like without array indices (``contracts/implementation/milestones/title``):
the report counts fields, not occurrences' places.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from procure_contracts.domain.money import Money

__all__ = ["CURRENCIES", "Reader", "unplaced"]


def _currencies() -> frozenset[str]:
    """The ISO 4217 codes of OCDS's closed currency codelist (shipped with the schemas)."""
    where = resources.files("procure_contracts") / "ocds" / "standard" / "1.1.5" / "codelists"
    text = (where / "currency.csv").read_text(encoding="utf-8")
    return frozenset(row["Code"] for row in csv.DictReader(io.StringIO(text)) if row["Code"])


CURRENCIES = _currencies()

# What an OCDS object is once decoded from JSON.
Obj = Mapping[str, Any]


def _join(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


class Reader:
    """Reads fields of one compiled release, remembering which paths it used and what was
    wrong."""

    def __init__(self, ocid: str) -> None:
        self.ocid = ocid
        self.used: set[str] = set()
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.ocid}: {message}")

    def use(self, path: str) -> None:
        self.used.add(path)

    def raw(self, obj: Obj, path: str, key: str) -> Any:
        if key in obj:
            self.used.add(_join(path, key))
        return obj.get(key)

    def obj(self, obj: Obj, path: str, key: str) -> Obj:
        """A nested object (empty if absent or not an object); its fields are marked as they
        are read."""
        value = obj.get(key)
        return value if isinstance(value, dict) else {}

    def objs(self, obj: Obj, path: str, key: str) -> list[Obj]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f"{_join(path, key)} is not an array")
            return []
        return [item for item in value if isinstance(item, Mapping)]

    def text(self, obj: Obj, path: str, key: str) -> str | None:
        value = self.raw(obj, path, key)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # ids published as numbers
        if not isinstance(value, str):
            self.problem(f"{_join(path, key)} is not a string: {value!r}")
            return None
        return value.strip() or None

    def when(self, obj: Obj, path: str, key: str) -> datetime | None:
        """A date-time; one without an offset is read as UTC, a bare date as its midnight."""
        value = self.raw(obj, path, key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                found = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
        self.problem(f"{_join(path, key)} is not a date-time: {value!r}")
        return None

    def day(self, obj: Obj, path: str, key: str) -> date | None:
        """The calendar day of a date-time, as its publisher wrote it (its own offset)."""
        found = self.when(obj, path, key)
        return None if found is None else found.date()

    def money(self, obj: Obj, path: str, key: str) -> Money | None:
        """An OCDS Value (``amount`` and ``currency``); an amount given as a string is read."""
        value = obj.get(key)
        if value is None:
            return None
        where = _join(path, key)
        if not isinstance(value, dict):
            self.problem(f"{where} is not a value object: {value!r}")
            return None
        amount = self.raw(value, where, "amount")
        currency = self.text(value, where, "currency")
        if amount is None or isinstance(amount, bool):
            return None
        try:
            number = Decimal(str(amount).strip())
        except InvalidOperation:
            self.problem(f"{where}/amount is not a number: {amount!r}")
            return None
        if not number.is_finite():
            self.problem(f"{where}/amount is not a number: {amount!r}")
            return None
        if currency is None:
            self.problem(f"{where} has no currency: read as GBP")
            currency = "GBP"
        elif currency != currency.upper():
            self.problem(f"{where}/currency {currency!r} read as {currency.upper()!r}")
            currency = currency.upper()
        if currency not in CURRENCIES:
            self.problem(f"{where}/currency {currency!r} is no ISO 4217 currency: kept as given")
        return Money(amount=number, currency=currency)


def unplaced(compiled: Obj, used: set[str]) -> Counter[str]:
    """How many times each field of ``compiled`` that no read used holds data (not null, not
    an empty object or array; an array of plain values is one field). A field is used when
    it, or an object it sits in, was read: a used path's whole subtree is skipped."""
    counts: Counter[str] = Counter()

    def walk(value: Any, path: str) -> None:
        # JSON decodes to dicts and lists: exact type checks (an ABC check costs ten times more).
        if type(value) is dict:
            for key, item in value.items():
                inner = f"{path}/{key}" if path else str(key)
                if inner not in used:
                    walk(item, inner)
        elif type(value) is list:
            if any(type(item) is dict or type(item) is list for item in value):
                for item in value:
                    walk(item, path)
            elif value:
                counts[path] += 1
        elif value is not None and value != "":
            counts[path] += 1

    walk(compiled, "")
    return counts
