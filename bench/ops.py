"""8. The ops dashboard: the server time of ``/ops`` at the plan's ``ops_contracts`` contracts
(10,000; issue 6: at most 150 ms), beside the raw stack measured in the same run.

The data: bench.contracts' generated contracts of buyer "dfe" (all of them one buyer's: the
largest board a viewer can have), five milestones each generated in SQL to the Milestone
Struct's fields (due dates spread from 400 days ago to 400 days ahead of today; of those already
due nine in ten met, the rest overdue; closed contracts' too), three KPIs each (Kpi Structs; one
in four rated Inadequate, Requires improvement or Approaching target), the 1,000 providers in
the provider directory, and 1,000 milestone events in the outbox (the recent events). A sample
of milestone and KPI documents is decoded with the service's decoders first.

The service runs as deployed (``python -m procure_contracts serve --role http`` on core 0 with
PostgreSQL and nats-server; the bench process, the client, on core 1). The page is asked with
the dashboard's session cookie, one request at a time on one keep-alive connection, for
``ops_seconds`` (5 s) after ``ops_warmup_seconds`` (1 s): its latency is the server's time plus
a loopback round trip. Pages: the whole dashboard; the same filtered to one provider; the panels
the page script fetches after a live event. Baselines from the same run: the page's own
statements run bare with asyncpg from the bench process (a pool of 10, gathered as the page
gathers them), and a trivial Litestar response (the service's ``/health/live``, through the same
middleware).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial

import asyncpg
import msgspec

from bench import cpu
from bench.contracts import (
    BUYER,
    SERVICE,
    drive,
    fetch,
    load,
    start_app,
)
from bench.harness import Figure, Run, Servers, guarded, percentile, quiet, stop_process
from bench.plan import Plan
from procure_contracts.app import MIGRATIONS
from procure_contracts.kpis.ratings import Combine, Direction, Exact, default_thresholds
from procure_contracts.kpis.rules import Kpi, Rated
from procure_contracts.kpis.store import kpis
from procure_contracts.milestones.store import milestones
from procure_contracts.ops import sessions as ops_sessions
from procure_contracts.ops import store as ops
from procure_shared.db.migrations import migrate
from procure_shared.db.postgres import create_pool
from procure_shared.events.contracts import Rating
from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.http import Role

__all__ = ["KPIS_EACH", "MILESTONES_EACH", "measure"]

MILESTONES_EACH = 5
KPIS_EACH = 3
TARGET_MS = 150.0
DAYS = 14

_MILESTONES = """
INSERT INTO milestones (id, contract_id, lot_id, buyer_id, kind, status, title, due_on, met_on,
                        version, created_at, doc)
SELECT id, contract_id, NULL, 'dfe', kind, status, title, due_on, met_on, version, created_at,
       jsonb_build_object(
           'id', id::text, 'buyerId', 'dfe', 'contractId', contract_id::text, 'lotId', NULL,
           'kind', kind, 'title', title, 'description', NULL, 'dueOn', due_on::text,
           'plannedQuantity', NULL, 'quantityUnit', NULL, 'amount', NULL, 'status', status,
           'metOn', met_on::text,
           'evidence', CASE WHEN status = 'met' THEN 'Termly delivery report' END,
           'transactions', '[]'::jsonb,
           'settledAt', CASE WHEN status = 'met' THEN created_at END,
           'version', version, 'createdAt', created_at, 'updatedAt', created_at)
