"""The live event stream (Server-Sent Events) served by a real HTTP server on the test's loop:
the events a filter matches and the viewer may read, as they are published; a bad filter is a
problem; quiet streams are kept open; the stream's NATS subscriptions end with it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_notifications.api.stream import (
    EVERYTHING,
    OVERFLOW,
    feed,
    messages,
    subjects_for,
)
from procure_notifications.app import definition
from procure_notifications.domain.filters import Filter
from procure_notifications.domain.subscriptions import Owner
from procure_notifications.settings import NotificationsOptions
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.http import PROBLEM_JSON, Role
from procure_shared.service import Runtime, build_app
from tests.notifications.conftest import Api, event, publish
from tests.support.auth import bearer, token
from tests.support.runtime import runtime_for
from tests.support.servers import NatsHandle
from tests.support.serving import serving
from tests.support.wait import eventually, holds

STREAM = "/v1/events/stream"
MILESTONES = {"eventTypes": ["contracts.milestone.*"], "conditions": {"contractId": "c-1"}}


@dataclass
class Message:
    """One Server-Sent Event as a client reads it."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


@dataclass
class Listener:
    received: list[Message] = field(default_factory=list)
    ended: bool = False

    async def read(self, response: httpx.Response) -> None:
        current = Message()
        async for line in response.aiter_lines():
            if not line:
                self.received.append(current)
                current = Message()
            elif line.startswith(":"):
                current.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    current.data.append(value)
                elif name in ("id", "event"):
                    setattr(current, name, value)
        self.ended = True

    @property
    def comments(self) -> list[str]:
        return [c for m in self.received for c in m.comments]

    @property
    def events(self) -> list[Message]:
        return [m for m in self.received if m.event is not None and m.event != "closed"]

    def ids(self) -> list[str | None]:
        return [m.id for m in self.events]


@asynccontextmanager
async def served(runtime: Runtime, options: NotificationsOptions) -> AsyncIterator[str]:
    """The notifications app on a real local HTTP server."""
    async with serving(build_app(definition(options), runtime), lifespan="off") as url:
        yield url


@asynccontextmanager
async def listening(
    base: str, bearer_token: str, wanted: dict[str, Any] | None = None
) -> AsyncIterator[Listener]:
    """A client of the stream, reading it in the background, once the stream is live."""
    params = {"filter": json.dumps(wanted)} if wanted is not None else {}
    listener = Listener()
    timeout = httpx.Timeout(10.0, read=None)  # a stream may be quiet for long
    async with (
        httpx.AsyncClient(base_url=base, timeout=timeout) as http,
        http.stream("GET", STREAM, params=params, headers=bearer(bearer_token)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reading = asyncio.create_task(listener.read(response))
        try:
            await eventually(lambda: holds("live" in listener.comments), what="the stream live")
            yield listener
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


def viewer_token(**claims: Any) -> str:
    return token(Role.VIEWER, **claims)


@pytest.fixture
async def app_nc(nats_handle: NatsHandle) -> AsyncIterator[Client]:
    """The app's own NATS connection: what it subscribes to is all that is on it."""
    client = await nats.connect(nats_handle.url, **nats_handle.access("notifications").options())
    yield client
    await client.close()


@pytest.fixture
def srt(npool: Pool, app_nc: Client, notifications_url: str, clock: FixedClock) -> Runtime:
    return runtime_for("notifications", notifications_url, npool, app_nc, app_nc.jetstream(), clock)


@pytest.fixture
async def base(
    srt: Runtime, options: NotificationsOptions, js: JetStreamContext
) -> AsyncIterator[str]:
    async with served(srt, options) as url:
        yield url


def envelope_json(e: Envelope) -> Any:
    return json.loads(encode_envelope(e))


@pytest.mark.check
async def test_a_viewer_streams_the_matching_events_of_their_buyer_and_nothing_else(
    base: str, js: JetStreamContext
) -> None:
    wanted = event("contracts.milestone.overdue", "m-1", 1, contractId="c-1")
    other_buyer = event("contracts.milestone.overdue", "m-2", 1, buyer="dhsc", contractId="c-1")
    other_contract = event("contracts.milestone.overdue", "m-3", 1, contractId="c-2")
    other_type = event("contracts.contract.signed", "c-1", 2, contractId="c-1")
    last = event("contracts.milestone.met", "m-1", 2, contractId="c-1")
    async with listening(base, viewer_token(), MILESTONES) as listener:
        for e in (wanted, other_buyer, other_contract, other_type, last):
            await publish(js, e)
        # One subscription carries them all, in order: once the last is in, so is every other.
        await eventually(lambda: holds(last.id in listener.ids()), what="the last event")
    assert listener.ids() == [wanted.id, last.id]
    first = listener.events[0]
    assert first.event == "contracts.milestone.overdue"
    assert first.json() == envelope_json(wanted)


async def test_without_a_filter_a_viewer_streams_their_buyers_and_shared_events_only(
    base: str, js: JetStreamContext
) -> None:
    other_buyer = event("contracts.contract.signed", "c-9", 1, buyer="dhsc")
    shared = event("providers.provider.registered", "p-1", 1, buyer=None)
    own = event("contracts.contract.signed", "c-1", 1)
    async with listening(base, viewer_token()) as listener:
        for e in (other_buyer, shared, own):
            await publish(js, e)
        await eventually(lambda: holds({shared.id, own.id} <= set(listener.ids())))
    assert sorted(map(str, listener.ids())) == sorted([shared.id, own.id])


async def test_an_admin_streams_every_buyers_events(base: str, js: JetStreamContext) -> None:
    theirs = event("contracts.contract.signed", "c-9", 1, buyer="dhsc")
    ours = event("contracts.contract.signed", "c-1", 1)
    admin = token(Role.ADMIN, sub="root", buyer=None)
    async with listening(base, admin, {"eventTypes": ["contracts.>"]}) as listener:
        for e in (theirs, ours):
            await publish(js, e)
        await eventually(lambda: holds(len(listener.events) == 2))
    assert listener.ids() == [theirs.id, ours.id]


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_stream(base: str, role: Role) -> None:
    async with listening(base, token(role)) as listener:
        assert listener.events == []


async def test_an_event_published_twice_is_streamed_once(base: str, js: JetStreamContext) -> None:
    # A relay retrying a publish: JetStream keeps it once, core subscribers see it twice.
    once = event("contracts.contract.signed", "c-1", 1)
    last = event("contracts.contract.amended", "c-1", 2)
    async with listening(base, viewer_token()) as listener:
        for e in (once, once, last):
            await publish(js, e)
        await eventually(lambda: holds(last.id in listener.ids()))
    assert listener.ids() == [once.id, last.id]


@pytest.mark.parametrize(
    "text",
    [
        "contracts.>",  # not JSON
        '{"eventTypes": "contracts.>"}',  # a string, not a list
        '{"eventTypes": []}',
        '{"eventTypes": [">"], "conditions": {"colour": "red"}}',  # an unknown condition
    ],
)
async def test_a_filter_that_does_not_decode_is_a_400_problem_naming_the_parameter(
    napi: Api, text: str
) -> None:
    answer = await napi.http.get(STREAM, params={"filter": text}, headers=napi.headers())
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in answer.json()["errors"]] == ["filter"]


async def test_a_pattern_with_a_wildcard_for_the_rest_before_its_end_is_a_422_problem(
    napi: Api,
) -> None:
    text = json.dumps({"eventTypes": ["contracts.>.overdue"]})
    answer = await napi.http.get(STREAM, params={"filter": text}, headers=napi.headers())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in answer.json()["errors"]] == ["filter.eventTypes"]


