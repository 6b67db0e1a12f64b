"""The milestone monitor at scale: a pass that finds nothing new among 1,000,000 milestones, and
one that finds 1,000 due and sends their notices (audit rows and outbox events included). (The
sizes are the full plan's: ``monitor_contracts``, ``monitor_milestones``, ``monitor_due`` and
``monitor_passes`` in bench.plan.)

The data: 10,000 contracts (the contracts benchmark's generator) with 1,000,000 milestones due
from 2022 to 2027, the monitor's clock on 3 June 2024. Milestones due before then are settled,
except one in 50 still scheduled and already reported overdue; those due within the lead days
are already reported due soon; later ones are scheduled and not reported yet. The documents
are decoded by the service's decoder before the timed runs.

- *nothing new*: the median of 200 passes of the service's own monitor (`Sweep.run_once`
  through `procure_contracts.milestones.worker`: a transaction, the claim of both
  partial indexes, nothing found). Baseline: a bare asyncpg transaction of `SELECT 1` on the
  same pool, 200 times: the floor of one pass. Target: at most 50 ms.
- *1,000 due*: 1,000 scheduled milestones due in 3 days are added (not timed), then one pass of
  the monitor sends their 1,000 `contracts.milestone.due_soon` notices (each a new version of
  its milestone, an audit row and an outbox event, in batches of 200, a transaction each).
  Baseline: the same statements from a bare asyncpg loop over 1,000 more such milestones
  (claim 200 with `FOR UPDATE SKIP LOCKED`, then the UPDATEs of their documents, their audit
  INSERTs and their outbox INSERTs of prepared payloads, each an `executemany`), a transaction
  per 200. Target: at most 1 s.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg

from bench import cpu
from bench.contracts import _database, load
from bench.harness import Figure, Run, Servers, quiet
from bench.plan import Plan
from procure_contracts.milestones import store
from procure_contracts.milestones.worker import milestone_monitor
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import create_pool

__all__ = ["LEAD_DAYS", "measure"]

LEAD_DAYS = 14
BATCH = 200
TODAY = date(2024, 6, 3)
NOW = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)

# One milestone per g, on contract 1 + g % n, due on day g % 2190 from 1 January 2022.
_GENERATE = """
WITH c AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM contracts)
INSERT INTO milestones (id, contract_id, lot_id, buyer_id, kind, status, title, due_on, met_on,
                        version, created_at, owed_due_soon, owed_overdue, doc)
SELECT id, contract_id, NULL, 'dfe', kind, status, title, due_on, met_on, version, created_at,
       CASE WHEN status = 'scheduled' AND NOT soon THEN due_on END,
       CASE WHEN status = 'scheduled' AND NOT late THEN due_on END,
       jsonb_build_object(
           'id', id::text, 'buyerId', 'dfe', 'contractId', contract_id::text, 'lotId', NULL,
           'kind', kind, 'title', title, 'description', NULL, 'dueOn', due_on::text,
           'plannedQuantity', 100 + g % 900, 'quantityUnit', 'pupils', 'amount', NULL,
           'status', status, 'metOn', met_on::text,
           'evidence', CASE WHEN met_on IS NOT NULL THEN 'Termly return' END,
           'achievedQuantity', NULL, 'reason', NULL, 'transactions', '[]'::jsonb,
           'settledAt', CASE WHEN met_on IS NOT NULL THEN met_on::timestamptz END,
           'notices', (CASE WHEN soon THEN jsonb_build_array(jsonb_build_object(
                           'kind', 'due_soon', 'dueOn', due_on::text,
                           'sentOn', (due_on - 10)::text)) ELSE '[]'::jsonb END)
                      || (CASE WHEN late THEN jsonb_build_array(jsonb_build_object(
                           'kind', 'overdue', 'dueOn', due_on::text,
                           'sentOn', (due_on + 1)::text)) ELSE '[]'::jsonb END),
           'version', version, 'createdAt', created_at, 'updatedAt', created_at)
