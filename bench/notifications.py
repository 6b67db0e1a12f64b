"""6. The notifications service: webhook deliveries, end to end and at their peak.

Ten webhook subscriptions of one buyer ("dfe"), made through the service's use case
(procure_notifications.usecases.subscriptions.create), each for ``contracts.contract.amended``
of one provider (``conditions.providerId``); the events are amendments of 1,000 contracts
(the aggregates), contract c's provider being provider c mod 10, so each event matches exactly
one subscription. The subscriptions post to one local receiver (bench.notifications_bare's:
uvicorn, a raw ASGI app that notes when each request's body has arrived and answers 200), a
path per subscription.

``latency`` (the issue's first target, p99 under 100 ms): the event's life as the contracts
service gives it one. This process (the producer) commits one event per transaction through
procure_shared.messaging.outbox.add in a producer database, paced at the plan's
``notifications_rate_per_s`` (200/s; open loop) for ``notifications_warmup_seconds`` (2 s) of
warm-up, not counted, then ``notifications_seconds`` (10 s), noting time.time_ns() after
each commit; a relay process (bench.worker relay: the project's Relay, woken by NOTIFY)
publishes them to the CONTRACTS stream; the notifications process (``python -m
bench.notifications notifications``: what ``procure_notifications serve --role consumers``
runs, the fan-out consumers of every stream, the dead-letter recorder and the delivery worker
of procure_notifications.app.delivery_worker, on a Runtime with the SystemClock, the default
pool and the default NotificationsOptions but allow_loopback, logging as the service does)
records each event's delivery, is woken by NOTIFY, leases it and POSTs it, signed, to the
receiver. Latency is the receiver's time minus the commit's, per event. The relay notes when it
hands an event to JetStream and the fan-out handler when it starts on one (a dict write each),
which splits the latency in three.

Its baseline is the last hop alone: a bare httpx.AsyncClient POSTing the same bodies and
headers (signed beforehand) to the same receiver at the same rate, open loop, with the same
warm-up (bench.notifications_bare post --rate); latency is the receiver's time minus the time
before the request. The target is on the project's figure (< 100 ms); the ratio only says how
much of it the HTTP hop is.

``throughput`` (the second target, >= 0.5x): the plan's ``notifications_drain`` (5,000)
deliveries pending (as many events
published to the CONTRACTS stream and fanned out by the service's consumers, the worker held
back), then the delivery worker started and timed, inside the notifications process, until it
has settled them all (``attempts``, counted after each attempt's transaction); 5 deliveries per
contract, so at most 1,000 can be claimed at once (one per subscription and aggregate, in
sequence order) and the worker's ``delivery_concurrency`` (64) is the limit. What it does per
delivery: lease (one UPDATE ... FROM a SELECT ... FOR UPDATE SKIP LOCKED, for as many as are
free slots), resolve the URL's host and check the addresses (SSRF), sign (HMAC-SHA256), POST
with httpx, then in one transaction INSERT the attempt and UPDATE the delivery. Its baseline
(bench.notifications_bare post --concurrency) POSTs the same bytes with ``delivery_concurrency``
coroutines, each awaiting its answer before taking the next, on one httpx.AsyncClient with its
default limits (the service's sender keeps up to 64 connections alive, the default 20): no
database, no signing, no address checks. Each side times from its first request to its last
outcome, with fresh connections, in its own process.

Placement: PostgreSQL and nats-server on core 0 with the receiver (so the receiver is on the
same core, and not on the sender's, for both sides); the notifications process, the relay and
the bare POST process on ``--service-core`` (default 1, with this process, the producer).
Each run has fresh databases, streams and receiver; the sides alternate which goes first.
The relay connects as the contracts service (it publishes the contracts' amendments), the
notifications process as the notifications service; the harness (the streams, the preload) as
the bench identity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import uvloop
from procure_tools.devstack import free_port

from bench import cpu
from bench.harness import (
    ROOT,
    SECRETS_KEY,
    SERVER_CORE,
    Figure,
    InOrder,
    Latency,
    Run,
    Servers,
    by_process,
    count_until,
    cpu_per,
    guarded,
    on_core,
    open_loop,
    percentile,
    quiet,
    summary,
)
from bench.notifications_bare import Item
from bench.plan import Plan
from procure_notifications.app import MIGRATIONS, delivery_worker
from procure_notifications.domain.deliveries import Secrets
from procure_notifications.domain.filters import Conditions, Filter
from procure_notifications.domain.signing import new_secret
from procure_notifications.domain.subscriptions import Webhook
from procure_notifications.events.fanout import fanout_consumers
from procure_notifications.settings import NotificationsOptions
from procure_notifications.usecases import subscriptions
from procure_notifications.usecases.fanout import delivery_id
from procure_notifications.usecases.sending import webhook_headers
from procure_shared.clock import SystemClock
from procure_shared.db.audit import Actor
from procure_shared.db.migrations import migrate
from procure_shared.db.postgres import Connection, connect_dedicated, create_pool
from procure_shared.events import STREAMS, Envelope
from procure_shared.events.contracts import ContractData, Money
from procure_shared.events.envelope import encode_envelope
from procure_shared.events.registry import CONTRACT_AMENDED
from procure_shared.logs import configure_logging
from procure_shared.messaging import outbox
from procure_shared.messaging.consumer import Consumer, Handler
from procure_shared.messaging.deadletters import DeadLetterRecorder
from procure_shared.messaging.nats import NatsState, connect_nats, ensure_streams
from procure_shared.service import Runtime, nats_access
from procure_shared.settings import Settings

SUBSCRIPTIONS = 10
CONTRACTS = 1_000
BUYER = "dfe"
EVENT_TYPE = CONTRACT_AMENDED.type
# The service's defaults, but webhooks to this machine (as `make up` and the tests run it).
OPTIONS = NotificationsOptions(allow_loopback=True, secrets_key=SECRETS_KEY)
LATENCY_MAX_MS = 100.0
THROUGHPUT_RATIO = 0.5
SERVICE, BARE = "service", "bare"
# What the service's sender adds to the Standard Webhooks headers (WebhookSender._post).
SENDER_HEADERS = {"content-type": "application/json", "user-agent": "procure-webhooks/1"}

_NS = uuid.UUID("0b7e3f6a-9d1c-4c55-8a4e-5b2f1d9c7e10")
PROVIDERS = [str(uuid.uuid5(_NS, f"provider-{k}")) for k in range(SUBSCRIPTIONS)]
CONTRACT_IDS = [str(uuid.uuid5(_NS, f"contract-{c}")) for c in range(CONTRACTS)]


def amendment(i: int, at: datetime) -> Envelope:
    """Event ``i``: an amendment of contract i mod 1,000 (its i // 1,000 + 1st), whose provider
    is one of the ten subscriptions'; the data is ContractData as the contracts service fills
    it for a value change."""
    c = i % CONTRACTS
    sequence = i // CONTRACTS + 1
    contract = CONTRACT_IDS[c]
    data = ContractData(
        contract_id=contract,
        award_ids=[str(uuid.uuid5(_NS, f"award-{c}"))],
        provider_ids=[PROVIDERS[c % SUBSCRIPTIONS]],
        title=f"National Tutoring Programme: tuition partner {c} (North West)",
        status="active",
        value=Money(amount=f"{250_000 + 5_000 * sequence}.00"),
        original_value=Money(amount="250000.00"),
        lot_ids=[str(uuid.uuid5(_NS, f"lot-{c}"))],
        amendment_id=str(uuid.uuid4()),
        changed=["value"],
    )
    return Envelope.new(
        service="contracts",
        type=EVENT_TYPE,
        subject=contract,
        time=at,
        sequence=sequence,
        data=data,
        buyer_id=BUYER,
    )


def subscription_of(i: int) -> int:
    return (i % CONTRACTS) % SUBSCRIPTIONS


def hook_url(port: int, k: int) -> str:
    return f"http://127.0.0.1:{port}/hooks/{k}"


@dataclass(frozen=True)
class Made:
    id: str
    secret: str


async def subscribe(dsn: str, port: int) -> list[Made]:
    """The ten subscriptions, through the service's use case (URL checks, secret, audit)."""
    viewer = subscriptions.Viewer(
        actor=Actor(id="bench", roles=("viewer",), buyer_id=BUYER),
        sub="bench",
        buyer_id=BUYER,
        admin=False,
    )
    conn = await connect_dedicated(dsn)
    made: list[Made] = []
    try:
        async with conn.transaction():
            for k in range(SUBSCRIPTIONS):
                draft = subscriptions.Draft(
                    name=f"Amendments of provider {k}'s contracts",
                    channel=Webhook(url=hook_url(port, k)),
                    filter=Filter(
                        event_types=[EVENT_TYPE], conditions=Conditions(provider_id=PROVIDERS[k])
                    ),
                )
                s, secret = await subscriptions.create(
                    conn,
                    draft,
                    viewer=viewer,
                    now=SystemClock().now(),
                    allow_loopback=True,
                    cap=OPTIONS.subscriptions_per_owner,
                    box=OPTIONS.secret_box(),
                )
                assert secret is not None
                made.append(Made(s.id, secret))
    finally:
        await conn.close()
    return made


def work(events: list[Envelope], port: int, made: list[Made] | None = None) -> list[Item]:
    """What the service would send for ``events``: each one's subscription's URL, the Standard
    Webhooks headers signed with its secret (fresh ones when ``made`` is None) and the rest of
    the sender's headers, and the envelope as the body."""
    chosen = made or [Made(str(uuid.uuid4()), new_secret()) for _ in range(SUBSCRIPTIONS)]
    now = SystemClock().now()
    items = []
    for i, e in enumerate(events):
        s = chosen[subscription_of(i)]
        body = encode_envelope(e)
        headers = webhook_headers(
            str(delivery_id(s.id, e.id)),
            Secrets(s.secret, None, None),
            now=now,
            timestamp=int(now.timestamp()),
            body=body,
        )
        items.append(Item(hook_url(port, subscription_of(i)), headers | SENDER_HEADERS, body, e.id))
    return items


# --- processes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    service: int | None  # the notifications process, the relay, the bare POST loop
    receiver: int | None


async def spawn(
    module: str, role: str, args: list[str], core: int | None, log_file: Path
) -> asyncio.subprocess.Process:
    """``python -m module role *args`` on ``core``, once it has printed ``ready``."""
    with log_file.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            role,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            preexec_fn=on_core(core),
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    except TimeoutError:
        line = b"(nothing in 30 s)"
    if line.strip() != b"ready":
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise RuntimeError(f"{module} {role} did not start: {line!r}; see {log_file}")
    return proc


async def start(proc: asyncio.subprocess.Process) -> None:
    """Tell a held process to start."""
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()


async def outcome(proc: asyncio.subprocess.Process, within: float = 120) -> dict[str, Any]:
    """The JSON line a started process prints when it is done."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=within)
    if not line.strip():
        raise RuntimeError("the process ended without its figures")
    result: dict[str, Any] = msgspec.json.decode(line)
    return result


async def finish(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """SIGTERM (unless it has ended), then the last line it prints: its counts."""
    assert proc.stdout is not None
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    out = await asyncio.wait_for(proc.stdout.read(), timeout=20)
    await proc.wait()
    lines = out.decode().strip().splitlines()
    stats: dict[str, Any] = msgspec.json.decode(lines[-1]) if lines else {}
    return stats


async def _kill(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()


async def receiver(
    placement: Placement, log_file: Path, out: Path
) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    proc = await spawn(
        "bench.notifications_bare",
        "receiver",
        ["--port", str(port), "--out", str(out)],
        placement.receiver,
        log_file,
    )
    return proc, port


async def notifications_database(servers: Servers) -> str:
    dsn = servers.postgres.dsn(f"bench_n_{uuid.uuid4().hex[:8]}")
    await migrate(dsn, MIGRATIONS)
    return dsn


async def fresh_streams(servers: Servers) -> None:
    """The services' streams, created afresh, alone on the server (the notifications service's
    dead-letter recorder creates its own)."""
    nc = await servers.connect()
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name is not None:
                await js.delete_stream(info.config.name)
        await ensure_streams(js, 1, STREAMS)
    finally:
        await nc.close()


async def count(dsn: str, where: str = "") -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM deliveries {where}"))
    finally:
        await conn.close()


async def wait_for_deliveries(dsn: str, total: int, where: str, stall: float) -> int:
    """Until ``total`` deliveries (``where``) are in the table, or none more has come for
    ``stall`` s; how many."""
    return await count_until(dsn, f"SELECT count(*) FROM deliveries {where}", total, stall)


def _stamps(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    return msgspec.json.decode(path.read_bytes(), type=dict[str, int])


# --- latency ----------------------------------------------------------------------------------


def _warm_and_total(plan: Plan) -> tuple[int, int]:
    """How many events the latency run's warm-up sends, and how many in all."""
    rate = plan.notifications_rate_per_s
    warm = round(rate * plan.notifications_warmup_seconds)
    return warm, warm + round(rate * plan.notifications_seconds)


