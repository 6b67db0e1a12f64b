"""Who acts, for which buyer, and how the contracts service asks the providers service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from procure_shared.db.audit import Actor
from procure_shared.db.changes import publish
from procure_shared.db.postgres import Connection
from procure_shared.errors import RuleBroken
from procure_shared.events import EventSpec
from procure_shared.events.eligibility import EligibilityResult

__all__ = ["AskEligibility", "Rules", "Who", "record"]

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


class _Aggregate(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def buyer_id(self) -> str: ...


async def record(
    conn: Connection,
    who: Who,
    now: datetime,
    event: EventSpec,
    resource_type: str,
    before: _Aggregate | None,
    after: _Aggregate,
    data: Any,
) -> None:
    """Audit the change of an aggregate and put its one event (``sequence`` = its new version)
    in the outbox, in the caller's transaction."""
    await publish(
        conn,
        actor=who.actor,
        at=now,
        event=event,
        subject=after.id,
        sequence=after.version,
        data=data,
        resource_type=resource_type,
        before=before,
        after=after,
        buyer_id=after.buyer_id,
    )
