"""`make bench`: every benchmark, each project figure beside its bare baseline from the same
run; writes bench/results/latest.json and latest.md and prints the table.

    python -m bench [relay|consumer|reset|latency ...] [--repetitions N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import uvloop

from bench import consumer, latency, relay
from bench.harness import Figure, median_range, servers

RESULTS = Path(__file__).parent / "results"


def row(figure: Figure, verdict: str) -> str:
    med, low, high = median_range(figure.project)
    base = f"{statistics.median(figure.baseline):,.0f}" if figure.baseline else "-"
    ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
    return (
        f"| {figure.name} | {med:,.1f} {figure.unit} | {low:,.1f}-{high:,.1f} | {base} | "
        f"{ratio} | {figure.target or '-'} | {verdict or '-'} |"
    )


async def main(which: list[str], repetitions: int) -> None:
    figures: list[tuple[Figure, str]] = []
    notes: list[str] = []
    with servers() as stack:
        notes.append(stack.pinned)
        if "relay" in which:
            f = await relay.measure(stack, repetitions)
            figures.append((f, f.verdict(minimum_ratio=0.7)))
        if "consumer" in which:
            f = await consumer.measure(stack, repetitions)
            figures.append((f, f.verdict(minimum_ratio=0.7)))
        if "reset" in which:
            f = await consumer.measure_pool_reset(stack, repetitions)
            figures.append((f, f.verdict(minimum_ratio=1.0)))
        if "latency" in which:
            p50, p99, received = await latency.measure(stack, repetitions)
            figures += [(p50, ""), (p99, p99.verdict(maximum=50.0))]
            notes.append(f"latency: {received} of {latency.RATE * latency.SECONDS} events timed")
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {repetitions} repetitions each, "
        f"median and min-max; {'; '.join(notes)}. JetStream sync_interval: always.",
        "",
        "| figure | project (median) | min-max | bare baseline | ratio | target | verdict |",
        "|---|---:|---:|---:|---:|---|---|",
        *(row(f, v) for f, v in figures),
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(table + "\n")
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"python": platform.python_version(), "cpus": stack_cpus()},
                "versions": {p: version(p) for p in ("asyncpg", "nats-py", "msgspec")},
                "notes": notes,
                "figures": [
                    {
                        "name": f.name,
                        "unit": f.unit,
                        "project": f.project,
                        "baseline": f.baseline,
                        "ratio": f.ratio,
                        "target": f.target,
                        "verdict": v,
                    }
                    for f, v in figures
                ],
            },
            indent=2,
        )
    )


def stack_cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", nargs="*", default=["relay", "consumer", "reset", "latency"])
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    uvloop.run(main(args.which, args.repetitions))