async def service_latency(
    servers: Servers, plan: Plan, placement: Placement, log: list[str]
) -> Latency:
    tag = uuid.uuid4().hex[:8]
    folder = servers.folder
    files = {
        name: folder / f"{name}-{tag}.json" for name in ("received", "published", "fanned-out")
    }
    log_file = folder / "notifications-processes.log"
    producer_dsn = await servers.project_database()
    dsn = await notifications_database(servers)
    pool = await create_pool(producer_dsn, size=10, min_size=10)
    procs: list[asyncio.subprocess.Process] = []
    try:
        await fresh_streams(servers)
        recv, port = await receiver(placement, log_file, files["received"])
        procs.append(recv)
        await subscribe(dsn, port)
        procs.append(
            await spawn(
                "bench.notifications",
                "notifications",
                [
                    "--dsn",
                    dsn,
                    *servers.nats_args("notifications"),
                    "--out",
                    str(files["fanned-out"]),
                ],
                placement.service,
                log_file,
            )
        )
        # The contracts service's relay: the events are its amendments.
        relay_args = ["--dsn", producer_dsn, *servers.nats_args("contracts")]
        relay_args += ["--producer", "contracts"]
        procs.append(
            await spawn(
                "bench.worker",
                "relay",
                [*relay_args, "--out", str(files["published"])],
                placement.service,
                log_file,
            )
        )
        await servers.sql("CHECKPOINT")
        await quiet(plan, log, "notifications latency")
        warm, total = _warm_and_total(plan)
        clock = SystemClock()
        committed: dict[str, int] = {}  # the timed events'
        transactions_ms: list[float] = []

        in_order = InOrder()

        async def commit(i: int) -> None:
            async with in_order.turn(CONTRACT_IDS[i % CONTRACTS]):
                begun = time.perf_counter()
                e = amendment(i, clock.now())
                async with pool.acquire() as conn:
                    async with conn.transaction():
                        await outbox.add(conn, e)
                    if i >= warm:
                        committed[e.id] = time.time_ns()
                if i >= warm:
                    transactions_ms.append((time.perf_counter() - begun) * 1000)

        # Each event's transaction starts on its schedule (one contract's events are 5 s
        # apart, so they commit in order unless a busy core holds one back; then its successor
        # waits for it: InOrder). The warm-up's events are not counted.
        run = await open_loop(plan.notifications_rate_per_s, total, commit, warm=warm)
        produced, behind, meter = run.seconds, run.behind, run.meter
        delivered = await wait_for_deliveries(dsn, total, "WHERE status = 'delivered'", 30)
        load = meter.stop()
        relay_stats = await finish(procs.pop())
        service_stats = await finish(procs.pop())
        receiver_stats = await finish(procs.pop())
        received = _stamps(files["received"])
        published = _stamps(files["published"])
        fanned = _stamps(files["fanned-out"])
        latencies = [(received[k] - t) / 1e6 for k, t in committed.items() if k in received]
        if delivered != total or len(latencies) != len(committed):
            raise RuntimeError(
                f"notifications latency service: {delivered} of {total} deliveries delivered "
                f"(none more for 30 s), {len(latencies)} of the {len(committed)} "
                "timed events at the receiver"
            )
        return Latency(
            percentile(latencies, 50),
            percentile(latencies, 99),
            max(latencies),
            load,
            {
                "events": total - warm,
                "warmup_events": warm,
                "received": len(latencies),
                "delivered_rows": delivered,
                "receiver": receiver_stats,
                "producer_seconds": round(produced, 3),
                "producer_max_behind_ms": round(behind * 1000, 2),
                "producer_transaction_ms": summary(transactions_ms),
                "relay_published": relay_stats.get("published"),
                "relay_batches": relay_stats.get("batches"),
                "service": service_stats,
                "share_over_50ms": sum(v > 50 for v in latencies) / len(latencies),
                "commit_to_relay_publish_ms": summary(
                    [(published[k] - t) / 1e6 for k, t in committed.items() if k in published]
                ),
                "relay_publish_to_fanout_ms": summary(
                    [(fanned[k] - t) / 1e6 for k, t in published.items() if k in fanned]
                ),
                "fanout_to_receiver_ms": summary(
                    [(received[k] - t) / 1e6 for k, t in fanned.items() if k in received]
                ),
            },
        )
    finally:
        await _kill(procs)
        await pool.close()
        for f in files.values():
            f.unlink(missing_ok=True)
        await servers.drop_database(dsn)
        await servers.drop_database(producer_dsn)


