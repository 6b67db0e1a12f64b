"""5. The contracts service's HTTP API against a bare Litestar + asyncpg app running the same SQL.

``contracts``: GET a contract by id, a filtered list page (status active, one category, 50 a
page) and an amendment (a scope change: row lock, version-checked update, audit row, outbox
row), each against bench.contracts_bare's endpoint doing the same statements, on one database of
the plan's ``contracts`` contracts (10,000). ``contracts-scale``: the service's list page at
``contracts_scale`` contracts (1,000,000) against the same page at ``contracts``, in one
database grown in between.

The data: contracts for buyer "dfe" generated in SQL (INSERT ... SELECT generate_series) straight
into the service's table, their documents built with jsonb_build_object to the Contract Struct's
camelCase fields (statuses, one or two of the seven categories, one to three of 1,000
providers, values and periods spread; created over five years); a sample of documents is decoded
with the service's own decoder before any run. For 1,000,000 rows the secondary indexes are
dropped for the load and built again after it (the migration's own definitions).

The placement is performance-ceiling.md's for HTTP: the app (the service, or the bare app) in
its own process on core 0 with PostgreSQL and nats-server, the load generator (the bench
process) on core 1. The service runs as it is deployed (``python -m procure_contracts serve
--role http``: one uvicorn worker, its pool of 10, its middleware, JWT auth and logging at
INFO); the bare app on the same server and pool settings. The relay is not running: the outbox
rows stay in the table, on both sides.

The load generator: wrk is not on this machine, so a closed loop of HTTP/1.1 keep-alive
connections written with asyncio streams on uvloop, the same code and bytes for both sides (the
same headers, the bearer token included, only the path differs): ``contracts_connections``
connections (the method's -c50), ``contracts_warmup_seconds`` (2 s) of warm-up not recorded,
then ``contracts_seconds`` (10 s) timed. Latency is the client's (request written to body read):
closed-loop, so at 50 connections it includes queueing (about 50 / throughput). The scale
measurement also runs one connection, the latency of one page on an idle server.

Each repetition restores the contracts table from a pristine copy (and empties audit_log,
outbox and idempotency_keys) before each side, so both sides start from the same rows whatever
the amendments before them did; the sides alternate which goes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from procure_tools.devstack import free_port

from bench import cpu
from bench.harness import (
    SERVER_CORE,
    Figure,
    Run,
    Servers,
    cpu_per,
    guarded,
    keep_run,
    percentile,
    quiet,
    say_http_run,
    spawn_python,
    stop_process,
)
from bench.plan import Plan
from procure_contracts.app import MIGRATIONS
from procure_contracts.contracts import store
from procure_shared.db.migrations import migrate
from procure_shared.http import Role, issue_token

BUYER = "dfe"
SECRET = "bench-contracts-secret-0123456789abcdef"
SEED = 0.20261123
CATEGORIES = (
    "academic_mentoring",
    "tutor_training",
    "tuition_partner_qa",
    "tuition_delivery",
    "attendance_mentoring",
    "attendance_hub",
    "other",
)
SERVICE, BARE = "service", "bare"
ENDPOINTS = ("get", "list", "amend")
TARGETS = {"get": 0.8, "list": 0.8, "amend": 0.75}
P99_MAX_RATIO = 1.5
SCALE_MAX_RATIO = 1.5


@dataclass
class CeilingFigure(Figure):
    """A figure whose target is a ceiling on the ratio project / baseline (p99 at most 1.5x
    the bare endpoint's; latency at 1M at most 1.5x the latency at 10k)."""

    max_ratio: float | None = None

    @property
    def verdict(self) -> str:
        if self.max_ratio is not None and self.ratio is not None:
            if self.ratio <= self.max_ratio:
                return "met"
            return "borderline (re-run)" if self.ratio <= self.max_ratio + 0.1 else "missed"
        return super().verdict


# --- data ---------------------------------------------------------------------------------------

# One row per g: the random draws first, then the columns, then the document.
_GENERATE = """
INSERT INTO contracts (id, buyer_id, status, title, description, categories, provider_ids,
                       lot_ids, tender_ids, current_amount, starts_on, ends_on, flagged,
                       version, created_at, doc)
SELECT id, 'dfe', status, title, description, categories, provider_ids, lot_ids, tender_ids,
       amount, starts_on, ends_on, false, version, created_at,
       jsonb_build_object(
           'id', id::text, 'buyerId', 'dfe', 'title', title, 'description', description,
           'awardIds', to_jsonb(award_ids), 'lotIds', to_jsonb(lot_ids),
           'tenderIds', to_jsonb(tender_ids), 'categories', to_jsonb(categories),
           'suppliers', suppliers,
           'value', CASE WHEN amount IS NOT NULL
               THEN jsonb_build_object('amount', amount::text, 'currency', 'GBP') END,
           'currentValue', CASE WHEN amount IS NOT NULL
               THEN jsonb_build_object('amount', amount::text, 'currency', 'GBP') END,
           'amendmentsValue', '0.00', 'thresholdExceeded', false,
           'startsOn', starts_on::text, 'endsOn', ends_on::text, 'scope', scope,
           'status', status,
           'signedAt', CASE WHEN status IN ('active', 'completed', 'terminated')
               THEN created_at + interval '12 days' END,
           'closedOn', CASE WHEN status IN ('completed', 'terminated', 'cancelled')
               THEN (created_at + interval '300 days')::date::text END,
           'reason', CASE WHEN status = 'terminated' THEN 'Provider could not staff the lot'
               WHEN status = 'cancelled' THEN 'Funding withdrawn before signature' END,
           'options', '[]'::jsonb, 'amendments', '[]'::jsonb,
           'version', version, 'createdAt', created_at, 'updatedAt', created_at)
FROM (
    SELECT gen_random_uuid() AS id, status, categories, created_at,
           'NTP ' || replace(categories[1], '_', ' ') || ' contract ' || g || ' (' ||
               (ARRAY['North East', 'North West', 'Yorkshire', 'East Midlands',
                      'West Midlands', 'East of England', 'London', 'South East',
                      'South West'])[1 + (g % 9)] || ')' AS title,
           CASE WHEN r4 < 0.8 THEN 'Delivery of ' || replace(categories[1], '_', ' ') ||
               ' to schools in the region under the National Tutoring Programme, with ' ||
               'termly reporting of sessions delivered and pupils supported.' END
               AS description,
           ARRAY[md5('award' || g)::uuid::text] AS award_ids,
           ARRAY[md5('lot' || g)::uuid::text] AS lot_ids,
           ARRAY[md5('tender' || (g / 3))::uuid::text] AS tender_ids,
           (SELECT array_agg(md5('provider' || p)::uuid::text ORDER BY k)
              FROM unnest(providers) WITH ORDINALITY AS x(p, k)) AS provider_ids,
           (SELECT jsonb_agg(jsonb_build_object('id', md5('provider' || p)::uuid::text,
                                                'name', 'Provider ' || p) ORDER BY k)
              FROM unnest(providers) WITH ORDINALITY AS x(p, k)) AS suppliers,
           CASE WHEN r5 < 0.9 THEN round((20000 + r6 * 4980000)::numeric, 2) END AS amount,
           (created_at + interval '30 days')::date AS starts_on,
           (created_at + interval '30 days' + (365 + floor(r7 * 730)) * interval '1 day')::date
               AS ends_on,
           CASE WHEN r8 < 0.5 THEN 'Pupils in years 7 to 11, ' || (100 + g % 900) ||
               ' places a term' END AS scope,
           CASE WHEN status IN ('pending') THEN 1 WHEN status = 'active' THEN 2 ELSE 3 END
               AS version
    FROM (
        SELECT g, r4, r5, r6, r7, r8,
               (ARRAY['active', 'active', 'active', 'active', 'pending', 'pending',
                      'completed', 'completed', 'completed', 'terminated',
                      'cancelled'])[1 + floor(r1 * 11)::int] AS status,
               CASE WHEN r2 < 0.3
                    THEN ARRAY[($3::text[])[1 + floor(r3 * 7)::int],
                               ($3::text[])[1 + (floor(r3 * 7)::int + 1
                                                 + floor(r2 * 20)::int) % 7]]
                    ELSE ARRAY[($3::text[])[1 + floor(r3 * 7)::int]] END AS categories,
               CASE WHEN r9 < 0.8 THEN ARRAY[floor(r10 * 1000)::int]
                    WHEN r9 < 0.95 THEN ARRAY[floor(r10 * 1000)::int, floor(r11 * 1000)::int]
                    ELSE ARRAY[floor(r10 * 1000)::int, floor(r11 * 1000)::int,
                               floor(r12 * 1000)::int] END AS providers,
               timestamptz '2021-09-01 00:00+00' + r13 * interval '1826 days' AS created_at
        FROM (
            SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                   random() AS r5, random() AS r6, random() AS r7, random() AS r8,
                   random() AS r9, random() AS r10, random() AS r11, random() AS r12,
                   random() AS r13
            FROM generate_series($1::int, $2::int) AS g
        ) AS draws
    ) AS drawn
) AS rows
"""


async def load(dsn: str, first: int, last: int) -> float:
    """Contracts ``first``..``last`` (numbers, inclusive); the seconds it took. Over 100,000
    rows the secondary indexes are dropped for the load and built again after it."""
    began = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET TimeZone = 'UTC'; SET maintenance_work_mem = '512MB'")
        await conn.execute(f"SELECT setseed({SEED + first / 1e9})")
        indexes: list[asyncpg.Record] = []
        if last - first > 100_000:
            indexes = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'contracts' AND indexname <> 'contracts_pkey'"
            )
            for row in indexes:
                await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        step = 100_000
        for start in range(first, last + 1, step):
            await conn.execute(_GENERATE, start, min(start + step - 1, last), list(CATEGORIES))
        for row in indexes:
            await conn.execute(row["indexdef"])
    finally:
        await conn.close()
    return time.monotonic() - began


