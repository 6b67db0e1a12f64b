"""Per-token rate limits, in each process: writes (POST, PUT, PATCH, DELETE) per second, and
event streams (Server-Sent Events) opened per minute. Over a limit a request is 429 with
``Retry-After`` (and the ``RateLimit-*`` headers), as a problem, before its handler runs.

Litestar's ``RateLimitMiddleware`` (its configuration, windows and headers), keyed by the
bearer token (or, for a browser's cookie session, its user). Its windows are fixed (they start
at a token's first request and last the unit). Its call is replaced: it kept each window's
whole history as JSON in the app's store and took a lock with event-loop checkpoints, which
cost 30-140 us a write (measured over ASGI); the windows here live in a dict, and a request
costs a dict lookup and an append (within the noise of 160 us a write; nothing for a read).
"""

from __future__ import annotations

from collections.abc import Callable
from time import time

from litestar.exceptions import TooManyRequestsException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    DurationUnit,
    RateLimitConfig,
    RateLimitMiddleware,
)
from litestar.types import Receive, Scope, Send

__all__ = ["rate_limits"]

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Windows kept before the expired ones are dropped (one per token seen in the last unit).
_PRUNE_AT = 10_000


def _token(scope: Scope) -> str:
    """The bearer token; else the signed-in user (a cookie session). Read from the scope: a
    Request would parse every header."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return f"user:{scope['user'].sub}"


def _is_write(scope: Scope) -> bool:
    return scope.get("method") in WRITES


def _is_stream(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return getattr(handler, "media_type", None) == "text/event-stream"


class _PerToken(RateLimitMiddleware):
    """Litestar's middleware with its windows in a dict, ``Retry-After`` on a refusal, and no
    headers on the answers it lets through. Litestar makes an instance per route: the windows
    belong to the class, which ``_limit`` makes for each limit of each app."""

    windows: dict[str, CacheObject]
    applies: Callable[[Scope], bool]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Litestar's, less its lock (nothing here awaits between reading a window and counting
        # in it; the lock's checkpoints cost a trip round the event loop) and its store. Decided
        # on the scope first, so that a request a limit is not about costs nothing more; one
        # no token was verified for (a public route's) is not limited.
        if scope.get("user") is not None and type(self).applies(scope):
            window = self._window(_token(scope))
            if len(window.history) >= self.max_requests:
                raise TooManyRequestsException(headers=self.create_response_headers(window))
            window.history.append(int(time()))
        await self.app(scope, receive, send)

    def _window(self, key: str) -> CacheObject:
        now = int(time())
        windows = self.windows
        window = windows.get(key)
        if window is None or window.reset <= now:
            if len(windows) >= _PRUNE_AT:
                for old in [k for k, w in windows.items() if w.reset <= now]:
                    del windows[old]
            window = windows[key] = CacheObject(history=[], reset=now + DURATION_VALUES[self.unit])
        return window

    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        headers = super().create_response_headers(cache_object)
        headers["Retry-After"] = str(max(1, cache_object.reset - int(time())))
        return headers


def _limit(
    unit: DurationUnit, count: int, applies: Callable[[Scope], bool], name: str
) -> DefineMiddleware:
    kind = type(name, (_PerToken,), {"windows": {}, "applies": staticmethod(applies)})
    return RateLimitConfig(rate_limit=(unit, count), middleware_class=kind).middleware


def rate_limits(writes_per_second: int, streams_per_minute: int) -> list[DefineMiddleware]:
    """The middleware for the limits that are set (0: none)."""
    limits = []
    if writes_per_second:
        limits.append(_limit("second", writes_per_second, _is_write, "WriteRateLimit"))
    if streams_per_minute:
        limits.append(_limit("minute", streams_per_minute, _is_stream, "StreamRateLimit"))
    return limits