async def bare_latency(
    servers: Servers, plan: Plan, placement: Placement, log: list[str]
) -> Latency:
    tag = uuid.uuid4().hex[:8]
    folder = servers.folder
    received_file, sent_file, work_file = (
        folder / f"{name}-{tag}.json" for name in ("received", "sent", "work")
    )
    log_file = folder / "notifications-processes.log"
    procs: list[asyncio.subprocess.Process] = []
    try:
        recv, port = await receiver(placement, log_file, received_file)
        procs.append(recv)
        clock = SystemClock()
        warm, total = _warm_and_total(plan)
        rate = plan.notifications_rate_per_s
        events = [amendment(i, clock.now()) for i in range(total)]
        timed = {e.id for e in events[warm:]}
        work_file.write_bytes(msgspec.json.encode(work(events, port)))
        procs.append(
            await spawn(
                "bench.notifications_bare",
                "post",
                ["--work", str(work_file), "--rate", str(rate), "--out", str(sent_file)],
                placement.service,
                log_file,
            )
        )
        await quiet(plan, log, "notifications latency baseline")
        await start(procs[-1])
        await asyncio.sleep(plan.notifications_warmup_seconds)
        meter = cpu.Meter()
        result = await outcome(procs[-1], within=plan.notifications_seconds + 60)
        load = meter.stop()
        await finish(procs.pop())
        receiver_stats = await finish(procs.pop())
        sent, received = _stamps(sent_file), _stamps(received_file)
        latencies = [
            (received[k] - t) / 1e6 for k, t in sent.items() if k in received and k in timed
        ]
        if result["statuses"] != {"200": total} or len(latencies) != len(timed):
            raise RuntimeError(
                f"notifications latency bare: {result}; {len(latencies)} of the {len(timed)} "
                "timed requests at the receiver"
            )
        return Latency(
            percentile(latencies, 50),
            percentile(latencies, 99),
            max(latencies),
            load,
            {
                "events": len(timed),
                "warmup_events": warm,
                "received": len(latencies),
                "receiver": receiver_stats,
                **result,
            },
        )
    finally:
        await _kill(procs)
        for f in (received_file, sent_file, work_file):
            f.unlink(missing_ok=True)


