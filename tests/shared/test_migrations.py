import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from procure_contracts.app import MIGRATIONS as CONTRACTS
from procure_notifications.app import MIGRATIONS as NOTIFICATIONS
from procure_providers.app import MIGRATIONS as PROVIDERS
from procure_shared.db.migrations import SHARED_MIGRATIONS, migrate, version_clashes
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


@pytest.mark.parametrize("service", [CONTRACTS, PROVIDERS, NOTIFICATIONS])
def test_no_two_migrations_of_a_database_share_a_version(service: Path) -> None:
    assert version_clashes([SHARED_MIGRATIONS, service]) == []


async def test_a_version_clash_is_refused_before_anything_is_applied(
    postgres: PostgresHandle, tmp_path: Path
) -> None:
    (tmp_path / "20261123000001_mine.sql").write_text("-- migrate:up\n-- migrate:down\n")
    dsn = database_url(postgres.url, f"migr_{uuid.uuid4().hex[:10]}")
    with pytest.raises(
        RuntimeError, match=r"20261123000001_outbox\.sql and 20261123000001_mine\.sql"
    ):
        await migrate(dsn, tmp_path)
    conn = await asyncpg.connect(database_url(postgres.url, "postgres"))
    try:
        created = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = $1", dsn.rsplit("/", 1)[1]
        )
    finally:
        await conn.close()
    assert created == 0
