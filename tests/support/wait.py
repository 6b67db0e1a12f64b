"""Wait for a condition with a deadline: never sleep and hope."""

from __future__ import annotations

import asyncio
import http.client
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 15.0,
    interval: float = 0.05,
    what: str = "the condition",
) -> T:
    """Call ``probe`` until it returns a truthy value, and return it (never ``None``); fail
    after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} did not hold within {within} s (last value: {last!r})")


def until(
    probe: Callable[[], T],
    *,
    within: float = 15.0,
    interval: float = 0.05,
    what: str = "the condition",
    unless: Callable[[], bool] = lambda: False,
) -> T:
    """``eventually`` for code that cannot await (a fixture starting a process): call ``probe``
    until it returns a truthy value; fail after ``within`` seconds, or at once when ``unless``
    holds (the process being waited for has exited)."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        if unless():
            raise AssertionError(f"{what} can no longer hold (last value: {last!r})")
        time.sleep(interval)
    raise AssertionError(f"{what} did not hold within {within} s (last value: {last!r})")


def ready(port: int) -> bool:
    """Whether a service on this port answers ``/health/ready`` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
            return bool(r.status == 200)
    except (OSError, http.client.HTTPException):  # nothing there yet, or not an HTTP server
        return False


async def equals(value: Awaitable[T], expected: T) -> bool:
    """For ``eventually(lambda: equals(count(), 3))``."""
    return await value == expected


async def holds(condition: bool) -> bool:
    """For ``eventually(lambda: holds(relay.stats.active))``."""
    return condition


@asynccontextmanager
async def running(*workers: Any, stop_within: float = 15.0) -> AsyncIterator[None]:
    """Run long-lived workers (relay, consumers: anything with ``run(stop)``) for a block."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=stop_within)