# --- throughput -------------------------------------------------------------------------------


async def preload(servers: Servers, events: list[Envelope]) -> None:
    """The events on the CONTRACTS stream, as the relay publishes them (Nats-Msg-Id)."""
    nc = await servers.connect()
    try:
        js = nc.jetstream()
        acks = [
            await js.publish_async(e.type, encode_envelope(e), headers={"Nats-Msg-Id": e.id})
            for e in events
        ]
        await asyncio.gather(*acks)
    finally:
        await nc.close()


async def service_throughput(
    servers: Servers, plan: Plan, placement: Placement, log: list[str]
) -> Run:
    drain = plan.notifications_drain
    tag = uuid.uuid4().hex[:8]
    received_file = servers.folder / f"received-{tag}.json"
    log_file = servers.folder / "notifications-processes.log"
    dsn = await notifications_database(servers)
    procs: list[asyncio.subprocess.Process] = []
    try:
        await fresh_streams(servers)
        recv, port = await receiver(placement, log_file, received_file)
        procs.append(recv)
        await subscribe(dsn, port)
        procs.append(
            await spawn(
                "bench.notifications",
                "notifications",
                [
                    "--dsn",
                    dsn,
                    *servers.nats_args("notifications"),
                    "--hold",
                    "--expect",
                    str(drain),
                ],
                placement.service,
                log_file,
            )
        )
        clock = SystemClock()
        began = time.monotonic()
        await preload(servers, [amendment(i, clock.now()) for i in range(drain)])
        pending = await wait_for_deliveries(dsn, drain, "WHERE status = 'pending'", 60)
        if pending != drain:
            raise RuntimeError(
                f"the fan-out recorded {pending} of {drain} deliveries (none more for 60 s)"
            )
        fanned_out = time.monotonic() - began
        await servers.settle(dsn, "deliveries")
        await quiet(plan, log, "notifications throughput")
        meter = cpu.Meter()
        await start(procs[-1])
        result = await outcome(procs[-1])
        load = meter.stop()
        delivered = await count(dsn, "WHERE status = 'delivered'")
        service_stats = await finish(procs.pop())
        receiver_stats = await finish(procs.pop())
        if delivered != drain or receiver_stats.get("distinct") != drain:
            raise RuntimeError(
                f"notifications throughput service: {delivered} of {drain} delivered; the "
                f"receiver had {receiver_stats}"
            )
        return Run(
            drain / result["seconds"],
            load,
            {
                "deliveries": drain,
                "seconds_timed": result["seconds"],
                "attempts": result["attempts"],
                "preload_and_fanout_seconds": round(fanned_out, 2),
                "receiver": receiver_stats,
                "service": service_stats,
                "concurrency": OPTIONS.delivery_concurrency,
            },
        )
    finally:
        await _kill(procs)
        received_file.unlink(missing_ok=True)
        await servers.drop_database(dsn)


