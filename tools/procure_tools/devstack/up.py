"""``procure up``: the whole system on one machine.

Starts an embedded PostgreSQL and nats-server with their data under ``.procure/`` (or uses
``PROCURE_POSTGRES_URL`` and ``NATS_URL``), creates one database per service, runs each
service's migrations as a separate step, starts the services, waits until each answers
``/health/ready`` and prints their URLs and development tokens. Ctrl-C (or SIGTERM) stops
everything in order.

It supervises what it started: a service that exits is started again after a growing delay
(``restarts.py``), and only one that keeps exiting stops the stack. Every child dies with it,
even when it is killed with -9 (``dies_with_parent``), and a start first ends whatever an
earlier run of the same ``.procure/`` left running. ``.procure/endpoints.json`` tells the
``procure`` commands where everything listens; ``procure serve SERVICE`` runs a service left
out with ``--without`` against the running stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from procure_shared.bus import retire_streams
from procure_shared.clock import SystemClock
from procure_shared.db.migrations import with_database, with_user
from procure_shared.identities import DEPLOYED, SEED_SUFFIX, write_credentials
from procure_shared.settings import Settings
from procure_shared.tokens import Role, issue_token
from procure_tools.devstack.demo import DemoError, load_demo
from procure_tools.devstack.endpoints import (
    ENDPOINTS,
    Endpoints,
    EndpointsError,
    read_endpoints,
    write_endpoints,
)
from procure_tools.devstack.mailsink import MailSink
from procure_tools.devstack.processes import (
    Listed,
    dies_with_parent,
    end_processes,
    holder_of,
    listed,
    port_taken,
    started_at,
)
from procure_tools.devstack.restarts import Restarts
from procure_tools.devstack.roles import OWNER, prepare_roles, service_role
from procure_tools.devstack.servers import EmbeddedNats, EmbeddedPostgres, ServerError

__all__ = [
    "DEMO_BUYER",
    "SECOND_BUYER",
    "SERVICES",
    "UpConfig",
    "development_secret",
    "run_up",
    "serve_by_hand",
    "service_environment",
]

SERVICES = ("contracts", "providers", "notifications")
DEMO_BUYER = "dfe"  # the Department for Education
SECOND_BUYER = "dhsc"  # a second buyer, to see that buyers are kept apart
_DEFAULTS = Settings(service="dev", database_url="postgresql://unused/unused")
PIDS = "up.pids"

# What each variable ``UpConfig.from_env`` reads means (its default is from_env's own), for
# docs/configuration.md: ``procure configuration`` refuses a read this does not describe.
UP_ENVIRONMENT: dict[str, str] = {
    "NATS_URL": "A NATS server (with JetStream) to use instead of starting the embedded one; "
    "it must let in the identities of `PROCURE_DEV_NATS_CREDENTIALS`.",
    "PROCURE_DEV_NATS_CREDENTIALS": "The folder of the NATS identities' seeds "
    "(`procure bus credentials --out`) the services connect with, for a server given with "
    "`NATS_URL`; unset: `.procure/nats/`, made on the first start.",
    "PROCURE_CLOCK_RATE": "Simulated seconds per real second for every service's clock "
    "(`make up RATE=...`).",
    "PROCURE_CLOCK_START": "The date (or instant) every service's clock starts at "
    "(`make up AT=...`); unset, with a rate: now.",
    "PROCURE_DEV_HTTP_PORT": "The contracts service's HTTP port; providers take the next one "
    "and notifications the one after.",
    "PROCURE_DEV_WITHOUT": "Services `procure up` leaves to you (`procure up --without`, "
    "`make up WITHOUT=...`; comma-separated): run each with `procure serve SERVICE`.",
    "PROCURE_DEV_NATS_PORT": "The embedded nats-server's port (on 127.0.0.1).",
    "PROCURE_DEV_POSTGRES_PORT": "The embedded PostgreSQL's port (on 127.0.0.1).",
    "PROCURE_DEV_SMTP_PORT": "The development mailbox's port (mail kept in `.procure/mail/`).",
    "PROCURE_POSTGRES_URL": "A PostgreSQL server to use instead of starting the embedded one "
    "(a URL whose user may create databases): each service gets its own database there.",
    "PROCURE_SMTP_HOST": "A mail server to send alerts to instead of the development mailbox "
    "(with the services' `PROCURE_SMTP_*`).",
}
# What ``Stack.service_env`` gives the services it starts, on top of ``procure up``'s own
# environment: the variable and its value (a test holds this to service_env).
SERVICE_ENVIRONMENT: dict[str, str] = {
    "DATABASE_URL": "`procure_<service>` on the PostgreSQL server in use, as the role "
    "`procure_<service>` (as the server's user when it may not create roles)",
    "DATABASE_OWNER_URL": "to the migration step alone: the same database as `procure_owner`, "
    "which runs the migrations (unset when the server's user may not create roles)",
    "NATS_URL": "the NATS server in use",
    "PROCURE_NATS_CREDENTIALS": "the service's own nkey seed, `.procure/nats/<service>.nk`",
    "PROCURE_BUYER_NAMES": "the development buyers' names (unless set)",
    "PROCURE_CLOCK_ANCHOR": "the instant `procure up` started (with a clock start or rate)",
    "PROCURE_CLOCK_RATE": "`PROCURE_CLOCK_RATE`, else `1` (with a clock start or rate)",
    "PROCURE_CLOCK_START": "`PROCURE_CLOCK_START`, else the instant `procure up` started "
    "(with a clock start or rate)",
    "PROCURE_HTTP_PORT": "`PROCURE_DEV_HTTP_PORT`, plus 1 for providers, 2 for notifications",
    "PROCURE_JWT_SECRET": "the development secret kept in `.procure/jwt-secret`",
    "PROCURE_DEV_MODE": "`true`: a development stack",
    "PROCURE_MILESTONE_SCAN_INTERVAL": "`5` (unless set)",
    "PROCURE_PROVIDERS_URL": "the providers service started beside it (unless set)",
    "PROCURE_SMTP_HOST": "`127.0.0.1`, the development mailbox (unless `PROCURE_SMTP_HOST` is "
    "given)",
    "PROCURE_SMTP_PORT": "`PROCURE_DEV_SMTP_PORT` (unless `PROCURE_SMTP_HOST` is given)",
    "PROCURE_WEBHOOK_ALLOW_LOOPBACK": "`true` (unless set)",
}


@dataclass(frozen=True)
class UpConfig:
    root: Path
    postgres_url: str | None  # PROCURE_POSTGRES_URL: use this server, start none
    nats_url: str | None  # NATS_URL: use this server, start none
    # PROCURE_DEV_NATS_CREDENTIALS: the seeds that server knows; else made in .procure/nats
    nats_credentials: Path | None = None
    # Every default port lies below Linux's ephemeral range (32768-60999), where any program's
    # outgoing connection may hold a port for a while.
    postgres_port: int = 15432
    nats_port: int = 14222
    http_base_port: int = 8101
    smtp_port: int = 12525  # the development mailbox (unless PROCURE_SMTP_HOST names a server)
    smtp_host: str | None = None  # PROCURE_SMTP_HOST: send mail there, start no mailbox
    ready_timeout: float = 90.0
    clock_start: str | None = None  # PROCURE_CLOCK_START: the demo's date (or instant)
    clock_rate: str | None = None  # PROCURE_CLOCK_RATE: simulated seconds per real second
    without: frozenset[str] = frozenset()  # services the user runs (procure serve)
    restarts: Restarts = field(default_factory=Restarts)  # the policy each service starts with
    started_at: datetime = field(default_factory=lambda: SystemClock().now())

    @classmethod
    def from_env(
        cls, root: Path, environ: Mapping[str, str], without: Sequence[str] = ()
    ) -> UpConfig:
        """The configuration ``environ`` gives, leaving out the services ``without`` names
        too (``procure up --without``)."""
        return cls(
            root=root,
            postgres_url=environ.get("PROCURE_POSTGRES_URL") or None,
            nats_url=environ.get("NATS_URL") or None,
            nats_credentials=_path(environ.get("PROCURE_DEV_NATS_CREDENTIALS")),
            postgres_port=_port(
                "PROCURE_DEV_POSTGRES_PORT", environ.get("PROCURE_DEV_POSTGRES_PORT", "15432")
            ),
            nats_port=_port("PROCURE_DEV_NATS_PORT", environ.get("PROCURE_DEV_NATS_PORT", "14222")),
            http_base_port=_port(
                "PROCURE_DEV_HTTP_PORT", environ.get("PROCURE_DEV_HTTP_PORT", "8101")
            ),
            smtp_port=_port("PROCURE_DEV_SMTP_PORT", environ.get("PROCURE_DEV_SMTP_PORT", "12525")),
            smtp_host=environ.get("PROCURE_SMTP_HOST") or None,
            clock_start=environ.get("PROCURE_CLOCK_START") or None,
            clock_rate=environ.get("PROCURE_CLOCK_RATE") or None,
            without=_services(",".join([environ.get("PROCURE_DEV_WITHOUT", ""), *without])),
        )

    def clock_env(self) -> dict[str, str]:
        """Every service's clock starts at the chosen date (or now) and runs at the chosen
        rate, all anchored at the same real instant, so that they agree (a restarted service
        too)."""
        if self.clock_start is None and self.clock_rate is None:
            return {}
        return {
            "PROCURE_CLOCK_START": self.clock_start or self.started_at.isoformat(),
            "PROCURE_CLOCK_RATE": self.clock_rate or "1",
            "PROCURE_CLOCK_ANCHOR": self.started_at.isoformat(),
        }

    def clock_summary(self) -> str | None:
        if self.clock_start is None and self.clock_rate is None:
            return None
        start = self.clock_start or "now"
        return f"clock: from {start}, {self.clock_rate or '1'}x real time (demo mode)"

    @property
    def state_dir(self) -> Path:
        return self.root / ".procure"

    def port_of(self, service: str) -> int:
        return self.http_base_port + SERVICES.index(service)

    def ports(self) -> list[tuple[int, str, str]]:
        """(port, what listens there, the variable that moves it) for each port this run opens
        on this machine."""
        ports = []
        if self.postgres_url is None:
            ports.append((self.postgres_port, "PostgreSQL", "PROCURE_DEV_POSTGRES_PORT"))
        if self.nats_url is None:
            ports.append((self.nats_port, "NATS", "PROCURE_DEV_NATS_PORT"))
        if self.smtp_host is None:
            ports.append((self.smtp_port, "the development mailbox", "PROCURE_DEV_SMTP_PORT"))
        ports += [
            (self.port_of(s), f"the {s} service", "PROCURE_DEV_HTTP_PORT")
            for s in SERVICES
            if s not in self.without
        ]
        return ports


def _path(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def _port(name: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ServerError(f"{name}={text} is no port: give a number from 1 to 65535")
    return int(text)


def _services(text: str) -> frozenset[str]:
    named = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(named - set(SERVICES))
    if unknown:
        raise ServerError(
            f"no service {', '.join(unknown)}: the services are {', '.join(SERVICES)}"
        )
    return named


def jwt_secret(state_dir: Path) -> str:
    """A development signing secret kept under .procure/, so tokens survive restarts."""
    return _kept_secret(state_dir / "jwt-secret")


def database_password(state_dir: Path) -> str:
    """The password of the stack's database roles, kept under .procure/ with their data."""
    return _kept_secret(state_dir / "database-password")


