"""Organisation identifiers in the org-id.guide style (scheme + id), validated by scheme.

Each scheme normalises what people type (spaces, case, a Companies House number without its
leading zeros) and then checks the register's format, so that one organisation cannot be
registered twice under two spellings of the same number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from procure_shared.errors import RuleBroken

__all__ = ["SCHEMES", "Identifier", "Scheme", "parse_identifier"]


class Identifier(msgspec.Struct, frozen=True, rename="camel"):
    scheme: str
    id: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.id}"


@dataclass(frozen=True, slots=True)
class Scheme:
    code: str
    register: str
    pattern: re.Pattern[str]
    example: str
    normalise: Callable[[str], str]


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def _companies_house(value: str) -> str:
    value = _compact(value)
    return value.zfill(8) if value.isdigit() else value


# Companies House prefixes: England and Wales has none (8 digits); the others are 2 letters.
_COH_PREFIXES = (
    "AC|BR|CE|CS|ES|FC|FE|GE|GN|GS|IC|IP|LP|NA|NC|NF|NI|NL|NO|NP|NR|NV|NZ|OC|PC|R0|RC|RS|SA|SC|SE|"
    "SF|SG|SI|SL|SO|SP|SR|SZ|ZC"
)

SCHEMES: dict[str, Scheme] = {
    s.code: s
    for s in (
        Scheme(
            "GB-COH",
            "Companies House",
            re.compile(rf"^(?:\d{{8}}|(?:{_COH_PREFIXES})\d{{6}})$"),
            "01234567 or SC123456",
            _companies_house,
        ),
        Scheme(
            "GB-CHC",
            "Charity Commission for England and Wales",
            re.compile(r"^\d{6,7}$"),
            "216250",
            _compact,
        ),
        Scheme(
            "GB-SC",
            "Scottish Charity Regulator",
            re.compile(r"^SC\d{6}$"),
            "SC012345",
            _compact,
        ),
        Scheme(
            "GB-NIC",
            "Charity Commission for Northern Ireland",
            re.compile(r"^1\d{5}$"),
            "100123",
            _compact,
        ),
        Scheme(
            "GB-EDU",
            "Get Information about Schools (unique reference number)",
            re.compile(r"^[1-9]\d{5}$"),
            "100000",
            _compact,
        ),
        Scheme(
            "GB-PPON",
            "Public procurement organisation number (Find a Tender)",
            re.compile(r"^[A-Z]{4}-\d{4}-[A-Z]{4}$"),
            "PMZV-7732-XXTT",
            _compact,
        ),
    )
}


def parse_identifier(scheme: str, id: str) -> Identifier:
    """The normalised identifier, or ``RuleBroken`` saying what the scheme expects."""
    spec = SCHEMES.get(scheme.strip().upper())
    if spec is None:
        known = ", ".join(SCHEMES)
        raise RuleBroken(f"unknown identifier scheme {scheme!r}; known: {known}", "scheme")
    value = spec.normalise(id)
    if not spec.pattern.match(value):
        raise RuleBroken(
            f"{id!r} is not a valid {spec.code} ({spec.register}) identifier; "
            f"expected the form {spec.example}",
            "id",
        )
    return Identifier(scheme=spec.code, id=value)