async def bare_throughput(
    servers: Servers, plan: Plan, placement: Placement, log: list[str]
) -> Run:
    drain = plan.notifications_drain
    tag = uuid.uuid4().hex[:8]
    received_file = servers.folder / f"received-{tag}.json"
    work_file = servers.folder / f"work-{tag}.json"
    log_file = servers.folder / "notifications-processes.log"
    procs: list[asyncio.subprocess.Process] = []
    try:
        recv, port = await receiver(placement, log_file, received_file)
        procs.append(recv)
        clock = SystemClock()
        work_file.write_bytes(
            msgspec.json.encode(work([amendment(i, clock.now()) for i in range(drain)], port))
        )
        concurrency = str(OPTIONS.delivery_concurrency)
        procs.append(
            await spawn(
                "bench.notifications_bare",
                "post",
                ["--work", str(work_file), "--concurrency", concurrency],
                placement.service,
                log_file,
            )
        )
        await quiet(plan, log, "notifications throughput baseline")
        meter = cpu.Meter()
        await start(procs[-1])
        result = await outcome(procs[-1])
        load = meter.stop()
        await finish(procs.pop())
        receiver_stats = await finish(procs.pop())
        if result["statuses"] != {"200": drain} or receiver_stats.get("distinct") != drain:
            raise RuntimeError(
                f"notifications throughput bare: {result}; the receiver had {receiver_stats}"
            )
        return Run(
            drain / result["seconds"],
            load,
            {
                "deliveries": drain,
                "seconds_timed": result["seconds"],
                "receiver": receiver_stats,
                "concurrency": OPTIONS.delivery_concurrency,
            },
        )
    finally:
        await _kill(procs)
        received_file.unlink(missing_ok=True)
        work_file.unlink(missing_ok=True)


