"""What ``procure status`` finds: the service instances that answer ``$SRV.INFO`` on NATS
(``presence.py``), each one's ``/health/ready``, and the contracts service's count of overdue
and due-soon milestones (``GET /v1/milestones/summary``). Over NATS and HTTP only: it never
imports a service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import msgspec
import nats
from nats.aio.msg import Msg

from procure_shared.messaging.nats import NatsAccess
from procure_shared.messaging.presence import PREFIX

__all__ = ["NATS_WAIT", "Instance", "Milestones", "Status", "discover", "gather_status"]


class _Endpoint(msgspec.Struct, frozen=True):
    name: str
    subject: str


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """One service instance as ``$SRV.INFO`` describes it, and what its API said."""

    name: str
    id: str
    version: str
    metadata: dict[str, str] | None = None
    endpoints: list[_Endpoint] | None = None
    health: str = ""
    ready: bool = False

    @property
    def service(self) -> str:
        return (self.metadata or {}).get("service") or self.name

    @property
    def label(self) -> str:
        """The service, or what a micro service without an HTTP API answers on NATS."""
        if self.http is not None or not self.endpoints:
            return self.service
        return f"{self.service} ({', '.join(e.subject for e in self.endpoints)})"

    @property
    def http(self) -> str | None:
        return (self.metadata or {}).get("http")


class Milestones(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    today: str
    overdue: int
    due_soon: int
    due_soon_days: int


@dataclass(frozen=True)
class Status:
    instances: list[Instance]
    milestones: Milestones | None
    problem: str | None  # why the milestones could not be counted


_info = msgspec.json.Decoder(Instance)


NATS_WAIT = 2.5  # seconds for a NATS server to take us on


async def discover(nats_url: str, access: NatsAccess, *, within: float = 0.75) -> list[Instance]:
    """Every micro service instance that answers ``$SRV.INFO`` within ``within`` seconds."""
    # A server that takes the connection but never speaks would hold nats-py for good: the
    # whole handshake gets NATS_WAIT seconds, and its errors are ours to report, not printed
    # as it goes.
    nc = await asyncio.wait_for(
        nats.connect(
            nats_url,
            connect_timeout=2,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            error_cb=_unsaid,
            **access.options(),
        ),
        timeout=NATS_WAIT,
    )
    found: list[Instance] = []
    try:
        inbox = nc.new_inbox()

        async def take(msg: Msg) -> None:
            with contextlib.suppress(msgspec.DecodeError):
                found.append(_info.decode(msg.data))

        subscription = await nc.subscribe(inbox, cb=take)
        await nc.publish("$SRV.INFO", b"", reply=inbox)
        await nc.flush()
        await asyncio.sleep(within)
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return sorted(found, key=lambda i: (i.service, i.name, i.id))


async def _unsaid(_: Exception) -> None:
    """nats-py's error callback: the caller reports what failed (the connect raises it)."""


async def _health(http: httpx.AsyncClient, instance: Instance) -> Instance:
    if instance.http is None:
        return msgspec.structs.replace(instance, health="answers on NATS", ready=True)
    try:
        answer = await http.get(f"{instance.http}/health/ready", timeout=2)
    except httpx.HTTPError as exc:
        return msgspec.structs.replace(instance, health=f"unreachable ({exc})")
    return msgspec.structs.replace(
        instance, health=_said(answer.status_code, answer.content), ready=answer.is_success
    )


class _Ready(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


def _said(code: int, body: bytes) -> str:
    """``200 ready``, or the status and the checks that are not ok (``503 not ready: database
    down``); the body as it is when it is not the health document."""
    try:
        ready = msgspec.json.decode(body, type=_Ready)
    except msgspec.DecodeError:
        return f"{code} {body.decode(errors='replace').strip()}"
    failing = [f"{name} {state}" for name, state in ready.checks.items() if state != "ok"]
    return f"{code} {ready.status.replace('_', ' ')}" + (
        f": {', '.join(failing)}" if failing else ""
    )


async def gather_status(
    nats_url: str,
    access: NatsAccess,
    token_for: Callable[[str], str | None],
    *,
    days: int | None = None,
) -> Status:
    """The instances, and the milestone counts of a ready contracts instance, asked with the
    token ``token_for`` gives for its URL (None: not asked; a token goes only where the
    caller would send it)."""
    instances = await discover(nats_url, access)
    async with httpx.AsyncClient() as http:
        instances = list(await asyncio.gather(*(_health(http, i) for i in instances)))
        contracts = [i for i in instances if i.name == f"{PREFIX}contracts" and i.http and i.ready]
        if not contracts:
            return Status(instances, None, "no contracts service is ready")
        token = token_for(contracts[0].http or "")
        if token is None:
            return Status(
                instances,
                None,
                f"no token for {contracts[0].http}: give one with --token (or PROCURE_TOKEN)",
            )
        try:
            answer = await http.get(
                f"{contracts[0].http}/v1/milestones/summary",
                params={"days": days} if days else None,
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
        except httpx.HTTPError as exc:
            return Status(instances, None, f"no answer from {contracts[0].http} ({exc!r})")
    if not answer.is_success:
        return Status(instances, None, f"{answer.status_code} {answer.text.strip()}")
    return Status(instances, msgspec.json.decode(answer.content, type=Milestones), None)
