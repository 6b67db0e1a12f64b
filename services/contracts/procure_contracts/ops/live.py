"""``/ops/events``: the dashboard's live part. Server-Sent Events of this service's events as
the relay publishes them (a core NATS subscription on ``contracts.>`` through the service's
connection, one per open page), only the viewer's buyer's (an admin's choice, or all), and
only one contract's when the page shows one. Nothing is stored or replayed: a page that
reconnects reloads its panels, which read the database.

A page that falls ``BUFFER`` events behind gets those it holds, then a ``closed`` message, and
reconnects rather than keep a stream with holes; so does one whose token expires. The bridge
from NATS to the page is the kernel's (``procure_shared.http.sse``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from procure_contracts.ops.common import SEEN, scope_of
from procure_contracts.ops.store import EventLine, event_line
from procure_shared.errors import Unavailable
from procure_shared.http.sse import Buffer, Closing, stream
from procure_shared.service import Runtime

__all__ = ["BUFFER", "LiveController", "watch"]

BUFFER = 500
HEARTBEAT = 15.0
SUBJECTS = ("contracts.>",)
LIVE = ServerSentEventMessage(event="live", data="{}")


def watch(buyer: str | None, contract: str | None, *, limit: int = BUFFER) -> Buffer[EventLine]:
    """The events one page waits for: its buyer's (``None``: any), one contract's if named."""

    def accept(payload: bytes) -> EventLine | None:
        line = event_line(payload)
        if line is None:
            return None
        if buyer is not None and line.buyer_id != buyer:
            return None
        if contract is not None and line.contract_id != contract:
            return None
        return line

    return Buffer(accept, lambda line: line.id, limit=limit, overflow=Closing("overflow"))


def _change(line: EventLine) -> ServerSentEventMessage:
    return ServerSentEventMessage(id=line.id, event="change", data=msgspec.json.encode(line))


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
        return ServerSentEvent(
            stream(
                runtime.nats,
                SUBJECTS,
                watch(scope_of(request, buyer=buyer).buyer, contract),
                render=_change,
                live=LIVE,
                heartbeat=HEARTBEAT,
                expires=float(request.auth["exp"]),
                expired=Closing("token_expired"),
            )
        )
