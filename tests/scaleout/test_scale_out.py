"""Scale-out on one machine: three nats-server processes clustered on loopback, the streams
with three replicas, and two processes of each service against the same databases. The whole
flow (tender, award, contract, a milestone the monitor finds overdue, a webhook to a receiver
this test runs) goes through them while one NATS node is killed with -9 and restarted and one
instance of each service (the one whose relay leads) is killed with -9: every event arrives
once, the relays fail over, the consumers carry on and every outbox drains.

The cluster requires the identities of ``procure_shared.identities``: each service process
connects as its own (``PROCURE_NATS_CREDENTIALS``), the test as the harness's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import nats.errors
import pytest
from procure_tools.devstack import EmbeddedNats
from procure_tools.devstack.demo import load_demo

from procure_shared.events.envelope import decode_envelope
from procure_shared.http import Role
from procure_shared.messaging.outbox import leadership_key
from tests.notifications.conftest import verified, webhook
from tests.support.auth import bearer, token
from tests.support.ports import free_port_run
from tests.support.receiver import receiving
from tests.support.servers import (
    PostgresHandle,
    access_in,
    cluster_url,
    embedded_nats_cluster,
    scratch_dir,
    seed_in,
    session_credentials,
)
from tests.support.wait import eventually, ready

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("contracts", "providers", "notifications")
ROUNDS = 6  # tenders taken through to an overdue milestone
BARNARDOS = "GB-CHC:9990001"  # a demo provider accredited for attendance mentoring


@dataclass
class Instance:
    """One process of a service, on its own HTTP port."""

    service: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"procure_{self.service}", "serve", "--role", "all"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Fleet:
    """Two instances of each service, and what the test knows of them."""

    databases: dict[str, str]
    instances: dict[str, list[Instance]] = field(default_factory=dict)

    def live(self, service: str) -> list[Instance]:
        return [i for i in self.instances[service] if i.alive()]


def migrate(service: str, url: str) -> None:
    """Each service's migrations, once, before any instance starts (as a deployment does)."""
    done = subprocess.run(
        [sys.executable, "-m", f"procure_{service}", "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _socket_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process ``pid`` holds (from /proc)."""
    inodes = set()
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def relay_leader(fleet: Fleet, service: str) -> Instance | None:
    """The instance whose relay holds the service's advisory lock (None: no relay leads)."""
    conn = await asyncpg.connect(fleet.databases[service])
    try:
        port = await conn.fetchval(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = $1",
            leadership_key(service),
        )
    finally:
        await conn.close()
    if port is None:
        return None
    for instance in fleet.live(service):
        assert instance.process is not None
        if port in _socket_ports(instance.process.pid):
            return instance
    return None


async def fetch(fleet: Fleet, service: str, sql: str) -> Any:
    conn = await asyncpg.connect(fleet.databases[service])
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


class Client:
    """Calls a service through whichever of its instances answers: a refused connection (a
    killed instance) moves on to the other, as a load balancer would."""

    def __init__(self, fleet: Fleet, http: httpx.AsyncClient) -> None:
        self.fleet = fleet
        self.http = http
        self.turn = 0

    async def call(
        self, service: str, method: str, path: str, role: Role, **kw: Any
    ) -> httpx.Response:
        headers = bearer(token(role, sub=f"{role.value}-user")) | kw.pop("headers", {})
        self.turn += 1
        instances = self.fleet.instances[service]
        ordered = instances[self.turn % 2 :] + instances[: self.turn % 2]
        for instance in ordered:
            if not instance.alive():
                continue
            try:
                return await self.http.request(
                    method, f"{instance.url}{path}", headers=headers, **kw
                )
            except httpx.ConnectError:
                continue
        raise AssertionError(f"no instance of {service} answers")

    async def made(self, service: str, path: str, body: Any, role: Role) -> dict[str, Any]:
        """A creating POST; a 503 (the providers service did not answer an eligibility
        question in time: nothing written) is asked again under a new key."""

        async def attempt() -> httpx.Response | None:
            key = {"Idempotency-Key": str(uuid.uuid4())}
            answer = await self.call(service, "POST", path, role, json=body, headers=key)
            return None if answer.status_code == 503 else answer

        answer = await eventually(attempt, within=30, interval=0.3, what=f"POST {path}")
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        return made

    async def moved(self, path: str, role: Role = Role.COMMERCIAL) -> dict[str, Any]:
        """A transition of a contracts resource (``.../verb``) with its current ETag."""
        current = await self.call("contracts", "GET", path.rsplit("/", 1)[0], Role.VIEWER)
        assert current.status_code == 200, current.text
        answer = await self.call(
            "contracts", "POST", path, role, headers={"If-Match": current.headers["ETag"]}
        )
        assert answer.status_code == 200, answer.text
        moved: dict[str, Any] = answer.json()
        return moved


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "GBP"}


async def one_round(api: Client, n: int, provider: str) -> str:
    """A tender awarded, its contract signed and a milestone scheduled a day late; returns
    the milestone's id."""
    now = datetime.now(UTC)
    tender = await api.made(
        "contracts",
        "/v1/tenders",
        {
            "title": f"Attendance mentors, round {n}",
            "value": money("900000.00"),
            "enquiryDeadline": (now + timedelta(seconds=1)).isoformat(),
            "submissionDeadline": (now + timedelta(seconds=1.5)).isoformat(),
        },
        Role.COMMERCIAL,
    )
    lot = await api.made(
        "contracts",
        f"/v1/tenders/{tender['id']}/lots",
        {
            "title": "Mentors in Middlesbrough",
            "category": "attendance_mentoring",
            "value": money("900000.00"),
        },
        Role.COMMERCIAL,
    )
    await api.moved(f"/v1/tenders/{tender['id']}/publish")

    async def closed() -> bool:
        current = await api.call("contracts", "GET", f"/v1/tenders/{tender['id']}", Role.VIEWER)
        answer = await api.call(
            "contracts",
            "POST",
            f"/v1/tenders/{tender['id']}/close",
            Role.COMMERCIAL,
            headers={"If-Match": current.headers["ETag"]},
        )
        return answer.status_code == 200

    await eventually(closed, within=10, interval=0.2, what="the tender closed")
    now = datetime.now(UTC)
    awarded = await api.made(
        "contracts",
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards",
        {
            "providers": [{"providerId": provider, "value": money("900000.00")}],
            "date": now.isoformat(),
            "standstillEnds": now.isoformat(),
        },
        Role.COMMERCIAL,
    )
    today = now.date()
    contract = await api.made(
        "contracts",
        "/v1/contracts",
        {
            "awardIds": [awarded["items"][0]["id"]],
            "title": f"Attendance mentors, round {n}",
            "startsOn": (today - timedelta(days=30)).isoformat(),
            "endsOn": (today + timedelta(days=365)).isoformat(),
        },
        Role.COMMERCIAL,
    )
    await api.moved(f"/v1/contracts/{contract['id']}/sign")
    milestone = await api.made(
        "contracts",
        f"/v1/contracts/{contract['id']}/milestones",
        {
            "kind": "delivery",
            "title": f"Mentors in post, round {n}",
            "dueOn": (today - timedelta(days=1)).isoformat(),
            "plannedQuantity": 50,
            "quantityUnit": "pupils",
        },
        Role.OPS,
    )
    return str(milestone["id"])


async def all_ready(instances: list[Instance]) -> bool:
    for instance in instances:
        assert instance.alive(), f"{instance.service} exited; see {instance.log}"
    answers = await asyncio.gather(*(asyncio.to_thread(ready, i.port) for i in instances))
    return all(answers)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def fleet_on(
    postgres: PostgresHandle, nodes: list[EmbeddedNats], folder: Path
) -> AsyncIterator[Fleet]:
    stem = f"scale_{uuid.uuid4().hex[:8]}"
    base = postgres.url.rpartition("/")[0]
    names = {s: f"{stem}_{s}" for s in SERVICES}
    for name in names.values():
        await _admin(postgres.url, f'CREATE DATABASE "{name}"')
    fleet = Fleet(databases={s: f"{base}/{n}" for s, n in names.items()})
    try:
        for service in SERVICES:
            await asyncio.to_thread(migrate, service, fleet.databases[service])
        ports = free_port_run(2 * len(SERVICES))
        providers_ports = [ports + 2, ports + 3]
        common = {
            **os.environ,
            "NATS_URL": cluster_url(nodes),
            "PROCURE_STREAM_REPLICAS": "3",
            "PROCURE_LOG_LEVEL": "WARNING",
            "PROCURE_RELAY_POLL_INTERVAL": "0.2",
            "PROCURE_CONSUMER_ACK_WAIT": "5",
            "PROCURE_MILESTONE_SCAN_INTERVAL": "0.5",
            "PROCURE_PROVIDERS_URL": f"http://127.0.0.1:{providers_ports[0]}",
            "PROCURE_WEBHOOK_ALLOW_LOOPBACK": "true",
            "PROCURE_WEBHOOK_TIMEOUT": "2",
            "PROCURE_DELIVERY_POLL": "0.1",
        }
        for s, service in enumerate(SERVICES):
            fleet.instances[service] = [
                Instance(
                    service,
                    ports + 2 * s + k,
                    common
                    | {
                        "DATABASE_URL": fleet.databases[service],
                        # the cluster's nodes know the session's identities
                        "PROCURE_NATS_CREDENTIALS": seed_in(session_credentials(), service),
                        "PROCURE_HTTP_PORT": str(ports + 2 * s + k),
                    },
                    folder / f"{service}-{k + 1}.log",
                )
                for k in range(2)
            ]
        everyone = [i for group in fleet.instances.values() for i in group]
        for instance in everyone:
            instance.start()
        await eventually(
            lambda: all_ready(everyone), within=90, interval=0.2, what="six instances ready"
        )
        yield fleet
    finally:
        for group in fleet.instances.values():
            for instance in group:
                instance.stop()
        for name in names.values():
            await _admin(postgres.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def stream_leader(url: str) -> tuple[str, list[bool]]:
    """The CONTRACTS stream's leader and whether each of its other replicas is current."""
    client = await nats.connect(
        servers=url.split(","), connect_timeout=2, **access_in(session_credentials()).options()
    )
    try:
        info = await client.jetstream().stream_info("CONTRACTS")
    finally:
        await client.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    # the nodes are named procure-<client port> (devstack.nats_cluster_config)
    leader = info.cluster.leader or ""
    assert re.fullmatch(r"procure-\d+", leader), info.cluster
    return leader, [bool(r.current and not r.offline) for r in info.cluster.replicas or []]


async def backlogs(fleet: Fleet) -> dict[str, int]:
    return {
        s: await fetch(fleet, s, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        for s in SERVICES
    }


@pytest.mark.slow
async def test_two_instances_of_each_service_on_a_three_node_cluster_deliver_every_event_once_through_kills(  # noqa: E501
    postgres: PostgresHandle, report: Callable[[str], None]
) -> None:
    started = time.monotonic()
    folder = scratch_dir("procure-scale-")
    with embedded_nats_cluster(3) as nodes:
        url = cluster_url(nodes)
        async with (
            receiving() as receiver,
            fleet_on(postgres, nodes, folder) as fleet,
            httpx.AsyncClient(timeout=15) as http,
        ):
            ready_in = time.monotonic() - started
            report(f"scale-out: 3 NATS nodes and 6 instances ready in {ready_in:.1f} s")
            api = Client(fleet, http)
            # The demo providers, through the providers API as `procure up` loads them.
            providers = fleet.instances["providers"][0].url
            await asyncio.to_thread(load_demo, providers, token(Role.ADMIN), date.today())
            found = await api.call(
                "providers", "GET", f"/v1/providers?identifier={BARNARDOS}", Role.VIEWER
            )
            [barnardos] = found.json()["items"]
            subscription = await api.made(
                "notifications",
                "/v1/subscriptions",
                webhook(receiver.url("/scale"), "contracts.>"),
                Role.VIEWER,
            )
            leaders = {s: await leading(fleet, s) for s in SERVICES}
            milestones: list[str] = []
            killed: list[EmbeddedNats] = []
            for n in range(ROUNDS):
                if n == 1:
                    # kill -9 the node leading the CONTRACTS stream: R3 elects another.
                    leader, _ = await stream_leader(url)
                    killed = [x for x in nodes if leader == f"procure-{x.port}"]
                    killed[0].kill()
                    report(f"scale-out: killed NATS node {leader} (stream leader)")
                if n == 2:
                    for s in SERVICES:
                        leaders[s].kill()  # the instance whose relay leads
                    report("scale-out: killed the leading instance of each service")
                if n == 4:
                    (node,) = killed  # the one node killed in round 1
                    node.start()
                milestones.append(await one_round(api, n, str(barnardos["id"])))
            flowed = time.monotonic()

            # The relays failed over: the surviving instance of each service leads now.
            for s in SERVICES:
                [survivor] = fleet.live(s)
                assert survivor is not leaders[s]
                assert await leading(fleet, s) is survivor
            # The monitors (one in each contracts instance) found each milestone overdue, once.
            await eventually(
                lambda: equals_async(
                    fetch(
                        fleet,
                        "contracts",
                        "SELECT count(*) FROM outbox WHERE subject = 'contracts.milestone.overdue'",
                    ),
                    ROUNDS,
                ),
                what="every milestone reported overdue",
            )
            # Every outbox drains to nothing.
            await eventually(
                lambda: equals_async(backlogs(fleet), dict.fromkeys(SERVICES, 0)),
                within=60,
                what="every outbox drained",
            )
            expected = {
                r: t
                for r, t in await fetch_all(
                    fleet, "contracts", "SELECT id::text, subject FROM outbox"
                )
            }
            assert Counter(expected.values())["contracts.milestone.overdue"] == ROUNDS

            async def all_received() -> bool:
                got = {decode_envelope(r.body).id for r in receiver.answered("/scale")}
                return got == set(expected)

            await eventually(all_received, within=60, what="every event delivered")
            done = time.monotonic()

            # What a receiver deduping on the event id keeps: each event once, none missing,
            # each under one webhook-id, signed with the subscription's secret.
            kept: dict[str, set[str]] = {}
            overdue: set[str] = set()
            for r in receiver.answered("/scale"):
                envelope = verified(str(subscription["secret"]), r)
                kept.setdefault(envelope.id, set()).add(r.id)
                if envelope.type == "contracts.milestone.overdue":
                    overdue.add(envelope.subject)
            assert set(kept) == set(expected)
            assert [e for e, ids in kept.items() if len(ids) != 1] == []
            assert overdue == set(milestones)
            # The notifications service recorded one delivery per event, each delivered.
            rows = await fetch_all(
                fleet, "notifications", "SELECT status, count(*) FROM deliveries GROUP BY 1"
            )
            assert dict(rows) == {"delivered": len(expected)}
            # A webhook came twice only where an attempt's outcome died with a killed process.
            seen = Counter(r.id for r in receiver.to("/scale"))
            unrecorded = await fetch_all(
                fleet,
                "notifications",
                "SELECT d.id::text, 1 FROM deliveries d WHERE d.attempts >"
                " (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id)",
            )
            repeats = {i for i, count in seen.items() if count > 1}
            assert repeats <= {row[0] for row in unrecorded}
            # No consumer gave up on an event.
            for s in SERVICES:
                assert await fetch(fleet, s, "SELECT count(*) FROM dead_letters") == 0, s
            # Each service did all of it as its own identity: the servers refused it nothing.
            for group in fleet.instances.values():
                for instance in group:
                    assert "permissions violation" not in instance.log.read_text().lower(), (
                        instance.log
                    )
            # The restarted node caught up: every replica of the stream is current.
            caught = await eventually(
                partial(caught_up, url), within=30, what="the restarted node caught up"
            )
            leader = caught[0]
            report(
                f"scale-out: {ROUNDS} rounds, {len(expected)} events, {len(seen)} webhooks"
                f" ({sum(seen.values()) - len(seen)} repeated), flow {flowed - started:.1f} s,"
                f" all delivered {done - started:.1f} s; stream leader now {leader}"
            )


async def caught_up(url: str) -> tuple[str, list[bool]] | None:
    try:
        leader, current = await stream_leader(url)
    except (nats.errors.Error, TimeoutError):
        return None
    return (leader, current) if current == [True, True] else None


async def equals_async(value: Awaitable[Any], expected: Any) -> bool:
    return bool(await value == expected)


async def leading(fleet: Fleet, service: str) -> Instance:
    """The instance whose relay leads, once one does."""
    return await eventually(
        partial(relay_leader, fleet, service), what=f"a {service} relay leading"
    )


async def fetch_all(fleet: Fleet, service: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(fleet.databases[service])
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()
