"""The shipped NATS configurations, started: three nodes on this machine, each from its deploy
file as its container would start it (compose's command after compose's credentials step;
the production overlay's pods with the Secrets docs/operations.md creates and a certificate
for nats-tls), only the addresses moved to 127.0.0.1 and free ports.

The nodes form a cluster only through routes that carry the route password; a node with
another password is not admitted; a client without a seed is refused; each service connects
with the seed its container mounts and creates its stream with a copy on every node. In
production every client and route speaks TLS. And the guide's upgrade step, its own command
run in the container it names (compose's credentials step; a service's pod), deletes the
DEADLETTERS stream an earlier version left, which until then keeps a service from creating its
dead-letter stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js.api import PubAck
from nats.js.errors import BadRequestError, NoStreamResponseError
from procure_tools.devstack.servers import nats_server_binary

from procure_shared.identities import ROUTE_USER, service_bus
from procure_shared.messaging.nats import NatsAccess, NatsState, connect_nats, ensure_streams
from procure_shared.service import nats_access
from procure_shared.settings import settings_from_env
from tests.deploy.bus import (
    COMPOSE_NODES,
    SERVICES,
    NatsNode,
    Target,
    compose_nats_node,
    guide_block,
    kubernetes_nats_node,
    on_loopback,
    run_credentials_step,
    run_guide,
)
from tests.deploy.conftest import Documented
from tests.deploy.files import Container, compose_container, kubernetes_container, manifests, tool
from tests.support.ports import free_port_run
from tests.support.wait import eventually, until

# The streams the services create keep a copy on each node, as both deploy files say.
REPLICAS = 3


class Cluster:
    """Three nodes started, on 127.0.0.1: their client, monitoring and route ports."""

    def __init__(self, folder: Path) -> None:
        base = free_port_run(9)
        self.clients = [base + n for n in range(3)]
        self.monitors = [base + 3 + n for n in range(3)]
        self.routes = [base + 6 + n for n in range(3)]
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, nodes: Sequence[NatsNode]) -> None:
        for n, node in enumerate(nodes):
            on_loopback(
                node.config, client=self.clients[n], monitor=self.monitors[n], route=self.routes[n]
            )
        for n, node in enumerate(nodes):
            self.processes.append(node.start(self.log(n)))

    def log(self, n: int) -> Path:
        return self.folder / f"nats-{n}.log"

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def monitor(self, n: int, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitors[n]}{path}", timeout=3) as r:
            found: dict[str, Any] = json.load(r)
            return found

    def formed(self) -> bool:
        """Every node routes to both others, and JetStream has a meta leader of three."""
        for n, process in enumerate(self.processes):
            assert process.poll() is None, self.log(n).read_text()[-3000:]
        try:
            for n in range(3):
                peers = {route["remote_name"] for route in self.monitor(n, "/routez")["routes"]}
                meta = self.monitor(n, "/jsz").get("meta_cluster", {})
                if len(peers) != 2 or meta.get("cluster_size") != 3 or not meta.get("leader"):
                    return False
        except OSError:
            return False
        return True

    def wait_formed(self) -> None:
        until(self.formed, within=60, interval=0.25, what="three nodes forming a cluster")


@contextlib.contextmanager
def cluster(folder: Path) -> Iterator[Cluster]:
    running = Cluster(folder)
    try:
        yield running
    finally:
        running.stop()


async def refusal(url: str, **options: Any) -> str:
    """Why a connection fails (a first attempt, not retried forever as a service retries)."""

    async def quiet(exc: Exception) -> None:
        """The error is the answer."""

    try:
        client = await nats.connect(
            servers=[url], allow_reconnect=False, connect_timeout=3, error_cb=quiet, **options
        )
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await client.close()
    raise AssertionError(f"connected to {url} with {options}")


async def plaintext_answer(port: int) -> bytes:
    """All a server sends a client that speaks plaintext, until it hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b'CONNECT {"verbose":true}\r\nPING\r\nSUB > 1\r\n')
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def connected(url: str, access: NatsAccess) -> AsyncIterator[Client]:
    """Connected as a service connects (``connect_nats``)."""
    state = NatsState(name=f"procure-{access.identity}")
    client = await connect_nats(url, state, access)
    try:
        yield client
    finally:
        state.closing = True
        await client.close()


