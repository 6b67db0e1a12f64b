"""10. ``procure ocds import`` of a release package of 10,000 and 100,000 releases (the plan's
``ocds_import_sizes``).

The file: ``procure_tools.ocds.synthetic.write_release_package``, written as a stream (never in
memory): contracting processes of five releases each (tender with one to three lots, award to
suppliers with GB-COH identifiers drawn from a pool of 300, contract with delivery and payment
milestones, two implementation releases with transactions), about 3.4 KB a release.

Placement: PostgreSQL stays on core 0 where the harness put it; the services and the command
are not pinned (they run on both cores, as on a user's machine), and the baselines run in the
bench process on core 1, so both sides have the same two cores.

Project: the real stack as deployed (``python -m procure_providers serve --role http`` and
``python -m procure_contracts serve --role http``, fresh migrated databases each repetition, the
contracts service finding and registering suppliers through the providers API) and the command
run as a user runs it (``procure ocds import FILE --buyer dfe``, under ``/usr/bin/time`` for its
peak RSS). Throughput is the file's releases over the command's wall time (scan, read, send, the
service's validation, merging, mapping and writes); every release must be stored. The services
read the OCDS schemas from where the contracts service finds them by default (its package data,
or ``PROCURE_OCDS_SCHEMAS`` when the environment sets it). The contracts service's RSS is read
before and after (``VmRSS``, and its peak ``VmHWM``).

Baselines, in the same run against the same PostgreSQL: *bare store*: the same file read with
``ijson.items`` and its releases inserted as ``(ocid, id, doc jsonb)`` rows with asyncpg
``executemany`` in batches of 500 (what storing the releases costs with nothing else); *bare
parse*: ``ijson.items`` alone, against which the reader (``OcdsFile.releases()``: the scan
for the metadata, then the releases) is stated.

Targets: at least 1,000 releases/s through the command; its peak RSS under 300 MB and the same
at 10,000 and 100,000 releases.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import ijson
from procure_tools.devstack import free_port
from procure_tools.ocds.reader import ENCODE, OcdsFile
from procure_tools.ocds.synthetic import write_release_package

from bench import cpu
from bench.harness import Figure, Run, Servers, on_core, spawn_python, stop_process
from bench.plan import Plan
from procure_contracts.app import MIGRATIONS as CONTRACTS_MIGRATIONS
from procure_providers.app import MIGRATIONS as PROVIDERS_MIGRATIONS
from procure_shared.db.migrations import migrate
from procure_shared.http import Role, issue_token

SECRET = "bench-ocds-secret-0123456789abcdef"
MIN_RATE = 1_000.0
MAX_RSS_MB = 300.0
BATCH = 500
PROCURE = Path(sys.executable).parent / "procure"


@dataclass
class FloorFigure(Figure):
    """A figure whose target is a floor on the project's median (releases/s)."""

    min_value: float | None = None

    @property
    def verdict(self) -> str:
        if self.min_value is not None and self.project:
            return "met" if self.median >= self.min_value else "missed"
        return super().verdict


def _token() -> str:
    return issue_token(
        secret=SECRET,
        issuer="procure-dev",
        audience="procure",
        sub="bench-ocds",
        roles=[Role.ADMIN],
        buyer=None,
    )


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _service(
    servers: Servers, module: str, dsn: str, log: Path, extra: dict[str, str]
) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": await servers.as_service(dsn, module.removeprefix("procure_")),
        **servers.service_env(module.removeprefix("procure_")),
        "PROCURE_HTTP_PORT": str(port),
        "PROCURE_JWT_SECRET": SECRET,
        "PROCURE_LOG_LEVEL": "WARNING",
        **extra,
    }
    proc = await spawn_python(["-m", module, "serve", "--role", "http"], env, log, None)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"{module} exited: see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return proc, url
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{module} did not start: see {log}")
            await asyncio.sleep(0.2)


