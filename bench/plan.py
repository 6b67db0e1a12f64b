"""How much each measurement does: the one place that decides it.

``FULL`` is `make bench`'s plan (``python -m bench``): three repetitions of every measurement at
the sizes its figures are stated for, each timed run after the machine has settled and run again
if foreign load disturbed it. ``SMOKE`` (``python -m bench --smoke``) runs every measurement
once at a tiny size, to show that each still works end to end (both sides answer and deliver
what they should) without saying anything about speed: tens of requests or events instead of
thousands, a few thousand rows instead of a million, no warm-up, no waiting for a quiet
machine. The measurements take everything they count, time or generate from the plan they are
given; nothing else in them depends on which plan it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Plan:
    repetitions: int = 3
    # Wait (up to 10 s) for foreign load to settle before a timed run, and run again one that
    # foreign load disturbed (the method's noise guard).
    noise_guard: bool = True
    # relay: outbox rows drained.
    relay_rows: int = 20_000
    # consumer and reset: events on the stream, each consumed in its own transaction.
    consumer_messages: int = 10_000
    # latency: events committed a second, for how long.
    latency_rate_per_s: int = 500
    latency_seconds: float = 10.0
    # eligibility: providers seeded, questions asked in turn, answers checked before each run.
    eligibility_providers: int = 1_000
    eligibility_questions: int = 4_096
    eligibility_verify: int = 200
    eligibility_seconds: float = 5.0
    eligibility_warmup_seconds: float = 1.0
    # contracts and contracts-scale (and the instances' write path): contracts generated, the
    # size the scale measurement grows them to (at least 50 active in a category, for a full
    # list page), the load generator's connections and its timing.
    contracts: int = 10_000
    contracts_scale: int = 1_000_000
    contracts_connections: int = 50
    contracts_seconds: float = 10.0
    contracts_warmup_seconds: float = 2.0
    # notifications: the latency run's rate and timing, the deliveries the throughput run
    # drains.
    notifications_rate_per_s: int = 200
    notifications_seconds: float = 10.0
    notifications_warmup_seconds: float = 2.0
    notifications_drain: int = 5_000
    # monitor: contracts and milestones generated, milestones then found due, passes timed.
    monitor_contracts: int = 10_000
    monitor_milestones: int = 1_000_000
    monitor_due: int = 1_000
    monitor_passes: int = 200
    # ops: contracts on the dashboard, and the timing of each page.
    ops_contracts: int = 10_000
    ops_seconds: float = 5.0
    ops_warmup_seconds: float = 1.0
    # ocds-import: the release packages' sizes.
    ocds_import_sizes: tuple[int, ...] = (10_000, 100_000)
    # replicas: events published a run, and in the untimed run under strace.
    replicas_events: int = 20_000
    replicas_traced: int = 2_000
    # instances: events delivered (the write path takes the contracts' sizes).
    instances_delivery_events: int = 5_000
    # auth: connections timed one after another on each side; how long each latency run lasts
    # (at the latency measurement's rate: three times its length, so that one stall of the
    # machine does not make a run's p99); the eligibility request/reply's numbers in flight
    # (the relay, consumer and eligibility runs take those measurements' sizes).
    auth_connects: int = 200
    auth_latency_seconds: float = 30.0
    auth_eligibility_in_flight: tuple[int, ...] = (1, 16)

    def settings(self) -> dict[str, Any]:
        """The sizes, for the results' settings."""
        found = dataclasses.asdict(self)
        del found["repetitions"], found["noise_guard"]
        found["ocds_import_sizes"] = list(self.ocds_import_sizes)
        found["auth_eligibility_in_flight"] = list(self.auth_eligibility_in_flight)
        return found


FULL = Plan()
SMOKE = Plan(
    repetitions=1,
    noise_guard=False,
    relay_rows=200,
    consumer_messages=200,
    latency_rate_per_s=100,
    latency_seconds=0.5,
    eligibility_providers=40,
    eligibility_questions=64,
    eligibility_verify=20,
    eligibility_seconds=0.2,
    eligibility_warmup_seconds=0.0,
    # 1,000 contracts hold 50 active ones of the first category: a full list page.
    contracts=1_000,
    contracts_scale=2_000,
    contracts_connections=4,
    contracts_seconds=0.3,
    contracts_warmup_seconds=0.0,
    notifications_rate_per_s=40,
    notifications_seconds=0.5,
    notifications_warmup_seconds=0.0,
    notifications_drain=40,
    monitor_contracts=200,
    monitor_milestones=500,
    monitor_due=20,
    monitor_passes=5,
    ops_contracts=200,
    ops_seconds=0.3,
    ops_warmup_seconds=0.0,
    ocds_import_sizes=(50,),
    replicas_events=200,
    replicas_traced=50,
    instances_delivery_events=40,
    auth_connects=10,
    auth_latency_seconds=0.5,
    auth_eligibility_in_flight=(1,),
)
