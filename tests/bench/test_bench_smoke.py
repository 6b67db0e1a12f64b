"""`python -m bench --smoke`: every benchmark once at a tiny size, so that none of them rots
unseen between full runs (`make bench`). It measures nothing; it fails when a measurement no
longer completes, e.g. when a bare baseline's SQL has drifted from the service's migrations and
its requests answer 500."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import MEASUREMENTS
from bench.report import RESULTS

ROOT = Path(__file__).resolve().parents[2]


# 93 s on this two-core machine under light foreign load (13 s of it the auth benchmark, which
# runs its measurements against two more nats-servers), up to 120 s under heavier load.
@pytest.mark.slow
def test_every_benchmark_runs_once_at_a_tiny_size_and_both_sides_answer() -> None:
    results_before = {p.name: p.stat().st_mtime_ns for p in RESULTS.iterdir()}
    # The services' own defaults (the OCDS schemas in their package, say), not this shell's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_"))}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    completed = re.findall(r"^(\S+) done in [\d.]+ s$", run.stdout, re.MULTILINE)
    assert completed == list(MEASUREMENTS), output[-6000:]
    assert {p.name: p.stat().st_mtime_ns for p in RESULTS.iterdir()} == results_before
