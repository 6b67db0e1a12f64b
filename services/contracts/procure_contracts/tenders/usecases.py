"""Drafting, changing and moving tenders and their lots through their state machines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from procure_contracts.tenders import rules, store
from procure_contracts.tenders.rules import (
    Lot,
    LotChanges,
    LotDraft,
    LotStatus,
    Tender,
    TenderChanges,
    TenderDraft,
)
from procure_contracts.usecases.context import Who, record
from procure_shared.db.changes import check_version, found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.events import EventSpec
from procure_shared.events import registry as events

__all__ = [
    "add_lot",
    "draft_tender",
    "get_lot",
    "get_tender",
    "move_tender",
    "settle_lot",
    "update_lot",
    "update_tender",
]


async def _tender_event(
    conn: Connection,
    who: Who,
    now: datetime,
    event: EventSpec,
    before: Tender | None,
    after: Tender,
    changed: Sequence[str] = (),
    lots: Sequence[Lot] | None = None,
) -> None:
    """``lots``: the tender's lots when the caller has them (else they are read)."""
    known = lots if lots is not None else await store.lots_of(conn, after.id)
    data = rules.tender_data(after, [lot.id for lot in known], changed)
    await record(conn, who, now, event, "tender", before, after, data)


async def lot_event(
    conn: Connection,
    who: Who,
    now: datetime,
    event: EventSpec,
    before: Lot | None,
    after: Lot,
    changed: Sequence[str] = (),
) -> None:
    data = rules.lot_data(after, await store.lot_award_ids(conn, after.id), changed)
    await record(conn, who, now, event, "lot", before, after, data)


async def draft_tender(conn: Connection, d: TenderDraft, *, who: Who, now: datetime) -> Tender:
    tender = rules.draft(d, id=str(uuid.uuid4()), buyer_id=who.buyer, now=now)
    await store.tenders.insert(conn, tender)
    await _tender_event(conn, who, now, events.TENDER_DRAFTED, None, tender, lots=())
    return tender


async def get_tender(
    conn: Queries, tender_id: str, *, who: Who, for_update: bool = False
) -> Tender:
    return found(
        await store.tenders.get(conn, tender_id, buyer=who.scope, for_update=for_update),
        "tender",
        tender_id,
    )


async def update_tender(
    conn: Connection,
    tender_id: str,
    changes: TenderChanges,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Tender:
    before = await get_tender(conn, tender_id, who=who, for_update=True)
    check_version(f"tender {tender_id}", before.version, expected_version)
    after, changed = rules.update(before, changes, now=now)
    if changed:
        await store.tenders.save(conn, after)
        await _tender_event(conn, who, now, events.TENDER_UPDATED, before, after, changed)
    return after


async def move_tender(
    conn: Connection,
    tender_id: str,
    move: str,
    *,
    reason: str | None,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Tender:
    """``move`` is one of publish, close, complete, cancel, unsuccessful. Cancelling or ending a
    tender unsuccessfully settles its open lots the same way."""
    before = await get_tender(conn, tender_id, who=who, for_update=True)
    check_version(f"tender {tender_id}", before.version, expected_version)
    lots = await store.lots_of(conn, tender_id, for_update=True)
    if move == "publish":
        after, event = rules.publish(before, lots, now=now), events.TENDER_PUBLISHED
    elif move == "close":
        after, event = rules.close(before, now=now), events.TENDER_CLOSED
    elif move == "complete":
        after, event = rules.complete(before, lots, now=now), events.TENDER_COMPLETED
    elif move == "cancel":
        after, event = rules.cancel(before, lots, reason or "", now=now), events.TENDER_CANCELLED
    elif move == "unsuccessful":
        after = rules.unsuccessful(before, lots, reason or "", now=now)
        event = events.TENDER_UNSUCCESSFUL
    else:
        raise ValueError(f"no tender move {move!r}")
    await store.tenders.save(conn, after)
    await _settle_open_lots(conn, after, lots, who=who, now=now)
    await _tender_event(conn, who, now, event, before, after, lots=lots)
    return after


async def _settle_open_lots(
    conn: Connection, tender: Tender, lots: list[Lot], *, who: Who, now: datetime
) -> None:
    for lot in lots:
        after = rules.follow_tender(tender, lot, now=now)
        if after is not None:
            event = (
                events.LOT_CANCELLED
                if after.status is LotStatus.CANCELLED
                else events.LOT_UNSUCCESSFUL
            )
            await store.lots.save(conn, after)
            await lot_event(conn, who, now, event, lot, after)


async def add_lot(conn: Connection, tender_id: str, d: LotDraft, *, who: Who, now: datetime) -> Lot:
    tender = await get_tender(conn, tender_id, who=who, for_update=True)
    lot = rules.add_lot(tender, d, id=str(uuid.uuid4()), now=now)
    await store.lots.insert(conn, lot)
    await lot_event(conn, who, now, events.LOT_ADDED, None, lot)
    return lot


async def get_lot(
    conn: Queries, tender_id: str, lot_id: str, *, who: Who, for_update: bool = False
) -> Lot:
    lot = await store.lots.get(conn, lot_id, buyer=who.scope, for_update=for_update)
    if lot is None or lot.tender_id != tender_id:
        return found(None, f"lot of tender {tender_id}", lot_id)
    return lot


async def update_lot(
    conn: Connection,
    tender_id: str,
    lot_id: str,
    changes: LotChanges,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Lot:
    tender = await get_tender(conn, tender_id, who=who, for_update=True)
    before = await get_lot(conn, tender_id, lot_id, who=who, for_update=True)
    check_version(f"lot {lot_id}", before.version, expected_version)
    after, changed = rules.update_lot(tender, before, changes, now=now)
    if changed:
        await store.lots.save(conn, after)
        await lot_event(conn, who, now, events.LOT_UPDATED, before, after, changed)
    return after


async def settle_lot(
    conn: Connection,
    tender_id: str,
    lot_id: str,
    move: str,
    reason: str,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Lot:
    """``move`` is cancel or unsuccessful."""
    tender = await get_tender(conn, tender_id, who=who, for_update=True)
    before = await get_lot(conn, tender_id, lot_id, who=who, for_update=True)
    check_version(f"lot {lot_id}", before.version, expected_version)
    if move == "cancel":
        after, event = rules.cancel_lot(tender, before, reason, now=now), events.LOT_CANCELLED
    elif move == "unsuccessful":
        after = rules.lot_unsuccessful(tender, before, reason, now=now)
        event = events.LOT_UNSUCCESSFUL
    else:
        raise ValueError(f"no lot move {move!r}")
    await store.lots.save(conn, after)
    await lot_event(conn, who, now, event, before, after)
    return after
