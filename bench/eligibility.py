"""4. Eligibility request/reply: round trips per second, p50 and p99, one in flight and 16.

The database: the providers service's own, migrated by procure_shared.db.migrations.migrate with
the service's migrations, and seeded through its use cases (register_provider,
grant_accreditation, record_exclusion, update_provider) and, for the track record, the storage
function its consumer uses: 1,000 providers (the plan's ``eligibility_providers``), each with
one or two accreditations (most in academic mentoring; some lapsed, some open-ended), about 2%
excluded, about 1% inactive, about 30% with one to four KPI ratings (one in ten inadequate). The
tables are vacuumed, analysed and checkpointed once, before the first run; every run only reads.

The questions: 4,096 eligibility questions (a lot's bidders: 1 to 3 registered providers, drawn
at random), in academic mentoring on the seeding day, encoded once and asked in turn.

Baseline (bench.bare.echo): a plain nats-py subscription answering each request with its own
payload, so the same bytes travel to the responder. Project: the providers service's
EligibilityResponder (a nats.micro endpoint; the service's pool size and concurrency), each
answer one SQL statement. Each runs in its own process (bench.worker), placed like the latency
benchmark's relay and consumer (``--service-core``), a fresh one per run; the load generator is
the bench process, the same nats-py client code for both: a closed loop of ``nc.request`` calls
with 1 or 16 in flight, for 1 s of warm-up (not recorded), then 5 s timed. Latency is the
client's, from just before ``nc.request`` to its return; with 16 in flight it is closed-loop
latency, at least 16 / throughput by Little's law, so it includes queueing. The load generator
and the echo connect as the bench identity, the eligibility responder as the providers service
(the authentication benchmark, bench.auth, asks as the contracts service instead).

The eligibility worker also notes, in the responder, each answer's time (decode to encode), the
wait for a pooled connection and the SQL fetch (through thin proxies, as the latency worker
stamps the relay), for the breakdown of a round trip: in the run's JSON and the notes. Since
the responder answers in batches from its in-process index (services/providers/.../api/rpc.py,
storage/eligibility_index.py), its ``answer`` method (which the worker times) is no longer on
the path, so the notes show no answer times; pool waits and SQL fetches appear only for the
index's loads (filling it when a fresh responder starts listening, and providers it lacks). The
barrier (one ``SELECT 1`` per batch on the listening connection) is not a fetch and is not
timed.

History of the figures (quiet-machine medians unless said otherwise; ratio to the echo of the
same run):
- 2026-11-23, before: sequential 758 req/s = 0.31x (p99 3.55 ms); 16 in flight 2,064 = 0.14x
  (p99 16.7 ms). SQL re-planned on every call; row_to_json re-parsed in Python.
- generic plan (an SQL function with SET plan_cache_mode) and typed columns: sequential 1,109 =
  0.42x (p99 1.36 ms); 16 in flight 3,317 = 0.22x (p99 9.3 ms); foreign load max 4%.
- in-process index with LISTEN/NOTIFY and a shared barrier, batches without a task per
  question, decisions remembered, the index filled when it starts listening (2026-11-23 18:16,
  6 of 36 kept runs with foreign load over 10% of a core): sequential 1,714 req/s = 0.55x of the
  echo's 3,091 (p99 1.13 ms; cores 34% / 67%, foreign max 25%); 16 in flight 12,396 = 0.72x of
  17,107 (p99 2.30 ms; cores 24% / 78%, foreign max 3%; the echo's runs up to 58%). The
  sequential round trip is the echo's plus the barrier (about 0.2 ms across the cores): that,
  not Python, is what is left between 0.55x and 1x. Re-run at 18:18, quiet (foreign load max
  2%, no run repeated): sequential 1,765 req/s = 0.58x of 3,039 (p99 0.81 ms; cores 33% / 67%);
  16 in flight 12,508 = 0.64x of 19,672 (p99 1.94 ms; cores 24% / 77%).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from nats.aio.client import Client
from nats.micro.request import ERROR_CODE_HEADER

from bench import bare, cpu
from bench.harness import (
    BENCH,
    Figure,
    Run,
    Servers,
    finish_worker,
    guarded,
    keep_run,
    percentile,
    quiet,
    spawn_worker,
)
from bench.plan import Plan
from procure_providers.app import MIGRATIONS
from procure_providers.domain.accreditations import AccreditationDraft
from procure_providers.domain.exclusions import ExclusionDraft
from procure_providers.domain.providers import (
    Address,
    Contact,
    ProviderChanges,
    ProviderDraft,
    ProviderKind,
    ProviderStatus,
    Region,
)
from procure_providers.storage.track_record import record_rating
from procure_providers.usecases.accreditations import grant_accreditation
from procure_providers.usecases.exclusions import record_exclusion
from procure_providers.usecases.providers import register_provider, update_provider
from procure_shared.categories import Category
from procure_shared.db.audit import Actor
from procure_shared.db.migrations import migrate
from procure_shared.db.postgres import Connection, connect_dedicated
from procure_shared.events.contracts import RATINGS, KpiRatingChanged
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityQuestion,
    decode_answer,
    encode,
)

IN_FLIGHT = (1, 16)
TIMEOUT = 5.0
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ON = NOW.date()
SEED = 20261123
ECHO, ELIGIBILITY = "echo", "eligibility"
SUBJECTS = {ECHO: bare.ECHO_SUBJECT, ELIGIBILITY: ELIGIBILITY_SUBJECT}
# Who each responder connects as: the bare echo is the harness's; eligibility is answered by
# the providers service.
RESPONDERS = {ECHO: BENCH, ELIGIBILITY: "providers"}
ACTOR = Actor(id="bench:eligibility-seed", roles=("commercial",))

_FIRST = ("North", "Bright", "Oak", "Riverside", "Summit", "Horizon", "Beacon", "Meadow")
_SECOND = ("Tutoring", "Learning", "Mentoring", "Education", "Futures", "Pathways", "Academy")
_TOWNS = ("Leeds", "Bristol", "Norwich", "Derby", "Cardiff", "Gateshead", "Reading", "Exeter")
_GRANTORS = ("Department for Education", "National Tutoring Programme QA", "Ofsted")
_GROUNDS = (
    "mandatory exclusion ground: fraud (Procurement Act 2023, Schedule 6)",
    "discretionary exclusion ground: breach of contract (Schedule 7)",
    "discretionary exclusion ground: professional misconduct (Schedule 7)",
)
_KPIS = ("Pupils supported", "Sessions delivered", "Attendance uplift", "Tutor retention")
_OTHER_CATEGORIES = [c for c in Category if c is not Category.ACADEMIC_MENTORING]


def _draft(i: int, rng: random.Random) -> ProviderDraft:
    kind = rng.choices(
        [ProviderKind.COMPANY, ProviderKind.CHARITY, ProviderKind.SCHOOL_OR_TRUST], [7, 2, 1]
    )[0]
    if kind is ProviderKind.COMPANY:
        identifiers = [("GB-COH", f"{10_000_000 + i:08d}")]
        suffix = "Ltd"
    elif kind is ProviderKind.CHARITY:
        identifiers = [("GB-CHC", f"{1_100_000 + i}"), ("GB-COH", f"{20_000_000 + i:08d}")]
        suffix = "Trust"
    else:
        identifiers = [("GB-EDU", f"{140_000 + i}")]
        suffix = "Multi-Academy Trust"
    town = rng.choice(_TOWNS)
    name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {town} {suffix}"
    return ProviderDraft(
        legal_name=name,
        trading_name=None if rng.random() < 0.7 else f"{rng.choice(_FIRST)} {town}",
        kind=kind,
        sme=rng.random() < 0.8,
        vcse=kind is ProviderKind.CHARITY,
        identifiers=identifiers,
        addresses=[
            Address(
                street_address=f"{rng.randint(1, 200)} High Street",
                locality=town,
                postal_code=f"{town[:2].upper()}{rng.randint(1, 20)} {rng.randint(1, 9)}AB",
            )
        ],
        regions=rng.sample(list(Region), rng.randint(1, 3)),
        contacts=[Contact(name="Bid Manager", email=f"bids{i}@example.org", role="Bids")],
        notes=None,
    )


def _accreditation(category: Category, rng: random.Random) -> AccreditationDraft:
    valid_from = ON - timedelta(days=rng.randint(30, 3 * 365))
    open_ended = rng.random() < 0.2
    return AccreditationDraft(
        category=category,
        granted_by=rng.choice(_GRANTORS),
        valid_from=valid_from,
        # Two and three years from up to three years ago: some have lapsed.
        valid_to=None if open_ended else valid_from + timedelta(days=365 * rng.choice([2, 3])),
        evidence_ref=f"EV-{rng.randint(10_000, 99_999)}",
    )


async def _seed_one(conn: Connection, i: int, rng: random.Random) -> tuple[str, Counter[str]]:
    rows: Counter[str] = Counter()
    provider = await register_provider(conn, _draft(i, rng), actor=ACTOR, now=NOW)
    first = Category.ACADEMIC_MENTORING if rng.random() < 0.8 else rng.choice(_OTHER_CATEGORIES)
    categories = [first]
    if rng.random() < 0.4:
        categories.append(rng.choice([c for c in Category if c is not first]))
    for category in categories:
        await grant_accreditation(
            conn, provider.id, _accreditation(category, rng), actor=ACTOR, now=NOW
        )
        rows["accreditations"] += 1
    if rng.random() < 0.02:
        starts_on = ON - timedelta(days=rng.randint(0, 700))
        ends_on = starts_on + timedelta(days=rng.randint(365, 5 * 365))
        draft = ExclusionDraft(
            ground=rng.choice(_GROUNDS),
            source="central debarment list",
            starts_on=starts_on,
            ends_on=None if rng.random() < 0.3 else ends_on,
        )
        await record_exclusion(conn, provider.id, draft, actor=ACTOR, now=NOW)
        rows["exclusions"] += 1
    if rng.random() < 0.01:
        changes = ProviderChanges(status=ProviderStatus.INACTIVE)
        await update_provider(
            conn, provider.id, changes, expected_version=None, actor=ACTOR, now=NOW
        )
        rows["inactive"] += 1
    if rng.random() < 0.3:
        for k in range(rng.randint(1, 4)):
            period_end = ON - timedelta(days=rng.randint(30, 400))
            rating = KpiRatingChanged(  # as the track record consumer writes it
                kpi_id=f"kpi-{i}-{k}",
                contract_id=f"contract-{i}-{k // 2}",
                provider_ids=[provider.id],
                name=rng.choice(_KPIS),
                rating=rng.choices(RATINGS, [50, 20, 15, 10, 5])[0],
                period_end=period_end,
                rated_at=datetime.combine(period_end, datetime.min.time(), UTC)
                + timedelta(days=10),
            )
            await record_rating(conn, rating)
            rows["track_ratings"] += 1
    return provider.id, rows


async def seed(dsn: str, providers: int) -> tuple[list[str], Counter[str]]:
    """``providers`` providers with their accreditations, exclusions and ratings; their ids."""
    rng = random.Random(SEED)
    ids: list[str] = []
    rows: Counter[str] = Counter()
    conn = await connect_dedicated(dsn)
    try:
        for start in range(0, providers, 100):
            async with conn.transaction():
                for i in range(start, min(start + 100, providers)):
                    provider_id, added = await _seed_one(conn, i, rng)
                    ids.append(provider_id)
                    rows += added
    finally:
        await conn.close()
    return ids, rows


def questions(provider_ids: list[str], count: int) -> list[tuple[list[str], bytes]]:
    """``count`` questions of 1 to 3 providers each, with their encodings."""
    rng = random.Random(SEED + 1)
    asked = []
    for _ in range(count):
        ids = rng.sample(provider_ids, rng.randint(1, 3))
        question = EligibilityQuestion(
            provider_ids=ids, category=Category.ACADEMIC_MENTORING.value, on=ON
        )
        asked.append((ids, encode(question)))
    return asked


async def _drive(
    nc: Client, subject: str, payloads: list[bytes], in_flight: int, seconds: float
) -> tuple[list[float], int, float]:
    """A closed loop of ``in_flight`` callers for ``seconds``: the latencies in ms, how many
    replies were micro error replies, the elapsed seconds."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def caller(i: int) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            payload = payloads[i % len(payloads)]
            began = time.perf_counter()
            reply = await nc.request(subject, payload, timeout=TIMEOUT)
            latencies.append((time.perf_counter() - began) * 1000)
            if reply.headers and ERROR_CODE_HEADER in reply.headers:
                errors += 1
            i += in_flight

    started = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(in_flight)))
    return latencies, errors, time.perf_counter() - started


