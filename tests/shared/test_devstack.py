import asyncio
import os
import signal
import subprocess

import asyncpg
from procure_tools.devstack import EmbeddedPostgres, free_port, nats_config

from tests.support.servers import scratch_dir, session_credentials


def test_every_nats_configuration_we_start_syncs_every_write_and_lets_in_only_identities() -> None:
    config = nats_config(
        port=4222, store_dir=scratch_dir("cfg-"), credentials=session_credentials()
    )
    lines = [line.split("#", 1)[0].strip() for line in config.splitlines()]
    assert "sync_interval: always" in lines
    assert "authorization {" in lines
    assert '"nkey"' in config


def test_postgres_comes_back_after_a_kill_9_of_the_postmaster_and_its_backends() -> None:
    folder = scratch_dir("procure-crash-")
    server = EmbeddedPostgres(folder / "data", free_port(), folder / "pg.log")
    server.start()
    try:
        asyncio.run(_write(server.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"))
        assert server.pid is not None
        backends = _children(server.pid)
        assert backends, "postgres should have background processes"
        # The whole tree dies at once, as in a crash; the pid file stays behind.
        for pid in [server.pid, *backends]:
            os.kill(pid, signal.SIGKILL)
        assert server.process is not None
        server.process.wait()
        assert (server.data_dir / "postmaster.pid").exists()
        server.start()
        assert asyncio.run(_value(server.url, "SELECT count(*) FROM kept")) == 1
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


async def _write(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _value(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