async def _project(servers: Servers, path: Path, count: int) -> Run:
    contracts_dsn = servers.postgres.dsn(f"bench_oc_{uuid.uuid4().hex[:8]}")
    providers_dsn = servers.postgres.dsn(f"bench_op_{uuid.uuid4().hex[:8]}")
    await migrate(contracts_dsn, CONTRACTS_MIGRATIONS)
    await migrate(providers_dsn, PROVIDERS_MIGRATIONS)
    logs = servers.folder / "ocds-services.log"
    providers, providers_url = await _service(servers, "procure_providers", providers_dsn, logs, {})
    try:
        contracts, url = await _service(
            servers,
            "procure_contracts",
            contracts_dsn,
            logs,
            # The buyer the run imports for, known to the service (else 422).
            {"PROCURE_PROVIDERS_URL": providers_url, "PROCURE_BUYER_NAMES": "dfe=DfE"},
        )
        try:
            assert contracts.pid is not None
            assert providers.pid is not None
            rss_before = _status_kb(contracts.pid, "VmRSS")
            cpu_before = cpu.seconds_of(contracts.pid), cpu.seconds_of(providers.pid)
            timing = servers.folder / f"time-{uuid.uuid4().hex[:6]}.txt"
            out_log = servers.folder / "ocds-cli.log"
            meter = cpu.Meter()
            began = time.perf_counter()
            with out_log.open("ab") as out:
                cli = await asyncio.create_subprocess_exec(
                    "/usr/bin/time",
                    "-f",
                    "%M %e %U %S",
                    "-o",
                    str(timing),
                    str(PROCURE),
                    "ocds",
                    "import",
                    str(path),
                    "--buyer",
                    "dfe",
                    "--url",
                    url,
                    "--token",
                    _token(),
                    stdout=out,
                    stderr=out,
                    env={**os.environ, "COLUMNS": "160"},
                    preexec_fn=on_core(None),
                )
                code = await cli.wait()
            seconds = time.perf_counter() - began
            load = meter.stop()
            if code != 0:
                raise RuntimeError(f"procure ocds import exited {code}: see {out_log}")
            peak_kb, _, cli_user, cli_system = timing.read_text().split()[-4:]
            contracts_cpu = cpu.seconds_of(contracts.pid) - cpu_before[0]
            providers_cpu = cpu.seconds_of(providers.pid) - cpu_before[1]
            rss_after = _status_kb(contracts.pid, "VmRSS")
            hwm = _status_kb(contracts.pid, "VmHWM")
            stored = await _count(contracts_dsn)
        finally:
            await stop_process(contracts, within=15)
    finally:
        await stop_process(providers, within=15)
        await servers.drop_database(contracts_dsn)
        await servers.drop_database(providers_dsn)
    if stored != count:
        raise RuntimeError(f"ocds import {count:,}: {stored:,} releases stored, not {count:,}")
    return Run(
        count / seconds,
        load,
        {
            "seconds": seconds,
            "cli_peak_rss_mb": int(peak_kb) / 1024,
            "cli_cpu_s": float(cli_user) + float(cli_system),
            "contracts_cpu_s": contracts_cpu,
            "providers_cpu_s": providers_cpu,
            "contracts_rss_before_mb": rss_before / 1024,
            "contracts_rss_after_mb": rss_after / 1024,
            "contracts_rss_peak_mb": hwm / 1024,
            "releases_stored": stored,
        },
    )


async def _count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ocds_releases"))
    finally:
        await conn.close()


