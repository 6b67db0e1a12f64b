"""NATS over TLS: a certificate authority the test makes signs a certificate for the servers and
one for the clients; the servers require TLS from every client and check its certificate
(``verify: true``), and the nodes of a cluster speak TLS to each other as well.

A service that trusts the authority and holds a client certificate connects as its identity
(``NatsAccess`` with ``tls_ca``, ``tls_cert``, ``tls_key``, through ``connect_nats``, as a
service does with ``PROCURE_NATS_TLS_*``) and publishes into its stream; a client that trusts
another authority, one without a certificate, one whose certificate another authority signed,
and one that speaks plaintext are all refused; a service process given the files in
``PROCURE_NATS_TLS_*`` becomes ready and makes its stream. TLS adds to the identities' nkeys:
the servers keep the session's authorization."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from procure_tools.devstack import EmbeddedNats, free_port

from procure_shared.identities import service_bus
from procure_shared.messaging.nats import NatsAccess, NatsState, connect_nats, ensure_streams
from tests.support.pki import Authority, Issued
from tests.support.ports import free_port_run
from tests.support.servers import scratch_dir, seed_in, session_credentials, started
from tests.support.wait import eventually, ready

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = service_bus("contracts").stream


@dataclass(frozen=True)
class Pki:
    """What the test's authority issued, and a stranger: another authority and a client
    certificate it signed."""

    ca: Path
    node: Issued  # the servers': 127.0.0.1 and localhost, for clients and for routes
    client: Issued
    stranger_ca: Path
    stranger: Issued


@pytest.fixture(scope="module")
def pki() -> Pki:
    folder = scratch_dir("procure-test-pki-")
    ours, theirs = Authority("Procure test CA"), Authority("Someone else's CA")
    return Pki(
        ca=ours.write(folder / "ca.crt"),
        node=ours.issue(folder, "nats-node", server=True),
        client=ours.issue(folder, "procure-client", server=False),
        stranger_ca=theirs.write(folder / "stranger-ca.crt"),
        stranger=theirs.issue(folder, "stranger-client", server=False),
    )


def tls_block(pki: Pki) -> str:
    """A ``tls`` block: this certificate, and the peer's checked against the authority."""
    return (
        "tls {\n"
        f'  cert_file: "{pki.node.cert}"\n'
        f'  key_file: "{pki.node.key}"\n'
        f'  ca_file: "{pki.ca}"\n'
        "  verify: true\n"
        "  timeout: 2\n"
        "}\n"
    )


class TlsNats(EmbeddedNats):
    """An embedded nats-server with the session's authorization whose clients must speak TLS
    with a certificate of the test's authority; when clustered, its routes too."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        log_path: Path,
        pki: Pki,
        *,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
    ) -> None:
        super().__init__(
            store_dir,
            port,
            log_path,
            cluster_port=cluster_port,
            routes=routes,
            credentials=session_credentials(),
        )
        self.pki = pki

    def config(self) -> str:
        config = super().config()
        block = tls_block(self.pki)
        if self.cluster_port is not None:
            assert config.count("cluster {\n") == 1, config
            config = config.replace("cluster {\n", "cluster {\n" + textwrap.indent(block, "  "))
        return config + block


@contextmanager
def tls_nats(pki: Pki) -> Iterator[TlsNats]:
    folder = scratch_dir("procure-test-nats-tls-")
    server = TlsNats(folder / "js", free_port(), folder / "nats.log", pki)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def tls_nats_cluster(pki: Pki, size: int) -> Iterator[list[TlsNats]]:
    folder = scratch_dir("procure-test-nats-tls-cluster-")
    base = free_port_run(2 * size)
    routes = [base + size + n for n in range(size)]
    nodes = [
        TlsNats(
            folder / f"js-{n + 1}",
            base + n,
            folder / f"nats-{n + 1}.log",
            pki,
            cluster_port=routes[n],
            routes=routes,
        )
        for n in range(size)
    ]
    with started(nodes, folder):
        yield nodes


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[TlsNats]:
    with tls_nats(pki) as running:
        yield running


def access(identity: str, ca: Path | None, issued: Issued | None) -> NatsAccess:
    """``identity``'s access (its seed of the session) with these TLS files."""
    return NatsAccess(
        identity=identity,
        seed_file=seed_in(session_credentials(), identity),
        tls_ca=None if ca is None else str(ca),
        tls_cert=None if issued is None else str(issued.cert),
        tls_key=None if issued is None else str(issued.key),
    ).checked()


@asynccontextmanager
async def connected(url: str, who: NatsAccess) -> AsyncIterator[Client]:
    """A connection as a service makes it (``connect_nats``), closed afterwards."""
    state = NatsState(name=f"procure-{who.identity}")
    client = await connect_nats(url, state, who)
    try:
        assert state.connected
        yield client
    finally:
        state.closing = True
        await client.close()


async def refusal(url: str, who: NatsAccess) -> str:
    """Why a connection with ``who`` fails (a first attempt, not retried forever as a service
    retries)."""

    async def quiet(exc: Exception) -> None:
        """The error is the answer: no traceback on the way."""

    try:
        client = await nats.connect(
            servers=[url],
            allow_reconnect=False,
            connect_timeout=2,
            error_cb=quiet,
            **who.options(),
        )
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await client.close()
    raise AssertionError(f"{who} connected")


async def test_a_service_with_the_authority_and_its_certificate_publishes_into_its_stream(
    pki: Pki, server: TlsNats
) -> None:
    async with connected(server.url, access("contracts", pki.ca, pki.client)) as client:
        js = client.jetstream()
        await ensure_streams(js, 1, (CONTRACTS,))
        ack = await js.publish(
            "contracts.tender.published", b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex}
        )
        assert ack.stream == CONTRACTS.name
        assert not ack.duplicate


