"""13. Authentication on the bus (issue 21, decision 0020): every client an nkey user with its
identity's permissions, against a server that lets anyone in, in the same run.

Two nats-servers are started for it, fresh, side by side on core 0 (the harness's is left
alone): ``on`` requires the authorization the harness wrote (procure_shared.identities: one nkey
user an identity, each with its publish and subscribe allow lists), ``off`` has the same
configuration without it (checked: ``on`` refuses a client without credentials, ``off`` asks
for none). The same measurement code runs against each: to ``on`` every client connects as its
identity (the server sends a nonce, the client signs it with its seed), to ``off`` with no
credentials; the inbox is ``_INBOX.<identity>`` on both sides. Each figure is on (the project
column) over off (the baseline column), the median of the plan's repetitions of each, the
sides alternating which goes first. What runs, as production runs it (bench.feeds.SERVICES):

- ``connect``: a connection as ``contracts`` opened and confirmed (nats-py's connect: INFO with
  the nonce, CONNECT with its signature, PING/PONG), the plan's ``auth_connects`` one after
  another: the signature's cost, which a connection pays once.
- ``relay`` (bench.relay.project_run): the contracts service's relay, connected as
  ``contracts``, drains the relay benchmark's rows of ``contracts.thing.changed`` events into
  the CONTRACTS stream: the server checks every publish against the contracts identity's allow
  list, and every JetStream ack comes back to its inbox.
- ``consumer`` (bench.consumer.project_run): the providers service's track record consumer
  (``providers``, its durable ``providers__track_record``) reads the consumer benchmark's events
  from CONTRACTS: each fetch and each ack (``$JS.ACK.CONTRACTS.providers__track_record.…``, a
  new subject for every message) is a publish the server checks, and each delivery carries a
  reply subject the identity may answer (``allow_responses``), which the server tracks.
- ``latency`` (bench.latency.run_once): commit to handler at the latency benchmark's rate for
  the plan's ``auth_latency_seconds`` (30 s, three times the latency benchmark's 10 s: in 10 s
  one stall of this machine, such as the producer falling 40 ms behind its schedule, decides a
  run's p99 on either side), the relay and the consumer as above, each in its own process.
- ``eligibility`` (bench.eligibility.run_once): the providers service's responder (as
  ``providers``) answering the contracts service's questions (the load generator, as
  ``contracts``), one in flight and 16 (the plan's ``auth_eligibility_in_flight``): each
  question a publish checked against the contracts identity, each answer one checked against
  the providers' allowed responses.

The target is the issue's: at least 0.95x of the throughput (at most 1/0.95 = 1.05x of the
latency). The notes give each side's figures with their spread (max-min over the median), the
on/off ratio repetition by repetition, and the CPU each kind of process spent per unit of work
(ms of a core), on and off: where authentication costs, that is where it shows (nats-server for
the permission checks; the client for the signature).

Measured on 2026-12-05 13:00 UTC (three repetitions; foreign load at most 1% of a core in every
timed run but the connects', up to 55%, and one relay run's, 9%):
- A connection: 0.79 ms p50 against 0.43 (1.84x; 1.65-1.84x in the seven full runs that day):
  the client spent 0.2-0.3 ms more of its CPU (reading the seed, signing the nonce) and the
  server 0.1-0.2 ms (checking the signature, setting up the identity's permissions), once a
  connection.
- Relay 2,422 events/s against 2,519 (0.96x; spread 1.7% / 4.8%; by repetition 0.96-0.99);
  consumer 2,816 msgs/s against 2,886 (0.98x; 0.97-0.99); eligibility one in flight 1,615
  req/s against 1,628 (0.99x), 16 in flight 10,769 against 10,897 (0.99x). All met. What
  authentication adds per message is nats-server's permission work: +0.0045 ms of a core per
  relayed event (+4%), +0.005 per consumed event (+12%: each ack a new subject to check, each
  delivery's reply subject remembered for ``allow_responses``), +0.002 to +0.006 per
  eligibility round trip (+4% to +14%), on a core never saturated (at most 75% busy); the
  clients' CPU per message stayed within 1%.
- Latency, p99 at 500/s for 30 s: 18.21 ms against 16.96 (1.07x, borderline; the baseline's
  own runs 13.8-35.8 ms, the repetitions' ratios 0.48, 1.14, 1.32); p50 5.48 ms against 5.67
  (0.97x); nats-server's CPU per event 0.313 ms on both sides, the relay's and the
  consumer's no higher. Seven more alternated pairs of 20-30 s runs that afternoon (quiet)
  put the p99 anywhere from 0.67x to 1.9x, and the p50 4-16% higher with authentication in
  all seven (0.3-0.8 ms), the same nkeys without ``allow_responses`` in between (p50 5.13 ms
  against 5.52 with the real permissions and 4.88 without authentication, three runs each).
  So a few tenths of a millisecond of the commit-to-handler latency may be authentication's,
  paid in waiting rather than in CPU (none of the processes on the path spends more); where
  inside nats-server is not known (it was not profiled), and the p99 of three runs does not
  resolve it. An earlier full run gave 1.21x: in five of six authenticated runs the
  producer, this process, stopped 15-20 ms for a full garbage collection and then started the
  events it owed at once; bench.latency now freezes its objects out of the collections while
  it produces.
- Where the permissions, not the keys, cost: with 16 in flight the eligibility p99 was 1.79 ms
  with the real permissions against 1.53 with the same nkeys allowed everything (and no
  ``allow_responses``) and 1.55 without authentication, throughput unchanged (14,356 /
  14,555 / 14,392 req/s, six alternated runs of each, quiet): the server remembers every
  request's reply subject for the responder and checks each answer against them (+1.3 us of
  its CPU a round trip).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import nats

from bench import consumer, cpu, eligibility, feeds, latency, relay
from bench.harness import (
    Figure,
    Latency,
    Run,
    Servers,
    guarded,
    other_nats,
    percentile,
    quiet,
)
from bench.plan import Plan

ON, OFF = "on", "off"
# Who connects in ``connect`` and asks in ``eligibility``: the service that asks in production.
ASKER = "contracts"
MIN_RATIO = 0.95
MAX_LATENCY_RATIO = round(1 / MIN_RATIO, 3)
NOTE = "baseline: the same clients and code against the same nats-server without authorization"

Sides = list[tuple[str, Servers]]
# A figure, the key of its runs' extra counting the units of work, and the unit's name (for
# the CPU per unit in the notes; no key: none).
Measured = list[tuple[Figure, str | None, str]]


def _order(rep: int, sides: Sides) -> Sides:
    """Alternate which side goes first, so that drift over the run favours neither."""
    return sides if rep % 2 == 0 else sides[::-1]


def _file(figure: Figure, side: str, run: Run) -> None:
    (figure.project if side == ON else figure.baseline).append(run)


async def _check(sides: Sides) -> None:
    """``on`` asks for credentials and refuses a client without; ``off`` asks for none."""
    for side, servers in sides:
        nc = await servers.connect(ASKER)
        required = bool(nc._server_info.get("auth_required"))
        await nc.close()
        if required != (side == ON):
            raise RuntimeError(f"auth {side}: the server says auth_required={required}")

    async def quietly(exc: Exception) -> None:
        return None

    on = dict(sides)[ON]
    try:
        anonymous = await nats.connect(
            on.nats.url,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
            error_cb=quietly,
        )
    except nats.errors.Error:
        return
    await anonymous.close()
    raise RuntimeError("auth on: the server let in a client without credentials")


# --- connect ----------------------------------------------------------------------------------


async def connect_run(servers: Servers, plan: Plan, log: list[str], side: str) -> Run:
    """The plan's connections as ``ASKER``, one after another: the time each took to be
    confirmed (closed untimed)."""
    options = servers.nats_options(ASKER)
    await quiet(plan, log, f"auth connect {side}")
    times: list[float] = []
    meter = cpu.Meter()
    for _ in range(plan.auth_connects):
        began = time.perf_counter()
        nc = await nats.connect(servers.nats.url, **options)
        times.append((time.perf_counter() - began) * 1000)
        await nc.close()
    load = meter.stop()
    return Run(
        percentile(times, 50),
        load,
        {"connects": len(times), "p99_ms": percentile(times, 99), "max_ms": max(times)},
    )


# --- the measurement --------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    middle = statistics.median(values)
    return f"{(max(values) - min(values)) / middle:.1%}" if middle else "-"


def _number(value: float, unit: str) -> str:
    return f"{value:,.3f}" if unit == "ms" else f"{value:,.0f}"


def _per_unit(runs: list[Run], count: str) -> dict[str, float]:
    """The CPU of each kind of process per unit of work, in ms of a core (median of the
    runs)."""
    shares: dict[str, list[float]] = {}
    for r in runs:
        for label, pct in r.load.ours_by_process.items():
            shares.setdefault(label, []).append(pct / 100 * r.load.seconds * 1000 / r.extra[count])
    return {label: statistics.median(v) for label, v in shares.items()}


def _costs(figure: Figure, count: str, unit: str) -> str:
    """Where the CPU per unit went on each side, and what authentication added, by process."""
    on, off = _per_unit(figure.project, count), _per_unit(figure.baseline, count)
    labels = sorted(set(on) | set(off), key=lambda k: -max(on.get(k, 0), off.get(k, 0)))
    parts = [
        f"{label} {on.get(label, 0):.4f} vs {off.get(label, 0):.4f} "
        f"({on.get(label, 0) - off.get(label, 0):+.4f})"
        for label in labels
        if max(on.get(label, 0), off.get(label, 0)) >= 0.0005
    ]
    return f"CPU per {unit}, ms of a core, on vs off (difference): " + ", ".join(parts)


def _shortfall(figure: Figure, count: str, unit: str, connect: Figure) -> str:
    """What authentication cost where a figure misses its target: the CPU it added per unit,
    in the server and in the clients, the connection's cost, and the foreign load of the
    runs (which a gap the CPU does not account for is more likely to be)."""
    on, off = _per_unit(figure.project, count), _per_unit(figure.baseline, count)
    added = {label: on.get(label, 0) - off.get(label, 0) for label in set(on) | set(off)}
    server = added.pop("nats-server", 0.0)
    database = sum(v for k, v in added.items() if k.startswith("postgres"))
    clients = sum(v for k, v in added.items() if not k.startswith("postgres"))
    per_connect = connect.median - (connect.baseline_median or 0.0)
    foreign = [max(r.load.foreign_pct for r in runs) for runs in (figure.project, figure.baseline)]
    return (
        f"auth {figure.key}: {figure.verdict} ({figure.ratio:.3f}x, target {figure.target}); "
        f"authentication added per {unit} {server:+.4f} ms of a core in nats-server (the "
        "permission checks: each publish against the identity's allow list, each reply "
        f"against the requests it was sent), {clients:+.4f} in the clients and {database:+.4f} "
        f"in PostgreSQL; a connection costs {per_connect:+.3f} ms, once (the nonce's "
        f"signature and its check); foreign load during the runs up to {foreign[0]:.0f}% (on) "
        f"and {foreign[1]:.0f}% (off) of a core"
    )


def compare(
    figure: Figure, count: str | None, unit: str, connect: Figure | None = None
) -> list[str]:
    """The notes on one figure: each side's median, min-max and spread, the ratio repetition
    by repetition, and (with ``count``, the runs' extra holding how many units each did)
    where the CPU went, and (with ``connect``, the connection's figure) what authentication
    cost if the figure misses its target."""
    on, off = figure.values, figure.baseline_values
    paired = [a / b for a, b in zip(on, off, strict=True) if b]
    line = (
        f"auth {figure.key}: on {_number(figure.median, figure.unit)} {figure.unit} "
        f"({_number(min(on), figure.unit)}-{_number(max(on), figure.unit)}, spread "
        f"{_spread(on)}), off {_number(statistics.median(off), figure.unit)} "
        f"({_number(min(off), figure.unit)}-{_number(max(off), figure.unit)}, spread "
        f"{_spread(off)}); on/off {figure.ratio:.3f}x, repetition by repetition "
        f"{', '.join(f'{p:.3f}' for p in paired)}"
    )
    lines = [line]
    if count is not None:
        lines.append(f"auth {figure.key}: {_costs(figure, count, unit)}")
        if connect is not None and figure.verdict not in ("met", "-"):
            lines.append(_shortfall(figure, count, unit, connect))
    return lines


def _throughput(key: str, name: str, unit: str) -> Figure:
    return Figure(
        key,
        f"authentication on (baseline off): {name}",
        unit,
        target=f">= {MIN_RATIO}x",
        min_ratio=MIN_RATIO,
        note=NOTE,
    )


def _latency(key: str, name: str, *, target: bool) -> Figure:
    return Figure(
        key,
        f"authentication on (baseline off): {name}",
        "ms",
        target=f"<= {MAX_LATENCY_RATIO:.2f}x" if target else "-",
        max_ratio=MAX_LATENCY_RATIO if target else None,
        note=NOTE,
    )


async def _repeat(
    plan: Plan,
    log: list[str],
    sides: Sides,
    label: str,
    run: Callable[[str, Servers], Awaitable[Run]],
    figure: Figure,
    unit: str,
) -> None:
    for rep in range(plan.repetitions):
        for side, servers in _order(rep, sides):
            r = await guarded(plan, f"auth {label} {side}", log, partial(run, side, servers))
            _file(figure, side, r)
            print(
                f"  auth {label} {side} #{rep + 1}: {_number(r.value, figure.unit)} {unit}",
                flush=True,
            )


async def measure(
    servers: Servers, plan: Plan, log: list[str], service_core: int | None
) -> list[Figure]:
    where = "unpinned" if service_core is None else f"on core {service_core}"
    log.append(
        "auth: two fresh nats-servers on the servers' core, one requiring the identities' "
        "nkeys and permissions (on), one not (off); the relay and consumer in the bench "
        f"process, the latency's relay and consumer and the eligibility responder in their "
        f"own processes {where}; the contracts' events relayed as contracts and read as "
        "providers (providers__track_record); eligibility asked as contracts, answered as "
        f"providers; {plan.auth_connects} connects a run"
    )
    with (
        other_nats(servers, "auth-on", servers.credentials) as on,
        other_nats(servers, "auth-off", None) as off,
    ):
        sides: Sides = [(ON, on), (OFF, off)]
        await _check(sides)

        connect = _latency("auth_connect_p50", f"a connection as {ASKER}, p50", target=False)
        await _repeat(
            plan,
            log,
            sides,
            "connect",
            lambda side, s: connect_run(s, plan, log, side),
            connect,
            "ms p50",
        )

        rows = _throughput(
            "auth_relay_throughput",
            f"relay throughput, {plan.relay_rows:,} rows, batch {relay.BATCH}, as contracts",
            "events/s",
        )
        await _repeat(
            plan,
            log,
            sides,
            "relay",
            lambda side, s: relay.project_run(s, plan, log, feed=feeds.SERVICES),
            rows,
            "events/s",
        )

        for _, s in sides:
            await consumer.preload(s, plan, feeds.SERVICES)
        messages = _throughput(
            "auth_consumer_throughput",
            f"consumer throughput, {plan.consumer_messages:,} events, 1 tx per message, "
            f"batch {consumer.BATCH}, concurrency {consumer.CONCURRENCY}, as providers",
            "msgs/s",
        )
        await _repeat(
            plan,
            log,
            sides,
            "consumer",
            lambda side, s: consumer.project_run(s, plan, log, feed=feeds.SERVICES),
            messages,
            "msgs/s",
        )

        measured: Measured = [(connect, "connects", "connect"), (rows, "events", "event")]
        measured.append((messages, "events", "event"))
        measured += await _latencies(plan, log, sides, service_core)
        measured += await _eligibility(servers, plan, log, sides, service_core)
    for figure, count, unit in measured:
        log += compare(figure, count, unit, connect)
    return [figure for figure, _, _ in measured]


async def _latencies(
    plan: Plan, log: list[str], sides: Sides, service_core: int | None
) -> Measured:
    plan = dataclasses.replace(plan, latency_seconds=plan.auth_latency_seconds)
    title = (
        f"end-to-end latency at {plan.latency_rate_per_s}/s for {plan.latency_seconds:g} s, "
        "commit to handler, as contracts and providers"
    )
    p50 = _latency("auth_latency_p50", f"{title}, p50", target=False)
    p99 = _latency("auth_latency_p99", f"{title}, p99", target=True)
    for rep in range(plan.repetitions):
        for side, s in _order(rep, sides):
            run = partial(latency.run_once, s, plan, log, service_core, feed=feeds.SERVICES)
            r: Latency = await guarded(plan, f"auth latency {side}", log, run)
            _file(p50, side, Run(r.p50, r.load))
            _file(p99, side, Run(r.p99, r.load, r.extra))
            print(
                f"  auth latency {side} #{rep + 1}: p50 {r.p50:.2f} ms, p99 {r.p99:.2f} ms, "
                f"max {r.max:.2f} ms",
                flush=True,
            )
    log.append(_hops(p99))
    return [(p99, "events", "event"), (p50, None, "event")]


def _hops(p99: Figure) -> str:
    """Each latency run's p99, split at the relay's publish, and how far the producer fell
    behind its schedule: a stall of the machine shows in every hop and in the producer, the
    server's work for authentication only after the relay's publish."""

    def run(r: Run) -> str:
        x = r.extra
        return (
            f"{r.value:.2f} (to the relay's publish {x['commit_to_relay_publish_ms']['p99']:.2f}"
            f", from it to the handler {x['relay_publish_to_handler_ms']['p99']:.2f}; the "
            f"producer up to {x['producer_max_behind_ms']:.1f} behind)"
        )

    return (
        "auth latency, each run's p99 in ms: on "
        + ", ".join(run(r) for r in p99.project)
        + "; off "
        + ", ".join(run(r) for r in p99.baseline)
    )


async def _eligibility(
    servers: Servers, plan: Plan, log: list[str], sides: Sides, service_core: int | None
) -> Measured:
    prepared = await eligibility.seeded(servers, plan)
    try:
        figures: Measured = []
        seen: dict[str, Any] = {}
        for n in plan.auth_eligibility_in_flight:
            mode = "sequential (1 in flight)" if n == 1 else f"{n} in flight"
            tag = "seq" if n == 1 else f"c{n}"
            title = f"eligibility request/reply, {mode}, asked as contracts"
            throughput = _throughput(
                f"auth_eligibility_{tag}_throughput", f"{title}: round trips", "req/s"
            )
            p99 = _latency(f"auth_eligibility_{tag}_p99", f"{title}: p99", target=False)
            for rep in range(plan.repetitions):
                for side, s in _order(rep, sides):
                    run = partial(
                        eligibility.run_once,
                        s,
                        plan,
                        log,
                        eligibility.ELIGIBILITY,
                        n,
                        prepared.dsn,
                        prepared.asked,
                        service_core,
                        seen,
                        asker=ASKER,
                    )
                    r = await guarded(plan, f"auth eligibility {side} x{n}", log, run)
                    _file(throughput, side, r)
                    _file(p99, side, Run(r.extra["p99_ms"], r.load, r.extra))
                    print(
                        f"  auth eligibility {side} x{n} #{rep + 1}: {r.value:,.0f} req/s, "
                        f"p50 {r.extra['p50_ms']:.2f} ms, p99 {r.extra['p99_ms']:.2f} ms",
                        flush=True,
                    )
            figures += [(throughput, "round_trips", "round trip"), (p99, None, "round trip")]
        return figures
    finally:
        await servers.drop_database(prepared.dsn)