async def _bare_store(servers: Servers, path: Path, count: int) -> Run:
    dsn = servers.postgres.dsn(f"bench_ob_{uuid.uuid4().hex[:8]}")
    await servers.sql(f'CREATE DATABASE "{dsn.rsplit("/", 1)[1]}"')
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE releases (ocid text, id text, doc jsonb, PRIMARY KEY (ocid, id))"
        )
        statement = "INSERT INTO releases VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING"
        meter = cpu.Meter()
        began = time.perf_counter()
        rows: list[tuple[str, str, str]] = []
        with path.open("rb") as file:
            for release in ijson.items(file, "releases.item"):
                rows.append((release["ocid"], release["id"], ENCODE(release).decode()))
                if len(rows) == BATCH:
                    await conn.executemany(statement, rows)
                    rows = []
        if rows:
            await conn.executemany(statement, rows)
        seconds = time.perf_counter() - began
        load = meter.stop()
        stored = await conn.fetchval("SELECT count(*) FROM releases")
        if stored != count:
            raise RuntimeError(f"ocds import bare: {stored:,} releases stored, not {count:,}")
    finally:
        await conn.close()
        await servers.drop_database(dsn)
    return Run(count / seconds, load, {"seconds": seconds})


def _parse(path: Path, reader: bool) -> float:
    began = time.perf_counter()
    if reader:
        n = sum(1 for _ in OcdsFile(path).releases())
    else:
        with path.open("rb") as file:
            n = sum(1 for _ in ijson.items(file, "releases.item"))
    return n / (time.perf_counter() - began)


async def _parse_run(path: Path, reader: bool) -> Run:
    meter = cpu.Meter()
    rate = await asyncio.to_thread(_parse, path, reader)
    return Run(rate, meter.stop())


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    for count in plan.ocds_import_sizes:
        path = servers.folder / f"releases-{count}.json"
        began = time.monotonic()
        with path.open("wb") as out:
            size = write_release_package(out, count)
        log.append(
            f"ocds import {count:,}: a release package of {size / 2**20:,.0f} MiB "
            f"({size / count:,.0f} bytes a release) written in {time.monotonic() - began:.1f} s"
        )
        throughput = FloorFigure(
            f"ocds_import_{count}_throughput",
            f"procure ocds import, {count:,} releases: throughput",
            "releases/s",
            target=f">= {MIN_RATE:,.0f} releases/s",
            min_value=MIN_RATE,
            note="baseline: the same releases parsed with ijson and inserted with bare asyncpg "
            "executemany (500 a batch) as (ocid, id, jsonb) rows",
        )
        rss = Figure(
            f"ocds_import_{count}_cli_rss",
            f"procure ocds import, {count:,} releases: the command's peak RSS",
            "MB",
            target=f"< {MAX_RSS_MB:.0f} MB",
            max_value=MAX_RSS_MB,
        )
        reader = Figure(
            f"ocds_reader_{count}",
            f"OCDS reader (scan + releases), {count:,} releases",
            "releases/s",
            note="baseline: ijson.items over releases.item alone",
        )
        for rep in range(plan.repetitions):
            project = await _project(servers, path, count)
            throughput.project.append(project)
            rss.project.append(Run(project.extra["cli_peak_rss_mb"], project.load))
            bare = await _bare_store(servers, path, count)
            throughput.baseline.append(bare)
            reader.project.append(await _parse_run(path, reader=True))
            reader.baseline.append(await _parse_run(path, reader=False))
            print(
                f"  ocds import {count:,} #{rep + 1}: {project.value:,.0f} releases/s "
                f"(bare store {bare.value:,.0f}/s), CLI peak RSS "
                f"{project.extra['cli_peak_rss_mb']:.0f} MB, contracts RSS "
                f"{project.extra['contracts_rss_before_mb']:.0f} -> "
                f"{project.extra['contracts_rss_after_mb']:.0f} MB (peak "
                f"{project.extra['contracts_rss_peak_mb']:.0f}); CPU s: contracts "
                f"{project.extra['contracts_cpu_s']:.1f}, providers "
                f"{project.extra['providers_cpu_s']:.1f}, command "
                f"{project.extra['cli_cpu_s']:.1f} of {project.extra['seconds']:.1f} s; reader "
                f"{reader.project[-1].value:,.0f}/s vs ijson {reader.baseline[-1].value:,.0f}/s",
                flush=True,
            )
        figures += [throughput, rss, reader]
        path.unlink()
    return figures
