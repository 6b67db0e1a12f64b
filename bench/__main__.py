"""`make bench`: each project figure beside its bare baseline, measured in the same run against
the same servers; writes bench/results/latest.json and latest.md and prints the table (a run of
only some measurements writes latest-<names>.json/.md, leaving the complete results alone).

    python -m bench [relay] [consumer] [reset] [latency] [eligibility] [contracts]
        [contracts-scale] [notifications] [monitor] [ops] [ocds-import] [replicas] [instances]
        [auth] [--smoke]
        [--repetitions N]
        [--service-core C]

``--smoke`` runs each measurement once at a tiny size (bench.plan.SMOKE: tens of requests or
events, a few thousand rows at most, no warm-up, no waiting for a quiet machine) to show that
every one still works end to end, the project's side and the bare baseline's: it prints the
table but writes no results, and its figures say nothing about speed. Each measurement prints
``<name> ...`` when it starts and ``<name> done in S s`` when it has completed; one that fails
(a non-2xx answer, an event not delivered, a process that would not start) stops the run with
``<name> failed: ...`` and exit status 1. tests/bench runs the smoke run.

With no names it runs them all. ``reset`` is decision 0001's own measurement: the bare
consumer with a pool that does not reset connections on release against asyncpg's default.
``eligibility`` is the providers service's eligibility request/reply against a bare nats-py
echo responder. ``contracts`` is the contracts service's HTTP API (GET by id, a list page, an
amendment) against a bare Litestar + asyncpg app running the same SQL; ``contracts-scale`` its
list page at 1,000,000 contracts against the same page at 10,000. ``notifications`` is the
notifications service's webhook deliveries: the latency from a producer's outbox commit to the
receiver's handler at 200 events/s (10 subscriptions, one match each), and the peak delivery
throughput of the delivery worker draining pending deliveries, against a bare httpx POST loop of
the same requests to the same receiver with the same concurrency. ``monitor`` is the milestone
monitor among 1,000,000 milestones: a pass finding nothing new, and one sending 1,000 notices.
``ops`` is the ops dashboard's page at 10,000 contracts (one request at a time) against its
own statements run bare with asyncpg, and a trivial Litestar response. ``ocds-import`` is
``procure ocds import`` of a generated release package of 10,000 and 100,000 releases into the
real contracts and providers services (releases/s, the command's peak RSS) against the same
releases parsed and inserted with bare asyncpg, and the OCDS reader against bare ijson.
``replicas`` is JetStream publishing into three replicas on three nodes against one on one.
``instances`` is two processes of a service against one, on the same database and consumers:
the contracts API's amendments (50 connections spread over the instances) and the notifications
consumers' delivery of 5,000 events from the stream to a webhook receiver, with what each
side's cores and processes did (nothing pinned in it). ``auth`` is authentication on the bus
against none (issue 21): a connection, relay and consumer throughput, the commit-to-handler
latency and eligibility request/reply with every client an nkey user with its identity's
permissions, against the same code and a nats-server without authorization.

Every measurement runs with authentication on, as production does: nats-server requires the
identities of procure_shared.identities; the harness and the bare baselines connect as
``bench``, each service process or service component as its service (bench.harness).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import uvloop

from bench import (
    auth,
    bare,
    consumer,
    contracts,
    eligibility,
    instances,
    latency,
    monitor,
    notifications,
    ocds_import,
    oidc,
    ops,
    relay,
    replicas,
    report,
)
from bench.harness import CLIENT_CORE, Figure, Servers, servers
from bench.plan import FULL, SMOKE, Plan

Measure = Callable[[Servers, Plan, list[str], int | None], Awaitable[list[Figure]]]

# Each measurement by name, in the order of a complete run; the last argument is the core of
# the service-side processes, which only some of them place.
RUNS: dict[str, Measure] = {
    "relay": lambda s, plan, notes, core: relay.measure(s, plan, notes),
    "consumer": lambda s, plan, notes, core: consumer.measure(s, plan, notes),
    "reset": lambda s, plan, notes, core: consumer.measure_pool_reset(s, plan, notes),
    "latency": latency.measure,
    "eligibility": eligibility.measure,
    "contracts": lambda s, plan, notes, core: contracts.measure(s, plan, notes),
    "contracts-scale": lambda s, plan, notes, core: contracts.measure_scale(s, plan, notes),
    "notifications": notifications.measure,
    "monitor": lambda s, plan, notes, core: monitor.measure(s, plan, notes),
    "ops": lambda s, plan, notes, core: ops.measure(s, plan, notes),
    "ocds-import": lambda s, plan, notes, core: ocds_import.measure(s, plan, notes),
    "replicas": lambda s, plan, notes, core: replicas.measure(s, plan, notes),
    "instances": lambda s, plan, notes, core: instances.measure(s, plan, notes),
    # The contracts API with an OpenID Connect issuer's RS256 token against HS256 (issue 22).
    "oidc": lambda s, plan, notes, core: oidc.measure(s, plan, notes),
    "auth": auth.measure,
}
MEASUREMENTS = tuple(RUNS)
DEFAULT = MEASUREMENTS


class Failed(Exception):
    """A measurement did not complete."""


async def main(which: list[str], plan: Plan, service_core: int | None, *, write: bool) -> None:
    """Run ``which`` under ``plan``; print the table, and write the results if ``write``."""
    started, clock = datetime.now(UTC), time.monotonic()
    figures: list[Figure] = []
    notes: list[str] = []
    with servers() as stack:
        notes.append(f"pinning: {stack.pinning()}")
        postgres_version = await stack.version()
        if not stack.pinned:
            service_core = None
        for name in which:
            print(f"{name} ...", flush=True)
            began = time.monotonic()
            try:
                figures += await RUNS[name](stack, plan, notes, service_core)
            except Exception as exc:
                traceback.print_exc()
                raise Failed(f"{name} failed: {type(exc).__name__}: {exc}") from exc
            print(f"{name} done in {time.monotonic() - began:.1f} s", flush=True)
    seconds = time.monotonic() - clock
    if not write:
        print("\nNot written to bench/results (a smoke run's figures say nothing about speed):\n")
        print(report.markdown(figures, started, seconds, plan.repetitions, notes), end="")
        return
    settings = {
        "measurements": which,
        **plan.settings(),
        "relay_batch": relay.BATCH,
        "consumer_batch": consumer.BATCH,
        "consumer_concurrency": consumer.CONCURRENCY,
        "aggregates": bare.AGGREGATES,
        "latency_service_core": service_core,
        "eligibility_in_flight": list(eligibility.IN_FLIGHT),
        "eligibility_service_core": service_core,
        "notifications_subscriptions": notifications.SUBSCRIPTIONS,
        "notifications_contracts": notifications.CONTRACTS,
        "notifications_options": {
            k: getattr(notifications.OPTIONS, k)
            for k in ("allow_loopback", "delivery_concurrency", "delivery_poll", "webhook_timeout")
        },
        "notifications_service_core": service_core,
        "monitor_lead_days": monitor.LEAD_DAYS,
        "ops_milestones_each": ops.MILESTONES_EACH,
        "ops_kpis_each": ops.KPIS_EACH,
        "ocds_import_cli_batch": "500 releases or 8 MiB a request, 4 in flight (the defaults)",
        "instances": instances.INSTANCES,
        "auth_service_core": service_core,
        "nats_authentication": "nkey users with their identities' permissions "
        "(procure_shared.identities); harness and bare baselines as bench",
        "jetstream": "file storage, R1, sync_interval: always, duplicate window 2 h",
        "postgres": "initdb defaults, fsync on, synchronous_commit on, max_connections 200",
    }
    text = report.write(
        figures,
        started=started,
        seconds=seconds,
        repetitions=plan.repetitions,
        notes=notes,
        settings=settings,
        postgres_version=postgres_version,
        stem="latest" if sorted(which) == sorted(DEFAULT) else "-".join(["latest", *which]),
    )
    print()
    print(text, end="")


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("which", nargs="*", metavar="|".join(MEASUREMENTS))
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="each measurement once at a tiny size, to check that it works; writes no results",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        help=f"repetitions of each measurement (default {FULL.repetitions}; "
        f"{SMOKE.repetitions} with --smoke)",
    )
    parser.add_argument(
        "--service-core",
        default=str(CLIENT_CORE),
        help="core of the service-side processes: the latency benchmark's relay and consumer, "
        "the eligibility benchmark's responders (and the auth benchmark's of both), the "
        "notifications benchmark's relay, "
        "notifications process and bare POST loop (default 1, with the producer or load "
        "generator; the servers are on 0), or 'none' for the scheduler to choose",
    )
    args = parser.parse_args()
    unknown = set(args.which) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    plan = SMOKE if args.smoke else FULL
    if args.repetitions is not None:
        plan = dataclasses.replace(plan, repetitions=args.repetitions)
    core = None if args.service_core == "none" else int(args.service_core)
    which = list(args.which) or list(DEFAULT)
    try:
        uvloop.run(main(which, plan, core, write=not args.smoke))
    except Failed as failure:
        print(failure, file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    cli()
