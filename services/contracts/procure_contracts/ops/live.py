"""``/ops/events``: the dashboard's live part. Server-Sent Events of this service's events as
the relay publishes them (a core NATS subscription on ``contracts.>`` through the service's
connection, one per open page), only the viewer's buyer's (an admin's choice, or all), and
only one contract's when the page shows one. Nothing is stored or replayed: a page that
reconnects reloads its panels, which read the database.

A page that falls ``BUFFER`` events behind gets a ``closed`` message and reconnects rather
than a stream with holes; so does one whose token expires."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from procure_contracts.ops.common import SEEN, scope_of
from procure_contracts.ops.store import EventLine, event_line
from procure_shared.errors import Unavailable
from procure_shared.service import Runtime

__all__ = ["BUFFER", "LiveController", "Watch"]

BUFFER = 500
HEARTBEAT = 15.0
SUBJECTS = "contracts.>"


class Watch:
    """The events one page waits for: its buyer's (``None``: any), one contract's if named."""

    def __init__(self, buyer: str | None, contract: str | None, *, limit: int = BUFFER) -> None:
        self.buyer = buyer
        self.contract = contract
        self.limit = limit
        self.overflowed = False
        self._pending: asyncio.Queue[EventLine] = asyncio.Queue()

    async def take(self, msg: Msg) -> None:
        self.offer(msg.data)

    def offer(self, payload: bytes) -> None:
        line = event_line(payload)
        if line is None or self.overflowed:
            return
        if self.buyer is not None and line.buyer_id != self.buyer:
            return
        if self.contract is not None and line.contract_id != self.contract:
            return
        if self._pending.qsize() >= self.limit:
            self.overflowed = True
        self._pending.put_nowait(line)

    async def next(self, within: float) -> EventLine | None:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self._pending.get(), within)
        return None


def _closed(reason: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="closed", data=msgspec.json.encode({"reason": reason}))


async def messages(nc: Client, watch: Watch, *, expires: float) -> AsyncIterator[Any]:
    subscription = await nc.subscribe(SUBJECTS, cb=watch.take)
    try:
        # The server has the subscription before the page hears it is live (twice: see the
        # notifications service's stream, a flush's PING can overtake a queued SUB).
        with contextlib.suppress(NatsError):
            for _ in range(2):
                await nc.flush()
        yield ServerSentEventMessage(event="live", data="{}")
        while True:
            left = expires - time.time()  # as the token's expiry is checked: real time
            if left <= 0:
                yield _closed("token_expired")
                return
            line = await watch.next(min(HEARTBEAT, left))
            if watch.overflowed:
                yield _closed("overflow")
                return
            if line is None:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
            else:
                yield ServerSentEventMessage(
                    id=line.id, event="change", data=msgspec.json.encode(line)
                )
    finally:
        with contextlib.suppress(NatsError):
            await subscription.unsubscribe()


class LiveController(Controller):
    path = "/ops"
    include_in_schema = False
    opt = SEEN

    @get("/events", media_type="text/event-stream")
    async def events(
        self,
        request: Request[Any, Any, Any],
        buyer: Annotated[str | None, Parameter(max_length=100)] = None,
        contract: Annotated[str | None, Parameter(max_length=100)] = None,
    ) -> ServerSentEvent:
        runtime: Runtime = request.app.state.runtime
        if not runtime.nats.is_connected:
            raise Unavailable("live updates are not reachable right now; try again shortly")
        watch = Watch(scope_of(request, buyer=buyer).buyer, contract)
        return ServerSentEvent(messages(runtime.nats, watch, expires=float(request.auth["exp"])))
