import contextlib
import os
import signal
import subprocess
import sys
import time

import asyncpg

from procure_shared.devstack import free_port
from tests.support.servers import NatsHandle, PostgresHandle, scratch_dir
from tests.support.wait import eventually, holds, ready


async def _names(server_url: str, database: str, sql: str) -> set[str]:
    conn = await asyncpg.connect(server_url.rpartition("/")[0] + f"/{database}")
    try:
        return {r[0] for r in await conn.fetch(sql)}
    finally:
        await conn.close()


async def demo_loaded(server_url: str) -> bool:
    names = await _names(server_url, "procure_providers", "SELECT legal_name FROM providers")
    return {"Barnardo's", "Randstad Solutions Limited", "Fischer Family Trust"} <= names


async def contracts_demo_loaded(server_url: str) -> bool:
    titles = await _names(server_url, "procure_contracts", "SELECT title FROM contracts")
    return "Attendance mentors (Barnardo's)" in titles


async def test_procure_up_uses_given_servers_and_starts_none_of_its_own(
    postgres: PostgresHandle, nats_handle: NatsHandle
) -> None:
    checkout = scratch_dir("procure-up-")
    (checkout / "services").mkdir()
    (checkout / "pyproject.toml").write_text("")
    base = free_port()
    ports = [base, base + 1, base + 2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_"))}
    env |= {
        "PROCURE_POSTGRES_URL": postgres.url,
        "NATS_URL": nats_handle.url,
        "PROCURE_DEV_HTTP_PORT": str(base),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_shared.cli", "up"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await eventually(
            lambda: holds(all(ready(p) for p in ports)), within=90, what="three services ready"
        )
        pids = (checkout / ".procure" / "up.pids").read_text().split()
        assert len(pids) == 4, "procure up and three services: no embedded server"
        assert not (checkout / ".procure" / "postgres").exists()
        assert not (checkout / ".procure" / "jetstream").exists()
        conn = await asyncpg.connect(postgres.url)
        try:
            names = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()
        assert {"procure_contracts", "procure_providers", "procure_notifications"} <= names
        # The demo providers were loaded through the providers API on this first run.
        await eventually(lambda: demo_loaded(postgres.url), within=30, what="the demo providers")
        # ... and the contracts service's through its use cases, from the provider directory.
        await eventually(
            lambda: contracts_demo_loaded(postgres.url), within=60, what="the demo contracts"
        )
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
        assert time.monotonic() - started < 10
        assert process.returncode == 0, output.decode()[-2000:]
        assert not any(ready(p) for p in ports)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        pids_file = checkout / ".procure" / "up.pids"
        for pid in pids_file.read_text().split() if pids_file.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
