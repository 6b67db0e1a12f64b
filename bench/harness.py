"""Servers, pinning, CPU accounting and figures shared by the benchmarks.

The method is the project's performance-ceiling research (the bare stack measured on this
two-core machine before any project code): PostgreSQL (the postmaster and every process it
forks) and nats-server (every thread) on core 0, the measuring client on core 1;
each figure is the median of its repetitions with the min-max, and a project figure is stated
as a ratio to a bare baseline measured in the same run, against the same servers.

NATS requires authentication, as in production (decision 0020): the harness writes a seed for
each identity it plays (``IDENTITIES``) into its scratch folder and gives nats-server their
authorization. The harness and the bare baselines connect as ``bench`` (which may do anything);
a service process, or a service's component measured in this process or a bench.worker, as
that service (``Servers.access``, ``Servers.service_env``, ``Servers.nats_args``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import msgspec
import nats
from nats.aio.client import Client
from procure_tools.devstack import EmbeddedNats, EmbeddedPostgres, free_port

from bench import cpu
from bench.plan import Plan
from procure_shared.db.migrations import grant_service_role, migrate, with_user
from procure_shared.identities import SEED_SUFFIX, SERVICES, write_credentials
from procure_shared.messaging.nats import NatsAccess

SERVER_CORE = 0
CLIENT_CORE = 1
ROOT = Path(__file__).resolve().parent.parent
# The harness's own identity (its connections and the bare baselines'), and the identities it
# plays: its own and each service's.
BENCH = "bench"
# The Fernet key that seals the benchmarks' webhook signing secrets: the notifications
# processes they start and the subscriptions they make share it (a service refuses the public
# development key outside development mode, and the benchmarks run the services outside it).
SECRETS_KEY = "0MxAZH2rebjfe7Tn_ojz31y6kvfRsWA_-Xt15-C5LuI="
IDENTITIES = (BENCH, *SERVICES)


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin_process(pid: int, core: int | set[int]) -> None:
    """Every thread of ``pid`` on ``core`` (or on any of a set of cores); sched_setaffinity on
    a pid moves only that one thread."""
    cores = {core} if isinstance(core, int) else core
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # it ended since it was listed (a PostgreSQL backend, say)
        return
    for task in tasks:
        try:
            os.sched_setaffinity(int(task.name), cores)
        except ProcessLookupError:
            continue


def on_core(core: int | None) -> Callable[[], None]:
    """A ``preexec_fn`` putting a child on ``core``; None: on every core (not on the bench
    process's, which it would inherit). Every thread the child starts inherits it."""
    cores = {core} if core is not None else set(range(os.cpu_count() or 1))

    def pin() -> None:  # in the child, before exec
        os.sched_setaffinity(0, cores)

    return pin


def affinity_of(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


# The password of the services' own roles on the bench's PostgreSQL.
ROLE_PASSWORD = "bench-service-role"
# The (database, role) pairs granted already, and one grant at a time: PostgreSQL refuses
# concurrent changes of one object's privileges ("tuple concurrently updated").
_GRANTED: set[tuple[str, str]] = set()
_GRANTING = asyncio.Lock()


@dataclass(frozen=True)
class Servers:
    postgres: EmbeddedPostgres
    nats: EmbeddedNats
    pinned: bool
    folder: Path
    # The identities' seeds, whose authorization ``nats`` requires; None: a nats-server that
    # lets anyone in (the authentication benchmark's baseline), connected to without a seed.
    credentials: Path | None

    def seed(self, identity: str) -> str | None:
        """The file of ``identity``'s nkey seed (None without credentials)."""
        if self.credentials is None:
            return None
        return str(self.credentials / f"{identity}{SEED_SUFFIX}")

    def access(self, identity: str = BENCH) -> NatsAccess:
        """How a client connects as ``identity``."""
        return NatsAccess(identity=identity, seed_file=self.seed(identity))

    def nats_options(self, identity: str = BENCH) -> dict[str, Any]:
        """nats-py's ``connect`` arguments for ``identity`` (a bare baseline's: ``bench``)."""
        return self.access(identity).options()

    async def connect(self, identity: str = BENCH) -> Client:
        """A plain nats-py connection as ``identity`` (the harness's own by default)."""
        return await nats.connect(self.nats.url, **self.nats_options(identity))

    def nats_args(self, identity: str) -> list[str]:
        """The arguments of a bench process (bench.worker, bench.notifications) connecting as
        ``identity``."""
        seed = self.seed(identity)
        return ["--nats", self.nats.url, "--identity", identity] + (
            ["--seed", seed] if seed is not None else []
        )

    def service_env(self, service: str) -> dict[str, str]:
        """What a service process (``python -m procure_<service> serve``) needs to connect as
        itself; a service does not serve without its seed."""
        seed = self.seed(service)
        if seed is None:
            raise RuntimeError(f"the {service} service needs credentials to connect to NATS")
        env = {"NATS_URL": self.nats.url, "PROCURE_NATS_CREDENTIALS": seed}
        if service == "notifications":
            env["PROCURE_SECRETS_KEY"] = SECRETS_KEY
        return env

    async def as_service(self, dsn: str, service: str) -> str:
        """``dsn`` as ``service``'s own role, made and granted as its migration makes it: a
        service process connects as in production (it refuses, outside development mode, a
        role that could change the audit)."""
        url = with_user(dsn, f"procure_{service}", ROLE_PASSWORD)
        async with _GRANTING:
            if (dsn, service) not in _GRANTED:
                conn = await asyncpg.connect(dsn)
                try:
                    await grant_service_role(conn, url)
                finally:
                    await conn.close()
                _GRANTED.add((dsn, service))
        return url

    @property
    def server_pids(self) -> list[int]:
        pids = [p for p in (self.postgres.pid, self.nats.pid) if p is not None]
        return pids + [c for p in pids for c in cpu.descendants(p)]

    def pinning(self) -> str:
        if not self.pinned:
            return "not pinned (fewer than 2 cores available)"
        pg = [p for p in self.server_pids if p != self.nats.pid]
        nats_threads = len(list(Path(f"/proc/{self.nats.pid}/task").iterdir()))
        cores = sorted({affinity_of(p) for p in pg} | {affinity_of(self.nats.pid or 0)})
        return (
            f"PostgreSQL ({len(pg)} processes: postmaster, its auxiliaries and backends, which "
            f"inherit the postmaster's affinity) and nats-server ({nats_threads} threads) on "
            f"core {'/'.join(cores)}; the bench process (the baselines, the project's relay and "
            f"consumer in measurements 1 and 2, the latency producer, the eligibility load "
            f"generator) on core "
            f"{affinity_of(os.getpid())}"
        )

    async def project_database(self) -> str:
        """A fresh database, created and migrated by procure_shared.db.migrations.migrate."""
        dsn = self.postgres.dsn(f"bench_p_{uuid.uuid4().hex[:8]}")
        await migrate(dsn, None)
        return dsn

    def bare_database_name(self) -> str:
        return f"bench_b_{uuid.uuid4().hex[:8]}"

    async def sql(self, statement: str, dsn: str | None = None) -> None:
        conn = await asyncpg.connect(dsn or self.postgres.url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def settle(self, dsn: str, table: str) -> None:
        """Before a timed run: statistics for the planner, dirty pages written."""
        await self.sql(f"VACUUM ANALYZE {table}", dsn)
        await self.sql("CHECKPOINT")

    async def drop_database(self, dsn: str) -> None:
        name = dsn.rsplit("/", 1)[1]
        await self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def version(self) -> str:
        conn = await asyncpg.connect(self.postgres.url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()


@contextmanager
def servers() -> Iterator[Servers]:
    """Start PostgreSQL and nats-server on core 0 (they inherit this process's affinity while it
    is on core 0), then move this process to core 1."""
    folder = Path(tempfile.mkdtemp(prefix="procure-bench-"))
    folder.chmod(0o755)  # PostgreSQL runs as 'nobody' when we are root
    credentials = folder / "nats-credentials"
    write_credentials(credentials, IDENTITIES)
    postgres = EmbeddedPostgres(folder / "pg", free_port(), folder / "pg.log")
    server = EmbeddedNats(folder / "js", free_port(), folder / "nats.log", credentials=credentials)
    pinned = can_pin()
    original = os.sched_getaffinity(0) if pinned else set()
    try:
        if pinned:
            pin_process(os.getpid(), SERVER_CORE)
        postgres.start()
        server.start()
        if pinned:
            pin_process(os.getpid(), CLIENT_CORE)
        yield Servers(postgres, server, pinned, folder, credentials)
    finally:
        if pinned:
            for task in Path(f"/proc/{os.getpid()}/task").iterdir():
                os.sched_setaffinity(int(task.name), original)
        server.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_on_server_core(servers: Servers, nodes: list[EmbeddedNats]) -> None:
    """Start more nats-servers beside the harness's, on its core (they inherit this process's
    affinity while it is there)."""
    if servers.pinned:
        pin_process(os.getpid(), SERVER_CORE)
    try:
        for node in nodes:
            node.start()
    finally:
        if servers.pinned:
            pin_process(os.getpid(), CLIENT_CORE)


@contextmanager
def other_nats(servers: Servers, name: str, credentials: Path | None) -> Iterator[Servers]:
    """The servers with a fresh nats-server of their own on core 0 instead of the harness's,
    requiring the authorization of ``credentials`` (None: letting anyone in); stopped and
    removed after."""
    folder = servers.folder / f"{name}-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    server = EmbeddedNats(folder / "js", free_port(), folder / "nats.log", credentials=credentials)
    try:
        start_on_server_core(servers, [server])
        yield dataclasses.replace(servers, nats=server, credentials=credentials)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def unpinned(servers: Servers) -> Iterator[None]:
    """The servers (every process and thread, and what PostgreSQL forks meanwhile) and this
    process free to run on both cores while inside; back on cores 0 and 1 after."""
    if not servers.pinned:
        yield
        return
    both = {SERVER_CORE, CLIENT_CORE}
    for pid in servers.server_pids:
        pin_process(pid, both)
    pin_process(os.getpid(), both)
    try:
        yield
    finally:
        for pid in servers.server_pids:
            pin_process(pid, SERVER_CORE)
        pin_process(os.getpid(), CLIENT_CORE)


# --- service-side processes ------------------------------------------------------------------


async def spawn_python(
    argv: list[str], env: dict[str, str], log_file: Path, core: int | None
) -> asyncio.subprocess.Process:
    """``python *argv`` with ``env``, its output appended to ``log_file``, on ``core`` (None:
    on every core); ``argv`` is e.g. ``["-m", "procure_contracts", "serve", "--role",
    "http"]``, the service as deployed."""
    with log_file.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            stdout=out,
            stderr=out,
            env=env,
            cwd=ROOT,
            preexec_fn=on_core(core),
        )


async def count_until(dsn: str, sql: str, total: int, stall: float) -> int:
    """Run ``sql`` (a count) every 50 ms until it reaches ``total`` or has not grown for
    ``stall`` s; the last count. A slow machine delays the work, a lost or stuck item stops
    it."""
    conn = await asyncpg.connect(dsn)
    try:
        seen, grown = -1, time.monotonic()
        while True:
            n = int(await conn.fetchval(sql))
            if n >= total:
                return n
            if n > seen:
                seen, grown = n, time.monotonic()
            elif time.monotonic() - grown > stall:
                return n
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def stop_process(proc: asyncio.subprocess.Process, within: float = 10.0) -> None:
    """SIGTERM, and SIGKILL if it has not ended ``within`` s."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=within)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def spawn_worker(role: str, args: list[str]) -> asyncio.subprocess.Process:
    """``python -m bench.worker role *args``, once it has printed ``ready``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.worker",
        role,
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    if line.strip() != b"ready":
        proc.kill()
        raise RuntimeError(f"the {role} worker did not start: {line!r}")
    return proc


async def finish_worker(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """SIGTERM, then the stats line the worker prints on its way out."""
    assert proc.stdout is not None
    proc.send_signal(signal.SIGTERM)
    out = await asyncio.wait_for(proc.stdout.read(), timeout=15)
    await proc.wait()
    lines = out.decode().strip().splitlines()
    stats: dict[str, Any] = msgspec.json.decode(lines[-1]) if lines else {}
    return stats


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Run:
    """One timed repetition: its value and what the cores did meanwhile."""

    value: float
    load: cpu.Load
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, **self.load.as_json(), **self.extra}


@dataclass
class Latency:
    """One latency run: its p50, p99 and max in ms, what the cores did, and its details; its
    value (what the noise guard notes of a discarded run) is the p99."""

    p50: float
    p99: float
    max: float
    load: cpu.Load
    extra: dict[str, Any]

    @property
    def value(self) -> float:
        return self.p99


@dataclass
class Figure:
    key: str
    name: str
    unit: str
    project: list[Run] = field(default_factory=list)
    baseline: list[Run] = field(default_factory=list)
    target: str = "-"
    min_ratio: float | None = None  # the target as a ratio project/baseline
    max_value: float | None = None  # the target as a ceiling on the project's median
    max_ratio: float | None = None  # the target as a ceiling on project/baseline (latencies)
    note: str = ""

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.project]

    @property
    def baseline_values(self) -> list[float]:
        return [r.value for r in self.baseline]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def baseline_median(self) -> float | None:
        return statistics.median(self.baseline_values) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        return self.median / base if base else None

    @property
    def verdict(self) -> str:
        """met / missed; per the method, a ratio short by at most 0.1 is not a miss yet."""
        if self.min_ratio is not None and self.ratio is not None:
            if self.ratio >= self.min_ratio:
                return "met"
            return "borderline (re-run)" if self.ratio >= self.min_ratio - 0.1 else "missed"
        if self.max_ratio is not None and self.ratio is not None:
            if self.ratio <= self.max_ratio:
                return "met"
            return "borderline (re-run)" if self.ratio <= self.max_ratio + 0.1 else "missed"
        if self.max_value is not None and self.project:
            return "met" if self.median <= self.max_value else "missed"
        return "-"

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "baseline_median": self.baseline_median,
            "baseline_min": min(self.baseline_values) if self.baseline else None,
            "baseline_max": max(self.baseline_values) if self.baseline else None,
            "ratio": self.ratio,
            "target": self.target,
            "verdict": self.verdict,
            "note": self.note,
            "project_runs": [r.as_json() for r in self.project],
            "baseline_runs": [r.as_json() for r in self.baseline],
        }


def keep_run(figures: tuple[Figure, Figure, Figure], r: Run, *, baseline: bool) -> None:
    """File one timed run under its (throughput, p50, p99) figures, on the baseline's side or
    the project's."""
    throughput, p50, p99 = figures
    for figure, kept in (
        (throughput, r),
        (p50, Run(r.extra["p50_ms"], r.load)),
        (p99, Run(r.extra["p99_ms"], r.load)),
    ):
        (figure.baseline if baseline else figure.project).append(kept)


def say_http_run(label: str, rep: int, r: Run) -> None:
    """One HTTP run's line: its throughput, latencies, cores and where the CPU went."""
    print(
        f"  {label} #{rep + 1}: {r.value:,.0f} req/s, p50 "
        f"{r.extra['p50_ms']:.2f} ms, p99 {r.extra['p99_ms']:.2f} ms; "
        f"cores {r.load.busy_pct[0]:.0f}% / {r.load.busy_pct[1]:.0f}%, "
        f"foreign {r.load.foreign_pct:.0f}%; {by_process(r.load)}",
        flush=True,
    )


def by_process(load: cpu.Load) -> str:
    """Where the CPU went, largest first: 'postgres backends 80%, ...' (in % of one core)."""
    parts = sorted(load.ours_by_process.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.0f}%" for k, v in parts if v >= 1)


def cpu_per(runs: list[Run], count: str) -> str:
    """The CPU of each kind of process per unit of work (ms of a core, median of the runs),
    the runs' ``extra[count]`` being how many units each did."""
    shares: dict[str, list[float]] = {}
    for r in runs:
        for label, pct in r.load.ours_by_process.items():
            ms = pct / 100 * r.load.seconds * 1000 / r.extra[count]
            shares.setdefault(label, []).append(ms)
    return ", ".join(
        f"{label} {statistics.median(v):.3f}"
        for label, v in sorted(shares.items(), key=lambda kv: -statistics.median(kv[1]))
        if statistics.median(v) >= 0.001
    )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of ``values`` (ms, to 0.01); empty when there are none."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
    }


