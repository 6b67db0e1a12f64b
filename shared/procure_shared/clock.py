"""The one injectable clock of a process. No other code calls ``datetime.now()``.

A setting can start the clock at a chosen instant and run it faster than real time, for demos
and tests (Prozorro calls this its accelerated test mode); an anchor (the real instant at which
the clock read its start) keeps the processes of one system on the same time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["AcceleratedClock", "Clock", "FixedClock", "SystemClock", "clock_from_settings"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class AcceleratedClock:
    """Starts at ``start`` and advances ``rate`` simulated seconds per real second: from this
    process's start, or, given an ``anchor``, from that real instant, so that every process
    of a system (and a restarted one) reads the same time."""

    def __init__(self, start: datetime, rate: float = 1.0, anchor: datetime | None = None) -> None:
        if start.tzinfo is None or (anchor is not None and anchor.tzinfo is None):
            raise ValueError("the clock's start and anchor must carry a timezone")
        if rate <= 0:
            raise ValueError("the clock's rate must be positive")
        self._start = start.astimezone(UTC)
        self._rate = rate
        # Real seconds since the start: this process's own, or every process's from the anchor.
        self._read = time.monotonic if anchor is None else time.time
        self._origin = self._read() if anchor is None else anchor.timestamp()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._read() - self._origin) * self._rate)


class FixedClock:
    """A clock that moves only when told to: for tests."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock's instant must carry a timezone")
        self._instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._instant

    def advance(self, delta: timedelta) -> None:
        self._instant += delta

    def set(self, instant: datetime) -> None:
        self._instant = instant.astimezone(UTC)


def clock_from_settings(
    start: datetime | None, rate: float, anchor: datetime | None = None
) -> Clock:
    if start is None and rate == 1.0:
        return SystemClock()
    if start is None:
        return AcceleratedClock(datetime.now(UTC), rate)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if anchor is not None and anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    return AcceleratedClock(start, rate, anchor)
