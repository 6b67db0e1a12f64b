"""Where the tests' PostgreSQL and nats-server come from.

``TEST_POSTGRES_URL`` / ``TEST_NATS_URL`` when set; else testcontainers when a Docker engine
answers; else the embedded binaries on free ports in temporary folders. Tests never read the
development variables (``DATABASE_URL``, ``PROCURE_POSTGRES_URL``, ``NATS_URL``).

Every nats-server requires the identities of ``procure_shared.identities``: the session makes
a seed for each (``session_credentials``) and the server's authorization from them; a server of
``TEST_NATS_URL`` must use the authorization in ``TEST_NATS_CREDENTIALS``, a folder of
``procure bus credentials --identity ...`` for every identity.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

from procure_tools.devstack import (
    EmbeddedNats,
    EmbeddedPostgres,
    free_port,
    nats_cluster,
    nats_config,
)

from procure_shared.identities import IDENTITIES, SEED_SUFFIX, write_credentials
from procure_shared.messaging.nats import NatsAccess
from tests.support.ports import free_port_run

S = TypeVar("S", EmbeddedPostgres, EmbeddedNats)
N = TypeVar("N", bound=EmbeddedNats)


class Source(Enum):
    ENVIRONMENT = "environment"
    TESTCONTAINERS = "testcontainers"
    EMBEDDED = "embedded"


def choose_source(
    variable: str, environ: Mapping[str, str], docker_answers: Callable[[], bool]
) -> Source:
    if environ.get(variable):
        return Source.ENVIRONMENT
    if docker_answers():
        return Source.TESTCONTAINERS
    return Source.EMBEDDED


def docker_answers() -> bool:
    """True when a Docker engine answers a ping within two seconds."""
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        return bool(client.ping())
    except Exception:
        return False


_SCRATCH: list[Path] = []
_SESSION: list[Path] = []


def use_session_temp() -> Path:
    """Make one temporary folder for the whole test session and send every temporary file of
    the tests and of the processes they start there (``TMPDIR``): scratch folders, and the
    PostgreSQL data ``procure up`` keeps in the temporary folder when ``nobody`` may not reach
    the checkout. ``remove_session_temp`` removes it."""
    folder = Path(tempfile.mkdtemp(prefix="procure-tests-"))
    folder.chmod(0o755)  # nobody (PostgreSQL, when we are root) must enter it
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    _SESSION.append(folder)
    return folder


def remove_session_temp() -> None:
    while _SESSION:
        shutil.rmtree(_SESSION.pop(), ignore_errors=True)


def scratch_dir(prefix: str) -> Path:
    """A temporary folder PostgreSQL can use when it runs as ``nobody`` (we may be root),
    removed at the end of the test session whatever became of the test that made it
    (``remove_scratch_dirs``)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    _SCRATCH.append(path)
    return path


def remove_scratch_dirs() -> None:
    """Remove every scratch folder this session made (a test removes its own when it can)."""
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


@dataclass
class PostgresHandle:
    url: str
    embedded: EmbeddedPostgres | None = None  # present when the tests may kill and restart it


@dataclass
class NatsHandle:
    url: str
    credentials: Path  # every identity's seed, as procure bus credentials writes them
    embedded: EmbeddedNats | None = None

    def seed(self, identity: str) -> str:
        return seed_in(self.credentials, identity)

    def access(self, identity: str = "tests") -> NatsAccess:
        """How a test connects as ``identity`` (the harness's own, by default)."""
        return access_in(self.credentials, identity)


def seed_in(credentials: Path, identity: str) -> str:
    return str(credentials / f"{identity}{SEED_SUFFIX}")


def access_in(credentials: Path, identity: str = "tests") -> NatsAccess:
    return NatsAccess(identity=identity, seed_file=seed_in(credentials, identity))


_CREDENTIALS: list[Path] = []