async def quiet(plan: Plan, log: list[str], label: str) -> None:
    """Wait (up to 10 s) until foreign processes use under 5% of a core, as the method does
    (unless the plan has no noise guard)."""
    if not plan.noise_guard:
        return
    deadline = time.monotonic() + 10
    while True:
        load = await cpu.sample(0.5)
        if load.foreign_pct < 5 or time.monotonic() > deadline:
            break
    if load.foreign_pct >= 5:
        log.append(f"{label}: started with foreign load {load.foreign_pct:.0f}% of a core")


NOISE_PCT = 10.0


class Measured(Protocol):
    """A timed run: what the cores did meanwhile, its details, and the value it gave."""

    load: cpu.Load
    extra: dict[str, Any]

    @property
    def value(self) -> float: ...


M = TypeVar("M", bound=Measured)


async def guarded(plan: Plan, label: str, log: list[str], run: Callable[[], Awaitable[M]]) -> M:
    """Run; if foreign processes used over 10% of a core meanwhile, run once more and keep the
    second result (the method repeats a run disturbed by foreign load), unless the plan has no
    noise guard."""
    first = await run()
    if not plan.noise_guard or first.load.foreign_pct <= NOISE_PCT:
        return first
    log.append(f"{label}: foreign load {first.load.foreign_pct:.0f}% of a core; run repeated")
    second = await run()
    second.extra["repeated_after_foreign_pct"] = round(first.load.foreign_pct, 1)
    second.extra["discarded_value"] = first.value
    return second


