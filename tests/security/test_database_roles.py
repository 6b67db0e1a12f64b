"""The audit cannot be rewritten by the services: migrations run as the database's owner, and a
service connects as a role of its own that may add to ``audit_log`` but not change, delete or
empty it (privileges, not a trigger). A service connected as a role that could refuses to
start outside development mode."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from procure_providers.app import MIGRATIONS as PROVIDERS_MIGRATIONS
from procure_shared.db.migrations import create_owner_role, migrate, privilege_refusal
from procure_shared.db.postgres import Pool
from tests.conftest import OWNER, ROLE_PASSWORD, as_role, database_url, drop_database
from tests.shared.test_organisation_sign_in import served_without_dev_mode
from tests.support.servers import NatsHandle, PostgresHandle

ROOT = Path(__file__).resolve().parents[2]
SECRET = "an-operators-own-secret-0123456789abcdef"


async def _audit_row(pool: Pool) -> int:
    row_id: int = await pool.fetchval(
        """
        INSERT INTO audit_log (occurred_at, actor, action, resource_type, resource_id, after)
        VALUES ($1, 'someone@dfe', 'created', 'tender', 't-1', '{"title": "Tutoring"}')
        RETURNING id
        """,
        datetime.now(UTC),
    )
    return row_id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'nobody' WHERE id = $1",
        "DELETE FROM audit_log WHERE id = $1",
        "TRUNCATE audit_log",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_service_role_adds_to_the_audit_but_cannot_change_delete_or_empty_it(
    cpool: Pool, statement: str
) -> None:
    row_id = await _audit_row(cpool)
    arguments = [row_id] if "$1" in statement else []
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="audit_log"):
        await cpool.execute(statement, *arguments)
    row = await cpool.fetchrow("SELECT actor, action FROM audit_log WHERE id = $1", row_id)
    assert dict(row or {}) == {"actor": "someone@dfe", "action": "created"}
    assert await cpool.fetchval("SELECT current_user") == "procure_contracts"


async def test_the_service_role_cannot_read_or_change_the_record_of_migrations(
    cpool: Pool,
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="schema_migrations"):
        await cpool.fetchval("SELECT count(*) FROM schema_migrations")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="schema_migrations"):
        await cpool.execute("DELETE FROM schema_migrations")


async def test_the_services_own_check_passes_its_role_and_refuses_the_owner(
    cpool: Pool, contracts_url: str
) -> None:
    async with cpool.acquire() as conn:
        assert await privilege_refusal(conn) is None
    owner = await asyncpg.connect(as_role(contracts_url, OWNER))
    try:
        refusal = await privilege_refusal(owner)
    finally:
        await owner.close()
    assert (refusal or "").startswith(
        f"the service connects to PostgreSQL as {OWNER}, which may change"
    )


async def test_migrate_as_the_owner_makes_the_service_role_which_alone_may_connect(
    postgres: PostgresHandle, contracts_template: str
) -> None:
    """A database made the way the deploy files make it: the owner migrates, then makes the
    service's role; no other role, another service's included, may connect."""
    await create_owner_role(postgres.url, OWNER, ROLE_PASSWORD)
    url = database_url(postgres.url, f"roles_{uuid.uuid4().hex[:10]}")
    service = as_role(url, "procure_roles_service")
    try:
        output = await migrate(as_role(url, OWNER), PROVIDERS_MIGRATIONS, service)
        assert "Applied" in output
        # Again: nothing to apply, the role kept, the grants the same.
        assert "Applied" not in await migrate(as_role(url, OWNER), PROVIDERS_MIGRATIONS, service)
        conn = await asyncpg.connect(service)
        try:
            assert await conn.fetchval("SELECT current_user") == "procure_roles_service"
            assert await privilege_refusal(conn) is None
            owner_of = await conn.fetchval(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"
            )
            assert owner_of == OWNER
        finally:
            await conn.close()
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await asyncpg.connect(as_role(url, "procure_contracts"))
    finally:
        await drop_database(postgres.url, url)


async def test_migrate_run_by_the_command_makes_the_role_of_database_url(
    postgres: PostgresHandle,
) -> None:
    """``python -m procure_providers migrate`` with ``DATABASE_OWNER_URL``: the role of
    ``DATABASE_URL`` is made, with that URL's password, and may add to the audit only."""
    await create_owner_role(postgres.url, OWNER, ROLE_PASSWORD)
    url = database_url(postgres.url, f"roles_{uuid.uuid4().hex[:10]}")
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_OWNER_URL": as_role(url, OWNER),
        "DATABASE_URL": as_role(url, "procure_roles_command"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "procure_providers", "migrate"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        conn = await asyncpg.connect(env["DATABASE_URL"])
        try:
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()
    finally:
        await drop_database(postgres.url, url)


def test_a_service_connected_as_the_owner_refuses_to_start_outside_development_mode(
    providers_url: str, nats_handle: NatsHandle
) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "procure_providers", "serve"],
        env=served_without_dev_mode(
            as_role(providers_url, OWNER), nats_handle, PROCURE_JWT_SECRET=SECRET
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"the service connects to PostgreSQL as {OWNER}" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 10