async def check_documents(dsn: str, sample: int = 2_000) -> int:
    """Decode a sample of the documents with the service's decoder; how many were read."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT doc::text AS doc FROM contracts TABLESAMPLE SYSTEM (5) LIMIT $1", sample
        )
        for row in rows:
            store.contracts.decode(row["doc"])
    finally:
        await conn.close()
    return len(rows)


_COLUMNS = (
    "id, buyer_id, status, title, description, categories, provider_ids, lot_ids, tender_ids, "
    "current_amount, starts_on, ends_on, flagged, version, created_at, doc"
)


async def snapshot(servers: Servers, dsn: str) -> None:
    await servers.sql(f"CREATE TABLE contracts_pristine AS SELECT {_COLUMNS} FROM contracts", dsn)


async def restore(servers: Servers, dsn: str) -> None:
    """The contracts as loaded; no audit, outbox or idempotency rows; vacuumed, analysed and
    checkpointed."""
    await servers.sql(
        "TRUNCATE contracts, audit_log, outbox, idempotency_keys CASCADE; "
        f"INSERT INTO contracts ({_COLUMNS}) SELECT {_COLUMNS} FROM contracts_pristine",
        dsn,
    )
    await servers.settle(dsn, "contracts")
    await servers.sql("VACUUM ANALYZE audit_log, outbox, idempotency_keys", dsn)


# --- the apps ---------------------------------------------------------------------------------


async def start_app(
    servers: Servers, side: str, dsn: str, log_file: Path, core: int | None = SERVER_CORE
) -> tuple[asyncio.subprocess.Process, int]:
    """The app on ``core`` (when the servers are pinned; None: on every core), once it
    answers."""
    port = free_port()
    if side == SERVICE:
        argv = ["-m", "procure_contracts", "serve", "--role", "http"]
    else:
        argv = ["-m", "bench.contracts_bare", "--dsn", dsn, "--port", str(port)]
    env = {
        **os.environ,
        "DATABASE_URL": await servers.as_service(dsn, "contracts") if side == SERVICE else dsn,
        **servers.service_env("contracts"),  # the bare app does not use NATS
        "PROCURE_HTTP_PORT": str(port),
        "PROCURE_JWT_SECRET": SECRET,
    }
    proc = await spawn_python(argv, env, log_file, core if servers.pinned else None)
    deadline = time.monotonic() + 30
    path = "/health/live" if side == SERVICE else "/contracts?status=active&category=other"
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"the {side} app exited: see {log_file}")
        with contextlib.suppress(OSError):
            status, _ = await fetch(port, f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            if status == 200:
                return proc, port
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the {side} app did not start: see {log_file}")
        await asyncio.sleep(0.1)


# --- the load generator -----------------------------------------------------------------------


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        raise RuntimeError("chunked responses are not read by this client")
    at = lower.find(b"\r\ncontent-length:")
    length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)]) if at >= 0 else 0
    body = await reader.readexactly(length) if length else b""
    return status, body


async def fetch(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on its own connection: the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await _response(reader)
    finally:
        writer.close()


@dataclass
class Drive:
    latencies: list[float]
    statuses: Counter[int]
    seconds: float
    by_port: Counter[int]


async def drive(
    ports: int | Sequence[int], request: Callable[[int], bytes], connections: int, seconds: float
) -> Drive:
    """A closed loop of ``connections`` keep-alive connections for ``seconds``; the n-th
    request sent is ``request(n)``. With several ports, connection k goes to the k-th in turn
    (spread evenly, as a load balancer would)."""
    targets = [ports] if isinstance(ports, int) else list(ports)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    by_port: Counter[int] = Counter()
    numbers = itertools.count()
    deadline = time.perf_counter() + seconds

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                payload = request(next(numbers))
                began = time.perf_counter()
                writer.write(payload)
                status, _ = await _response(reader)
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[status] += 1
                by_port[port] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(targets[k % len(targets)]) for k in range(connections)))
    return Drive(latencies, statuses, time.perf_counter() - started, by_port)


class Requests:
    """The bytes of each request, the same for both sides but for the path prefix."""

    def __init__(self, side: str, token: str, ids: list[str], live: list[str], tag: str) -> None:
        self.prefix = "/v1/contracts" if side == SERVICE else "/contracts"
        self.headers = f"Host: bench\r\nAuthorization: Bearer {token}\r\n"
        self.gets = [f"GET {self.prefix}/{i} HTTP/1.1\r\n{self.headers}\r\n".encode() for i in ids]
        self.lists = [
            f"GET {self.prefix}?status=active&category={c}&limit=50 HTTP/1.1\r\n"
            f"{self.headers}\r\n".encode()
            for c in CATEGORIES
        ]
        self.live = live
        self.tag = tag
        # Every amendment its own Idempotency-Key: a key used before (by the warm-up, whose
        # n count from 0 too, or by a repeated run) would be answered from the stored response
        # without a write.
        self.keys = itertools.count()

    def get(self, n: int) -> bytes:
        return self.gets[n % len(self.gets)]

    def list(self, n: int) -> bytes:
        return self.lists[n % len(self.lists)]

    def amend(self, n: int) -> bytes:
        body = msgspec.json.encode(
            {
                "change": {"kind": "scope", "scope": f"Pupils in years 7 to 11, {n} places"},
                "rationale": "More pupils eligible after the spring census",
            }
        )
        return (
            f"POST {self.prefix}/{self.live[n % len(self.live)]}/amendments HTTP/1.1\r\n"
            f"{self.headers}Idempotency-Key: {self.tag}-{next(self.keys)}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def of(self, endpoint: str) -> Callable[[int], bytes]:
        return {"get": self.get, "list": self.list, "amend": self.amend}[endpoint]


async def verify(port: int, side: str, requests: Requests, *, amend: bool = True) -> None:
    """One request of each kind answers as it should (the service's documents decode, the
    amendment is in the amended document)."""
    status, body = await fetch(port, requests.get(0))
    if status != 200:
        raise RuntimeError(f"{side} GET answered {status}: {body[:300]!r}")
    store.contracts.decode(body)
    status, body = await fetch(port, requests.list(0))
    if status != 200:
        raise RuntimeError(f"{side} list answered {status}: {body[:300]!r}")
    items = msgspec.json.decode(body)
    items = items["items"] if isinstance(items, dict) else items
    if len(items) != 50:
        raise RuntimeError(f"{side} list answered {len(items)} items, not 50")
    for item in items:
        store.contracts.decode(msgspec.json.encode(item))
    if not amend:
        return
    status, body = await fetch(port, requests.amend(0))
    if status != 201:
        raise RuntimeError(f"{side} amendment answered {status}: {body[:300]!r}")
    amended = store.contracts.decode(body)
    if amended.scope != "Pupils in years 7 to 11, 0 places" or not amended.amendments:
        raise RuntimeError(f"{side} amendment answered {body[:300]!r}")


async def timed(
    plan: Plan,
    ports: int | Sequence[int],
    request: Callable[[int], bytes],
    connections: int,
    log: list[str],
    label: str,
    watch: Sequence[int] = (),
) -> Run:
    """Warm up, then a timed closed loop; the CPU of the pids in ``watch`` is given one by
    one too."""
    await drive(ports, request, connections, plan.contracts_warmup_seconds)
    await quiet(plan, log, label)
    meter = cpu.Meter(watch)
    result = await drive(ports, request, connections, plan.contracts_seconds)
    load_ = meter.stop()
    bad = {s: n for s, n in result.statuses.items() if not 200 <= s < 300}
    if bad:
        raise RuntimeError(f"{label}: non-2xx responses {bad}")
    lat = result.latencies
    if not lat:
        raise RuntimeError(f"{label}: no response in {result.seconds:.1f} s")
    return Run(
        len(lat) / result.seconds,
        load_,
        {
            "p50_ms": percentile(lat, 50),
            "p90_ms": percentile(lat, 90),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat),
            "requests": len(lat),
            "seconds_timed": result.seconds,
            "connections": connections,
            "requests_by_port": {str(p): n for p, n in sorted(result.by_port.items())},
        },
    )


# --- measurements -----------------------------------------------------------------------------


def token(jti: str | None = None) -> str:
    return issue_token(
        secret=SECRET,
        issuer="procure-dev",
        audience="procure",
        sub="bench",
        roles=[Role.COMMERCIAL],
        buyer=BUYER,
        jti=jti or None,
    )


async def _ids(dsn: str) -> tuple[list[str], list[str]]:
    """4,096 ids at random, and every live (pending or active) contract's, shuffled."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [str(r[0]) for r in await conn.fetch("SELECT id FROM contracts")]
        live = [
            str(r[0])
            for r in await conn.fetch(
                "SELECT id FROM contracts WHERE status IN ('pending', 'active')"
            )
        ]
    finally:
        await conn.close()
    rng = random.Random(20261123)
    rng.shuffle(live)
    return rng.sample(ids, min(4096, len(ids))), live


