"""``/v1/events/stream``: events as they happen, as Server-Sent Events, for dashboards.

The events come from core NATS subscriptions on the event streams' subjects (what the relays
publish to JetStream reaches core subscribers too), filtered like a subscription's and shown
only when the viewer could read them through the API. Nothing is stored and nothing is replayed:
a client that reconnects gets the events from then on, and reads what it missed from the
resources themselves.

A connection holds at most ``BUFFER`` events waiting for its client to take them (once the
socket's buffers are full). A client that falls that far behind is not served a stream with
holes in it: the stream stops taking events, sends what it holds, then a ``closed`` message
(reason ``overflow``) and ends; the client reconnects and reads what it missed from the API.
It ends the same way when the viewer's token expires (reason ``token_expired``): a stream never
outlives the right to read it. The bridge from NATS to the client is the kernel's
(``procure_shared.http.sse``, which the contracts dashboard uses too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from nats.aio.client import Client

from procure_notifications.api.common import options, viewer
from procure_notifications.domain.filters import Filter, facts_of, matches, valid_pattern
from procure_notifications.domain.subscriptions import Owner, visible_to
from procure_shared.errors import RuleBroken, Unavailable
from procure_shared.events.envelope import decode_envelope
from procure_shared.events.streams import STREAMS
from procure_shared.http import FieldError, ProblemException, Role, problem_responses, requires
from procure_shared.http.sse import Buffer, Closing, stream
from procure_shared.service import Runtime

__all__ = ["BUFFER", "EventsController", "feed", "messages", "parse_filter", "subjects_for"]

# Events a connection holds for a client that has not taken them yet (about a megabyte).
BUFFER = 1000
EVERYTHING = Filter(event_types=[">"])

_filters = msgspec.json.Decoder(Filter)

FilterParameter = Annotated[
    str | None,
    QueryParameter(
        name="filter",
        max_length=20_000,
        description='The events wanted, as JSON, as a subscription\'s filter: `{"eventTypes": '
        '["contracts.milestone.*"], "conditions": {"contractId": "..."}}`. Without it, every '
        "event you may read.",
    ),
]


def parse_filter(text: str | None) -> Filter:
    """The filter a query names: 400 when it does not decode, 422 when it breaks a rule."""
    if text is None:
        return EVERYTHING
    try:
        wanted = _filters.decode(text)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise ProblemException(
            400,
            "the filter is not a filter: JSON as a subscription's filter is expected",
            title="Invalid request",
            errors=[FieldError(field="filter", message=str(exc))],
        ) from None
    for pattern in wanted.event_types:
        if not valid_pattern(pattern):
            raise RuleBroken(f"{pattern}: '>' may only be the last token", "filter.eventTypes")
    return wanted


def subjects_for(wanted: Filter) -> list[str]:
    """The event streams' subjects a filter can match events on (one subscription per stream:
    overlapping subscriptions would deliver an event twice)."""
    firsts = {pattern.split(".", 1)[0] for pattern in wanted.event_types}
    return [
        subject
        for stream in STREAMS
        if firsts & {"*", ">", stream.producer}
        for subject in stream.subjects
    ]


@dataclass(frozen=True, slots=True)
class _Event:
    id: str
    type: str
    payload: bytes  # the CloudEvents envelope as published


OVERFLOW = Closing(
    "overflow",
    f"you fell more than {BUFFER} events behind; reconnect, and read what you missed from the API",
)
EXPIRED = Closing("token_expired", "your token has expired; reconnect with a fresh one")
LIVE = ServerSentEventMessage(data=None, comment="live")


def feed(wanted: Filter, owner: Owner, *, limit: int = BUFFER) -> Buffer[_Event]:
    """What one connection has yet to send: the events its filter matches and its owner may
    read."""

    def accept(payload: bytes) -> _Event | None:
        try:
            envelope = decode_envelope(payload)
        except msgspec.DecodeError:
            return None  # not an event: nothing a dashboard could show
        if not visible_to(owner, "", envelope):
            return None
        if not matches(wanted, envelope, facts_of(envelope)):
            return None
        return _Event(envelope.id, envelope.type, payload)

    return Buffer(accept, lambda event: event.id, limit=limit, overflow=OVERFLOW)


def _event(event: _Event) -> ServerSentEventMessage:
    return ServerSentEventMessage(id=event.id, event=event.type, data=event.payload)


def messages(
    nc: Client, events: Buffer[_Event], subjects: Sequence[str], *, heartbeat: float, expires: float
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream of one connection (``procure_shared.http.sse.stream``): a comment once it
    is live, then the events, a comment after ``heartbeat`` seconds of silence, and a
    ``closed`` message if it has to end."""
    return stream(
        nc,
        subjects,
        events,
        render=_event,
        live=LIVE,
        heartbeat=heartbeat,
        expires=expires,
        expired=EXPIRED,
    )


class EventsController(Controller):
    path = "/v1/events"
    tags = ["events"]
    # Whoever may read events through the API may watch them.
    opt = requires(Role.VIEWER)

    @get(
        "/stream",
        media_type="text/event-stream",
        responses=problem_responses(400, 401, 403, 422, 503),
        summary="Events as they happen (Server-Sent Events), for dashboards",
        description="The events matching `filter` that you may read (your buyer's and shared "
        "ones; every buyer's for an admin), from now on; nothing is replayed. A comment line "
        "says when the stream is live, another keeps a quiet stream open. Each event is a "
        "message with the event's `id`, its type as `event` and the CloudEvents envelope "
        "(JSON) as `data`. A stream ends with a `closed` message whose data gives the reason: "
        f"`overflow` (the client fell more than {BUFFER} events behind) or `token_expired`.",
        response_description="A stream of Server-Sent Events",
    )
    async def stream(
        self, request: Request[Any, Any, Any], wanted: FilterParameter = None
    ) -> ServerSentEvent:
        chosen = parse_filter(wanted)
        runtime: Runtime = request.app.state.runtime
        if not runtime.nats.is_connected:
            raise Unavailable("the event feed is not reachable right now; try again shortly")
        return ServerSentEvent(
            messages(
                runtime.nats,
                feed(chosen, viewer(request).owner()),
                subjects_for(chosen),
                heartbeat=options(request).stream_heartbeat,
                expires=float(request.auth["exp"]),
            )
        )