async def _verify(
    nc: Client, side: str, asked: list[tuple[list[str], bytes]]
) -> Counter[str] | None:
    """The questions ``asked`` answered as they should be; for eligibility, how many
    providers asked about were eligible and the reasons and warnings given."""
    outcomes: Counter[str] = Counter()
    for ids, payload in asked:
        reply = await nc.request(SUBJECTS[side], payload, timeout=TIMEOUT)
        if side == ECHO:
            if reply.data != payload:
                raise RuntimeError("the echo responder answered something else")
            continue
        if reply.headers and ERROR_CODE_HEADER in reply.headers:
            raise RuntimeError(f"the eligibility responder failed: {reply.headers}")
        results = decode_answer(reply.data).results
        if [r.provider_id for r in results] != ids:
            raise RuntimeError(f"the answer is about {results}, not {ids}")
        for r in results:
            outcomes["eligible" if r.eligible else "not eligible"] += 1
            outcomes.update(f.code for f in (*r.reasons, *r.warnings))
    return outcomes if side == ELIGIBILITY else None


async def run_once(
    servers: Servers,
    plan: Plan,
    log: list[str],
    side: str,
    in_flight: int,
    dsn: str,
    asked: list[tuple[list[str], bytes]],
    service_core: int | None,
    seen: dict[str, Any],
    *,
    asker: str = BENCH,
) -> Run:
    """One timed run against a fresh responder process: the echo connected as the bench
    identity, the eligibility responder as the providers service; the load generator asks as
    ``asker`` (the bench identity, or the contracts service, which asks in production)."""
    args = servers.nats_args(RESPONDERS[side])
    if side == ELIGIBILITY:
        args += ["--dsn", dsn]
    if service_core is not None:
        args += ["--core", str(service_core)]
    payloads = [payload for _, payload in asked]
    proc = await spawn_worker(side, args)
    nc = await servers.connect(asker)
    try:
        outcomes = await _verify(nc, side, asked[: plan.eligibility_verify])
        if outcomes is not None:
            seen.setdefault("outcomes", outcomes)
        await _drive(nc, SUBJECTS[side], payloads, in_flight, plan.eligibility_warmup_seconds)
        proc.send_signal(signal.SIGUSR1)  # the responder forgets the warm-up's timings
        await quiet(plan, log, f"eligibility {side} x{in_flight}")
        meter = cpu.Meter()
        seconds = plan.eligibility_seconds
        latencies, errors, elapsed = await _drive(nc, SUBJECTS[side], payloads, in_flight, seconds)
        load = meter.stop()
        stats = await finish_worker(proc)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await nc.close()
    if errors:
        raise RuntimeError(f"the {side} responder sent {errors} error replies")
    if not latencies:
        raise RuntimeError(f"the {side} responder answered nothing in {elapsed:.1f} s")
    return Run(
        len(latencies) / elapsed,
        load,
        {
            "p50_ms": percentile(latencies, 50),
            "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies),
            "round_trips": len(latencies),
            "seconds_timed": elapsed,
            "in_flight": in_flight,
            "responder": stats,
        },
    )


