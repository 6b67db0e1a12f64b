"""Fixtures: real PostgreSQL and nats-server for the whole session; per test, a database cloned
from a migrated template and freshly created streams, so no state leaks between tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import ServerError

from procure_contracts.app import MIGRATIONS as CONTRACTS_MIGRATIONS
from procure_notifications.app import MIGRATIONS as NOTIFICATIONS_MIGRATIONS
from procure_providers.app import MIGRATIONS as PROVIDERS_MIGRATIONS
from procure_shared.db.migrations import create_owner_role, migrate, with_user
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.events import STREAMS
from procure_shared.messaging.nats import ensure_streams
from tests.support.producer import TEST_STREAM
from tests.support.servers import (
    NatsHandle,
    PostgresHandle,
    nats_server,
    postgres_server,
    remove_scratch_dirs,
    remove_session_temp,
    use_session_temp,
)
from tests.support.wait import eventually

TEMPLATE = "procure_test_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresHandle]:
    with postgres_server(os.environ) as handle:
        yield handle


@pytest.fixture(scope="session")
def nats_handle() -> Iterator[NatsHandle]:
    with nats_server(os.environ) as handle:
        yield handle


def database_url(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


# The roles of production (docs/operations.md, "Database roles"): the owner migrates each
# template; every test's service connects to its clone as the service's own role, which may
# not change or delete audit rows.
OWNER = "procure_owner"
ROLE_PASSWORD = "procure-test-role"
SERVICE_ROLES = {
    # The shared library's tests make tables of their own: they connect as the owner.
    None: OWNER,
    PROVIDERS_MIGRATIONS: "procure_providers",
    CONTRACTS_MIGRATIONS: "procure_contracts",
    NOTIFICATIONS_MIGRATIONS: "procure_notifications",
}


def as_role(url: str, role: str) -> str:
    return with_user(url, role, ROLE_PASSWORD)


async def _make_template(server_url: str, name: str, migrations: Path | None) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    await create_owner_role(server_url, OWNER, ROLE_PASSWORD)
    url = database_url(server_url, name)
    await migrate(as_role(url, OWNER), migrations, as_role(url, SERVICE_ROLES[migrations]))
    return name


async def clone_database(server_url: str, template: str) -> str:
    """A new database copied from ``template``; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        for attempt in range(50):
            try:
                await admin.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{OWNER}"'
                )
                break
            except asyncpg.ObjectInUseError:
                # Autovacuum may be visiting the template for a moment.
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def template_database(postgres: PostgresHandle) -> str:
    """A database with the shared migrations applied, cloned by every test."""
    return await _make_template(postgres.url, TEMPLATE, None)


@pytest.fixture(scope="session")
async def providers_template(postgres: PostgresHandle) -> str:
    """A database with the providers service's migrations applied."""
    return await _make_template(postgres.url, f"{TEMPLATE}_providers", PROVIDERS_MIGRATIONS)


@pytest.fixture(scope="session")
async def contracts_template(postgres: PostgresHandle) -> str:
    """A database with the contracts service's migrations applied."""
    return await _make_template(postgres.url, f"{TEMPLATE}_contracts", CONTRACTS_MIGRATIONS)


async def _cloned(
    postgres: PostgresHandle, template: str, migrations: Path | None
) -> AsyncIterator[str]:
    """A clone of ``template``, as the URL its service connects with: the service's role."""
    url = await clone_database(postgres.url, template)
    yield as_role(url, SERVICE_ROLES[migrations])
    await drop_database(postgres.url, url)


async def _pool(url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(url, size=10)
    yield pool
    await pool.close()


@pytest.fixture
async def providers_url(postgres: PostgresHandle, providers_template: str) -> AsyncIterator[str]:
    """A providers service database, cloned from the migrated template."""
    async for url in _cloned(postgres, providers_template, PROVIDERS_MIGRATIONS):
        yield url


@pytest.fixture
async def ppool(providers_url: str) -> AsyncIterator[Pool]:
    async for pool in _pool(providers_url):
        yield pool


@pytest.fixture
async def contracts_url(postgres: PostgresHandle, contracts_template: str) -> AsyncIterator[str]:
    """A contracts service database, cloned from the migrated template."""
    async for url in _cloned(postgres, contracts_template, CONTRACTS_MIGRATIONS):
        yield url


@pytest.fixture
async def cpool(contracts_url: str) -> AsyncIterator[Pool]:
    async for pool in _pool(contracts_url):
        yield pool


@pytest.fixture(scope="session")
async def notifications_template(postgres: PostgresHandle) -> str:
    """A database with the notifications service's migrations applied."""
    return await _make_template(postgres.url, f"{TEMPLATE}_notifications", NOTIFICATIONS_MIGRATIONS)


@pytest.fixture
async def notifications_url(
    postgres: PostgresHandle, notifications_template: str
) -> AsyncIterator[str]:
    """A notifications service database, cloned from the migrated template."""
    async for url in _cloned(postgres, notifications_template, NOTIFICATIONS_MIGRATIONS):
        yield url


@pytest.fixture
async def npool(notifications_url: str) -> AsyncIterator[Pool]:
    async for pool in _pool(notifications_url):
        yield pool


@pytest.fixture
async def database(postgres: PostgresHandle, template_database: str) -> AsyncIterator[str]:
    async for url in _cloned(postgres, template_database, None):
        yield url


@pytest.fixture
async def pool(database: str) -> AsyncIterator[Pool]:
    async for made in _pool(database):
        yield made


@pytest.fixture
async def nc(nats_handle: NatsHandle) -> AsyncIterator[Client]:
    """A connection as the tests' harness identity, which may do anything."""
    client = await nats.connect(
        nats_handle.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **nats_handle.access().options(),
    )
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    """JetStream with the streams deleted and created afresh."""
    context = nc.jetstream()
    for info in await context.streams_info():
        assert info.config.name is not None
        await context.delete_stream(info.config.name)

    async def created() -> bool:
        # Right after a deletion nats-server may still be removing the old streams' files and
        # answer "error creating store for stream" (10049, seen once in CI).
        try:
            await ensure_streams(context, 1, (*STREAMS, TEST_STREAM))
        except ServerError:
            return False
        return True

    await eventually(created, within=10, what="the streams created afresh")
    return context


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print a test's figures in every run's output (past pytest's capture)."""

    def emit(line: str) -> None:
        with capsys.disabled():
            print(f"\n  {line}")

    return emit


def pytest_configure(config: pytest.Config) -> None:
    use_session_temp()
    # The tests run the services in development mode, as make up does: the service processes
    # they start inherit it and accept tokens signed with the public development secret
    # (tests.support.auth). A test of the production rules starts its process without it.
    os.environ["PROCURE_DEV_MODE"] = "true"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave nothing in the temporary folder: every scratch folder of the session goes, also
    those of tests that failed before removing their own, with the session's own folder."""
    remove_scratch_dirs()
    remove_session_temp()