def session_credentials() -> Path:
    """The session's credentials: a seed for every identity (made once), and the server's
    authorization for them."""
    if not _CREDENTIALS:
        folder = scratch_dir("procure-test-credentials-") / "nats"
        write_credentials(folder, [identity.name for identity in IDENTITIES])
        _CREDENTIALS.append(folder)
    return _CREDENTIALS[0]


@contextmanager
def postgres_server(environ: Mapping[str, str]) -> Iterator[PostgresHandle]:
    source = choose_source("TEST_POSTGRES_URL", environ, docker_answers)
    if source is Source.ENVIRONMENT:
        yield PostgresHandle(environ["TEST_POSTGRES_URL"])
    elif source is Source.TESTCONTAINERS:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as container:
            yield PostgresHandle(container.get_connection_url())
    else:
        with embedded_postgres() as server:
            yield PostgresHandle(server.url, server)


@contextmanager
def embedded_postgres() -> Iterator[EmbeddedPostgres]:
    with _embedded("pg", lambda f: EmbeddedPostgres(f / "data", free_port(), f / "pg.log")) as s:
        yield s


def _embedded(kind: str, make: Callable[[Path], S]) -> AbstractContextManager[S]:
    """An embedded server started in a scratch folder, stopped and removed afterwards."""

    @contextmanager
    def run() -> Iterator[S]:
        folder = scratch_dir(f"procure-test-{kind}-")
        server = make(folder)
        try:
            server.start()
            yield server
        finally:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)

    return run()


@contextmanager
def nats_server(environ: Mapping[str, str]) -> Iterator[NatsHandle]:
    source = choose_source("TEST_NATS_URL", environ, docker_answers)
    if source is Source.ENVIRONMENT:
        yield NatsHandle(environ["TEST_NATS_URL"], Path(environ["TEST_NATS_CREDENTIALS"]))
    elif source is Source.TESTCONTAINERS:
        yield from _nats_container()
    else:
        with embedded_nats() as server:
            yield NatsHandle(server.url, session_credentials(), server)


def _nats_container() -> Iterator[NatsHandle]:
    from testcontainers.core.container import DockerContainer

    folder = scratch_dir("procure-test-nats-")
    config = folder / "nats.conf"
    credentials = session_credentials()
    config.write_text(
        nats_config(port=4222, store_dir=Path("/data"), credentials=credentials).replace(
            "127.0.0.1", "0.0.0.0"
        )
    )
    container = (
        DockerContainer("nats:2.12")
        .with_volume_mapping(str(config), "/etc/nats/nats.conf", "ro")
        .with_command("-c /etc/nats/nats.conf")
        .with_exposed_ports(4222)
    )
    with container:
        host = container.get_container_host_ip()
        yield NatsHandle(f"nats://{host}:{container.get_exposed_port(4222)}", credentials)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def embedded_nats() -> Iterator[EmbeddedNats]:
    credentials = session_credentials()

    def make(folder: Path) -> EmbeddedNats:
        return EmbeddedNats(
            folder / "js", free_port(), folder / "nats.log", credentials=credentials
        )

    with _embedded("nats", make) as s:
        yield s


@contextmanager
def embedded_nats_cluster(size: int = 3) -> Iterator[list[EmbeddedNats]]:
    """``size`` nats-server processes clustered on loopback (JetStream, ``sync_interval:
    always``), each with its own store; stopped and removed afterwards. The ports are taken
    outside the ephemeral range, so that a node killed by a test comes back on its own."""
    folder = scratch_dir("procure-test-nats-cluster-")
    base = free_port_run(2 * size)
    clients = [base + n for n in range(size)]
    routes = [base + size + n for n in range(size)]
    with started(nats_cluster(folder, clients, routes, session_credentials()), folder) as nodes:
        yield nodes


@contextmanager
def started(nodes: list[N], folder: Path) -> Iterator[list[N]]:
    """The nodes of a cluster, started; stopped and their folder removed afterwards."""
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(folder, ignore_errors=True)


def cluster_url(nodes: list[EmbeddedNats]) -> str:
    """``NATS_URL`` for the nodes of a cluster: every node, separated by commas."""
    return ",".join(node.url for node in nodes)