class InOrder:
    """Each aggregate's transactions one after the other, in the order they were started, as
    the services' row locks keep them: an open-loop producer's event waits for its aggregate's
    previous one to commit. Without it, a transaction delayed past its successor's start (by a
    busy core) gives the later event the lower outbox position, the relay publishes the
    aggregate's events out of sequence, and an ordered consumer holds the later ones back as
    gaps."""

    def __init__(self) -> None:
        self._last: dict[str, asyncio.Future[None]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, aggregate: str) -> AsyncIterator[None]:
        before = self._last.get(aggregate)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[aggregate] = mine
        try:
            if before is not None:
                await before
            yield
        finally:
            mine.set_result(None)


@dataclass
class OpenLoop:
    """What an open-loop run did: how long it took to start and finish everything, how late
    the latest counted start was, and the CPU meter started at the first counted one."""

    seconds: float
    behind: float
    meter: cpu.Meter


async def open_loop(
    rate: float, total: int, start: Callable[[int], Coroutine[Any, Any, None]], *, warm: int = 0
) -> OpenLoop:
    """Start ``start(i)`` for each i below ``total`` on its schedule, ``rate`` a second,
    whether or not the earlier ones have finished (an open loop: a slow system is not given
    time to catch up), and wait for all. The first ``warm`` are not counted."""
    tasks: list[asyncio.Task[None]] = []
    behind = 0.0
    meter = cpu.Meter()
    began = time.perf_counter()
    for i in range(total):
        if i == warm and warm:
            meter = cpu.Meter()
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif i >= warm:
            behind = max(behind, -delay)
        tasks.append(asyncio.create_task(start(i)))
    await asyncio.gather(*tasks)
    return OpenLoop(seconds=time.perf_counter() - began, behind=behind, meter=meter)