def _figures(in_flight: int) -> tuple[Figure, Figure, Figure]:
    mode = "sequential (1 in flight)" if in_flight == 1 else f"{in_flight} in flight"
    title = f"eligibility request/reply, 1-3 providers, {mode}"
    tag = "seq" if in_flight == 1 else f"c{in_flight}"
    note = "baseline: a bare nats-py echo responder in the same placement"
    return (
        Figure(
            f"eligibility_{tag}_throughput",
            f"{title}: round trips",
            "req/s",
            target=">= 0.5x",
            min_ratio=0.5,
            note=note,
        ),
        Figure(f"eligibility_{tag}_p50", f"{title}: p50", "ms", note=note),
        Figure(
            f"eligibility_{tag}_p99",
            f"{title}: p99",
            "ms",
            target="< 5 ms",
            max_value=5.0,
            note=note,
        ),
    )


@dataclass
class Seeded:
    """The providers' database, seeded and settled, and the questions to ask of it."""

    dsn: str
    asked: list[tuple[list[str], bytes]]
    rows: Counter[str]
    seconds: float  # the seeding's


async def seeded(servers: Servers, plan: Plan) -> Seeded:
    """A new providers database seeded with the plan's providers (drop it when done)."""
    dsn = servers.postgres.dsn(f"bench_p_{uuid.uuid4().hex[:8]}")
    try:
        await migrate(dsn, MIGRATIONS)
        began = time.monotonic()
        provider_ids, rows = await seed(dsn, plan.eligibility_providers)
        await servers.settle(dsn, "providers, accreditations, exclusions, track_ratings")
    except BaseException:
        await servers.drop_database(dsn)
        raise
    asked = questions(provider_ids, plan.eligibility_questions)
    return Seeded(dsn, asked, rows, time.monotonic() - began)


