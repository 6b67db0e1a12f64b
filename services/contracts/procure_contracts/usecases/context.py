"""Who acts, for which buyer, and how the contracts service asks the providers service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from procure_shared.audit import Actor
from procure_shared.errors import RuleBroken
from procure_shared.events.eligibility import EligibilityResult

__all__ = ["AskEligibility", "Who"]

# Asks the providers service; raises ``Unavailable`` when it does not answer in time.
AskEligibility = Callable[[Sequence[str], str, date], Awaitable[Mapping[str, EligibilityResult]]]


@dataclass(frozen=True, slots=True)
class Who:
    """The actor of a request and the buyer whose data it may see (``None``: every buyer's,
    for an admin)."""

    actor: Actor
    scope: str | None

    @property
    def buyer(self) -> str:
        """The buyer that what this actor creates belongs to."""
        if self.actor.buyer_id is None:
            raise RuleBroken("act for a buyer (a token with `buyer`) to create buyer data")
        return self.actor.buyer_id


@dataclass(frozen=True, slots=True)
class Rules:
    """The service's configurable rules."""

    # The share of a contract's original value past which the net cumulative value of its
    # amendments flags the contract (Procurement Act 2023 s.74 thresholds are a share too).
    amendment_threshold: Decimal = Decimal("0.10")
    # How long an award waits for the providers service's eligibility answer (seconds).
    eligibility_timeout: float = 2.0
