"""When a failed delivery is tried again: exponential backoff with jitter, up to a horizon
after its first attempt; past the horizon it is a dead letter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import msgspec

__all__ = ["RetryPolicy", "next_attempt"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    first_delay: Annotated[float, msgspec.Meta(gt=0)] = 5.0  # seconds, after the first failure
    factor: Annotated[float, msgspec.Meta(ge=1)] = 2.0
    max_delay: Annotated[float, msgspec.Meta(gt=0)] = 6 * 3600.0
    # Seconds after the first attempt past which no attempt is made (3 days by default).
    horizon: Annotated[float, msgspec.Meta(gt=0)] = 3 * 86400.0
    jitter: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.2  # the delay varies by +/- this share

    def delay(self, failures: int, spread: float) -> float:
        """The wait after the ``failures``-th failed attempt; ``spread`` in [0, 1) picks the
        jitter (0.5 is none)."""
        base = min(self.first_delay * self.factor ** (failures - 1), self.max_delay)
        return base * (1 + self.jitter * (2 * spread - 1))


def next_attempt(
    policy: RetryPolicy, *, failures: int, first_attempt: datetime, now: datetime, spread: float
) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or ``None``: give up."""
    at = now + timedelta(seconds=policy.delay(failures, spread))
    if (at - first_attempt).total_seconds() > policy.horizon:
        return None
    return at