def _kept_secret(path: Path) -> str:
    """A random secret in ``path``, made on first use (and again when a crash left the file
    empty or cut short)."""
    if path.exists() and len(path.read_text().strip()) >= 32:
        return path.read_text().strip()
    draft = path.with_suffix(".part")
    draft.unlink(missing_ok=True)
    # Readable by this user alone from the first byte.
    with os.fdopen(os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w") as out:
        out.write(secrets.token_urlsafe(48))
    os.replace(draft, path)
    return path.read_text().strip()


def development_secret(state_dir: Path) -> str | None:
    """The development secret ``procure up`` keeps in ``state_dir``, if it made one (read
    only: the ``procure`` commands sign with it, never make it)."""
    try:
        secret = (state_dir / "jwt-secret").read_text().strip()
    except FileNotFoundError:
        return None
    return secret if len(secret) >= 32 else None


def development_tokens(secret: str) -> list[tuple[str, str, str]]:
    """(who, role, token): one per role for the demo buyer, and a viewer of a second buyer."""
    tokens = []
    for role in Role:
        token = issue_token(
            secret=secret,
            issuer=_DEFAULTS.jwt_issuer,
            audience=_DEFAULTS.jwt_audience,
            sub=f"dev-{role.value}@{DEMO_BUYER}",
            roles=[role],
            buyer=DEMO_BUYER,
        )
        tokens.append((DEMO_BUYER, role.value, token))
    tokens.append(
        (
            SECOND_BUYER,
            Role.VIEWER.value,
            issue_token(
                secret=secret,
                issuer=_DEFAULTS.jwt_issuer,
                audience=_DEFAULTS.jwt_audience,
                sub=f"dev-viewer@{SECOND_BUYER}",
                roles=[Role.VIEWER],
                buyer=SECOND_BUYER,
            ),
        )
    )
    return tokens


def migration_environment(service_env: Mapping[str, str], endpoints: Endpoints) -> dict[str, str]:
    """What a service's migration runs with: the service's environment and, with the stack's
    roles, the owner's URL, which the service itself is never given."""
    env = dict(service_env)
    if endpoints.database_password is not None:
        env["DATABASE_OWNER_URL"] = with_user(
            env["DATABASE_URL"], OWNER, endpoints.database_password
        )
    return env


def service_environment(
    service: str,
    endpoints: Endpoints,
    secret: str,
    base: Mapping[str, str],
) -> dict[str, str]:
    """What a service of the stack runs with: ``base`` (the environment ``procure up`` or
    ``procure serve`` was given) with the stack's addresses, ports and development secret."""
    env = dict(base)
    env.update(
        DATABASE_URL=with_database(endpoints.postgres, f"procure_{service}"),
        NATS_URL=endpoints.nats,
        PROCURE_NATS_CREDENTIALS=str(Path(endpoints.credentials) / f"{service}{SEED_SUFFIX}"),
        PROCURE_HTTP_PORT=str(urlsplit(endpoints.url_of(service)).port),
        PROCURE_JWT_SECRET=secret,
        # The one place besides the tests that says "development": outside it, a service
        # refuses to start without a secret of its own or an issuer to trust.
        PROCURE_DEV_MODE="true",
    )
    # A development stack delivers webhooks to receivers on this machine (the setting that
    # lets a webhook reach loopback addresses; never set in production).
    env.setdefault("PROCURE_WEBHOOK_ALLOW_LOOPBACK", "true")
    # Milestones fall due as the (perhaps accelerated) clock runs: look every 5 s.
    env.setdefault("PROCURE_MILESTONE_SCAN_INTERVAL", "5")
    # The development buyers' names, as OCDS releases give them.
    env.setdefault(
        "PROCURE_BUYER_NAMES",
        "dfe=Department for Education;dhsc=Department of Health and Social Care",
    )
    if endpoints.database_password is not None:
        # As in production: the owner migrates, the service connects as its own role.
        env["DATABASE_URL"] = with_user(
            env["DATABASE_URL"], service_role(service), endpoints.database_password
        )
    env.update(endpoints.clock)
    if service == "contracts":  # OCDS imports find and register suppliers there
        env.setdefault("PROCURE_PROVIDERS_URL", endpoints.url_of("providers"))
    if endpoints.smtp is not None:  # mail goes to the development mailbox
        host, _, port = endpoints.smtp.rpartition(":")
        env.update(PROCURE_SMTP_HOST=host, PROCURE_SMTP_PORT=port)
    return env


class Stack:
    """The processes ``procure up`` owns, stopped in reverse order of start."""

    def __init__(self, config: UpConfig, console: Console) -> None:
        self.config = config
        self.console = console
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = config.state_dir / "logs"
        # Whether the pid and endpoints files are ours (a start refused beside a running
        # procure up must leave that one's alone).
        self.owner = False

    def write_pids(self) -> None:
        """``pid start what`` for ``procure up`` and each process it started, so that a later
        start knows them again (and no other process that reuses a pid)."""
        me = os.getpid()
        pids = [(me, "procure up")]
        pids += [(s.pid, s.name) for s in (self.postgres, self.nats) if s is not None and s.pid]
        pids += [(p.pid, service) for service, p in self.services.items()]
        lines = [Listed(pid, started_at(pid) or 0, what).line() for pid, what in pids]
        path = self.config.state_dir / PIDS
        draft = path.with_suffix(".part")
        draft.write_text("\n".join(lines) + "\n")
        os.replace(draft, path)

    @property
    def credentials(self) -> Path:
        """The NATS identities' seeds: the folder given, else ``.procure/nats/`` (with the
        server's authorization for them), made on the first start and kept."""
        return self.config.nats_credentials or self.config.state_dir / "nats"

    def start_servers(self) -> tuple[str, str]:
        state = self.config.state_dir
        if self.config.nats_credentials is None:
            write_credentials(self.credentials, DEPLOYED)
        else:
            for service in SERVICES:
                seed = self.credentials / f"{service}{SEED_SUFFIX}"
                if not seed.is_file():
                    raise ServerError(f"{seed} is not there (PROCURE_DEV_NATS_CREDENTIALS)")
        if self.config.postgres_url:
            pg_url = self.config.postgres_url
        else:
            self.postgres = EmbeddedPostgres(
                state / "postgres", self.config.postgres_port, self.logs / "postgres.log"
            )
            reuse = "reusing" if self.postgres.initialised() else "creating"
            self.console.print(
                f"starting PostgreSQL on 127.0.0.1:{self.config.postgres_port} "
                f"({reuse} its data in {self.postgres.data_dir})"
            )
            self.postgres.start()
            pg_url = self.postgres.url
            self.write_pids()
        if self.config.nats_url:
            nats_url = self.config.nats_url
        else:
            self.nats = EmbeddedNats(
                state / "jetstream",
                self.config.nats_port,
                self.logs / "nats.log",
                credentials=self.credentials,
            )
            self.console.print(f"starting nats-server on 127.0.0.1:{self.config.nats_port}")
            self.nats.start()
            nats_url = self.nats.url
            from procure_shared.messaging.nats import NatsAccess

            admin = NatsAccess("admin", str(self.credentials / f"admin{SEED_SUFFIX}"))
            for name in asyncio.run(retire_streams(nats_url, admin)):
                self.console.print(f"deleted the stream {name} of an earlier version")
        self.write_pids()
        return pg_url, nats_url

    def prepare_roles(self, pg_url: str) -> str | None:
        """The database roles of production (``devstack.roles``); their password, or None
        when the server's user may not make roles and the services connect as it."""
        password = database_password(self.config.state_dir)
        databases = [f"procure_{service}" for service in SERVICES]
        if asyncio.run(prepare_roles(pg_url, password, databases)):
            return password
        self.console.print(
            "the PostgreSQL user of PROCURE_POSTGRES_URL may not create roles: the services "
            "connect as it, not as roles of their own"
        )
        return None

    def endpoints(self, pg_url: str, nats_url: str, database_password: str | None) -> Endpoints:
        me = os.getpid()
        return Endpoints(
            pid=me,
            started=started_at(me) or 0,
            services={s: f"http://127.0.0.1:{self.config.port_of(s)}" for s in SERVICES},
            by_hand=sorted(self.config.without),
            nats=nats_url,
            postgres=pg_url,
            smtp=None if self.config.smtp_host else f"127.0.0.1:{self.config.smtp_port}",
            clock=self.config.clock_env(),
            credentials=str(self.credentials),
            database_password=database_password,
        )

    def migrate(self, service: str, env: dict[str, str]) -> None:
        self.console.print(f"migrating procure_{service}")
        result = subprocess.run(
            [sys.executable, "-m", f"procure_{service}", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            preexec_fn=dies_with_parent(),
        )
        if result.returncode != 0:
            raise ServerError(f"migrations of {service} failed:\n{result.stderr[-3000:]}")

    def start_service(self, service: str, env: dict[str, str]) -> None:
        log = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 (the child owns it)
        self.services[service] = subprocess.Popen(
            [sys.executable, "-m", f"procure_{service}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=dies_with_parent(),
        )
        log.close()
        self.write_pids()

    def wait_ready(
        self,
        services: Sequence[str],
        timeout: float | None,
        between: Callable[[], None] = lambda: None,
    ) -> None:
        """Until each of ``services`` answers ``/health/ready``; one of ours that exits, or
        ``timeout`` seconds, is a ``ServerError``. ``between`` runs at every look (the
        supervision of what already runs)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = set(services)
        while waiting:
            between()
            for service in sorted(waiting):
                process = self.services.get(service)
                if process is not None and process.poll() is not None:
                    raise ServerError(
                        f"{service} exited ({process.returncode}):\n{self.log_tail(service)}"
                    )
                if _ready(self.config.port_of(service)):
                    waiting.discard(service)
                    self.console.print(f"[green]{service} is ready[/green]")
            if waiting and deadline is not None and time.monotonic() > deadline:
                raise ServerError(f"not ready within {timeout:.0f} s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.2)

    def log_tail(self, service: str, lines: int = 20) -> str:
        text = (self.logs / f"{service}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def note(self, service: str, message: str) -> None:
        """Say ``message`` in the console and in the service's log."""
        self.console.print(f"[yellow]{message}[/yellow]")
        with (self.logs / f"{service}.log").open("a") as log:
            log.write(f"procure up: {message}\n")

    def server_down(self) -> str | None:
        for server in (self.postgres, self.nats):
            if server is not None and server.process is not None and not server.running():
                return server.name
        return None

    def stop(self) -> None:
        for process in self.services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 6
        for process in self.services.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.nats is not None:
            self.nats.stop(timeout=3)
        if self.postgres is not None:
            self.postgres.stop(timeout=5)
        if self.owner:
            for name in (PIDS, ENDPOINTS):
                with contextlib.suppress(FileNotFoundError):
                    (self.config.state_dir / name).unlink()


class Supervisor:
    """Starts a service of ours again when it exits, as its ``Restarts`` allow."""

    def __init__(self, stack: Stack, envs: Mapping[str, dict[str, str]]) -> None:
        self.stack = stack
        self.envs = envs
        self.policies = {
            s: dataclasses.replace(stack.config.restarts, exits=[]) for s in stack.services
        }
        self.due: dict[str, float] = {}  # service -> when to start it again (monotonic)
        self.unready: set[str] = set()

    def check(self) -> str | None:
        """One look at every service; the name of one that exits too often to go on."""
        now = time.monotonic()
        for service, process in self.stack.services.items():
            if service in self.due or process.poll() is None:
                continue
            delay = self.policies[service].after_exit(now)
            policy = self.policies[service]
            if delay is None:
                self.stack.note(
                    service,
                    f"{service} exited (code {process.returncode}) {policy.limit} times within "
                    f"{policy.window:.0f} s: stopping",
                )
                return service
            self.stack.note(
                service,
                f"{service} exited (code {process.returncode}); starting it again in {delay:.0f} s",
            )
            self.due[service] = now + delay
        for service, when in list(self.due.items()):
            if now >= when:
                del self.due[service]
                self.stack.start_service(service, self.envs[service])
                self.unready.add(service)
        for service in list(self.unready):
            if _ready(self.stack.config.port_of(service)):
                self.unready.discard(service)
                self.stack.note(service, f"{service} is ready again")
        return None


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def end_leftovers(state_dir: Path, console: Console) -> None:
    """End whatever an earlier ``procure up`` of the same ``.procure/`` left running (it was
    killed, and its children outlived it). Called holding the lock (``_lock``): no other
    ``procure up`` of this checkout runs."""
    ended = end_processes(
        [p for p in _listed(state_dir) if p.what != "procure up"],
        # PostgreSQL's fast shutdown (SIGTERM waits for its clients to leave).
        signal_of=lambda p: signal.SIGINT if p.what == "postgres" else signal.SIGTERM,
    )
    if ended:
        console.print(
            "ended what an earlier procure up left running: "
            + ", ".join(f"{p.what} (pid {p.pid})" for p in ended)
        )
    for name in (PIDS, ENDPOINTS):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def check_ports(config: UpConfig) -> None:
    """Every port this run will open is free, or a ``ServerError`` with a line for each that
    is not: the port, what holds it where that can be known, and the variable that moves it."""
    taken = [
        f"port {port} ({what}) is in use"
        + (f" by {holder}" if (holder := holder_of(port)) else "")
        + f": set {variable} to a free port"
        for port, what, variable in config.ports()
        if port_taken(port)
    ]
    if taken:
        raise ServerError("\n".join(taken))


def check_state(state_dir: Path) -> None:
    """Every folder of ``.procure/`` can be read and written by us, or one line saying which
    cannot."""
    for folder in (state_dir, *(state_dir / n for n in ("logs", "mail", "jetstream", "postgres"))):
        if folder.exists() and not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            raise ServerError(
                f"{folder} cannot be read or written by this user: give it back "
                f"(chown -R {os.getuid()} {state_dir}) or remove it"
            )


def print_summary(console: Console, config: UpConfig, tokens: list[tuple[str, str, str]]) -> None:
    services = Table(title="Procure is running")
    for column in ("service", "URL", "API docs"):
        services.add_column(column)
    for service in SERVICES:
        base = f"http://127.0.0.1:{config.port_of(service)}"
        services.add_row(service, base, f"{base}/docs")
    console.print(services)
    for service in sorted(config.without):
        console.print(f"{service} is yours (procure serve {service}): Ctrl-C here leaves it be")
    if (clock := config.clock_summary()) is not None:
        console.print(clock)
    console.print("Development bearer tokens (send as  Authorization: Bearer <token>):")
    for buyer, role, token in tokens:
        # One unbroken line each, so that a token can be copied.
        console.print(f"  {buyer:5} {role:10} {token}", soft_wrap=True, highlight=False)


def load_demo_data(
    console: Console,
    config: UpConfig,
    tokens: list[tuple[str, str, str]],
    contracts_env: dict[str, str],
) -> None:
    admin = next(token for buyer, role, token in tokens if role == Role.ADMIN.value)
    base = f"http://127.0.0.1:{config.port_of('providers')}"
    loaded = load_demo(base, admin, SystemClock().now().date())
    if loaded:
        console.print(f"demo data: {loaded} providers with their accreditations (first run)")
    else:
        console.print("demo data: providers already loaded")
    # The contracts service loads its own through its use cases, once the providers' events
    # have filled its provider directory.
    result = subprocess.run(
        [sys.executable, "-m", "procure_contracts", "demo"],
        env=contracts_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        preexec_fn=dies_with_parent(),
    )
    if result.returncode != 0:
        raise DemoError(f"contracts demo data failed:\n{result.stderr[-3000:]}")
    console.print(f"demo data: {result.stdout.strip().removeprefix('contracts demo data: ')}")


@dataclass
class _Asked:
    stop: bool = False  # Ctrl-C or SIGTERM came
    supervising: bool = False  # the stack is up: the loop sees ``stop`` in time

    def stopping(self) -> bool:
        return self.stop


class _Failed(Exception):
    """A service that keeps exiting, or a server gone: the stack stops."""

    def __init__(self, message: str, service: str | None = None) -> None:
        super().__init__(message)
        self.service = service


def _supervise(supervisor: Supervisor, stack: Stack) -> None:
    """One look at what runs: a service that exits too often, or PostgreSQL or NATS gone, is
    a ``_Failed``."""
    if (failing := supervisor.check()) is not None:
        raise _Failed(f"{failing} keeps exiting: the stack stops", failing)
    if (down := stack.server_down()) is not None:
        raise _Failed(f"{down} stopped unexpectedly; see {stack.logs}")


class _Stopping(Exception):
    """Ctrl-C (or SIGTERM) before the stack is up: leave whatever step is under way."""


def _lock(state_dir: Path) -> IO[str]:
    """Hold ``.procure/up.lock`` for as long as this process lives (the kernel lets go when it
    dies, even by kill -9): one ``procure up`` a checkout, whatever the timing of two starts."""
    lock = (state_dir / "up.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        holders = [p for p in _listed(state_dir) if p.what == "procure up"]
        pid = f" (pid {holders[0].pid})" if holders else ""
        raise ServerError(f"procure up is already running here{pid}; stop it first") from None
    return lock


def _listed(state_dir: Path) -> list[Listed]:
    try:
        return listed((state_dir / PIDS).read_text())
    except FileNotFoundError:
        return []


def run_up(config: UpConfig, console: Console | None = None) -> int:
    console = console or Console()
    asked = _Asked()

    def request_stop(signum: int, _: object) -> None:
        asked.stop = True
        if not asked.supervising:
            raise _Stopping

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = Stack(config, console)
    sink = None
    try:
        config.state_dir.mkdir(exist_ok=True)
        check_state(config.state_dir)
        lock = _lock(config.state_dir)  # noqa: F841 (held until the process ends)
        (config.state_dir / "logs").mkdir(exist_ok=True)
        end_leftovers(config.state_dir, console)
        stack.owner = True
        stack.write_pids()
        check_ports(config)
        if config.smtp_host is None:
            sink = MailSink(config.state_dir / "mail", config.smtp_port)
            sink.start()
            console.print(f"mail to 127.0.0.1:{config.smtp_port} is kept in {sink.folder}/")
        pg_url, nats_url = stack.start_servers()
        secret = jwt_secret(config.state_dir)
        endpoints = stack.endpoints(pg_url, nats_url, stack.prepare_roles(pg_url))
        envs = {s: service_environment(s, endpoints, secret, os.environ) for s in SERVICES}
        for service in SERVICES:
            stack.migrate(service, migration_environment(envs[service], endpoints))
        write_endpoints(config.state_dir, endpoints)
        ours = [s for s in SERVICES if s not in config.without]
        for service in ours:
            stack.start_service(service, envs[service])
        stack.wait_ready(ours, config.ready_timeout)
        supervisor = Supervisor(stack, envs)
        for service in sorted(config.without):
            console.print(
                f"waiting for {service} on port {config.port_of(service)}: run "
                f"`procure serve {service}` in another terminal",
                soft_wrap=True,
            )
        # Ours stay supervised while the user starts theirs, however long that takes.
        stack.wait_ready(sorted(config.without), None, lambda: _supervise(supervisor, stack))
        tokens = development_tokens(secret)
        load_demo_data(console, config, tokens, envs["contracts"])
        print_summary(console, config, tokens)
        console.print(f"logs: {stack.logs}/  ·  Ctrl-C stops everything", soft_wrap=True)
        asked.supervising = True
        if asked.stopping():  # asked between the last step and here
            raise _Stopping
        while not asked.stopping():
            _supervise(supervisor, stack)
            time.sleep(0.2)
        console.print("stopping ...")
        return 0
    except _Stopping:
        console.print("stopping ...")
        return 0
    except _Failed as exc:
        console.print(str(exc), style="red", markup=False, soft_wrap=True)
        if exc.service is not None:
            console.print(f"the last lines of {stack.logs / exc.service}.log:", soft_wrap=True)
            console.print(
                stack.log_tail(exc.service), markup=False, highlight=False, soft_wrap=True
            )
        return 1
    except (ServerError, DemoError, EndpointsError) as exc:
        # What failed may quote a log or a command's output: shown as it is, never as markup.
        console.print(str(exc), style="red", markup=False, soft_wrap=True)
        return 1
    except subprocess.TimeoutExpired as exc:
        console.print(
            f"{' '.join(map(str, exc.cmd))} took longer than {exc.timeout:.0f} s; see {stack.logs}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return 1
    except OSError as exc:  # a folder of .procure/ we may not use, a port taken meanwhile
        console.print(
            f"{exc.filename or ''} {exc.strerror or exc}", style="red", markup=False, soft_wrap=True
        )
        return 1
    finally:
        started = time.monotonic()
        stack.stop()
        if sink is not None:
            with contextlib.suppress(Exception):
                sink.stop()
        console.print(f"stopped in {time.monotonic() - started:.1f} s")


def serve_by_hand(root: Path, service: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment ``procure serve SERVICE`` runs ``service`` with: the running stack's
    (``.procure/endpoints.json``), as ``procure up`` gives its own services."""
    state = root / ".procure"
    endpoints = read_endpoints(state)
    if endpoints is None:
        raise ServerError(
            f"no procure up is running in {root}: start it first, leaving {service} to you "
            f"(make up WITHOUT={service}, or procure up --without {service})"
        )
    if service not in endpoints.by_hand:
        raise ServerError(
            f"procure up (pid {endpoints.pid}) runs {service} itself: start it with "
            f"--without {service} to run {service} by hand"
        )
    return service_environment(service, endpoints, jwt_secret(state), environ)
