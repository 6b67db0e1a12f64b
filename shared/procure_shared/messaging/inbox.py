"""The inbox: effectively-once, in-order application of events by a consumer.

In the handler's transaction: record the event id (a repeat is a duplicate, skipped) and, for
ordered consumers, advance the aggregate's position only from ``sequence - 1`` to ``sequence``.
A later event whose predecessor has not been applied yet is a gap: the transaction rolls back
and the message comes back later.
"""

from __future__ import annotations

import enum
from pathlib import Path

from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries
from procure_shared.events.envelope import Envelope

__all__ = ["Admission", "admit"]

Q = load_queries(Path(__file__).parent / "sql" / "inbox.sql")


class Admission(enum.Enum):
    APPLY = "apply"  # new and next in order: apply it
    DUPLICATE = "duplicate"  # seen before (or older than what was applied): skip and ack
    GAP = "gap"  # an earlier event of the aggregate is missing: roll back, retry later


async def admit(conn: Connection, consumer: str, envelope: Envelope, *, ordered: bool) -> Admission:
    status = await conn.execute(
        Q.record, consumer, envelope.id, envelope.type, envelope.subject, envelope.sequence
    )
    if status.endswith(" 0"):
        return Admission.DUPLICATE
    if not ordered:
        return Admission.APPLY
    inserted = await conn.fetchval(Q.advance, consumer, envelope.subject, envelope.sequence)
    if inserted is None:
        last = await conn.fetchval(Q.position, consumer, envelope.subject)
        return Admission.DUPLICATE if envelope.sequence <= last else Admission.GAP
    if inserted and envelope.sequence != 1:
        return Admission.GAP
    return Admission.APPLY
