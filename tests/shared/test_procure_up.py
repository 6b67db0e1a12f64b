import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import asyncpg
import httpx
import pytest
from procure_tools.devstack import free_port
from procure_tools.devstack.up import development_tokens, jwt_secret

from tests.support.ports import free_port_run
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


@pytest.mark.check
async def test_procure_up_uses_given_servers_and_starts_none_of_its_own(
    postgres: PostgresHandle, nats_handle: NatsHandle
) -> None:
    checkout = scratch_dir("procure-up-")
    (checkout / "services").mkdir()
    (checkout / "pyproject.toml").write_text("")
    base = free_port_run(3)  # the three services' ports, all free
    ports = [base, base + 1, base + 2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_"))}
    env |= {
        "PROCURE_POSTGRES_URL": postgres.url,
        "NATS_URL": nats_handle.url,
        "PROCURE_DEV_NATS_CREDENTIALS": str(nats_handle.credentials),
        "PROCURE_DEV_HTTP_PORT": str(base),
        "PROCURE_DEV_SMTP_PORT": str(free_port()),
        "TMPDIR": str(scratch_dir("procure-tmp-")),  # removed with the session
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_tools.cli", "up"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await eventually(
            lambda: holds(all(ready(p) for p in ports)), within=90, what="three services ready"
        )
        pids = (checkout / ".procure" / "up.pids").read_text().splitlines()
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
        # procure status finds the three services over NATS ($SRV.INFO), asks each one's health
        # and counts the demo's milestones.
        shown = subprocess.run(
            [sys.executable, "-m", "procure_tools.cli", "status", "--nats", nats_handle.url],
            cwd=checkout,
            env=env | {"COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for service, port in zip(("contracts", "providers", "notifications"), ports, strict=True):
            assert re.search(
                rf"{service} +│ 0\.2\.0 .*127\.0\.0\.1:{port} +│ 200 ready ", shown.stdout
            ), shown.stdout
        # The 2021/22 final report, the summer 2023 report, the 1,665-pupil milestone and the
        # 2024 evaluation report are overdue whatever today is; the s.71 assessment of
        # December 2026 joins them as the real date passes it.
        overdue = re.findall(r"(\d+) overdue, \d+ due in the next 14 days", shown.stdout)
        assert [int(n) >= 4 for n in overdue] == [True], shown.stdout
        # Mail goes to the development mailbox, kept as files under .procure/mail/.
        [token] = [
            t
            for _, role, t in development_tokens(jwt_secret(checkout / ".procure"))
            if role == "viewer"
        ][:1]
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{base + 2}", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            made = await http.post(
                "/v1/subscriptions",
                json={
                    "name": "Mail me",
                    "channel": {"kind": "email", "address": "ops@education.gov.uk"},
                    "filter": {"eventTypes": [">"]},
                },
                headers={"Idempotency-Key": "mail-me"},
            )
            assert made.status_code == 201, made.text
            tested = await http.post(f"/v1/subscriptions/{made.json()['id']}/test")
            assert tested.json()["outcome"] == "delivered", tested.text
        [mail] = (checkout / ".procure" / "mail").glob("*.eml")
        assert b"notifications.subscription.test" in mail.read_bytes()
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
        for line in pids_file.read_text().splitlines() if pids_file.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