FROM (
    SELECT gen_random_uuid() AS id, c.id AS contract_id,
           (ARRAY['delivery', 'reporting', 'delivery', 'reporting', 'payment'])[n] AS kind,
           (ARRAY['Tutors in post', 'Autumn term report', 'Pupils reached',
                  'Spring term report', 'Final report'])[n] || ' (' || n || ')' AS title,
           due_on,
           CASE WHEN due_on < current_date AND r < 0.9 THEN 'met' ELSE 'scheduled' END
               AS status,
           CASE WHEN due_on < current_date AND r < 0.9 THEN due_on - 2 END AS met_on,
           CASE WHEN due_on < current_date AND r < 0.9 THEN 2 ELSE 1 END AS version,
           c.created_at
    FROM contracts c
    CROSS JOIN generate_series(1, $1::int) AS n
    CROSS JOIN LATERAL (
        SELECT current_date - 400 + abs(hashtext(c.id::text || n)) % 800 AS due_on,
               (abs(hashtext(n || c.id::text)) % 1000) / 1000.0 AS r
    ) AS draw
) AS rows
"""


# A KPI's current rating, by draw: one in 20 Inadequate, one in 10 Requires improvement, one in
# 10 Approaching target, one in 10 Other (qualitative), the rest Good.
_DRAWS: list[tuple[Rating, int]] = [
    ("inadequate", 1),
    ("requires_improvement", 2),
    ("approaching_target", 2),
    ("other", 2),
    ("good", 13),
]
_RATINGS: list[Rating] = [rating for rating, times in _DRAWS for _ in range(times)]


async def _kpis(conn: asyncpg.Connection) -> None:
    """``KPIS_EACH`` KPIs per contract, built as the service's Kpi Structs (so their documents
    are what the service writes), with the rating of the draw."""
    contracts = await conn.fetch("SELECT id, created_at FROM contracts ORDER BY id")
    rows = []
    for n, (contract_id, created) in enumerate(contracts):
        for k in range(KPIS_EACH):
            rating = _RATINGS[(n * KPIS_EACH + k) % len(_RATINGS)]
            label = rating.replace("_", " ").capitalize()
            kpi = Kpi(
                id=str(uuid.uuid4()),
                buyer_id=BUYER,
                contract_id=str(contract_id),
                lot_id=None,
                name=f"Pupils supported ({k + 1})",
                description=None,
                unit="pupils",
                direction=Direction.HIGHER_IS_BETTER,
                target=Exact(value=Decimal(500)),
                thresholds=default_thresholds(Direction.HIGHER_IS_BETTER),
                dimension=None,
                combine=Combine.SUM,
                frequency=None,
                rating=Rated(rating=rating, label=label, explanation=f"{label}: the bench's"),
                rated_at=created,
                version=1,
                created_at=created,
                updated_at=created,
            )
            doc = msgspec.json.encode(kpi).decode()
            rows.append((uuid.UUID(kpi.id), contract_id, kpi.name, rating, created, doc))
    await conn.executemany(
        "INSERT INTO kpis (id, contract_id, buyer_id, name, rating, version, created_at, doc) "
        f"VALUES ($1, $2, '{BUYER}', $3, $4, 1, $5, $6::text::jsonb)",
        rows,
    )
    for row in await conn.fetch("SELECT doc::text AS doc FROM kpis LIMIT 2000"):
        kpis.decode(row["doc"])


async def _session(dsn: str) -> str:
    """A signed-in viewer's session cookie, as the dashboard's sign-in starts one (decision 22:
    the cookie names a server-side session, whose look-up every page pays)."""
    pool = await create_pool(dsn, size=1)
    try:
        return await ops_sessions.start(
            pool,
            ops_sessions.Session(
                subject="bench-ops",
                roles=frozenset({Role.VIEWER}),
                buyer=BUYER,
                issuer="procure-dev",
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
    finally:
        await pool.close()


async def seed(dsn: str, contracts: int) -> str:
    """Contracts, milestones, providers and events; a line for the notes."""
    began = time.monotonic()
    await load(dsn, 1, contracts)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_MILESTONES, MILESTONES_EACH)
        await conn.execute(
            "INSERT INTO provider_directory (id, legal_name, identifiers, status, version) "
            "SELECT md5('provider' || p)::uuid::text, 'Provider ' || p, '{}', 'active', 1 "
            "FROM generate_series(0, 999) AS p"
        )
        now = datetime.now(UTC)
        events = [
            Envelope.new(
                service="contracts",
                type="contracts.milestone.met",
                subject=str(uuid.uuid4()),
                time=now - timedelta(minutes=n),
                sequence=2,
                data={"contractId": str(uuid.uuid4()), "title": f"Report {n}", "status": "met"},
                buyer_id=BUYER,
            )
            for n in range(1000)
        ]
        await conn.executemany(
            "INSERT INTO outbox (id, subject, aggregate_id, sequence, payload) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(uuid.UUID(e.id), e.type, e.subject, e.sequence, encode_envelope(e)) for e in events],
        )
        await _kpis(conn)
        for row in await conn.fetch("SELECT doc::text AS doc FROM milestones LIMIT 2000"):
            milestones.decode(row["doc"])
        counts = await conn.fetchrow(
            "SELECT count(*) AS milestones, "
            "count(*) FILTER (WHERE m.status = 'scheduled' AND m.due_on < current_date "
            "  AND c.status IN ('pending', 'active')) AS overdue, "
            "count(*) FILTER (WHERE m.status = 'scheduled' AND m.due_on >= current_date "
            f"  AND m.due_on <= current_date + {DAYS} AND c.status IN ('pending', 'active')) "
            "  AS due_soon "
            "FROM milestones m JOIN contracts c ON c.id = m.contract_id"
        )
        assert counts is not None
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return (
        f"ops: {contracts:,} contracts and {counts['milestones']:,} milestones generated in "
        f"{time.monotonic() - began:.1f} s ({counts['overdue']:,} overdue and "
        f"{counts['due_soon']:,} due within {DAYS} days on live contracts), 1,000 providers, "
        "1,000 events"
    )


def _request(path: str, *, cookie: str, fragment: bool = False) -> bytes:
    extra = "X-Ops-Fragment: panels\r\n" if fragment else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nCookie: procure_ops={cookie}\r\n{extra}\r\n"
    ).encode()


async def _timed(plan: Plan, port: int, request: bytes, log: list[str], label: str) -> Run:
    await drive(port, lambda n: request, 1, plan.ops_warmup_seconds)
    await quiet(plan, log, label)
    meter = cpu.Meter()
    result = await drive(port, lambda n: request, 1, plan.ops_seconds)
    load_ = meter.stop()
    bad = {s: n for s, n in result.statuses.items() if s != 200}
    if bad:
        raise RuntimeError(f"{label}: non-200 responses {bad}")
    if not result.latencies:
        raise RuntimeError(f"{label}: no response in {result.seconds:.1f} s")
    return _run(result.latencies, load_)


def _run(latencies: list[float], load_: cpu.Load) -> Run:
    return Run(
        percentile(latencies, 50),
        load_,
        {
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "requests": len(latencies),
        },
    )


async def _bare(plan: Plan, dsn: str, log: list[str], provider: str | None) -> Run:
    """The page's statements run bare: board, overdue, due soon and the KPI panel (each
    prepared for the call, as the service does), providers, recent events, gathered on a pool
    of 10, one page after the other."""
    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    assert pool is not None
    scope = ops.Scope(buyer=BUYER, today=date.today(), days=DAYS, provider=provider)
    params = scope.params()
    overdue = (BUYER, date(1, 1, 1), scope.today - timedelta(days=1), provider, None, 50)
    soon = (BUYER, scope.today, scope.horizon, provider, None, 50)

    async def planned(sql: str, *args: object) -> None:
        # As the service runs them: prepared for the call, so planned for its values.
        async with pool.acquire() as conn:
            await (await conn.prepare(sql)).fetchval(*args)

    async def page() -> None:
        await asyncio.gather(
            planned(ops.Q.board, *params, None, None, None, None, 50),
            planned(ops.Q.due, *overdue),
            planned(ops.Q.due, *soon),
            planned(ops.Q.kpi_ratings, BUYER, provider, None, 50),
            pool.fetchval(ops.Q.providers, 2000),
            pool.fetch(ops.Q.recent_events, 300),
        )

    try:
        await _loop(page, plan.ops_warmup_seconds)
        await quiet(plan, log, "ops bare SQL")
        meter = cpu.Meter()
        latencies = await _loop(page, plan.ops_seconds, at_least=1)
        return _run(latencies, meter.stop())
    finally:
        await pool.close()


async def _loop(
    page: Callable[[], Awaitable[None]], seconds: float, *, at_least: int = 0
) -> list[float]:
    """Pages one after the other for ``seconds`` (at least ``at_least`` of them); their
    latencies."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(latencies) < at_least:
        began = time.perf_counter()
        await page()
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def _figures(contracts: int) -> dict[str, tuple[Figure, Figure]]:
    pages = {
        "page": f"ops dashboard: /ops at {contracts:,} contracts, 1 connection",
        "provider": "ops dashboard: /ops filtered to one provider, 1 connection",
        "panels": "ops dashboard: the panels a live event re-reads, 1 connection",
    }
    figures = {}
    for key, title in pages.items():
        note = "baseline: the page's statements run bare with asyncpg (pool of 10, gathered)"
        p50 = Figure(f"ops_{key}_p50", f"{title}: p50", "ms", note=note)
        p99 = Figure(f"ops_{key}_p99", f"{title}: p99", "ms", note=note)
        p50.target = p99.target = f"<= {TARGET_MS:g} ms"
        p50.max_value = p99.max_value = TARGET_MS
        figures[key] = (p50, p99)
    return figures


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = servers.postgres.dsn(f"bench_o_{uuid.uuid4().hex[:8]}")
    await migrate(dsn, MIGRATIONS)
    log_file = servers.folder / "ops-app.log"
    try:
        log.append(await seed(dsn, plan.ops_contracts))
        conn = await asyncpg.connect(dsn)
        try:
            provider = await conn.fetchval(
                "SELECT provider_ids[1] FROM contracts ORDER BY id LIMIT 1"
            )
        finally:
            await conn.close()
        cookie = await _session(dsn)
        requests = {
            "page": _request("/ops", cookie=cookie),
            "provider": _request(f"/ops?provider={provider}", cookie=cookie),
            "panels": _request("/ops", cookie=cookie, fragment=True),
        }
        figures = _figures(plan.ops_contracts)
        trivial = Figure(
            "ops_trivial_p50",
            "trivial Litestar response (the service's /health/live), 1 connection: p50",
            "ms",
            note="for scale: the service's middleware and a loopback round trip",
        )
        for rep in range(plan.repetitions):
            bare_page = await guarded(
                plan, "ops bare SQL", log, lambda: _bare(plan, dsn, log, None)
            )
            bare_provider = await guarded(
                plan, "ops bare SQL (provider)", log, lambda: _bare(plan, dsn, log, provider)
            )
            proc, port = await start_app(servers, SERVICE, dsn, log_file)
            try:
                status, body = await fetch(port, requests["page"])
                if status != 200 or b"Overdue milestones" not in body:
                    raise RuntimeError(f"/ops answered {status}: {body[:300]!r}")
                if rep == 0:
                    log.append(f"ops: the page is {len(body):,} bytes of HTML")
                for key, request in requests.items():
                    label = f"ops {key}"
                    run = partial(_timed, plan, port, request, log, label)
                    r = await guarded(plan, label, log, run)
                    p50, p99 = figures[key]
                    p50.project.append(Run(r.extra["p50_ms"], r.load))
                    p99.project.append(Run(r.extra["p99_ms"], r.load))
                    base = bare_provider if key == "provider" else bare_page
                    p50.baseline.append(Run(base.extra["p50_ms"], base.load))
                    p99.baseline.append(Run(base.extra["p99_ms"], base.load))
                    print(
                        f"  {label} #{rep + 1}: p50 {r.extra['p50_ms']:.2f} ms, p99 "
                        f"{r.extra['p99_ms']:.2f} ms ({r.extra['requests']} requests); bare "
                        f"SQL p50 {base.extra['p50_ms']:.2f} ms",
                        flush=True,
                    )
                health = b"GET /health/live HTTP/1.1\r\nHost: bench\r\n\r\n"
                t = await _timed(plan, port, health, log, "ops trivial")
                trivial.project.append(Run(t.extra["p50_ms"], t.load))
            finally:
                await stop_process(proc)
        return [f for pair in figures.values() for f in pair] + [trivial]
    finally:
        await servers.drop_database(dsn)