FROM (
    SELECT g, id, contract_id, kind, title, due_on, created_at, status,
           CASE WHEN status = 'met' THEN due_on END AS met_on,
           status = 'scheduled' AND due_on <= $3::date + $4::int AS soon,
           status = 'scheduled' AND due_on < $3::date AS late,
           CASE WHEN status = 'met' THEN 2
                WHEN status <> 'scheduled' THEN 1
                ELSE 1 + (due_on <= $3::date + $4::int)::int + (due_on < $3::date)::int
           END AS version
    FROM (
        SELECT g, gen_random_uuid() AS id, c.ids[1 + g % c.n] AS contract_id,
               (ARRAY['delivery', 'reporting'])[1 + g % 2] AS kind,
               'Termly return ' || g AS title,
               date '2022-01-01' + (g % 2190) AS due_on,
               timestamptz '2021-12-01 00:00+00' + (g % 2190) * interval '1 hour' AS created_at,
               CASE WHEN date '2022-01-01' + (g % 2190) >= $3::date OR g % 50 = 0
                    THEN 'scheduled' ELSE 'met' END AS status
        FROM generate_series($1::int, $2::int) AS g, c
    ) AS drawn
) AS rows
"""

_OWED = """
INSERT INTO milestones (id, contract_id, lot_id, buyer_id, kind, status, title, due_on, version,
                        created_at, owed_due_soon, owed_overdue, doc)
SELECT id, contract_id, NULL, 'dfe', 'delivery', 'scheduled', title, $2::date, 1,
       $3::timestamptz, $2::date, $2::date, doc
FROM (
    SELECT gen_random_uuid() AS id, c.id AS contract_id, 'Mentors in post ' || g AS title, g
    FROM generate_series(1, $1::int) AS g
    JOIN LATERAL (SELECT id FROM contracts ORDER BY id OFFSET g % $4 LIMIT 1) AS c ON true
) AS drawn,
LATERAL (SELECT jsonb_build_object(
    'id', id::text, 'buyerId', 'dfe', 'contractId', contract_id::text, 'lotId', NULL,
    'kind', 'delivery', 'title', title, 'description', NULL, 'dueOn', $2::date::text,
    'plannedQuantity', 500, 'quantityUnit', 'pupils', 'amount', NULL, 'status', 'scheduled',
    'transactions', '[]'::jsonb, 'notices', '[]'::jsonb, 'version', 1, 'createdAt', $3::timestamptz,
    'updatedAt', $3::timestamptz) AS doc) AS d
"""


async def _load(dsn: str, plan: Plan) -> tuple[float, float]:
    """The contracts and the milestones; the seconds each took."""
    contracts = await load(dsn, 1, plan.monitor_contracts)
    milestones = plan.monitor_milestones
    began = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        step = 100_000
        for start in range(1, milestones + 1, step):
            await conn.execute(
                _GENERATE, start, min(start + step - 1, milestones), TODAY, LEAD_DAYS
            )
        rows = await conn.fetch(
            "SELECT doc::text AS doc FROM milestones TABLESAMPLE SYSTEM (1) LIMIT 2000"
        )
        for row in rows:
            store.milestones.decode(row["doc"])
    finally:
        await conn.close()
    return contracts, time.monotonic() - began


async def _add_owed(dsn: str, plan: Plan) -> None:
    """The plan's ``monitor_due`` milestones due in 3 days, spread over the first 1,000
    contracts."""
    conn = await asyncpg.connect(dsn)
    try:
        spread = min(1_000, plan.monitor_contracts)
        await conn.execute(_OWED, plan.monitor_due, TODAY + timedelta(days=3), NOW, spread)
        await conn.execute("ANALYZE milestones")
    finally:
        await conn.close()


async def _bare_send(pool: asyncpg.Pool) -> int:
    """The notices' statements, bare: what the monitor writes, without the service."""
    sent = 0
    payload = b'{"type":"contracts.milestone.due_soon"}' + b" " * 700
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, doc::text AS doc FROM milestones WHERE owed_due_soon >= $1 "
                "AND owed_due_soon <= $2 ORDER BY owed_due_soon LIMIT $3 FOR UPDATE SKIP LOCKED",
                TODAY,
                TODAY + timedelta(days=LEAD_DAYS),
                BATCH,
            )
            await conn.executemany(
                "UPDATE milestones SET doc = $2::text::jsonb, owed_due_soon = NULL, "
                "version = version + 1 WHERE id = $1",
                [(row["id"], row["doc"]) for row in rows],
            )
            await conn.executemany(
                "INSERT INTO audit_log (occurred_at, actor, actor_roles, buyer_id, action, "
                "resource_type, resource_id, before, after, correlation_id) "
                "VALUES ($1, 'bench', '{}', 'dfe', 'contracts.milestone.due_soon', "
                "'milestone', $2, $3::text::jsonb, $3::text::jsonb, NULL)",
                [(NOW, str(row["id"]), row["doc"]) for row in rows],
            )
            await conn.executemany(
                "INSERT INTO outbox (id, subject, aggregate_id, sequence, payload, headers, "
                "buyer_id) VALUES ($1, 'contracts.milestone.due_soon', $2, 2, $3, '{}', 'dfe')",
                [(str(uuid.uuid4()), str(row["id"]), payload) for row in rows],
            )
        sent += len(rows)
        if not rows:
            return sent


