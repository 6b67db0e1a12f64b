"""The pull change feed ``GET /v1/feed``: every event once, none skipped, even one committed
after a later one (the watermark problem); scoped to the reader's buyer."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import asyncpg
import pytest
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.events import Envelope
from procure_shared.http import Role
from procure_shared.http.pagination import encode_cursor
from procure_shared.messaging import outbox
from procure_shared.messaging.outbox import Relay
from tests.contracts.conftest import Api
from tests.support.producer import thing_event
from tests.support.wait import eventually, running


class Reader:
    """A feed subscriber: pages on from its cursor, keeping every event it was given."""

    def __init__(self, api: Api, role: Role = Role.VIEWER, buyer: str | None = "dfe") -> None:
        self.api = api
        self.role = role
        self.buyer = buyer
        self.cursor: str | None = None
        self.seen: list[dict[str, Any]] = []

    async def page(self, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
        if self.cursor is not None:
            params["cursor"] = self.cursor
        headers = self.api.headers(self.role, self.buyer)
        answer = await self.api.http.get(
            "/v1/feed", headers=headers, params=params | {"limit": limit}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert isinstance(body["nextCursor"], str)
        self.cursor = body["nextCursor"]
        events = [item["event"] for item in body["items"]]
        self.seen.extend(events)
        return events

    async def catch_up(self, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
        """Pages until one is not full: every event the feed can give now."""
        got: list[dict[str, Any]] = []
        while True:
            page = await self.page(limit, **params)
            got.extend(page)
            if len(page) < limit:
                return got

    def ids(self) -> list[str]:
        return [e["id"] for e in self.seen]


async def write(pool: Pool, *events: Envelope) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, *events)


POSITION = "SELECT position FROM outbox WHERE id = $1::text::uuid"


async def caught_up(reader: Reader, *ids: str) -> bool:
    """Read on; whether the reader has now seen these events."""
    await reader.catch_up()
    return set(ids) <= set(reader.ids())


async def open_transaction(url: str) -> tuple[asyncpg.Connection, Any]:
    conn = await asyncpg.connect(url)
    tx = conn.transaction()
    await tx.start()
    return conn, tx


@pytest.mark.parametrize("first_xid", ["early", "late"])
async def test_an_event_committed_after_a_later_one_is_neither_skipped_nor_repeated(
    capi: Api, cpool: Pool, contracts_url: str, first_xid: str
) -> None:
    """``early`` takes the lower outbox position and commits last. With ``first_xid`` =
    ``early`` it also has the lower transaction id, so ``late`` waits behind it; with ``late``,
    ``late``'s transaction got its id first and is served at once, before ``early``."""
    reader = Reader(capi)
    before = thing_event("thing-before", 1)
    await write(cpool, before)
    await eventually(lambda: caught_up(reader, before.id), what="the first event in the feed")

    early_conn, early_tx = await open_transaction(contracts_url)
    late_conn, late_tx = await open_transaction(contracts_url)
    try:
        early, late = thing_event("thing-early", 1), thing_event("thing-late", 1)
        if first_xid == "late":
            await late_conn.fetchval("SELECT pg_current_xact_id()")  # takes its xid now
        await outbox.add(early_conn, early)  # the lower position
        await outbox.add(late_conn, late)
        early_position = await early_conn.fetchval(POSITION, early.id)
        late_position = await late_conn.fetchval(POSITION, late.id)
        assert early_position < late_position
        await late_tx.commit()  # the later position commits first

        # A reader by position alone would take `late` now and then never look below it.
        if first_xid == "early":
            assert await reader.catch_up() == []  # `late` waits until `early` has ended
        else:
            await eventually(lambda: caught_up(reader, late.id), what="the later event")
        await early_tx.commit()
    finally:
        await early_conn.close()
        await late_conn.close()

    await eventually(lambda: caught_up(reader, early.id, late.id), what="both events")
    expected = [early.id, late.id] if first_xid == "early" else [late.id, early.id]
    assert reader.ids() == [before.id, *expected]
    assert await reader.catch_up() == []


