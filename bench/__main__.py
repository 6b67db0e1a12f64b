"""`make bench`: each project figure beside its bare baseline, measured in the same run against
the same servers; writes bench/results/latest.json and latest.md and prints the table (a run of
only some measurements writes latest-<names>.json/.md, leaving the complete results alone).

    python -m bench [relay] [consumer] [reset] [latency] [eligibility] [contracts]
        [contracts-scale] [notifications] [monitor] [ops] [ocds-import] [replicas] [instances]
        [--repetitions N]
        [--service-core C]

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
side's cores and processes did (nothing pinned in it).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import uvloop

from bench import (
    bare,
    consumer,
    contracts,
    eligibility,
    instances,
    latency,
    monitor,
    notifications,
    ocds_import,
    ops,
    relay,
    replicas,
    report,
)
from bench.harness import CLIENT_CORE, Figure, servers

MEASUREMENTS = (
    "relay",
    "consumer",
    "reset",
    "latency",
    "eligibility",
    "contracts",
    "contracts-scale",
    "notifications",
    "monitor",
    "ops",
    "ocds-import",
    "replicas",
    "instances",
)
DEFAULT = MEASUREMENTS


async def main(which: list[str], repetitions: int, service_core: int | None) -> None:
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
            if name == "relay":
                figures += await relay.measure(stack, repetitions, notes)
            elif name == "consumer":
                figures += await consumer.measure(stack, repetitions, notes)
            elif name == "reset":
                figures += await consumer.measure_pool_reset(stack, repetitions, notes)
            elif name == "latency":
                figures += await latency.measure(stack, repetitions, notes, service_core)
            elif name == "eligibility":
                figures += await eligibility.measure(stack, repetitions, notes, service_core)
            elif name == "contracts":
                figures += await contracts.measure(stack, repetitions, notes)
            elif name == "contracts-scale":
                figures += await contracts.measure_scale(stack, repetitions, notes)
            elif name == "notifications":
                figures += await notifications.measure(stack, repetitions, notes, service_core)
            elif name == "monitor":
                figures += await monitor.measure(stack, repetitions, notes)
            elif name == "ops":
                figures += await ops.measure(stack, repetitions, notes)
            elif name == "ocds-import":
                figures += await ocds_import.measure(stack, repetitions, notes)
            elif name == "replicas":
                figures += await replicas.measure(stack, repetitions, notes)
            elif name == "instances":
                figures += await instances.measure(stack, repetitions, notes)
    settings = {
        "measurements": which,
        "relay_rows": relay.ROWS,
        "relay_batch": relay.BATCH,
        "consumer_messages": consumer.MESSAGES,
        "consumer_batch": consumer.BATCH,
        "consumer_concurrency": consumer.CONCURRENCY,
        "aggregates": bare.AGGREGATES,
        "latency_rate_per_s": latency.RATE,
        "latency_seconds": latency.SECONDS,
        "latency_service_core": service_core,
        "eligibility_providers": eligibility.PROVIDERS,
        "eligibility_questions": eligibility.QUESTIONS,
        "eligibility_in_flight": list(eligibility.IN_FLIGHT),
        "eligibility_seconds": eligibility.SECONDS,
        "eligibility_warmup_seconds": eligibility.WARMUP_SECONDS,
        "eligibility_service_core": service_core,
        "contracts": contracts.CONTRACTS,
        "contracts_scale": contracts.SCALE,
        "contracts_connections": contracts.CONNECTIONS,
        "contracts_seconds": contracts.SECONDS,
        "contracts_warmup_seconds": contracts.WARMUP_SECONDS,
        "notifications_rate_per_s": notifications.RATE,
        "notifications_seconds": notifications.SECONDS,
        "notifications_warmup_seconds": notifications.WARMUP_SECONDS,
        "notifications_subscriptions": notifications.SUBSCRIPTIONS,
        "notifications_contracts": notifications.CONTRACTS,
        "notifications_drain": notifications.DRAIN,
        "notifications_options": {
            k: getattr(notifications.OPTIONS, k)
            for k in ("allow_loopback", "delivery_concurrency", "delivery_poll", "webhook_timeout")
        },
        "notifications_service_core": service_core,
        "monitor_contracts": monitor.CONTRACTS,
        "monitor_milestones": monitor.MILESTONES,
        "monitor_due": monitor.DUE,
        "monitor_lead_days": monitor.LEAD_DAYS,
        "ops_contracts": ops.CONTRACTS,
        "ops_milestones_each": ops.MILESTONES_EACH,
        "ops_kpis_each": ops.KPIS_EACH,
        "ops_seconds": ops.SECONDS,
        "ops_warmup_seconds": ops.WARMUP_SECONDS,
        "ocds_import_sizes": list(ocds_import.SIZES),
        "ocds_import_cli_batch": "500 releases or 8 MiB a request, 4 in flight (the defaults)",
        "instances": instances.INSTANCES,
        "instances_write_connections": instances.CONNECTIONS,
        "instances_write_seconds": instances.SECONDS,
        "instances_delivery_events": instances.EVENTS,
        "jetstream": "file storage, R1, sync_interval: always, duplicate window 2 h",
        "postgres": "initdb defaults, fsync on, synchronous_commit on, max_connections 200",
    }
    text = report.write(
        figures,
        started=started,
        seconds=time.monotonic() - clock,
        repetitions=repetitions,
        notes=notes,
        settings=settings,
        postgres_version=postgres_version,
        stem="latest" if sorted(which) == sorted(DEFAULT) else "-".join(["latest", *which]),
    )
    print()
    print(text, end="")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("which", nargs="*", metavar="|".join(MEASUREMENTS))
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--service-core",
        default=str(CLIENT_CORE),
        help="core of the service-side processes: the latency benchmark's relay and consumer, "
        "the eligibility benchmark's responders, the notifications benchmark's relay, "
        "notifications process and bare POST loop (default 1, with the producer or load "
        "generator; the servers are on 0), or 'none' for the scheduler to choose",
    )
    args = parser.parse_args()
    unknown = set(args.which) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    core = None if args.service_core == "none" else int(args.service_core)
    uvloop.run(main(list(args.which) or list(DEFAULT), args.repetitions, core))


if __name__ == "__main__":
    cli()
