"""Awarding lots (with eligibility asked of the providers service) and cancelling awards."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from procure_contracts.storage.directory import provider_names
from procure_contracts.tenders import awards_rules as rules
from procure_contracts.tenders import rules as tender_rules
from procure_contracts.tenders import store
from procure_contracts.tenders.awards_rules import Award, AwardDraft
from procure_contracts.tenders.rules import LotStatus
from procure_contracts.tenders.usecases import get_lot, get_tender, lot_event
from procure_contracts.usecases.context import AskEligibility, Who, record
from procure_shared.db.changes import check_version, found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.events import registry as events

__all__ = ["award_lot", "awards_of", "cancel_award", "get_award"]


async def award_lot(
    conn: Connection,
    tender_id: str,
    lot_id: str,
    draft: AwardDraft,
    *,
    ask: AskEligibility,
    who: Who,
    now: datetime,
) -> list[Award]:
    """One award per provider. The providers service is asked first, before any row is locked
    (it may take up to its time-out); the lot is then locked and checked again."""
    tender = await get_tender(conn, tender_id, who=who)
    lot = await get_lot(conn, tender_id, lot_id, who=who)
    tender_rules.require_lot(tender, lot, "awarded")
    provider_ids = [item.provider_id for item in draft.providers]
    answers = await ask(provider_ids, lot.category, draft.date.date()) if provider_ids else {}
    tender = await get_tender(conn, tender_id, who=who, for_update=True)
    before = await get_lot(conn, tender_id, lot_id, who=who, for_update=True)
    made = rules.make(
        tender,
        before,
        draft,
        live_awards=await store.live_awards(conn, lot_id),
        answers=answers,
        names=await provider_names(conn, provider_ids),
        ids=[str(uuid.uuid4()) for _ in provider_ids],
        now=now,
    )
    await store.insert_awards(conn, made)
    for award in made:
        await _award_event(conn, who, now, award, None)
    if before.status is LotStatus.ACTIVE:
        after = tender_rules.lot_awarded(before, now=now)
        await store.lots.save(conn, after)
        await lot_event(conn, who, now, events.LOT_AWARDED, before, after)
    return made


async def _award_event(
    conn: Connection, who: Who, now: datetime, after: Award, before: Award | None
) -> None:
    if before is None:
        await record(
            conn, who, now, events.AWARD_MADE, "award", None, after, rules.made_data(after)
        )
    else:
        data = rules.cancelled_data(after)
        await record(conn, who, now, events.AWARD_CANCELLED, "award", before, after, data)


async def awards_of(
    conn: Queries, award_ids: Sequence[str], *, for_update: bool = False
) -> list[Award]:
    """Awards by id, as stored (what a contract rests on), whichever buyer made them: the
    caller decides who may see which."""
    return await store.awards.many(conn, award_ids, for_update=for_update)


async def get_award(
    conn: Queries, award_id: str, *, who: Who, now: datetime, for_update: bool = False
) -> Award:
    award = await store.awards.get(conn, award_id, buyer=who.scope, for_update=for_update)
    return found(award, "award", award_id).seen_at(now)


async def cancel_award(
    conn: Connection,
    award_id: str,
    reason: str,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Award:
    """Cancel an award no live contract rests on; a lot left with no live award opens again
    (while its tender is being evaluated)."""
    found_award = await get_award(conn, award_id, who=who, now=now)
    tender = await get_tender(conn, found_award.tender_id, who=who, for_update=True)
    lot = await get_lot(conn, tender.id, found_award.lot_id, who=who, for_update=True)
    before = await get_award(conn, award_id, who=who, now=now, for_update=True)
    check_version(f"award {award_id}", before.version, expected_version)
    after = rules.cancel(
        before, reason, held_by_contract=await store.contract_holding(conn, award_id), now=now
    )
    await store.awards.save(conn, after)
    await _award_event(conn, who, now, after, before)
    if lot.status is LotStatus.AWARDED and not await store.live_awards(conn, lot.id):
        tender_rules.require_lot(tender, lot, "opened again")
        reopened = tender_rules.lot_reopened(lot, now=now)
        await store.lots.save(conn, reopened)
        await lot_event(conn, who, now, events.LOT_REOPENED, lot, reopened)
    return after
