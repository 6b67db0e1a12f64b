"""What the cores did during a run: how busy each core was, and how much CPU went to processes
that are not ours (the noise guard of the method). Ours: this process and its descendants
(the servers and every process they fork, the latency workers); kernel threads are not counted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Load:
    seconds: float
    busy_pct: list[float]  # per core
    ours_pct: float  # of one core
    foreign_pct: float  # of one core
    ours_by_process: dict[str, float] = field(default_factory=dict)  # % of one core
    watched_pct: list[float] = field(default_factory=list)  # each watched pid's, of one core

    def as_json(self) -> dict[str, Any]:
        watched = {"watched_pct_of_a_core": [round(w, 1) for w in self.watched_pct]}
        return {
            "seconds": round(self.seconds, 3),
            "busy_pct_per_core": [round(b, 1) for b in self.busy_pct],
            "ours_pct_of_a_core": round(self.ours_pct, 1),
            "foreign_pct_of_a_core": round(self.foreign_pct, 1),
            "ours_by_process_pct_of_a_core": {
                k: round(v, 1) for k, v in sorted(self.ours_by_process.items())
            },
            **(watched if self.watched_pct else {}),
        }


def _cores() -> list[tuple[int, int]]:
    """(busy, total) jiffies per core."""
    cores = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values]
            idle = ticks[3] + ticks[4]
            total = sum(ticks[:8])
            cores.append((total - idle, total))
    return cores


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU ticks including reaped children)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return found


def _tree(root: int, processes: dict[int, tuple[int, int]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def _label(pid: int, me: int) -> str:
    """What one of our processes is, for the breakdown."""
    if pid == me:
        return "bench process"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "ended"
    for module in ("bench.worker", "bench.notifications", "bench.notifications_bare"):
        if module in argv:  # python -m <module> <role> ...
            return f"{argv[argv.index(module) + 1]} process"
    services = [a.removeprefix("procure_") for a in argv if a.startswith("procure_")]
    if services and "--role" in argv[:-1]:  # python -m procure_<service> serve --role <role>
        return f"{services[0]} service ({argv[argv.index('--role') + 1]})"
    if argv[0].endswith("nats-server"):
        return "nats-server"
    if argv[0].startswith("postgres: postgres "):
        return "postgres backends"
    if "postgres" in argv[0]:
        return "postgres (postmaster and auxiliaries)"
    return Path(argv[0]).name or "other"


def seconds_of(pid: int) -> float:
    """The process's user + system CPU time so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    return sorted(_tree(pid, _processes()) - {pid})


class Meter:
    """From now until ``stop``; ``watch``: pids whose CPU to give one by one as well."""

    def __init__(self, watch: Sequence[int] = ()) -> None:
        self._watch = list(watch)
        self._t0 = time.monotonic()
        self._cores = _cores()
        self._procs = _processes()

    def stop(self) -> Load:
        seconds = time.monotonic() - self._t0
        cores, procs = _cores(), _processes()
        busy = [
            100 * (b1 - b0) / max(1, t1 - t0)
            for (b0, t0), (b1, t1) in zip(self._cores, cores, strict=False)
        ]
        me = os.getpid()
        ours = _tree(me, self._procs) | _tree(me, procs)
        ticks = {True: 0, False: 0}
        by_process: dict[str, int] = {}
        for pid, (ppid, now) in procs.items():
            if pid != 2 and ppid != 2:  # not a kernel thread
                before = self._procs.get(pid)
                delta = now - before[1] if before else now
                ticks[pid in ours] += delta
                if pid in ours and delta:
                    label = _label(pid, me)
                    by_process[label] = by_process.get(label, 0) + delta
        for pid, (ppid, then) in self._procs.items():
            if pid not in procs and pid != 2 and ppid != 2:
                # It ended and its parent's children-time took its whole life: keep only
                # what it used since the start.
                ticks[pid in ours] -= then
        per_core_second = TICK * max(seconds, 1e-9) / 100
        return Load(
            seconds,
            busy,
            max(0, ticks[True]) / per_core_second,
            max(0, ticks[False]) / per_core_second,
            {k: v / per_core_second for k, v in by_process.items()},
            [
                (procs.get(p, (0, 0))[1] - self._procs.get(p, (0, 0))[1]) / per_core_second
                for p in self._watch
            ],
        )


async def sample(seconds: float) -> Load:
    meter = Meter()
    await asyncio.sleep(seconds)
    return meter.stop()
