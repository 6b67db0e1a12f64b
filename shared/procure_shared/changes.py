"""Every change is written the same way, in every service: the new state (by the caller), one
audit row and the events it causes, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from procure_shared import outbox
from procure_shared.audit import Actor, record_change
from procure_shared.errors import NotFound, StaleVersion
from procure_shared.events import Envelope, EventSpec
from procure_shared.logs import correlation_id
from procure_shared.postgres import Connection

__all__ = ["check_version", "found", "publish"]

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
    buyer_id: str | None = None,
) -> None:
    """Audit the change and put its event in the outbox (the event type names the action and,
    by its first word, the service publishing it)."""
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
            service=event.type.split(".", 1)[0],
            type=event.type,
            version=event.version,
            subject=subject,
            time=at,
            sequence=sequence,
            data=data,
            buyer_id=buyer_id,
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
