import asyncio
import uuid

import asyncpg

from procure_shared.migrations import migrate
from tests.conftest import database_url
from tests.support.servers import PostgresHandle


async def test_replicas_migrating_the_same_new_database_at_once_all_succeed(
    postgres: PostgresHandle,
) -> None:
    dsn = database_url(postgres.url, f"migr_{uuid.uuid4().hex[:10]}")
    outputs = await asyncio.gather(*(migrate(dsn, None) for _ in range(4)))
    # One of them applied the migrations; the others found nothing left to do.
    assert sum("Applied: 20261123000001_outbox.sql" in o for o in outputs) == 1
    conn = await asyncpg.connect(dsn)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    assert {"outbox", "inbox", "inbox_positions", "dead_letters", "audit_log"} <= tables


async def test_migrating_again_changes_nothing(postgres: PostgresHandle) -> None:
    dsn = database_url(postgres.url, f"migr_{uuid.uuid4().hex[:10]}")
    await migrate(dsn, None)
    assert "Applied" not in await migrate(dsn, None)
