"""The ops dashboard's reads (decision 14): the contracts by urgency with their RAG status, the
milestones overdue and due soon, the filters' choices, the newest events and the counts
``procure status`` shows. Each is one indexed statement (``sql/ops.sql``) whose JSON decodes
straight into the Structs below; lists are limited and the board pages by keyset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from procure_shared.db.postgres import Queries
from procure_shared.db.sqlfiles import load_queries
from procure_shared.events.envelope import decode_envelope

__all__ = [
    "Board",
    "BoardRow",
    "Due",
    "DueMilestone",
    "EventLine",
    "Provider",
    "Scope",
    "board",
    "buyers",
    "due",
    "event_line",
    "planned",
    "providers",
    "recent_events",
]

Q = load_queries(Path(__file__).parent / "sql" / "ops.sql")


async def planned(db: Queries, sql: str, *args: Any) -> Any:
    """``fetchval`` with a plan made for these values: a statement prepared for this call only.
    The optional filters (``$n IS NULL OR ...``) make a generic plan scan what an index finds
    for given values, and PostgreSQL moves a statement it has run five times to its generic
    plan (measured: the overdue list 4 ms with custom plans, 12 ms generic). One more round
    trip (the Parse) instead."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await (await conn.prepare(sql)).fetchval(*args)
    return await (await db.prepare(sql)).fetchval(*args)


_EARLIEST = date(1, 1, 1)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the viewer looks at: a buyer's contracts (``None``: every buyer's, for an admin),
    optionally one provider's or one contract status, on ``today`` (the service clock's date),
    with ``days`` of due-soon window."""

    buyer: str | None
    today: date
    days: int
    provider: str | None = None
    status: str | None = None

    @property
    def horizon(self) -> date:
        return self.today + timedelta(days=self.days)

    def params(self) -> tuple[str | None, date, date, str | None, str | None]:
        return (self.buyer, self.today, self.horizon, self.provider, self.status)


class _Row(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class BoardRow(_Row, frozen=True, kw_only=True):
    id: str
    buyer_id: str
    title: str
    status: str
    rag: str | None  # None for a closed contract
    rank: int
    overdue: int
    due_soon: int
    first_due: date | None  # the earliest due up to the window's end: the board's order
    next_due: date | None  # the earliest scheduled at all
    amount: Decimal | None
    ends_on: date | None
    suppliers: list[str]


class Board(msgspec.Struct, frozen=True, kw_only=True):
    tiles: dict[str, int]  # red, amber, green, closed -> contracts
    items: list[BoardRow]

    def cursor_after(self, limit: int) -> tuple[int, date, str] | None:
        """The key of the last row when a further page may follow."""
        if len(self.items) < limit:
            return None
        last = self.items[-1]
        return (last.rank, last.first_due or date.max, last.id)


class DueMilestone(_Row, frozen=True, kw_only=True):
    id: str
    contract_id: str
    contract_title: str
    title: str
    kind: str
    due_on: date


class Due(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    items: list[DueMilestone]


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str


_board = msgspec.json.Decoder(Board)
_due = msgspec.json.Decoder(Due)
_providers = msgspec.json.Decoder(list[Provider])


async def board(
    db: Queries,
    scope: Scope,
    *,
    rag: str | None = None,
    after: tuple[int, date, str] | None = None,
    limit: int = 50,
) -> Board:
    rank, next_due, last_id = after or (None, None, None)
    # asyncpg sends date.max as 'infinity': the key of a contract with nothing due.
    text: str = await planned(
        db,
        Q.board,
        *scope.params(),
        rag,
        rank,
        next_due,
        uuid.UUID(last_id) if last_id else None,
        limit,
    )
    return _board.decode(text)


async def due(db: Queries, scope: Scope, *, overdue: bool, limit: int = 50) -> Due:
    """The overdue milestones (due before today), or those due within the window."""
    first, last = (
        (_EARLIEST, scope.today - timedelta(days=1)) if overdue else (scope.today, scope.horizon)
    )
    text: str = await planned(
        db, Q.due, scope.buyer, first, last, scope.provider, scope.status, limit
    )
    return _due.decode(text)


async def buyers(db: Queries) -> list[str]:
    found: list[str] = await db.fetchval(Q.buyers)
    return found


async def providers(db: Queries, *, limit: int = 2000) -> list[Provider]:
    return _providers.decode(await db.fetchval(Q.providers, limit))


class _Facts(_Row, frozen=True, kw_only=True):
    title: str | None = None
    name: str | None = None
    contract_id: str | None = None
    status: str | None = None


class EventLine(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An event as the dashboard lists it."""

    id: str
    type: str
    time: datetime
    buyer_id: str | None
    title: str | None
    contract_id: str | None
    status: str | None


_facts = msgspec.json.Decoder(_Facts)


def event_line(payload: bytes) -> EventLine | None:
    """An encoded envelope as a line of the list (``None`` if it is not an event)."""
    try:
        envelope = decode_envelope(payload)
        facts = _facts.decode(envelope.data)
    except msgspec.DecodeError:
        return None
    contract = facts.contract_id or (envelope.subject if ".contract." in envelope.type else None)
    return EventLine(
        id=envelope.id,
        type=envelope.type,
        time=envelope.time,
        buyer_id=envelope.buyerid,
        title=facts.title or facts.name,  # a KPI's events name it
        contract_id=contract,
        status=facts.status,
    )


async def recent_events(db: Queries, buyer: str | None, *, limit: int = 15) -> list[EventLine]:
    """The newest events of ``buyer`` (every buyer's: ``None``) among the last few hundred the
    service wrote: enough for a glance; the live stream carries on from there."""
    rows = await db.fetch(Q.recent_events, 300)
    lines = []
    for row in rows:
        line = event_line(row["payload"])
        if line is not None and (buyer is None or line.buyer_id == buyer):
            lines.append(line)
            if len(lines) == limit:
                break
    return lines
