import asyncpg
import nats
import pytest
from nats.js import JetStreamContext

from procure_shared.db.postgres import Pool
from procure_shared.messaging import outbox
from procure_shared.messaging.nats import ensure_streams
from procure_shared.messaging.outbox import Relay
from tests.support.producer import (
    TEST_STREAM,
    count_unpublished,
    thing_event,
    write_thing_events,
)
from tests.support.servers import access_in, embedded_nats, session_credentials
from tests.support.wait import equals, eventually, holds, running


def relay_for(database: str, pool: Pool, js: JetStreamContext, **options: float) -> Relay:
    return Relay(service="tests", dsn=database, pool=pool, js=js, poll_interval=0.2, **options)  # type: ignore[arg-type]


async def stream_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(TEST_STREAM.name)).state.messages)


@pytest.mark.check
async def test_the_relay_publishes_each_event_once_with_its_id_as_message_id(
    database: str, pool: Pool, js: JetStreamContext
) -> None:
    async with pool.acquire() as conn:
        events = await write_thing_events(conn, "thing-1", range(1, 251))
    async with running(relay_for(database, pool, js)):
        await eventually(
            lambda: equals(count_unpublished(pool), 0), what="every outbox row marked published"
        )
    assert await stream_messages(js) == 250
    first = await js.get_msg(TEST_STREAM.name, 1)
    assert first.headers is not None
    assert first.headers["Nats-Msg-Id"] == events[0].id


async def test_a_rolled_back_transaction_publishes_nothing(
    database: str, pool: Pool, js: JetStreamContext
) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await outbox.add(conn, thing_event("thing-1", 1))
        await tx.rollback()
        await write_thing_events(conn, "thing-2", range(1, 2))
    async with running(relay_for(database, pool, js)):
        await eventually(lambda: equals(count_unpublished(pool), 0), what="backlog drained")
    assert await stream_messages(js) == 1


async def test_a_transaction_that_commits_after_a_later_one_still_gets_its_event_published(
    database: str, pool: Pool, js: JetStreamContext
) -> None:
    """The commit-order race that loses events in high-water-mark relays."""
    relay = relay_for(database, pool, js)
    async with running(relay):
        slow = await asyncpg.connect(database)
        try:
            tx = slow.transaction()
            await tx.start()
            early = thing_event("thing-early", 1)
            await outbox.add(slow, early)  # takes the lower position, commits last
            async with pool.acquire() as conn:
                await write_thing_events(conn, "thing-late", range(1, 2))
            await eventually(
                lambda: equals(stream_messages(js), 1), what="the later event published"
            )
            # The relay counts an event once its ack is in and its row marked: a moment after
            # JetStream has it.
            await eventually(lambda: holds(relay.stats.published == 1), what="counted")
            await tx.commit()
        finally:
            await slow.close()
        await eventually(lambda: equals(stream_messages(js), 2), what="the earlier event published")
    published = await js.get_msg(TEST_STREAM.name, 2)
    assert published.headers is not None
    assert published.headers["Nats-Msg-Id"] == early.id
    assert await count_unpublished(pool) == 0


async def test_only_one_relay_of_a_service_is_active_and_a_standby_takes_over(
    database: str, pool: Pool, js: JetStreamContext
) -> None:
    first, second = relay_for(database, pool, js), relay_for(database, pool, js)
    async with running(first):
        await eventually(lambda: holds(first.stats.active), what="the first relay active")
        async with running(second):
            async with pool.acquire() as conn:
                await write_thing_events(conn, "thing-1", range(1, 11))
            await eventually(lambda: equals(count_unpublished(pool), 0), what="backlog drained")
            assert not second.stats.active
            assert second.stats.published == 0
    async with running(second):
        await eventually(lambda: holds(second.stats.active), what="the standby active")
        async with pool.acquire() as conn:
            await write_thing_events(conn, "thing-2", range(1, 6))
        await eventually(lambda: equals(count_unpublished(pool), 0), what="backlog drained again")
    assert await stream_messages(js) == 15


async def test_events_written_while_nats_is_down_are_published_once_it_is_back(
    database: str, pool: Pool
) -> None:
    """Also a regression test: nats-py keeps an in-flight permit for each send that fails, so
    a relay that tried while disconnected ran out of permits and hung (here: 3 permits, and
    many more failed batches than that)."""
    with embedded_nats() as server:
        client = await nats.connect(
            server.url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            pending_size=0,
            **access_in(session_credentials()).options(),
        )
        js = client.jetstream(publish_async_max_pending=3)
        await ensure_streams(js, 1, (TEST_STREAM,))
        try:
            relay = relay_for(database, pool, js, publish_timeout=1.0)
            async with running(relay):
                server.stop()
                async with pool.acquire() as conn:
                    await write_thing_events(conn, "thing-1", range(1, 21))
                await eventually(
                    lambda: holds(relay.stats.failures >= 20 * 6),
                    within=30,
                    what="6 failed batches",
                )
                assert await count_unpublished(pool) == 20
                server.start()
                await eventually(
                    lambda: equals(count_unpublished(pool), 0), within=30, what="backlog drained"
                )
            assert await stream_messages(js) == 20
        finally:
            await client.close()
