"""The composition root of a service process.

``python -m procure_<name>`` runs its HTTP API, its outbox relay and its consumers in one event
loop (``--role`` runs one of them); ``python -m procure_<name> migrate`` applies its migrations.
Settings are read from the environment here and nowhere else, then passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import uvicorn
import uvloop
from litestar import Litestar
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from procure_shared.aio import sleep_or_stop
from procure_shared.clock import Clock, clock_from_settings
from procure_shared.db.migrations import migrate, privilege_refusal
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.http.app import create_service_app
from procure_shared.http.auth import SKEW
from procure_shared.http.observability import StatsCollector
from procure_shared.identities import service_bus
from procure_shared.logs import configure_logging
from procure_shared.messaging.consumer import Consumer, ConsumerSpec
from procure_shared.messaging.deadletters import DeadLetterRecorder
from procure_shared.messaging.nats import (
    NatsAccess,
    NatsAccessError,
    NatsRefused,
    NatsState,
    connect_nats,
    ensure_streams,
)
from procure_shared.messaging.outbox import Relay
from procure_shared.messaging.presence import Presence, http_address
from procure_shared.revocations import RevocationFeed, Revocations
from procure_shared.settings import Settings, SettingsError, settings_from_env, trust_refusal

__all__ = [
    "ROLES",
    "Runtime",
    "ServiceDefinition",
    "Worker",
    "build_app",
    "main",
    "nats_access",
    "serve",
    "tuned",
]

log = logging.getLogger("procure.service")
ROLES = ("all", "http", "relay", "consumers")


class Worker(Protocol):
    """A long-lived task of a service (a request/reply responder, a scheduled watch), run with
    the processes of one ``role``."""

    role: str

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    version: str
    migrations: Path | None
    routes: Callable[[], Sequence[ControllerRouterHandler]] = lambda: ()
    consumers: Callable[[], Sequence[ConsumerSpec]] = lambda: ()
    workers: Callable[[Runtime], Sequence[Worker]] = lambda runtime: ()
    # The folder of its Jinja templates (HTML pages), if it serves any.
    templates: Path | None = None
    # Loads the service's demo data through its use cases; says what it did.
    demo: Callable[[Pool, Client], Awaitable[str]] | None = None


@dataclass
class Runtime:
    """What a running service holds; built once in ``serve`` and passed down."""

    settings: Settings
    clock: Clock
    pool: Pool
    nats: Client
    js: JetStreamContext
    nats_state: NatsState
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    relay: Relay | None = None
    consumers: list[Consumer] = field(default_factory=list)
    # The tokens revoked; a process that serves the API follows them (``revocations``).
    revocations: Revocations = field(init=False)

    def __post_init__(self) -> None:
        self.revocations = Revocations(keep=self.settings.jwt_max_lifetime + SKEW)
        self.registry.register(StatsCollector(self.figures))

    async def database_check(self) -> str | None:
        async with self.pool.acquire(timeout=1.5) as conn:
            await conn.fetchval("SELECT 1")
        return None

    async def nats_check(self) -> str | None:
        if self.nats_state.connected and self.nats.is_connected:
            return None
        return f"disconnected ({self.nats_state.last_error or 'reconnecting'})"

    def figures(self) -> dict[str, tuple[str, dict[str, str], float]]:
        """Live figures for ``/metrics``: name -> (help, labels, value)."""
        rows: list[tuple[str, str, float, dict[str, str]]] = [
            ("nats_connected", "1 while connected to NATS.", self.nats_state.connected, {}),
            ("nats_reconnects", "Reconnections to NATS.", self.nats_state.reconnects, {}),
            ("db_pool_size", "Connections in the pool.", self.pool.get_size(), {}),
            ("db_pool_idle", "Idle connections in the pool.", self.pool.get_idle_size(), {}),
            ("revocations", "Token revocations in force here.", len(self.revocations), {}),
        ]
        if self.relay is not None:
            r = self.relay.stats
            rows += [
                ("relay_active", "1 while this relay holds the lead.", r.active, {}),
                ("relay_published", "Events the relay published.", r.published, {}),
                ("relay_duplicates", "Publishes JetStream already had.", r.duplicates, {}),
                ("relay_failures", "Publishes that failed and wait for a retry.", r.failures, {}),
            ]
        for consumer in self.consumers:
            c, labels = consumer.stats, {"consumer": consumer.spec.name}
            rows += [
                ("consumer_applied", "Events applied.", c.applied, labels),
                ("consumer_duplicates", "Repeated events skipped.", c.duplicates, labels),
                ("consumer_gaps", "Events put back until their predecessor.", c.gaps, labels),
                ("consumer_errors", "Handler errors (retried).", c.errors, labels),
                ("consumer_terminated", "Undecodable messages terminated.", c.terminated, labels),
            ]
        return {
            f"procure_{name}{{{','.join(labels.values())}}}": (text, labels, float(value))
            for name, text, value, labels in rows
        }


def build_app(definition: ServiceDefinition, runtime: Runtime, *, api: bool = True) -> Litestar:
    """The service's app: its API (unless ``api`` is false: a relay-only or consumers-only
    process serves only the probes, ``/metrics`` and the docs page)."""
    return create_service_app(
        settings=runtime.settings,
        title=definition.title,
        description=definition.description,
        version=definition.version,
        route_handlers=definition.routes() if api else (),
        checks={"database": runtime.database_check, "nats": runtime.nats_check},
        registry=runtime.registry,
        state={"pool": runtime.pool, "clock": runtime.clock, "runtime": runtime},
        templates=definition.templates,
        revocations=runtime.revocations,
    )


class UnsafeDatabaseRole(Exception):
    """The service is connected as a role that could change or delete the audit."""


async def check_database_role(pool: Pool, settings: Settings) -> None:
    """Refuse to run, outside development mode, as a role that could rewrite ``audit_log``
    (its owner or a superuser); in development mode, say so."""
    async with pool.acquire() as conn:
        refusal = await privilege_refusal(conn)
    if refusal is None:
        return
    if not settings.dev_mode:
        raise UnsafeDatabaseRole(refusal)
    log.warning("the database role is not the service's own", extra={"why": refusal})


# What no wait mends: the service exits, saying so, rather than retry for ever.
_LASTING = (
    UnsafeDatabaseRole,
    asyncpg.InvalidCatalogNameError,  # its database does not exist
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidAuthorizationSpecificationError,
    NatsRefused,  # the server does not know our key, or we do not trust its certificate
)


async def _retry(
    what: str,
    attempt: Callable[[], object],
    stop: asyncio.Event,
    passing: Callable[[BaseException], bool] = lambda _: True,
) -> object:
    """Connect at start-up even when a server is not up yet: retry while what fails is
    ``passing`` (a server not up yet), raise what is not (a database that does not exist, a
    password refused: waiting would not mend it, and a supervisor sees the exit)."""
    delay = 0.2
    while True:
        try:
            return await attempt()  # type: ignore[misc]
        except Exception as exc:
            if not passing(exc):
                raise
            log.warning(f"{what} not reachable yet", extra={"error": str(exc)})
            if await sleep_or_stop(stop, delay):
                raise
            delay = min(delay * 2, 5.0)


def tuned(spec: ConsumerSpec, settings: Settings) -> ConsumerSpec:
    """``spec`` with the deliveries and ack wait the settings impose on every consumer."""
    if settings.consumer_max_deliver is not None:
        spec = dataclasses.replace(spec, max_deliver=settings.consumer_max_deliver)
    if settings.consumer_ack_wait is not None:
        spec = dataclasses.replace(spec, ack_wait=settings.consumer_ack_wait)
    return spec


class _Server(uvicorn.Server):
    # The process handles signals itself and stops every role in order.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


# The cyclic garbage collector's thresholds: a collection every 50,000 net allocations, not
# 700. Requests that decode megabytes of JSON (an OCDS import) allocate hundreds of thousands of
# objects, nearly all freed by reference counting; at the default every one of those
# collections walks the young objects, which tripled the cost of decoding a body. Nothing here
# relies on prompt collection of cycles.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect less often, and leave what exists at startup (modules, schemas) out of every
    later collection."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


async def serve(definition: ServiceDefinition, settings: Settings, role: str = "all") -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    state = NatsState(name=f"procure-{definition.name}")
    access = nats_access(definition.name, settings)
    bus = service_bus(definition.name)
    pool: Pool = await _retry(  # type: ignore[assignment]
        "PostgreSQL",
        lambda: create_pool(settings.database_url, size=settings.pool_size),
        stop,
        lambda exc: not isinstance(exc, _LASTING),
    )
    try:
        await check_database_role(pool, settings)
    except UnsafeDatabaseRole:
        await pool.close()
        raise
    nc: Client = await _retry(  # type: ignore[assignment]
        "NATS",
        lambda: connect_nats(settings.nats_url, state, access),
        stop,
        lambda exc: not isinstance(exc, NatsRefused),
    )
    js = nc.jetstream()
    await _retry(
        "JetStream", lambda: ensure_streams(js, settings.stream_replicas, bus.streams), stop
    )
    runtime = Runtime(
        settings=settings,
        clock=clock_from_settings(settings.clock_start, settings.clock_rate, settings.clock_anchor),
        pool=pool,
        nats=nc,
        js=js,
        nats_state=state,
    )
    tasks: list[asyncio.Task[None]] = []
    server: _Server | None = None
    try:
        if role in ("all", "relay"):
            runtime.relay = Relay(
                service=definition.name,
                dsn=settings.database_url,
                pool=pool,
                js=js,
                batch_size=settings.relay_batch_size,
                poll_interval=settings.relay_poll_interval,
            )
            tasks.append(asyncio.create_task(runtime.relay.run(stop)))
        if role in ("all", "consumers"):
            specs = [tuned(spec, settings) for spec in definition.consumers()]
            _check_allowed(specs, bus.consumers, definition.name)
            if specs:
                recorder = DeadLetterRecorder(
                    service=definition.name,
                    consumers=[(s.stream, s.name) for s in specs],
                    pool=pool,
                    js=js,
                    replicas=settings.stream_replicas,
                )
                # Its stream first: a consumer's first dead letter must find it there.
                await _retry("JetStream", recorder.prepare, stop)
                tasks.append(asyncio.create_task(recorder.run(stop)))
            runtime.consumers = [Consumer(spec, pool=pool, js=js) for spec in specs]
            tasks += [asyncio.create_task(c.run(stop)) for c in runtime.consumers]
        tasks += [
            asyncio.create_task(worker.run(stop))
            for worker in definition.workers(runtime)
            if role in ("all", worker.role)
        ]
        # Every role answers the probes and serves /metrics on the HTTP port; only the HTTP
        # roles serve the API and announce it, and they know every revocation before they do.
        api = role in ("all", "http")
        if api:
            feed = RevocationFeed(nc, js, runtime.revocations)
            await _retry("the revocations", feed.start, stop)
            tasks.append(asyncio.create_task(feed.run(stop)))
            presence = Presence(
                nc,
                service=definition.name,
                version=definition.version,
                http=http_address(settings.http_host, settings.http_port),
            )
            tasks.append(asyncio.create_task(presence.run(stop)))
        config = uvicorn.Config(
            build_app(definition, runtime, api=api),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve()))
        tune_gc()
        log.info("service started", extra={"service": definition.name, "role": role})
        await stop.wait()
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        await asyncio.wait(tasks, timeout=6) if tasks else None
        for task in tasks:
            task.cancel()
        state.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), timeout=2)
        log.info("service stopped", extra={"service": definition.name})


def nats_access(identity: str, settings: Settings) -> NatsAccess:
    """How the process connects to NATS: as ``identity``, with the files the settings name."""
    return NatsAccess(
        identity=identity,
        seed_file=settings.nats_credentials,
        tls_ca=settings.nats_tls_ca,
        tls_cert=settings.nats_tls_cert,
        tls_key=settings.nats_tls_key,
    )


def _check_allowed(
    specs: Sequence[ConsumerSpec], allowed: Sequence[tuple[str, str]], service: str
) -> None:
    """A consumer its NATS identity may not run is a mistake in the code, found at start."""
    for spec in specs:
        if (spec.stream, spec.name) not in allowed:
            raise RuntimeError(
                f"{service}'s NATS identity has no consumer {spec.name} on {spec.stream}: "
                "add it to procure_shared.identities"
            )


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m procure_{definition.name}")
    parser.add_argument("--version", action="version", version=f"%(prog)s {definition.version}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("serve", help="run the service (the default)")
    run.add_argument("--role", choices=ROLES, default="all")
    sub.add_parser("migrate", help="create the database if needed and apply its migrations")
    if definition.demo is not None:
        sub.add_parser("demo", help="load the demo data (once: a second run changes nothing)")
    args = parser.parse_args(argv)
    try:
        settings = settings_from_env(definition.name, os.environ)
    except SettingsError as exc:
        parser.error(str(exc))
    configure_logging(definition.name, settings.log_level)
    if args.command != "migrate":
        if settings.nats_credentials is None:
            parser.error(
                "PROCURE_NATS_CREDENTIALS is not set: the service connects to NATS as its own "
                "identity, with the nkey seed in that file (procure bus credentials writes them)"
            )
        try:
            nats_access(definition.name, settings).checked()
        except NatsAccessError as exc:
            parser.error(str(exc))
    # Fail closed: a process that serves the API verifies bearer tokens, and outside
    # development mode it needs a secret of its own or an issuer to trust.
    if args.command in (None, "serve") and getattr(args, "role", "all") in ("all", "http"):
        refusal = trust_refusal(settings)
        if refusal is not None:
            parser.error(refusal)
    if args.command == "migrate":
        owner = settings.database_owner_url
        output = asyncio.run(
            migrate(
                owner or settings.database_url,
                definition.migrations,
                service_url=settings.database_url if owner else None,
            )
        )
        log.info("migrations applied", extra={"dbmate": output.strip()})
        return 0
    if args.command == "demo" and definition.demo is not None:
        print(uvloop.run(_demo(definition.name, definition.demo, settings)))
        return 0
    try:
        uvloop.run(serve(definition, settings, getattr(args, "role", "all")))
    except _LASTING as exc:
        log.error("cannot start", extra={"error": f"{type(exc).__name__}: {exc}"})
        return 2
    return 0


async def _demo(
    service: str, load: Callable[[Pool, Client], Awaitable[str]], settings: Settings
) -> str:
    pool = await create_pool(settings.database_url, size=2)
    nc: Client = await connect_nats(
        settings.nats_url, NatsState(name="demo"), nats_access(service, settings)
    )
    try:
        return await load(pool, nc)
    finally:
        await nc.close()
        await pool.close()