async def measure(
    servers: Servers, plan: Plan, log: list[str], service_core: int | None
) -> list[Figure]:
    prepared = await seeded(servers, plan)
    dsn, asked, rows = prepared.dsn, prepared.asked, prepared.rows
    try:
        sizes = [len(p) for _, p in asked]
        where = "unpinned" if service_core is None else f"on core {service_core}"
        log.append(
            f"eligibility: {plan.eligibility_providers:,} providers seeded through the use "
            f"cases in {prepared.seconds:.0f} s ({rows['accreditations']:,} "
            "accreditations, "
            f"{rows['exclusions']} exclusions, {rows['inactive']} inactive, "
            f"{rows['track_ratings']} track ratings); {len(asked):,} questions of 1-3 "
            f"providers, {sum(sizes) / len(sizes):.0f} bytes on average; the echo and the "
            f"eligibility responders each in their own process {where}, a fresh one per run; "
            f"the load generator in the bench process; {plan.eligibility_warmup_seconds:g} s "
            f"warm-up, {plan.eligibility_seconds:g} s timed per run"
        )
        figures = {n: _figures(n) for n in IN_FLIGHT}
        seen: dict[str, Any] = {}
        for rep in range(plan.repetitions):
            # Alternate which side goes first, so that drift over the run favours neither.
            sides = [ECHO, ELIGIBILITY] if rep % 2 == 0 else [ELIGIBILITY, ECHO]
            for side in sides:
                for n in IN_FLIGHT:
                    run = partial(
                        run_once, servers, plan, log, side, n, dsn, asked, service_core, seen
                    )
                    r = await guarded(plan, f"eligibility {side} x{n}", log, run)
                    keep_run(figures[n], r, baseline=side == ECHO)
                    print(
                        f"  eligibility {side} x{n} #{rep + 1}: {r.value:,.0f} req/s, "
                        f"p50 {r.extra['p50_ms']:.2f} ms, p99 {r.extra['p99_ms']:.2f} ms"
                        + _breakdown(r.extra["responder"]),
                        flush=True,
                    )
        if "outcomes" in seen:
            found = seen["outcomes"]
            codes = ", ".join(
                f"{k} {v}"
                for k, v in sorted(found.items())
                if k not in ("eligible", "not eligible")
            )
            log.append(
                f"eligibility: the first {plan.eligibility_verify} answers: "
                f"{found['eligible']} providers eligible, {found['not eligible']} not; reasons "
                f"and warnings: {codes}"
            )
        for n in IN_FLIGHT:
            log.append(
                f"eligibility x{n}: in the responder (medians of the runs' p50 / p99): "
                + _medians([r.extra["responder"] for r in figures[n][0].project])
            )
        return [f for n in IN_FLIGHT for f in figures[n]]
    finally:
        await servers.drop_database(dsn)


_PARTS = (("answer", "answer_ms"), ("pool wait", "pool_wait_ms"), ("SQL", "fetch_ms"))


def _medians(stats: list[dict[str, Any]]) -> str:
    parts = []
    for name, key in _PARTS:
        sampled = [s[key] for s in stats if s[key].get("n")]
        if not sampled:  # e.g. no SQL fetch: the index answered every question
            parts.append(f"{name}: none")
            continue
        parts.append(
            f"{name} {statistics.median(s['p50'] for s in sampled):.2f} / "
            f"{statistics.median(s['p99'] for s in sampled):.2f} ms "
            f"({sum(s['n'] for s in sampled):,} timed)"
        )
    return ", ".join(parts)


def _breakdown(stats: dict[str, Any]) -> str:
    if "answer_ms" not in stats:
        return ""
    parts = [
        f"{name} p50 {stats[key]['p50']:.2f} / p99 {stats[key]['p99']:.2f} ms"
        for name, key in (
            ("answer", "answer_ms"),
            ("pool wait", "pool_wait_ms"),
            ("SQL", "fetch_ms"),
        )
        if stats[key].get("n")
    ]
    return f"; in the responder: {', '.join(parts)}"