@pytest.mark.parametrize(
    "trusted",
    [
        pytest.param("stranger", id="another-authority"),
        pytest.param(None, id="the-systems-authorities"),
    ],
)
async def test_a_client_that_does_not_trust_the_servers_authority_refuses_the_server(
    pki: Pki, server: TlsNats, trusted: str | None
) -> None:
    ca = pki.stranger_ca if trusted == "stranger" else None
    why = await refusal(server.url, access("tests", ca, pki.client))
    assert "certificate verify failed" in why, why


@pytest.mark.parametrize(
    ("holding", "server_says"),
    [
        pytest.param(None, "client didn't provide a certificate", id="no-certificate"),
        pytest.param(
            "stranger",
            "certificate signed by unknown authority",
            id="a-certificate-another-authority-signed",
        ),
    ],
)
async def test_the_server_refuses_a_client_without_a_certificate_its_authority_signed(
    pki: Pki, server: TlsNats, holding: str | None, server_says: str
) -> None:
    assert server.log_path is not None
    logged = server.log_path.stat().st_size
    await refusal(server.url, access("tests", pki.ca, None if holding is None else pki.stranger))

    async def said() -> bool:
        assert server.log_path is not None
        with server.log_path.open("rb") as log:
            log.seek(logged)
            return server_says.encode() in log.read()

    await eventually(said, within=5, what=f"the server logging {server_says!r}")


async def plaintext_answer(port: int, said: bytes) -> bytes:
    """All a server sends a plaintext peer that says ``said``, until it hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(said)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


async def test_a_plaintext_client_is_refused_before_it_can_say_anything(server: TlsNats) -> None:
    said = b'CONNECT {"verbose":true,"pedantic":false}\r\nPING\r\nSUB > 1\r\n'
    answer = await plaintext_answer(server.port, said)
    # Its INFO says TLS is required; then, instead of a TLS handshake, plaintext: hung up on.
    info, _, rest = answer.partition(b"\r\n")
    assert json.loads(info.removeprefix(b"INFO "))["tls_required"] is True
    assert rest == b""


async def test_two_nodes_whose_routes_require_tls_replicate_a_stream(pki: Pki) -> None:
    with tls_nats_cluster(pki, 2) as (first, second):
        # A route is TLS from its first byte: a plaintext peer is hung up on unanswered.
        assert first.cluster_port is not None
        assert await plaintext_answer(first.cluster_port, b"CONNECT {}\r\nPING\r\n") == b""

        # Published as contracts through the first node ...
        async with connected(first.url, access("contracts", pki.ca, pki.client)) as client:
            js = client.jetstream(timeout=1)  # asked again until a meta leader answers
            await eventually(lambda: stream_made(js), within=20, interval=0.2, what="an R2 stream")
            ack = await js.publish(
                "contracts.contract.signed",
                b'{"n": 1}',
                headers={"Nats-Msg-Id": "signed-1"},
                timeout=5,
            )
        # ... read back through the second alone, where a replica is current.
        async with connected(second.url, access("tests", pki.ca, pki.client)) as client:
            js = client.jetstream()
            info = await eventually(
                lambda: replicated(js), within=10, interval=0.1, what="a current replica"
            )
            stored = await js.get_msg(CONTRACTS.name, ack.seq)
        assert info.cluster is not None
        assert {info.cluster.leader, *(r.name for r in info.cluster.replicas or [])} == {
            f"procure-{first.port}",
            f"procure-{second.port}",
        }
        assert stored.data == b'{"n": 1}'


async def stream_made(js: JetStreamContext) -> bool:
    """The stream with two replicas, once the nodes have elected their meta leader."""
    try:
        await ensure_streams(js, 2, (CONTRACTS,))
    except (nats.errors.Error, TimeoutError):
        return False
    return True


async def replicated(js: JetStreamContext) -> StreamInfo | None:
    info = await js.stream_info(CONTRACTS.name)
    replicas = (info.cluster.replicas or []) if info.cluster else []
    current = [r for r in replicas if r.current and not r.offline]
    return info if info.state.messages == 1 and len(current) == 1 else None


async def test_a_service_given_the_tls_files_in_its_settings_is_ready_and_makes_its_stream(
    pki: Pki, server: TlsNats, providers_url: str
) -> None:
    port = free_port_run(1)
    env = {
        **os.environ,
        "DATABASE_URL": providers_url,
        "NATS_URL": server.url,
        "PROCURE_NATS_CREDENTIALS": seed_in(session_credentials(), "providers"),
        "PROCURE_NATS_TLS_CA": str(pki.ca),
        "PROCURE_NATS_TLS_CERT": str(pki.client.cert),
        "PROCURE_NATS_TLS_KEY": str(pki.client.key),
        "PROCURE_HTTP_PORT": str(port),
        "PROCURE_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "procure_providers", "serve", "--role", "all"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:

        async def up() -> bool:
            assert process.poll() is None, "the providers service exited"
            return ready(port)

        await eventually(up, within=30, interval=0.2, what="the providers service ready")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            metrics = await http.get("/metrics")
        assert "procure_nats_connected 1.0" in metrics.text
        # What it made over TLS, as its own identity: its stream.
        async with connected(server.url, access("tests", pki.ca, pki.client)) as client:
            info = await client.jetstream().stream_info(service_bus("providers").stream.name)
        assert info.config.subjects == ["providers.>"]
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
