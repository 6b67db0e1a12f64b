"""What a channel answered an attempt, whichever sender made it."""

from __future__ import annotations

import time

import msgspec

__all__ = ["Response", "since"]


class Response(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int | None  # the HTTP status, or the mail server's reply code
    error: str | None
    address: str | None  # where it went: the checked IP address, or the mail server
    latency_ms: float


def since(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()``)."""
    return (time.perf_counter() - started) * 1000
