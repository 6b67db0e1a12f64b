"""Every change is written the same way: the new state (by the caller), one audit row and the
events it causes, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from procure_providers.domain.errors import NotFound, StaleVersion
from procure_shared import outbox
from procure_shared.audit import Actor, record_change
from procure_shared.events import Envelope, EventSpec
from procure_shared.logs import correlation_id
from procure_shared.postgres import Connection

__all__ = ["SERVICE", "check_version", "found", "publish"]

SERVICE = "providers"
T = TypeVar("T")


async def publish(
    conn: Connection,
    *,
    actor: Actor,
    at: datetime,
    event: EventSpec,
    subject: str,
    sequence: int,
    data: Any,
    resource_type: str,
    before: Any,
    after: Any,
) -> None:
    """Audit the change and put its event in the outbox (the event type names the action)."""
    await record_change(
        conn,
        actor=actor,
        at=at,
        action=event.type,
        resource_type=resource_type,
        resource_id=subject,
        before=before,
        after=after,
    )
    await outbox.add(
        conn,
        Envelope.new(
            service=SERVICE,
            type=event.type,
            version=event.version,
            subject=subject,
            time=at,
            sequence=sequence,
            data=data,
        ),
        correlation_id=correlation_id.get(),
    )


def found(value: T | None, what: str, id: str) -> T:
    if value is None:
        raise NotFound(f"no {what} {id}")
    return value


def check_version(what: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion(what, expected, current)
