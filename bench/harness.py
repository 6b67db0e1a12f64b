"""Servers, pinning and statistics shared by the benchmarks.

Servers (PostgreSQL and its backends, nats-server) run on core 0; the measuring process on
core 1, as in ../shared/reference/performance-ceiling.md. JetStream syncs every write
(``sync_interval: always``), as everywhere in Procure.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from procure_shared.devstack import EmbeddedNats, EmbeddedPostgres, free_port
from procure_shared.migrations import migrate

CORES = os.cpu_count() or 1


@dataclass
class Servers:
    postgres: EmbeddedPostgres
    nats: EmbeddedNats
    pinned: str

    async def new_database(self) -> str:
        dsn = self.postgres.dsn(f"bench_{uuid.uuid4().hex[:8]}")
        await migrate(dsn, None)
        return dsn


def _pin(pid: int | None, core: int) -> bool:
    if pid is None or CORES < 2:
        return False
    os.sched_setaffinity(pid, {core})
    return True


@contextmanager
def servers() -> Iterator[Servers]:
    folder = Path(tempfile.mkdtemp(prefix="procure-bench-"))
    folder.chmod(0o755)
    postgres = EmbeddedPostgres(folder / "pg", free_port(), folder / "pg.log")
    nats = EmbeddedNats(folder / "js", free_port(), folder / "nats.log")
    try:
        postgres.start()
        nats.start()
        # Backends fork from the postmaster after this, so they inherit core 0.
        pinned = _pin(postgres.pid, 0) and _pin(nats.pid, 0) and _pin(os.getpid(), 1)
        note = "servers on core 0, client on core 1" if pinned else "not pinned (one core)"
        yield Servers(postgres, nats, note)
    finally:
        nats.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Figure:
    name: str
    unit: str
    project: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.project or not self.baseline:
            return None
        return statistics.median(self.project) / statistics.median(self.baseline)

    def verdict(self, minimum_ratio: float | None = None, maximum: float | None = None) -> str:
        if minimum_ratio is not None and self.ratio is not None:
            return "met" if self.ratio >= minimum_ratio else "missed"
        if maximum is not None and self.project:
            return "met" if statistics.median(self.project) <= maximum else "missed"
        return ""


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def median_range(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
