"""What a subscription asks for: event types with NATS-style wildcards and conditions on the
event's subject and data, ANDed. An event that does not carry what a condition asks about does
not match it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import msgspec

from procure_shared.events.contracts import RATINGS, Rating
from procure_shared.events.envelope import Envelope

__all__ = [
    "Conditions",
    "EventFacts",
    "Filter",
    "MinValue",
    "facts_of",
    "matches",
    "type_matches",
    "valid_pattern",
]

# The statutory KPI ratings, best first; "other" has no place in the order.
_RANK: dict[str, int] = {r: i for i, r in enumerate(r for r in RATINGS if r != "other")}
Level = Literal["good", "approaching_target", "requires_improvement", "inadequate"]

Pattern = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=r"^(\*|>|[A-Za-z0-9_-]+)(\.(\*|>|[A-Za-z0-9_-]+))*$",
        description="An event type, or a NATS-style pattern: `*` is one token, `>` the rest "
        "(last only). `contracts.milestone.*`, `contracts.>`, `>`.",
    ),
]


class MinValue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: Annotated[str, msgspec.Meta(pattern=r"^\d{1,15}(\.\d{1,2})?$")]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "GBP"


class Conditions(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    contract_id: str | None = None
    tender_id: str | None = None
    provider_id: str | None = None
    # The event's value (a contract's current value, an award's, a lot's) at least this.
    min_value: MinValue | None = None
    # KPI ratings at or below this level (good > approaching_target > requires_improvement >
    # inadequate).
    kpi_rating_at_or_below: Level | None = None


class Filter(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    event_types: Annotated[list[Pattern], msgspec.Meta(min_length=1, max_length=50)]
    conditions: Conditions = Conditions()


class _Money(msgspec.Struct, frozen=True):
    amount: str
    currency: str = "GBP"


class EventFacts(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the conditions look at, read from any event's data (other fields ignored)."""

    contract_id: str | None = None
    tender_id: str | None = None
    provider_id: str | None = None
    provider_ids: list[str] = []
    value: _Money | None = None
    rating: Rating | None = None


_facts = msgspec.json.Decoder(EventFacts)
_NO_FACTS = EventFacts()


def facts_of(envelope: Envelope) -> EventFacts:
    try:
        return _facts.decode(envelope.data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _NO_FACTS


def valid_pattern(pattern: str) -> bool:
    tokens = pattern.split(".")
    return ">" not in tokens[:-1]


def type_matches(pattern: str, event_type: str) -> bool:
    """NATS subject matching: ``*`` matches one token, a final ``>`` one or more."""
    wanted = pattern.split(".")
    tokens = event_type.split(".")
    for i, want in enumerate(wanted):
        if want == ">":
            return len(tokens) > i
        if i >= len(tokens) or (want != "*" and want != tokens[i]):
            return False
    return len(tokens) == len(wanted)


def matches(f: Filter, envelope: Envelope, facts: EventFacts) -> bool:
    if not any(type_matches(p, envelope.type) for p in f.event_types):
        return False
    c = f.conditions
    if c.contract_id is not None and facts.contract_id != c.contract_id:
        return False
    if c.tender_id is not None and facts.tender_id != c.tender_id:
        return False
    if c.provider_id is not None and not (
        facts.provider_id == c.provider_id or c.provider_id in facts.provider_ids
    ):
        return False
    if c.min_value is not None and not _at_least(facts.value, c.min_value):
        return False
    if c.kpi_rating_at_or_below is not None:
        rank = _RANK.get(facts.rating or "")
        if rank is None or rank < _RANK[c.kpi_rating_at_or_below]:
            return False
    return True


def _at_least(value: _Money | None, minimum: MinValue) -> bool:
    if value is None or value.currency != minimum.currency:
        return False
    try:
        return Decimal(value.amount) >= Decimal(minimum.amount)
    except InvalidOperation:
        return False