async def measure(servers: Servers, plan: Plan, log: list[str]) -> list[Figure]:
    dsn = await _database(servers)
    due_count, passes = plan.monitor_due, plan.monitor_passes
    try:
        contracts_s, milestones_s = await _load(dsn, plan)
        await servers.settle(dsn, "milestones")
        pool = await create_pool(dsn, size=4, min_size=4)
        conn = await asyncpg.connect(dsn)
        try:
            owed = await conn.fetchval(
                "SELECT count(*) FROM milestones "
                "WHERE owed_overdue < $1 OR owed_due_soon BETWEEN $1 AND $2",
                TODAY,
                TODAY + timedelta(days=LEAD_DAYS),
            )
            if owed:
                raise RuntimeError(f"the generated data owes {owed} notices")
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('milestones'))"
            )
        finally:
            await conn.close()
        log.append(
            f"monitor: {plan.monitor_contracts:,} contracts in {contracts_s:.1f} s and "
            f"{plan.monitor_milestones:,} "
            f"milestones in {milestones_s:.1f} s (the table with its indexes: {size}); clock "
            f"on {TODAY}, {LEAD_DAYS} lead days"
        )
        monitor = milestone_monitor(
            pool=pool, clock=FixedClock(NOW), lead_days=LEAD_DAYS, interval=60, batch=BATCH
        )
        empty = Figure(
            "monitor_nothing_new_ms",
            f"milestone monitor: a pass finding nothing among {plan.monitor_milestones:,} "
            "milestones",
            "ms",
            target="<= 50 ms",
            max_value=50.0,
            note=f"median of {passes} passes; baseline: a bare BEGIN; SELECT 1; COMMIT",
        )
        due = Figure(
            "monitor_1000_due_ms",
            f"milestone monitor: a pass sending {due_count:,} due-soon notices (audit and outbox)",
            "ms",
            target="<= 1000 ms",
            max_value=1000.0,
            note="baseline: the same statements from a bare asyncpg loop",
        )
        try:
            for _ in range(plan.repetitions):
                await quiet(plan, log, "monitor nothing new")
                meter = cpu.Meter()
                times = []
                for _ in range(passes):
                    began = time.perf_counter()
                    if await monitor.run_once():
                        raise RuntimeError("the monitor found something in a pass of nothing")
                    times.append((time.perf_counter() - began) * 1000)
                empty.project.append(Run(statistics.median(times), meter.stop()))
                meter = cpu.Meter()
                times = []
                for _ in range(passes):
                    began = time.perf_counter()
                    async with pool.acquire() as c, c.transaction():
                        await c.fetchval("SELECT 1")
                    times.append((time.perf_counter() - began) * 1000)
                empty.baseline.append(Run(statistics.median(times), meter.stop()))

                await _add_owed(dsn, plan)
                await quiet(plan, log, "monitor 1,000 due")
                meter = cpu.Meter()
                began = time.perf_counter()
                sent = await monitor.run_once()
                due.project.append(Run((time.perf_counter() - began) * 1000, meter.stop()))
                if sent != due_count:
                    raise RuntimeError(f"the monitor sent {sent} notices, not {due_count}")
                await _add_owed(dsn, plan)
                await quiet(plan, log, "monitor 1,000 due, bare")
                meter = cpu.Meter()
                began = time.perf_counter()
                sent = await _bare_send(pool)
                due.baseline.append(Run((time.perf_counter() - began) * 1000, meter.stop()))
                if sent != due_count:
                    raise RuntimeError(f"the bare loop sent {sent} notices, not {due_count}")
        finally:
            await pool.close()
        return [empty, due]
    finally:
        await servers.drop_database(dsn)