async def creates_its_stream_on_every_node(url: str, access: NatsAccess) -> None:
    """The service's own stream, with a copy on each node, and an event of its own in it."""
    stream = service_bus(access.identity).stream
    async with connected(url, access) as client:
        js = client.jetstream(timeout=5)
        await ensure_streams(js, REPLICAS, (stream,))
        subject = stream.subjects[0].replace(">", "deploy.checked")
        headers = {"Nats-Msg-Id": uuid.uuid4().hex}  # asked again under one id: stored once

        async def published() -> PubAck | None:
            try:
                return await js.publish(subject, b"{}", headers=headers)
            except (NoStreamResponseError, nats.errors.TimeoutError):
                return None  # the new stream's replicas are still electing its leader

        ack = await eventually(published, within=20, interval=0.2, what="a stream leader")
        assert ack.stream == stream.name
        info = await js.stream_info(stream.name)
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == REPLICAS - 1


OLD_DEAD_LETTERS = (
    "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
    "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>",
)


async def the_upgrade_clears_the_way(
    url: str,
    admin: NatsAccess,
    contracts: NatsAccess,
    upgrade: Callable[[], subprocess.CompletedProcess[str]],
) -> None:
    """The DEADLETTERS stream of an earlier version keeps contracts' dead-letter stream out
    until ``upgrade`` (the guide's step) has deleted it."""
    async with connected(url, admin) as client:
        js = client.jetstream(timeout=5)
        await js.add_stream(name="DEADLETTERS", subjects=list(OLD_DEAD_LETTERS), num_replicas=3)
    dead_letters = service_bus("contracts").dead_letters
    async with connected(url, contracts) as client:
        js = client.jetstream(timeout=5)
        with pytest.raises((BadRequestError, RuntimeError), match="overlap"):
            await ensure_streams(js, REPLICAS, (dead_letters,))
        done = upgrade()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "DEADLETTERS" in done.stdout
        await ensure_streams(js, REPLICAS, (dead_letters,))


def rogue_is_kept_out(folder: Path, cluster: Cluster, password: str) -> None:
    """A fourth node whose routes carry another password: the first node refuses it."""
    port = free_port_run(2)
    config = folder / "rogue.conf"
    route = f"nats-route://{ROUTE_USER}:{password}@127.0.0.1:{cluster.routes[0]}"
    config.write_text(
        f"server_name: rogue\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{port + 1}\n"
        "cluster {\n  name: procure\n  listen: 127.0.0.1:-1\n"
        f'  authorization {{ user: {ROUTE_USER}, password: "{password}" }}\n'
        f"  routes: [{route}]\n}}\n"
    )
    log = folder / "rogue.log"
    before = cluster.log(0).read_bytes()
    with log.open("ab") as out:
        rogue = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        until(
            lambda: b"authentication error" in cluster.log(0).read_bytes()[len(before) :],
            within=20,
            interval=0.2,
            what="the first node refusing the rogue's route",
        )
        peers = {r["remote_name"] for r in cluster.monitor(0, "/routez")["routes"]}
        assert "rogue" not in peers
    finally:
        rogue.terminate()
        rogue.wait(timeout=15)


