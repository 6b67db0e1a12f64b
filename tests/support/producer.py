"""A test producer: writes 'tests.thing.changed' events through the real outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from procure_shared.db.postgres import Connection, Pool
from procure_shared.events import Envelope, StreamSpec
from procure_shared.messaging import outbox

TEST_STREAM = StreamSpec("TESTS", ("tests.>",), "tests")
EVENT_TYPE = "tests.thing.changed"


class ThingChanged(msgspec.Struct, rename="camel"):
    thing_id: str
    version: int
    note: str = ""


def thing_event(thing_id: str, version: int, note: str = "") -> Envelope:
    return Envelope.new(
        service="tests",
        type=EVENT_TYPE,
        subject=thing_id,
        time=datetime.now(UTC),
        sequence=version,
        data=ThingChanged(thing_id=thing_id, version=version, note=note),
        buyer_id="dfe",
    )


async def write_thing_events(conn: Connection, thing_id: str, versions: range) -> list[Envelope]:
    events = [thing_event(thing_id, v) for v in versions]
    async with conn.transaction():
        await outbox.add(conn, *events)
    return events


async def count_unpublished(pool: Pool) -> int:
    async with pool.acquire() as conn:
        return await outbox.backlog(conn)
