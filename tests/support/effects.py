"""A consumer-side effect table (its own table, not the inbox) and the handler that fills it."""

from __future__ import annotations

from typing import Any

from procure_shared.db.postgres import Connection, Pool
from procure_shared.events import Envelope
from procure_shared.messaging.consumer import ConsumerSpec, Handler
from tests.support.producer import EVENT_TYPE, TEST_STREAM, ThingChanged

CREATE_EFFECTS = """
CREATE TABLE IF NOT EXISTS effects (
    applied    bigserial PRIMARY KEY,   -- the order in which effects were applied
    event_id   uuid NOT NULL,
    thing_id   text NOT NULL,
    version    integer NOT NULL
)
"""


async def create_effects(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(CREATE_EFFECTS)


async def record_effect(conn: Connection, envelope: Envelope) -> None:
    data = envelope.decode_data(ThingChanged)
    await conn.execute(
        "INSERT INTO effects (event_id, thing_id, version) VALUES ($1, $2, $3)",
        envelope.id,
        data.thing_id,
        data.version,
    )


async def effect_count(pool: Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM effects"))


async def versions_in_applied_order(pool: Pool, thing_id: str) -> list[int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT version FROM effects WHERE thing_id = $1 ORDER BY applied", thing_id
        )
    return [r["version"] for r in rows]


def effects_consumer(handler: Handler | None = None, **options: Any) -> ConsumerSpec:
    """The tests' durable consumer: applies test events into the effects table, with short
    retry delays so that tests run fast."""
    defaults: dict[str, Any] = {
        "name": "tests__effects",
        "stream": TEST_STREAM.name,
        "filter_subjects": ("tests.>",),
        "handlers": {EVENT_TYPE: handler or record_effect},
        "gap_delay": 0.05,
        "error_delay": 0.05,
        "producer": TEST_STREAM.producer,
    }
    return ConsumerSpec(**(defaults | options))