async def test_the_compose_nodes_cluster_with_the_route_password_and_admit_only_identities(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    volumes = tmp_path / "volumes"
    procure = Path(tool("procure")).parent
    done = run_credentials_step(compose, tmp_path / "credentials", volumes, [procure])
    assert done.returncode == 0, done.stdout + done.stderr
    with cluster(tmp_path) as running:
        listed = " ".join(f"127.0.0.1:{port}" for port in running.routes)
        nodes = [
            compose_nats_node(
                compose, name, tmp_path / name, volumes, test_only=False, cluster_nodes=listed
            )
            for name in COMPOSE_NODES
        ]
        running.start(nodes)
        running.wait_formed()
        url = f"nats://127.0.0.1:{running.clients[0]}"

        assert "Authorization Violation" in await refusal(url)
        seeds: dict[str, str] = {}
        for name in SERVICES:
            service = compose_container(
                compose["services"][name], tmp_path / "services" / name, volumes
            )
            seeds[name] = service.place(service.env["PROCURE_NATS_CREDENTIALS"])
            access = NatsAccess(identity=name, seed_file=seeds[name]).checked()
            await creates_its_stream_on_every_node(url, access)
        rogue_is_kept_out(tmp_path, running, "not-the-route-password")

        step = compose_container(compose["services"]["credentials"], tmp_path / "step", volumes)
        admin_seed = step.place("/credentials/all/admin.nk")
        target = Target(
            env=step.env,
            mounts={mount: str(step.path(mount)) for mount in step.mounts},
            hosts={"nats://nats:4222": url},
        )
        await the_upgrade_clears_the_way(
            url,
            NatsAccess(identity="admin", seed_file=admin_seed),
            NatsAccess(identity="contracts", seed_file=seeds["contracts"]),
            lambda: run_guide(
                guide_block("bus upgrade --nats nats://nats:4222"),
                tmp_path / "guide",
                targets={"credentials": target},
            ),
        )


def production_pods(
    rendering: list[dict[str, Any]], documented: Documented, running: Cluster, root: Path
) -> list[NatsNode]:
    """The production StatefulSet's three pods, their routes moved to this machine's ports."""
    pods = []
    for ordinal in range(3):
        pod = kubernetes_nats_node(
            rendering, ordinal, documented.secrets, root / f"nats-{ordinal}", test_only=False
        )
        for n, port in enumerate(running.routes):
            pod.env["NATS_ROUTES"] = pod.env["NATS_ROUTES"].replace(
                f"@nats-{n}.nats-headless:6222", f"@127.0.0.1:{port}"
            )
        assert "nats-headless" not in pod.env["NATS_ROUTES"]
        pods.append(pod)
    return pods


def service_container(
    rendering: list[dict[str, Any]], name: str, documented: Documented, root: Path
) -> Container:
    """A service's pod of the production rendering, with the guide's Secrets."""
    (deployment,) = [
        m for m in rendering if m["kind"] == "Deployment" and m["metadata"]["name"] == name
    ]
    config_maps = {m["metadata"]["name"]: m["data"] for m in rendering if m["kind"] == "ConfigMap"}
    secrets = {
        **documented.secrets,
        "procure-secrets": {
            "jwt-secret": "x" * 32,
            "secrets-key": "pRlLsyqqtnEA2lOKUsgWrZgFVw5h7YXBA9HUd_BO6Pg=",
        },
    }
    secrets["procure-secrets"] |= {f"{s}-database-url": "postgresql:///x" for s in SERVICES}
    secrets["procure-secrets"] |= {f"{s}-owner-database-url": "postgresql:///x" for s in SERVICES}
    return kubernetes_container(
        deployment["spec"]["template"]["spec"],
        name,
        pod_name=f"{name}-0",
        config_maps=config_maps,
        secrets=secrets,
        root=root,
    )


async def test_the_production_nodes_speak_tls_admit_only_identities_and_the_upgrade_step_works(
    rendered: dict[str, str], documented: Documented, tmp_path: Path
) -> None:
    rendering = list(manifests(rendered["production"]))
    with cluster(tmp_path) as running:
        running.start(production_pods(rendering, documented, running, tmp_path))
        running.wait_formed()
        port = running.clients[0]
        url = f"tls://127.0.0.1:{port}"

        # Every route is TLS from its first byte, and so is every client.
        for n in range(3):
            assert running.monitor(n, "/varz")["cluster"]["tls_required"] is True
            assert running.monitor(n, "/varz")["tls_required"] is True
        info, _, rest = (await plaintext_answer(port)).partition(b"\r\n")
        assert json.loads(info.removeprefix(b"INFO "))["tls_required"] is True
        assert rest == b""  # plaintext is hung up on, unanswered
        assert "certificate verify failed" in await refusal(url)  # the system's CAs: no
        ca = tmp_path / "ca.crt"
        ca.write_text(documented.secrets["nats-tls"]["ca.crt"])
        stranger = NatsAccess(identity="stranger", tls_ca=str(ca))
        assert "Authorization Violation" in await refusal(url, **stranger.options())

        accesses = {}
        for name in SERVICES:
            container = service_container(rendering, name, documented, tmp_path / "pods" / name)
            env = {k: container.place(v) for k, v in container.env.items()}
            settings = settings_from_env(name, env)
            assert settings.nats_url == "tls://nats:4222"  # the Service; here, node 0
            accesses[name] = nats_access(name, settings).checked()
            await creates_its_stream_on_every_node(url, accesses[name])

        # The guide's upgrade step, from contracts' pod (its NATS_URL, the Service, is node
        # 0's address here), with the admin seed the guide's commands made.
        pod = service_container(rendering, "contracts", documented, tmp_path / "exec")
        target = Target(
            env={
                k: pod.place(v).replace("nats:4222", f"127.0.0.1:{port}")
                for k, v in pod.env.items()
            },
            mounts={mount: str(pod.path(mount)) for mount in pod.mounts},
            hosts={},
        )
        admin_seed = str(documented.credentials / "admin.nk")
        await the_upgrade_clears_the_way(
            url,
            NatsAccess(identity="admin", seed_file=admin_seed, tls_ca=str(ca)),
            accesses["contracts"],
            lambda: run_guide(
                guide_block("exec -i deploy/contracts"),
                documented.credentials.parent,
                targets={"deploy-contracts": target},
            ),
        )
        assert list(pod.path("/tmp").iterdir()) == []  # noqa: S108 (the pod's): the seed went