# --- the measurement --------------------------------------------------------------------------


def _latency_figures(plan: Plan) -> tuple[Figure, Figure, Figure]:
    title = (
        f"notifications: end-to-end latency at {plan.notifications_rate_per_s} events/s for "
        f"{plan.notifications_seconds:g} s "
        f"({SUBSCRIPTIONS} webhook subscriptions, one match each), commit to receiver"
    )
    note = (
        "baseline: a bare httpx POST of the same signed bodies to the same receiver at the "
        "same rate (the last hop alone)"
    )
    return (
        Figure("notifications_latency_p50", f"{title}, p50", "ms", note=note),
        Figure(
            "notifications_latency_p99",
            f"{title}, p99",
            "ms",
            target=f"< {LATENCY_MAX_MS:.0f} ms",
            max_value=LATENCY_MAX_MS,
            note=note,
        ),
        Figure("notifications_latency_max", f"{title}, max", "ms", note=note),
    )


async def measure(
    servers: Servers, plan: Plan, log: list[str], service_core: int | None
) -> list[Figure]:
    placement = Placement(service=service_core, receiver=SERVER_CORE if servers.pinned else None)
    log.append(
        f"notifications: PostgreSQL, nats-server and the webhook receiver on core "
        f"{placement.receiver if placement.receiver is not None else 'any'}; the notifications "
        f"process (fan-out consumers, dead-letter recorder, delivery worker), the producer's "
        f"relay and the bare POST loop on core "
        f"{placement.service if placement.service is not None else 'any'}; the latency "
        f"producer in the bench process; {SUBSCRIPTIONS} subscriptions, {CONTRACTS:,} "
        f"contracts; latency: {plan.notifications_warmup_seconds:g} s of warm-up at "
        f"{plan.notifications_rate_per_s}/s not counted, then {plan.notifications_seconds:g} s; "
        f"delivery_concurrency {OPTIONS.delivery_concurrency}, delivery_poll "
        f"{OPTIONS.delivery_poll:g} s, webhook_timeout {OPTIONS.webhook_timeout:g} s"
    )
    p50, p99, worst = _latency_figures(plan)
    throughput = Figure(
        "notifications_throughput",
        f"notifications: peak delivery throughput, {plan.notifications_drain:,} pending "
        "deliveries drained, "
        f"concurrency {OPTIONS.delivery_concurrency}",
        "deliveries/s",
        target=f">= {THROUGHPUT_RATIO}x",
        min_ratio=THROUGHPUT_RATIO,
        note="baseline: a bare httpx.AsyncClient POST loop of the same requests to the same "
        f"receiver, {OPTIONS.delivery_concurrency} at a time",
    )
    for rep in range(plan.repetitions):
        sides = [SERVICE, BARE] if rep % 2 == 0 else [BARE, SERVICE]
        for side in sides:
            latency_run = service_latency if side == SERVICE else bare_latency
            label = f"notifications latency {side}"
            r = await guarded(plan, label, log, partial(latency_run, servers, plan, placement, log))
            for figure, value in ((p50, r.p50), (p99, r.p99), (worst, r.max)):
                kept = Run(value, r.load, r.extra if figure is p99 else {})
                (figure.project if side == SERVICE else figure.baseline).append(kept)
            breakdown = ""
            if side == SERVICE:
                breakdown = (
                    f"; commit to relay publish {r.extra['commit_to_relay_publish_ms']}, "
                    f"publish to fan-out {r.extra['relay_publish_to_fanout_ms']}, fan-out to "
                    f"receiver {r.extra['fanout_to_receiver_ms']}"
                )
            print(
                f"  {label} #{rep + 1}: p50 {r.p50:.2f} ms, p99 {r.p99:.2f} ms, max "
                f"{r.max:.2f} ms ({r.extra['received']} of {r.extra['events']}); cores "
                f"{r.load.busy_pct[0]:.0f}% / {r.load.busy_pct[1]:.0f}%; "
                f"{by_process(r.load)}{breakdown}",
                flush=True,
            )
        for side in sides:
            drain_run = service_throughput if side == SERVICE else bare_throughput
            label = f"notifications throughput {side}"
            t = await guarded(plan, label, log, partial(drain_run, servers, plan, placement, log))
            (throughput.project if side == SERVICE else throughput.baseline).append(t)
            print(
                f"  {label} #{rep + 1}: {t.value:,.0f} deliveries/s "
                f"({t.extra['seconds_timed']:.2f} s); cores {t.load.busy_pct[0]:.0f}% / "
                f"{t.load.busy_pct[1]:.0f}%; {by_process(t.load)}",
                flush=True,
            )
    for side, runs in ((SERVICE, throughput.project), (BARE, throughput.baseline)):
        log.append(
            f"notifications throughput {side}: CPU per delivery (ms of a core, median of the "
            f"runs): {cpu_per(runs, 'deliveries')}"
        )
    return [p50, p99, worst, throughput]


