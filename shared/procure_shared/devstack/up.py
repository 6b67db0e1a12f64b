"""``procure up``: the whole system on one machine.

Starts an embedded PostgreSQL and nats-server with their data under ``.procure/`` (or uses
``PROCURE_POSTGRES_URL`` and ``NATS_URL``), creates one database per service, runs each
service's migrations as a separate step, starts the services, waits until each answers
``/health/ready`` and prints their URLs and development tokens. Ctrl-C (or SIGTERM) stops
everything in order. A crash (everything killed with -9) leaves stale pid files and a
PostgreSQL that needs crash recovery: the next run clears the one and lets PostgreSQL do the
other.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table

from procure_shared.clock import SystemClock
from procure_shared.devstack.demo import DemoError, load_demo
from procure_shared.devstack.mailsink import MailSink
from procure_shared.devstack.servers import EmbeddedNats, EmbeddedPostgres, ServerError
from procure_shared.http.auth import Role, issue_token
from procure_shared.settings import Settings

__all__ = ["DEMO_BUYER", "SECOND_BUYER", "SERVICES", "UpConfig", "run_up"]

SERVICES = ("contracts", "providers", "notifications")
DEMO_BUYER = "dfe"  # the Department for Education
SECOND_BUYER = "dhsc"  # a second buyer, to see that buyers are kept apart
_DEFAULTS = Settings(service="dev", database_url="postgresql://unused/unused")

# What each variable ``UpConfig.from_env`` reads means (its default is from_env's own), for
# docs/configuration.md: ``procure configuration`` refuses a read this does not describe.
UP_ENVIRONMENT: dict[str, str] = {
    "NATS_URL": "A NATS server (with JetStream) to use instead of starting the embedded one.",
    "PROCURE_CLOCK_RATE": "Simulated seconds per real second for every service's clock "
    "(`make up RATE=...`).",
    "PROCURE_CLOCK_START": "The date (or instant) every service's clock starts at "
    "(`make up AT=...`); unset, with a rate: now.",
    "PROCURE_DEV_HTTP_PORT": "The contracts service's HTTP port; providers take the next one "
    "and notifications the one after.",
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
    "DATABASE_URL": "`procure_<service>` on the PostgreSQL server in use",
    "NATS_URL": "the NATS server in use",
    "PROCURE_BUYER_NAMES": "the development buyers' names (unless set)",
    "PROCURE_CLOCK_ANCHOR": "the instant `procure up` started (with a clock start or rate)",
    "PROCURE_CLOCK_RATE": "`PROCURE_CLOCK_RATE`, else `1` (with a clock start or rate)",
    "PROCURE_CLOCK_START": "`PROCURE_CLOCK_START`, else the instant `procure up` started "
    "(with a clock start or rate)",
    "PROCURE_HTTP_PORT": "`PROCURE_DEV_HTTP_PORT`, plus 1 for providers, 2 for notifications",
    "PROCURE_JWT_SECRET": "the development secret kept in `.procure/jwt-secret`",
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
    postgres_port: int = 54329
    nats_port: int = 42229
    http_base_port: int = 8101
    smtp_port: int = 42525  # the development mailbox (unless PROCURE_SMTP_HOST names a server)
    smtp_host: str | None = None  # PROCURE_SMTP_HOST: send mail there, start no mailbox
    ready_timeout: float = 90.0
    clock_start: str | None = None  # PROCURE_CLOCK_START: the demo's date (or instant)
    clock_rate: str | None = None  # PROCURE_CLOCK_RATE: simulated seconds per real second
    started_at: datetime = field(default_factory=lambda: SystemClock().now())

    @classmethod
    def from_env(cls, root: Path, environ: Mapping[str, str]) -> UpConfig:
        return cls(
            root=root,
            postgres_url=environ.get("PROCURE_POSTGRES_URL") or None,
            nats_url=environ.get("NATS_URL") or None,
            postgres_port=int(environ.get("PROCURE_DEV_POSTGRES_PORT", "54329")),
            nats_port=int(environ.get("PROCURE_DEV_NATS_PORT", "42229")),
            http_base_port=int(environ.get("PROCURE_DEV_HTTP_PORT", "8101")),
            smtp_port=int(environ.get("PROCURE_DEV_SMTP_PORT", "42525")),
            smtp_host=environ.get("PROCURE_SMTP_HOST") or None,
            clock_start=environ.get("PROCURE_CLOCK_START") or None,
            clock_rate=environ.get("PROCURE_CLOCK_RATE") or None,
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


def _with_database(server_url: str, database: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{database}"))


def jwt_secret(state_dir: Path) -> str:
    """A development signing secret kept under .procure/, so tokens survive restarts."""
    path = state_dir / "jwt-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


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


class Stack:
    """The processes ``procure up`` owns, stopped in reverse order of start."""

    def __init__(self, config: UpConfig, console: Console) -> None:
        self.config = config
        self.console = console
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = config.state_dir / "logs"

    def write_pids(self) -> None:
        pids = [os.getpid()]
        pids += [s.pid for s in (self.postgres, self.nats) if s is not None and s.pid]
        pids += [p.pid for p in self.services.values()]
        (self.config.state_dir / "up.pids").write_text("\n".join(map(str, pids)) + "\n")

    def start_servers(self) -> tuple[str, str]:
        state = self.config.state_dir
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
        if self.config.nats_url:
            nats_url = self.config.nats_url
        else:
            self.nats = EmbeddedNats(
                state / "jetstream", self.config.nats_port, self.logs / "nats.log"
            )
            self.console.print(f"starting nats-server on 127.0.0.1:{self.config.nats_port}")
            self.nats.start()
            nats_url = self.nats.url
        self.write_pids()
        return pg_url, nats_url

    def service_env(self, service: str, pg_url: str, nats_url: str, secret: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=_with_database(pg_url, f"procure_{service}"),
            NATS_URL=nats_url,
            PROCURE_HTTP_PORT=str(self.config.port_of(service)),
            PROCURE_JWT_SECRET=secret,
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
        env.update(self.config.clock_env())
        if service == "contracts":  # OCDS imports find and register suppliers there
            env.setdefault(
                "PROCURE_PROVIDERS_URL", f"http://127.0.0.1:{self.config.port_of('providers')}"
            )
        if self.config.smtp_host is None:  # mail goes to the development mailbox
            env.update(PROCURE_SMTP_HOST="127.0.0.1", PROCURE_SMTP_PORT=str(self.config.smtp_port))
        return env

    def migrate(self, service: str, env: dict[str, str]) -> None:
        self.console.print(f"migrating procure_{service}")
        result = subprocess.run(
            [sys.executable, "-m", f"procure_{service}", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
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
        )
        log.close()
        self.write_pids()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.ready_timeout
        waiting = set(self.services)
        while waiting:
            for service in sorted(waiting):
                process = self.services[service]
                if process.poll() is not None:
                    tail = (self.logs / f"{service}.log").read_text(errors="replace")[-3000:]
                    raise ServerError(f"{service} exited ({process.returncode}):\n{tail}")
                if _ready(self.config.port_of(service)):
                    waiting.discard(service)
                    self.console.print(f"[green]{service} is ready[/green]")
            if waiting and time.monotonic() > deadline:
                raise ServerError(f"not ready within {self.config.ready_timeout:.0f} s: {waiting}")
            if waiting:
                time.sleep(0.2)

    def crashed(self) -> str | None:
        for service, process in self.services.items():
            if process.poll() is not None:
                return service
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
        with contextlib.suppress(FileNotFoundError):
            (self.config.state_dir / "up.pids").unlink()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _refuse_if_running(state_dir: Path) -> None:
    pids_file = state_dir / "up.pids"
    if not pids_file.exists():
        return
    first = pids_file.read_text().split()[:1]
    if first and _alive(int(first[0])) and int(first[0]) != os.getpid():
        raise ServerError(f"procure up is already running (pid {first[0]}); stop it first")
    pids_file.unlink()  # stale: left by a crash


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}/cmdline").read_bytes().find(b"procure") >= 0


def print_summary(console: Console, config: UpConfig, tokens: list[tuple[str, str, str]]) -> None:
    services = Table(title="Procure is running")
    for column in ("service", "URL", "API docs"):
        services.add_column(column)
    for service in SERVICES:
        base = f"http://127.0.0.1:{config.port_of(service)}"
        services.add_row(service, base, f"{base}/docs")
    console.print(services)
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
    )
    if result.returncode != 0:
        raise DemoError(f"contracts demo data failed:\n{result.stderr[-3000:]}")
    console.print(f"demo data: {result.stdout.strip().removeprefix('contracts demo data: ')}")


def run_up(config: UpConfig, console: Console | None = None) -> int:
    console = console or Console()
    config.state_dir.mkdir(exist_ok=True)
    (config.state_dir / "logs").mkdir(exist_ok=True)
    _refuse_if_running(config.state_dir)
    stopping = False

    def request_stop(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = Stack(config, console)
    sink = None
    if config.smtp_host is None:
        sink = MailSink(config.state_dir / "mail", config.smtp_port)
    try:
        if sink is not None:
            sink.start()
            console.print(f"mail to 127.0.0.1:{config.smtp_port} is kept in {sink.folder}/")
        pg_url, nats_url = stack.start_servers()
        secret = jwt_secret(config.state_dir)
        envs = {s: stack.service_env(s, pg_url, nats_url, secret) for s in SERVICES}
        for service in SERVICES:
            stack.migrate(service, envs[service])
        for service in SERVICES:
            stack.start_service(service, envs[service])
        stack.wait_ready()
        tokens = development_tokens(secret)
        load_demo_data(console, config, tokens, envs["contracts"])
        print_summary(console, config, tokens)
        console.print(f"logs: {stack.logs}/  ·  Ctrl-C stops everything", soft_wrap=True)
        while not stopping:
            crashed = stack.crashed()
            if crashed:
                console.print(f"[red]{crashed} stopped unexpectedly; see {stack.logs}[/red]")
                return 1
            time.sleep(0.2)
        console.print("stopping ...")
        return 0
    except (ServerError, DemoError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        started = time.monotonic()
        stack.stop()
        if sink is not None:
            with contextlib.suppress(Exception):
                sink.stop()
        console.print(f"stopped in {time.monotonic() - started:.1f} s")