async def _database(servers: Servers) -> str:
    dsn = servers.postgres.dsn(f"bench_c_{uuid.uuid4().hex[:8]}")
    await migrate(dsn, MIGRATIONS)
    return dsn


def _figures(endpoint: str, connections: int) -> tuple[Figure, Figure, CeilingFigure]:
    titles = {
        "get": "contracts API: GET a contract by id",
        "list": "contracts API: list page (status active, one category, 50 a page)",
        "amend": "contracts API: amendment (lock, update, audit, outbox)",
    }
    title = f"{titles[endpoint]}, {connections} connections"
    note = "baseline: bench.contracts_bare, the same SQL on a bare Litestar + asyncpg app"
    ratio = TARGETS[endpoint]
    return (
        Figure(
            f"contracts_{endpoint}_throughput",
            f"{title}: throughput",
            "req/s",
            target=f">= {ratio}x",
            min_ratio=ratio,
            note=note,
        ),
        Figure(f"contracts_{endpoint}_p50", f"{title}: p50", "ms", note=note),
        CeilingFigure(
            f"contracts_{endpoint}_p99",
            f"{title}: p99",
            "ms",
            target=f"<= {P99_MAX_RATIO}x",
            max_ratio=P99_MAX_RATIO,
            note=note,
        ),
    )


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = await _database(servers)
    log_file = servers.folder / "contracts-apps.log"
    connections = plan.contracts_connections
    try:
        seconds = await load(dsn, 1, plan.contracts)
        checked = await check_documents(dsn)
        await snapshot(servers, dsn)
        ids, live = await _ids(dsn)
        log.append(
            f"contracts: {plan.contracts:,} contracts for buyer {BUYER} generated in SQL in "
            f"{seconds:.1f} s ({len(live):,} live, amended in turn); {checked} documents "
            f"decoded by the service's decoder; the app on core "
            f"{SERVER_CORE if servers.pinned else 'any'}, the load generator (asyncio, "
            f"{connections} keep-alive connections) in the bench process; "
            f"{plan.contracts_warmup_seconds:g} s warm-up, {plan.contracts_seconds:g} s timed "
            f"per run; the table restored before each side of each repetition"
        )
        figures = {e: _figures(e, connections) for e in ENDPOINTS}
        bearer = token()
        for rep in range(plan.repetitions):
            sides = [SERVICE, BARE] if rep % 2 == 0 else [BARE, SERVICE]
            for side in sides:
                await restore(servers, dsn)
                proc, port = await start_app(servers, side, dsn, log_file)
                try:
                    requests = Requests(side, bearer, ids, live, uuid.uuid4().hex[:12])
                    await verify(port, side, requests)
                    for endpoint in ENDPOINTS:
                        label = f"contracts {side} {endpoint}"
                        run = partial(
                            timed, plan, port, requests.of(endpoint), connections, log, label
                        )
                        r = await guarded(plan, label, log, run)
                        keep_run(figures[endpoint], r, baseline=side == BARE)
                        say_http_run(label, rep, r)
                finally:
                    await stop_process(proc)
        for endpoint in ENDPOINTS:
            throughput = figures[endpoint][0]
            for side, runs in ((SERVICE, throughput.project), (BARE, throughput.baseline)):
                log.append(
                    f"contracts {endpoint} {side}: CPU per request (ms of a core, median of "
                    f"the runs): {cpu_per(runs, 'requests')}"
                )
        return [f for e in ENDPOINTS for f in figures[e]]
    finally:
        await servers.drop_database(dsn)


