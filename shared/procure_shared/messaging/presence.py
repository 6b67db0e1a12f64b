"""A running service process says so on NATS: a ``nats.micro`` service ``procure_<name>`` (no
endpoints) with its version, and its HTTP address in the metadata. ``$SRV.PING`` and
``$SRV.INFO`` find every instance; ``procure status`` asks them, then each instance's
``/health/ready``. It runs with the HTTP role: where there is no HTTP API there is nothing to
point at."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.service import ServiceConfig

__all__ = ["PREFIX", "Presence", "http_address"]

PREFIX = "procure_"


def http_address(host: str, port: int) -> str:
    """Where this machine reaches the API (a wildcard bind answers on loopback)."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{reachable}:{port}"


class Presence:
    role = "http"

    def __init__(self, nc: Client, *, service: str, version: str, http: str) -> None:
        self._nc = nc
        self._config = ServiceConfig(
            name=f"{PREFIX}{service}",
            version=version,
            description=f"Procure's {service} service",
            metadata={"service": service, "http": http},
        )

    async def run(self, stop: asyncio.Event) -> None:
        service = await add_service(self._nc, self._config)
        try:
            await stop.wait()
        finally:
            await service.stop()
