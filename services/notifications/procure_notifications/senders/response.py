"""What a channel answered an attempt, whichever sender made it: the outcome (``Outcome``), and
the status, error, address and time that the attempt's log keeps."""

from __future__ import annotations

import time

import msgspec

from procure_notifications.domain.deliveries import Outcome

__all__ = ["Response", "answer", "failure", "refusal", "since"]


class Response(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    status_code: int | None  # the HTTP status, or the mail server's reply code
    error: str | None
    address: str | None  # where it went: the checked IP address, or the mail server
    latency_ms: float


def answer(status_code: int, *, address: str | None, latency_ms: float) -> Response:
    """The receiver answered: a 2xx delivers, 410 Gone says it wants no more, anything else
    failed."""
    if 200 <= status_code < 300:
        outcome = Outcome.DELIVERED
    elif status_code == 410:
        outcome = Outcome.GONE
    else:
        outcome = Outcome.FAILED
    return Response(
        outcome=outcome, status_code=status_code, error=None, address=address, latency_ms=latency_ms
    )


def failure(
    error: str, *, status_code: int | None = None, address: str | None, latency_ms: float
) -> Response:
    """No answer, or one that said why not (tried again later)."""
    return Response(
        outcome=Outcome.FAILED,
        status_code=status_code,
        error=error,
        address=address,
        latency_ms=latency_ms,
    )


def refusal(why: str, *, latency_ms: float) -> Response:
    """Not sent: the target is not one we send to (the rule it breaks, never the address)."""
    return Response(
        outcome=Outcome.REFUSED,
        status_code=None,
        error=f"refused: {why}",
        address=None,
        latency_ms=latency_ms,
    )


def since(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()``)."""
    return (time.perf_counter() - started) * 1000