async def _scale_runs(
    servers: Servers,
    dsn: str,
    log: list[str],
    plan: Plan,
    size: int,
    log_file: Path,
) -> dict[int, list[Run]]:
    """The service's list page, one connection and the plan's, its repetitions times."""
    runs: dict[int, list[Run]] = {1: [], plan.contracts_connections: []}
    ids, live = await _ids(dsn)
    requests = Requests(SERVICE, token(), ids, live, uuid.uuid4().hex[:12])
    for rep in range(plan.repetitions):
        proc, port = await start_app(servers, SERVICE, dsn, log_file)
        try:
            await verify(port, SERVICE, requests, amend=False)
            for connections in runs:
                label = f"contracts-scale list at {size:,} x{connections}"
                run = partial(timed, plan, port, requests.list, connections, log, label)
                r = await guarded(plan, label, log, run)
                runs[connections].append(r)
                print(
                    f"  {label} #{rep + 1}: {r.value:,.0f} req/s, p50 "
                    f"{r.extra['p50_ms']:.2f} ms, p99 {r.extra['p99_ms']:.2f} ms; cores "
                    f"{r.load.busy_pct[0]:.0f}% / {r.load.busy_pct[1]:.0f}%, foreign "
                    f"{r.load.foreign_pct:.0f}%",
                    flush=True,
                )
        finally:
            await stop_process(proc)
    return runs