# --- the notifications process ----------------------------------------------------------------


def _stamping(handler: Handler, stamps: dict[str, int]) -> Handler:
    async def stamped(conn: Connection, envelope: Envelope) -> None:
        stamps.setdefault(envelope.id, time.time_ns())
        await handler(conn, envelope)

    return stamped


async def _notifications(args: argparse.Namespace) -> None:
    """What ``serve --role consumers`` runs for the notifications service; with --hold the
    delivery worker starts on ``go`` and, with --expect N, the process prints how long it took
    to settle N attempts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    settings = Settings(
        service="notifications",
        database_url=args.dsn,
        nats_url=args.nats,
        nats_credentials=args.seed,
    )
    configure_logging(settings.service, settings.log_level)
    pool = await create_pool(settings.database_url, size=settings.pool_size)
    state = NatsState(name="bench-notifications")
    nc = await connect_nats(settings.nats_url, state, nats_access(args.identity, settings))
    js = nc.jetstream()
    runtime = Runtime(
        settings=settings, clock=SystemClock(), pool=pool, nats=nc, js=js, nats_state=state
    )
    stamps: dict[str, int] = {}
    specs = fanout_consumers()
    if args.out:  # the fan-out handler notes when it starts on each event
        stamped = []
        for s in specs:
            assert s.fallback is not None
            stamped.append(dataclasses.replace(s, fallback=_stamping(s.fallback, stamps)))
        specs = stamped
    runtime.consumers = [Consumer(spec, pool=pool, js=js) for spec in specs]
    recorder = DeadLetterRecorder(
        service=settings.service,
        consumers=[(s.stream, s.name) for s in specs],
        pool=pool,
        js=js,
    )
    worker = delivery_worker(runtime, OPTIONS)
    tasks = [asyncio.create_task(c.run(stop)) for c in runtime.consumers]
    tasks.append(asyncio.create_task(recorder.run(stop)))
    while not all(c.stats.fetching for c in runtime.consumers):
        for task in tasks:
            if task.done():
                await task
                raise RuntimeError("a consumer stopped before it fetched")
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    if args.hold:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit(f"expected 'go', read {line!r}")
    began = time.perf_counter()
    working = asyncio.create_task(worker.run(stop))
    tasks.append(working)
    if args.expect:
        while worker.attempts < args.expect and not working.done():
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - began
        print(msgspec.json.encode({"seconds": seconds, "attempts": worker.attempts}).decode())
        sys.stdout.flush()
    await stop.wait()
    await asyncio.wait(tasks, timeout=20)
    state.closing = True
    await nc.close()
    await pool.close()
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, msgspec.json.encode(stamps))
    consumers = [c.stats for c in runtime.consumers]
    stats = {
        "applied": sum(c.applied for c in consumers),
        "duplicates": sum(c.duplicates for c in consumers),
        "gaps": sum(c.gaps for c in consumers),
        "errors": sum(c.errors for c in consumers),
        "attempts": worker.attempts,
    }
    print(msgspec.json.encode(stats).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications")
    parser.add_argument("role", choices=["notifications"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--seed")
    parser.add_argument("--out", default="")
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--expect", type=int, default=0)
    args = parser.parse_args()
    uvloop.run(_notifications(args))


if __name__ == "__main__":
    main()