async def test_a_quiet_stream_gets_keep_alive_comments(srt: Runtime, js: JetStreamContext) -> None:
    options = NotificationsOptions(stream_heartbeat=0.05)
    async with served(srt, options) as url, listening(url, viewer_token()) as listener:
        await eventually(lambda: holds(listener.comments.count("keep-alive") >= 2))
    assert listener.events == []


async def test_the_stream_unsubscribes_from_nats_when_the_client_goes_away(
    base: str, app_nc: Client
) -> None:
    # nats-py keeps no public count of a connection's subscriptions.
    async with listening(base, viewer_token()):
        assert len(app_nc._subs) == 3  # contracts, providers and notifications
    await eventually(lambda: holds(not app_nc._subs), what="the subscriptions gone")


async def test_a_stream_ends_with_a_note_when_its_token_expires(base: str) -> None:
    short = viewer_token(ttl=timedelta(seconds=2))
    async with listening(base, short) as listener:
        await eventually(lambda: holds(listener.ended), within=10, what="the stream ended")
    closing = listener.received[-1]
    assert closing.event == "closed"
    assert closing.json()["reason"] == "token_expired"


async def test_a_client_too_far_behind_gets_the_events_held_then_a_note_and_the_end(
    app_nc: Client, js: JetStreamContext
) -> None:
    behind = feed(EVERYTHING, Owner(sub="alice", buyer_id="dfe"), limit=2)
    stream = messages(
        app_nc, behind, ["contracts.>"], heartbeat=10.0, expires=time.time() + 60
    ).__aiter__()
    live = await anext(stream)
    assert live.comment == "live"
    sent = [event("contracts.contract.signed", f"c-{n}", 1) for n in range(3)]
    for e in sent:
        await publish(js, e)
    await eventually(lambda: holds(behind.overflowed), what="the buffer full")
    rest = [m async for m in stream]  # the client reads again
    assert [m.id for m in rest[:2]] == [sent[0].id, sent[1].id]
    assert rest[2:] == [OVERFLOW.message()]
    assert not app_nc._subs


def test_a_stream_subscribes_only_to_the_event_streams_its_filter_can_match() -> None:
    assert subjects_for(Filter(event_types=["contracts.milestone.*"])) == ["contracts.>"]
    assert subjects_for(Filter(event_types=["providers.>", "notifications.delivery.failed"])) == [
        "providers.>",
        "notifications.>",
    ]
    everything = ["contracts.>", "providers.>", "notifications.>"]
    assert subjects_for(EVERYTHING) == everything
    assert subjects_for(Filter(event_types=["*.provider.*"])) == everything
