"""Events as they happen, from core NATS subscriptions to Server-Sent Events: the one bridge the
contracts dashboard (``/ops/events``) and the notifications stream (``/v1/events/stream``)
share.

A connection subscribes to the subjects it needs (what the relays publish to JetStream reaches
core subscribers too). Each message is offered to the connection's ``Buffer``, which keeps what
the connection may see, once each (a relay's retried publish reaches core subscribers again,
though JetStream keeps it once), in arrival order. Nothing is stored and nothing is replayed:
a client that reconnects gets the events from then on, and reads what it missed from the
resources themselves.

A buffer holds at most ``limit`` items waiting for its client (once the socket's buffers are
full). A client that falls that far behind is not served a stream with holes in it: the buffer
stops taking events, the stream sends what it holds, then a ``closed`` message (reason
``overflow``) and ends; the client reconnects. It ends the same way when the viewer's token
expires (reason ``token_expired``): a stream never outlives the right to read it. A comment
keeps a quiet stream open."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import msgspec
from litestar.response import ServerSentEventMessage
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

__all__ = ["Buffer", "Closing", "stream"]

T = TypeVar("T")
# Event ids a connection remembers, to drop a repeat.
REMEMBERED = 1024


@dataclass(frozen=True, slots=True)
class Closing:
    """Why a stream ends, told to the client in its last message (with ``detail``, if any)."""

    reason: Literal["overflow", "token_expired"]
    detail: str | None = None

    def message(self) -> ServerSentEventMessage:
        note = {"reason": self.reason} | ({"detail": self.detail} if self.detail else {})
        return ServerSentEventMessage(event="closed", data=msgspec.json.encode(note))


class Buffer(Generic[T]):
    """What one connection has yet to send: each message ``accept`` turns into an item (``None``:
    not for this connection), once per ``ident``, in arrival order, at most ``limit``. Past
    that it takes no more, and gives ``overflow`` once the items it holds are sent."""

    def __init__(
        self,
        accept: Callable[[bytes], T | None],
        ident: Callable[[T], str],
        *,
        limit: int,
        overflow: Closing,
    ) -> None:
        self.accept = accept
        self.ident = ident
        self.limit = limit
        self.overflow = overflow
        self.overflowed = False
        self._pending: deque[T] = deque()
        self._arrived = asyncio.Event()
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    async def take(self, msg: Msg) -> None:
        """The NATS subscriptions' callback."""
        self.offer(msg.data)

    def offer(self, payload: bytes) -> None:
        if self.overflowed:
            return
        item = self.accept(payload)
        if item is None:
            return
        key = self.ident(item)
        if key in self._seen:
            return
        self._remember(key)
        if len(self._pending) >= self.limit:
            self.overflowed = True
        else:
            self._pending.append(item)
        self._arrived.set()

    def _remember(self, key: str) -> None:
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > REMEMBERED:
            self._seen.discard(self._order.popleft())

    async def next(self, within: float) -> T | Closing | None:
        """The next item to send; the overflow once every held item is sent; ``None`` when
        nothing came ``within`` seconds."""
        if not self._pending and not self.overflowed:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), within)
        if self._pending:
            return self._pending.popleft()
        return self.overflow if self.overflowed else None


async def stream(
    nc: Client,
    subjects: Sequence[str],
    buffer: Buffer[T],
    *,
    render: Callable[[T], ServerSentEventMessage],
    live: ServerSentEventMessage,
    heartbeat: float,
    expires: float,
    expired: Closing,
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream of one connection: ``live`` once its subscriptions are in place, then each
    item as ``render`` writes it, a comment after ``heartbeat`` seconds of silence, and a
    ``closed`` message if it has to end (``expired`` at ``expires``, a Unix time). The
    subscriptions end with it (the client left, or the stream ended)."""
    subscriptions = []
    try:
        for subject in subjects:
            subscriptions.append(await nc.subscribe(subject, cb=buffer.take))
        # The server has the subscriptions before the client hears the stream is live. Twice:
        # nats-py writes a flush's PING at once, ahead of SUBs still queued for its flusher
        # task, so the first PONG can come back before the server has read them (about one
        # time in a hundred); the second PING goes out after them.
        with contextlib.suppress(NatsError):
            for _ in range(2):
                await nc.flush()
        yield live
        while True:
            left = expires - time.time()  # as the token's expiry is checked: real time
            if left <= 0:
                yield expired.message()
                return
            item = await buffer.next(min(heartbeat, left))
            if item is None:
                if expires > time.time():
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
            elif isinstance(item, Closing):
                yield item.message()
                return
            else:
                yield render(item)
    finally:
        for subscription in subscriptions:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()
