"""Small asyncio helpers shared by the long-running loops (relay, consumers, dead letters)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

__all__ = ["first_of", "sleep_or_stop"]


async def first_of(*aws: Awaitable[Any]) -> None:
    """Wait until the first of ``aws`` completes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when ``stop`` is set. True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