async def _plan(dsn: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the list statement for one category, for the notes."""
    from bench.contracts_bare import statements

    sql = await statements()
    values: dict[str, Any] = {
        "buyer": BUYER,
        "status": "active",
        "category": "academic_mentoring",
        "limit": 50,
    }
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql.page}",
            *(values[p] for p in sql.page_params),
        )
    finally:
        await conn.close()
    lines = [r[0].strip() for r in rows]
    keep = [ln for ln in lines if "Index" in ln or "Execution" in ln or "Planning Time" in ln]
    return "; ".join(keep)


async def measure_scale(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = await _database(servers)
    log_file = servers.folder / "contracts-scale-apps.log"
    small_size, large_size = plan.contracts, plan.contracts_scale
    connections_ = plan.contracts_connections
    try:
        seconds = await load(dsn, 1, small_size)
        await servers.settle(dsn, "contracts")
        small = await _scale_runs(servers, dsn, log, plan, small_size, log_file)
        small_plan = await _plan(dsn)
        grow = await load(dsn, small_size + 1, large_size)
        began = time.monotonic()
        await servers.settle(dsn, "contracts")
        settled = time.monotonic() - began
        checked = await check_documents(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('contracts'))")
            rows = await conn.fetchval("SELECT count(*) FROM contracts")
        finally:
            await conn.close()
        large = await _scale_runs(servers, dsn, log, plan, large_size, log_file)
        large_plan = await _plan(dsn)
        log.append(
            f"contracts-scale: {small_size:,} contracts generated in {seconds:.1f} s, measured, "
            f"then grown to {rows:,} in {grow:.0f} s (secondary indexes dropped and rebuilt) "
            f"plus {settled:.0f} s of VACUUM ANALYZE and CHECKPOINT; the table with its "
            f"indexes and TOAST: {size}; {checked} documents decoded by the service's decoder; "
            f"the service alone (its list page for status active and each category in turn), "
            f"one connection and {connections_}"
        )
        log.append(f"contracts-scale: list plan at {small_size:,}: {small_plan}")
        log.append(f"contracts-scale: list plan at {large_size:,}: {large_plan}")
        note = f"baseline: the same list page at {small_size:,} contracts, same database"
        figures: list[Figure] = []
        for connections in (1, connections_):
            mode = "1 connection" if connections == 1 else f"{connections} connections"
            title = f"contracts API: list page at {large_size:,} contracts, {mode}"
            tag = "c1" if connections == 1 else f"c{connections}"
            p50 = CeilingFigure(f"contracts_scale_{tag}_p50", f"{title}: p50", "ms", note=note)
            p99 = CeilingFigure(f"contracts_scale_{tag}_p99", f"{title}: p99", "ms", note=note)
            throughput = Figure(
                f"contracts_scale_{tag}_throughput", f"{title}: throughput", "req/s", note=note
            )
            if connections == 1:  # the latency of one page: the issue's target
                p50.target, p50.max_ratio = f"<= {SCALE_MAX_RATIO}x", SCALE_MAX_RATIO
                p99.target, p99.max_ratio = f"<= {SCALE_MAX_RATIO}x", SCALE_MAX_RATIO
            for runs, side in ((large[connections], "project"), (small[connections], "base")):
                for r in runs:
                    for figure, kept in (
                        (throughput, r),
                        (p50, Run(r.extra["p50_ms"], r.load)),
                        (p99, Run(r.extra["p99_ms"], r.load)),
                    ):
                        (figure.project if side == "project" else figure.baseline).append(kept)
            figures += [p50, p99, throughput]
        return figures
    finally:
        await servers.drop_database(dsn)
