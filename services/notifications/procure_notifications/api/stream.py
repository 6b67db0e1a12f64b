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
outlives the right to read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from procure_notifications.api.common import options, viewer
from procure_notifications.domain.filters import Filter, facts_of, matches, valid_pattern
from procure_notifications.domain.subscriptions import Owner, visible_to
from procure_shared.errors import RuleBroken, Unavailable
from procure_shared.events.envelope import decode_envelope
from procure_shared.events.streams import STREAMS
from procure_shared.http import FieldError, ProblemException, Role, problem_responses, requires
from procure_shared.service import Runtime

__all__ = ["BUFFER", "Closing", "EventsController", "Feed", "parse_filter", "subjects_for"]

# Events a connection holds for a client that has not taken them yet (about a megabyte).
BUFFER = 1000
# Event ids a connection remembers, to drop a repeat (a relay's retried publish reaches core
# subscribers again, though JetStream keeps it once).
_REMEMBERED = 1024
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


@dataclass(frozen=True, slots=True)
class Closing:
    """Why a stream ends, told to the client in its last message."""

    reason: Literal["overflow", "token_expired"]
    detail: str

    def message(self) -> ServerSentEventMessage:
        note = msgspec.json.encode({"reason": self.reason, "detail": self.detail})
        return ServerSentEventMessage(event="closed", data=note)


OVERFLOW = Closing(
    "overflow",
    f"you fell more than {BUFFER} events behind; reconnect, and read what you missed from the API",
)
EXPIRED = Closing("token_expired", "your token has expired; reconnect with a fresh one")


class Feed:
    """What one connection has yet to send: the events its filter matches and its owner may
    read, in arrival order, at most ``limit``. Past that it takes no more, and says so once
    those it holds are sent."""

    def __init__(self, wanted: Filter, owner: Owner, *, limit: int = BUFFER) -> None:
        self.wanted = wanted
        self.owner = owner
        self.limit = limit
        self.overflowed = False
        self._pending: deque[_Event] = deque()
        self._arrived = asyncio.Event()
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    async def take(self, msg: Msg) -> None:
        """The NATS subscriptions' callback."""
        self.offer(msg.data)

    def offer(self, payload: bytes) -> None:
        if self.overflowed:
            return
        try:
            envelope = decode_envelope(payload)
        except msgspec.DecodeError:
            return  # not an event: nothing a dashboard could show
        if not visible_to(self.owner, "", envelope) or envelope.id in self._seen:
            return
        if not matches(self.wanted, envelope, facts_of(envelope)):
            return
        self._remember(envelope.id)
        if len(self._pending) >= self.limit:
            self.overflowed = True
        else:
            self._pending.append(_Event(envelope.id, envelope.type, payload))
        self._arrived.set()

    def _remember(self, event_id: str) -> None:
        self._seen.add(event_id)
        self._order.append(event_id)
        if len(self._order) > _REMEMBERED:
            self._seen.discard(self._order.popleft())

    async def next(self, within: float) -> _Event | Closing | None:
        """The next event to send; the overflow once every held event is sent; None when
        nothing came ``within`` seconds."""
        if not self._pending and not self.overflowed:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), within)
        if self._pending:
            return self._pending.popleft()
        return OVERFLOW if self.overflowed else None


async def messages(
    nc: Client,
    feed: Feed,
    subjects: Sequence[str],
    *,
    heartbeat: float,
    expires: float,
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream of one connection: a comment once it is live, then the events, a comment
    after ``heartbeat`` seconds of silence, and a ``closed`` message if it has to end. The
    subscriptions end with it (the client left, or the stream ended)."""
    subscriptions = []
    try:
        for subject in subjects:
            subscriptions.append(await nc.subscribe(subject, cb=feed.take))
        # The server has the subscriptions before the client hears the stream is live. Twice:
        # nats-py writes a flush's PING at once, ahead of SUBs still queued for its flusher
        # task, so the first PONG can come back before the server has read them (about one
        # time in a hundred); the second PING goes out after them.
        with contextlib.suppress(NatsError):
            for _ in range(2):
                await nc.flush()
        yield ServerSentEventMessage(data=None, comment="live")
        while True:
            left = expires - time.time()  # as the token's expiry is checked: real time
            if left <= 0:
                yield EXPIRED.message()
                return
            item = await feed.next(min(heartbeat, left))
            if item is None:
                if expires > time.time():
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
            elif isinstance(item, Closing):
                yield item.message()
                return
            else:
                yield ServerSentEventMessage(id=item.id, event=item.type, data=item.payload)
    finally:
        for subscription in subscriptions:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()


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
        feed = Feed(chosen, viewer(request).owner())
        return ServerSentEvent(
            messages(
                runtime.nats,
                feed,
                subjects_for(chosen),
                heartbeat=options(request).stream_heartbeat,
                expires=float(request.auth["exp"]),
            )
        )
