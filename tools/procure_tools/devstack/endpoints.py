"""Where a running ``procure up`` is: ``.procure/endpoints.json``, written once its servers
listen and the databases are migrated (before the services start, so that ``procure serve``
can run one), removed when it stops. The ``procure`` commands read it when they are not
told where to go, so they find this checkout's stack, whatever ports it was given."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from procure_shared.identities import SEED_SUFFIX
from procure_tools.devstack.processes import started_at

__all__ = ["ENDPOINTS", "Endpoints", "EndpointsError", "read_endpoints", "write_endpoints"]

ENDPOINTS = "endpoints.json"


class EndpointsError(RuntimeError):
    """The endpoints file is there but cannot be used."""


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    pid: int  # procure up's
    started: int  # when it started (with the pid, one process)
    services: dict[str, str]  # service -> its HTTP base URL
    nats: str
    postgres: str  # the server's URL (each service has its own database there)
    by_hand: list[str] = []  # the services left to the user (procure serve)
    smtp: str | None = None  # host:port of the mailbox the services send to
    clock: dict[str, str] = {}  # the clock every service runs by (PROCURE_CLOCK_*)
    credentials: str = ""  # the folder of the NATS identities' seeds (<identity>.nk)
    # The password of the database roles (procure_owner and procure_<service>); None when the
    # services connect as the server's user (one that may not make roles).
    database_password: str | None = None

    def seed_of(self, identity: str) -> str:
        return str(Path(self.credentials) / f"{identity}{SEED_SUFFIX}")

    def running(self) -> bool:
        return started_at(self.pid) == self.started

    def url_of(self, service: str) -> str:
        return self.services[service]


def write_endpoints(state_dir: Path, endpoints: Endpoints) -> Path:
    """Write the file whole or not at all (a crash leaves the old file or none)."""
    path = state_dir / ENDPOINTS
    draft = path.with_suffix(".json.part")
    draft.unlink(missing_ok=True)
    # This user's alone: a PostgreSQL URL given to procure up may carry a password.
    with os.fdopen(os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb") as out:
        out.write(msgspec.json.format(msgspec.json.encode(endpoints)) + b"\n")
    os.replace(draft, path)
    return path


def read_endpoints(state_dir: Path) -> Endpoints | None:
    """The endpoints of this checkout's ``procure up`` while it runs; ``None`` when it does not
    run (no file, or one left by a ``procure up`` that is gone)."""
    path = state_dir / ENDPOINTS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EndpointsError(f"{path} cannot be read ({exc.strerror})") from exc
    try:
        endpoints = msgspec.json.decode(data, type=Endpoints)
    except msgspec.DecodeError as exc:
        raise EndpointsError(
            f"{path} is damaged ({exc}): remove it, or start make up again to rewrite it"
        ) from exc
    return endpoints if endpoints.running() else None