async def test_a_reader_polling_while_writers_commit_in_random_order_sees_every_event_once(
    capi: Api, cpool: Pool, report: Any
) -> None:
    writers, per_writer = 40, 3
    rng = random.Random(7)
    committed: set[str] = set()
    rolled_back: set[str] = set()

    async def writer(n: int) -> None:
        events = [thing_event(f"thing-{n}", v) for v in range(1, per_writer + 1)]
        await asyncio.sleep(rng.uniform(0, 0.2))
        async with cpool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            for event in events:  # positions interleave with the other writers'
                await outbox.add(conn, event)
                await asyncio.sleep(rng.uniform(0, 0.05))
            await asyncio.sleep(rng.uniform(0, 0.3))
            if n % 10 == 9:
                await tx.rollback()
                rolled_back.update(e.id for e in events)
            else:
                await tx.commit()
                committed.update(e.id for e in events)

    reader = Reader(capi)
    done = asyncio.Event()
    polls = 0

    async def read_all() -> bool:
        nonlocal polls
        polls += 1
        await reader.page(limit=7)  # small pages: cursors land inside the race
        return done.is_set() and set(reader.ids()) >= committed

    async def write_all() -> None:
        await asyncio.gather(*(writer(n) for n in range(writers)))
        done.set()

    await asyncio.gather(
        write_all(), eventually(read_all, within=30, interval=0.01, what="every event read")
    )
    report(f"feed: {len(committed)} events from {writers} writers read in {polls} polls")
    assert len(reader.ids()) == len(set(reader.ids()))  # none twice
    assert set(reader.ids()) == committed  # none lost, none rolled back
    assert not rolled_back & set(reader.ids())
    assert len(committed) == (writers - writers // 10) * per_writer


async def test_a_buyer_reads_its_own_and_shared_events_and_an_admin_reads_all(
    capi: Api, cpool: Pool
) -> None:
    dfe, dhsc = thing_event("thing-dfe", 1), thing_event("thing-dhsc", 1)
    dhsc = Envelope.new(
        service="tests",
        type=dhsc.type,
        subject=dhsc.subject,
        time=dhsc.time,
        sequence=1,
        data={"thingId": "thing-dhsc", "version": 1},
        buyer_id="dhsc",
    )
    shared = Envelope.new(
        service="tests",
        type="tests.thing.changed",
        subject="thing-shared",
        time=dfe.time,
        sequence=1,
        data={"thingId": "thing-shared", "version": 1},
    )
    await write(cpool, dfe)
    await write(cpool, dhsc)
    await write(cpool, shared)

    async def read(role: Role, token_buyer: str | None, **params: Any) -> list[str]:
        reader = Reader(capi, role, token_buyer)
        return [e["id"] for e in await reader.catch_up(**params)]

    assert await read(Role.VIEWER, "dfe") == [dfe.id, shared.id]
    assert await read(Role.COMMERCIAL, "dhsc") == [dhsc.id, shared.id]
    assert await read(Role.VIEWER, "dfe", buyer="dhsc") == [dfe.id, shared.id]  # not an admin
    assert await read(Role.ADMIN, None) == [dfe.id, dhsc.id, shared.id]
    assert await read(Role.ADMIN, None, buyer="dhsc") == [dhsc.id]


async def test_a_cursor_moves_past_events_the_reader_may_not_see(capi: Api, cpool: Pool) -> None:
    """A buyer polling an up-to-date feed does not rescan the other buyers' events."""
    mine = thing_event("thing-dfe", 1)
    await write(cpool, mine)
    others = [
        Envelope.new(
            service="tests",
            type="tests.thing.changed",
            subject=f"thing-{n}",
            time=mine.time,
            sequence=1,
            data={"thingId": f"thing-{n}", "version": 1},
            buyer_id="dhsc",
        )
        for n in range(5)
    ]
    await write(cpool, *others)
    reader = Reader(capi)
    assert [e["id"] for e in await reader.catch_up()] == [mine.id]
    (last,) = await cpool.fetch(
        "SELECT txid::text AS txid, position FROM outbox ORDER BY txid DESC, position DESC LIMIT 1"
    )
    assert reader.cursor == encode_cursor([int(last["txid"]), last["position"]])


async def test_an_empty_feed_still_returns_a_cursor_to_poll_with(capi: Api, cpool: Pool) -> None:
    reader = Reader(capi)
    assert await reader.page() == []
    start = reader.cursor
    assert await reader.page() == []
    assert reader.cursor == start  # nothing new: ask again with the same cursor
    event = thing_event("thing-1", 1)
    await write(cpool, event)

    async def arrived() -> list[dict[str, Any]]:
        return await reader.page()

    assert [e["id"] for e in await eventually(arrived, what="the event in the feed")] == [event.id]
    assert reader.cursor != start
    assert await reader.page() == []


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "bm9wZQ",  # base64 of "nope"
        encode_cursor([1]),
        encode_cursor([1, 2, 3]),
        encode_cursor([-1, 5]),
        encode_cursor([1, 2**63]),
        encode_cursor([2**64, 1]),
        encode_cursor(["a", "b"]),
    ],
)
async def test_a_cursor_the_api_did_not_hand_out_is_a_400_problem(capi: Api, cursor: str) -> None:
    answer = await capi.get("/v1/feed", cursor=cursor)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["cursor"]


async def test_the_feed_needs_a_token_and_caps_its_pages(capi: Api) -> None:
    assert (await capi.http.get("/v1/feed")).status_code == 401
    for limit in (0, 201):
        answer = await capi.get("/v1/feed", limit=limit)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_the_feed_carries_the_events_of_api_changes_as_nats_carries_them(
    capi: Api, cpool: Pool, contracts_url: str, js: JetStreamContext
) -> None:
    tender = await capi.tender(lots=1)
    await capi.moved(f"/v1/tenders/{tender['id']}/publish")
    events = await Reader(capi).catch_up()
    assert [(e["type"], e["subject"], e["sequence"]) for e in events][:1] == [
        ("contracts.tender.drafted", tender["id"], 1)
    ]
    assert events[-1]["type"] == "contracts.tender.published"
    assert events[-1]["data"]["title"] == tender["title"]
    assert {e["buyerid"] for e in events} == {"dfe"}
    assert await Reader(capi, buyer="dhsc").catch_up() == []

    relay = Relay(service="contracts", dsn=contracts_url, pool=cpool, js=js, poll_interval=0.2)
    async with running(relay):

        async def all_published() -> bool:
            return relay.stats.published == len(events)

        await eventually(all_published, what="the relay to publish every event")
    info = await js.stream_info("CONTRACTS")
    published = {}
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg("CONTRACTS", seq)
        published[(message.headers or {})["Nats-Msg-Id"]] = json.loads(message.data or b"")
    assert published == {e["id"]: e for e in events}  # the same envelopes, data and all
