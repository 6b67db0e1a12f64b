"""Every change is written the same way, in every service: the new state (by the caller), one
audit row and the events it causes, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from procure_shared.db.audit import Actor, record_changes
from procure_shared.db.postgres import Connection
from procure_shared.errors import NotFound, StaleVersion
from procure_shared.events import Envelope, EventSpec
from procure_shared.logs import correlation_id
from procure_shared.messaging import outbox

__all__ = ["Change", "check_version", "found", "publish", "publish_all"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    """One change of an aggregate: its audit row and the one event it causes."""

    actor: Actor
    at: datetime
    event: EventSpec
    subject: str
    sequence: int
    data: Any
    resource_type: str
    before: Any
    after: Any
    buyer_id: str | None = None
    # The audited resource, when it is not the event's subject (a dead letter is audited as
    # the delivery and announced on its subscription's history).
    resource_id: str | None = None


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
    resource_id: str | None = None,
) -> None:
    """Audit the change and put its event in the outbox (the event type names the action and,
    by its first word, the service publishing it)."""
    await publish_all(
        conn,
        [
            Change(
                actor=actor,
                at=at,
                event=event,
                subject=subject,
                sequence=sequence,
                data=data,
                resource_type=resource_type,
                before=before,
                after=after,
                buyer_id=buyer_id,
                resource_id=resource_id,
            )
        ],
    )


async def publish_all(conn: Connection, changes: Sequence[Change]) -> None:
    """``publish`` for many changes at once: their audit rows, then their events, each kind in
    one round trip (a sweep's batch)."""
    await record_changes(
        conn,
        [
            (
                c.actor,
                c.at,
                c.event.type,
                c.resource_type,
                c.resource_id or c.subject,
                c.before,
                c.after,
            )
            for c in changes
        ],
    )
    envelopes = [
        Envelope.new(
            service=c.event.type.split(".", 1)[0],
            type=c.event.type,
            version=c.event.version,
            subject=c.subject,
            time=c.at,
            sequence=c.sequence,
            data=c.data,
            buyer_id=c.buyer_id,
        )
        for c in changes
    ]
    if envelopes:
        await outbox.add(conn, *envelopes, correlation_id=correlation_id.get())


def found(value: T | None, what: str, id: str) -> T:
    if value is None:
        raise NotFound(f"no {what} {id}")
    return value


def check_version(what: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion(what, expected, current)
