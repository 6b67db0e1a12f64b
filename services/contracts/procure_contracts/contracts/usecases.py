"""Contracts: made from awards, signed after standstill, varied by options and typed
amendments, and closed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from procure_contracts.contracts import rules, store
from procure_contracts.contracts.rules import (
    AmendmentDraft,
    Contract,
    ContractChanges,
    ContractDraft,
    Exercise,
    OptionDraft,
    SuppliersChange,
)
from procure_contracts.kpis.rules import check_section_52
from procure_contracts.storage.directory import provider_names
from procure_contracts.tenders.awards_usecases import awards_of
from procure_contracts.usecases.context import AskEligibility, Rules, Who, record
from procure_shared.db.changes import check_version, found
from procure_shared.db.postgres import Connection, Queries
from procure_shared.errors import RuleBroken
from procure_shared.events import EventSpec
from procure_shared.events import registry as events

__all__ = [
    "add_option",
    "amend_contract",
    "close_contract",
    "create_contract",
    "exercise_option",
    "get_contract",
    "sign_contract",
    "update_contract",
]


CLOSING = (events.CONTRACT_COMPLETED, events.CONTRACT_TERMINATED, events.CONTRACT_CANCELLED)


async def _event(
    conn: Connection,
    who: Who,
    now: datetime,
    event: EventSpec,
    before: Contract | None,
    after: Contract,
    *,
    changed: Sequence[str] = (),
    amendment_id: str | None = None,
    option_id: str | None = None,
) -> None:
    data = (
        rules.closed_data(after)
        if event in CLOSING
        else rules.contract_data(
            after, changed=changed, amendment_id=amendment_id, option_id=option_id
        )
    )
    await record(conn, who, now, event, "contract", before, after, data)


async def create_contract(
    conn: Connection, draft: ContractDraft, *, who: Who, now: datetime
) -> Contract:
    ids = list(dict.fromkeys(draft.award_ids))
    awards = await awards_of(conn, ids, for_update=True)
    visible = {a.id: a for a in awards if who.scope is None or a.buyer_id == who.scope}
    missing = [a for a in ids if a not in visible]
    if missing:
        raise RuleBroken("no such award", errors=[("awardIds", f"no award {a}") for a in missing])
    chosen = [visible[a].seen_at(now) for a in ids]
    contract = rules.create(
        draft,
        chosen,
        names=await provider_names(conn, [a.provider_id for a in chosen]),
        id=str(uuid.uuid4()),
        now=now,
    )
    await store.contracts.insert(conn, contract)
    await store.link_awards(conn, [(contract.id, contract.award_ids)])
    await _event(conn, who, now, events.CONTRACT_CREATED, None, contract)
    return contract


async def get_contract(
    conn: Queries, contract_id: str, *, who: Who, for_update: bool = False
) -> Contract:
    return found(
        await store.contracts.get(conn, contract_id, buyer=who.scope, for_update=for_update),
        "contract",
        contract_id,
    )


async def _load(
    conn: Connection, contract_id: str, expected_version: int | None, who: Who
) -> Contract:
    before = await get_contract(conn, contract_id, who=who, for_update=True)
    check_version(f"contract {contract_id}", before.version, expected_version)
    return before


async def update_contract(
    conn: Connection,
    contract_id: str,
    changes: ContractChanges,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Contract:
    before = await _load(conn, contract_id, expected_version, who)
    after, changed = rules.update(before, changes, now=now)
    if changed:
        await store.contracts.save(conn, after)
        await _event(conn, who, now, events.CONTRACT_UPDATED, before, after, changed=changed)
    return after


async def sign_contract(
    conn: Connection,
    contract_id: str,
    *,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Contract:
    """Once every award's standstill has ended and, above £5m, with its KPIs (s.52); the
    contract's row lock holds its KPIs (defining one locks it too)."""
    before = await _load(conn, contract_id, expected_version, who)
    awards = [a.seen_at(now) for a in await awards_of(conn, before.award_ids)]
    after = rules.sign(before, awards, now=now)
    check_section_52(before, await store.kpi_count(conn, contract_id))
    await store.contracts.save(conn, after)
    await _event(conn, who, now, events.CONTRACT_SIGNED, before, after)
    return after


async def close_contract(
    conn: Connection,
    contract_id: str,
    move: str,
    *,
    on: date | None,
    reason: str | None,
    expected_version: int | None,
    who: Who,
    now: datetime,
) -> Contract:
    """``move`` is complete, terminate or cancel."""
    before = await _load(conn, contract_id, expected_version, who)
    day = on or now.date()
    if move == "complete":
        after, event = rules.complete(before, day, now=now), events.CONTRACT_COMPLETED
    elif move == "terminate":
        after = rules.terminate(before, day, reason or "", now=now)
        event = events.CONTRACT_TERMINATED
    elif move == "cancel":
        after, event = rules.cancel(before, reason or "", now=now), events.CONTRACT_CANCELLED
    else:
        raise ValueError(f"no contract move {move!r}")
    await store.contracts.save(conn, after)
    await _event(conn, who, now, event, before, after)
    return after


async def add_option(
    conn: Connection,
    contract_id: str,
    draft: OptionDraft,
    *,
    who: Who,
    now: datetime,
) -> Contract:
    before = await _load(conn, contract_id, None, who)
    option_id = str(uuid.uuid4())
    after = rules.add_option(before, draft, id=option_id, now=now)
    await store.contracts.save(conn, after)
    await _event(conn, who, now, events.CONTRACT_OPTION_ADDED, before, after, option_id=option_id)
    return after


async def exercise_option(
    conn: Connection,
    contract_id: str,
    option_id: str,
    exercise: Exercise,
    *,
    expected_version: int | None,
    rules_: Rules,
    who: Who,
    now: datetime,
) -> Contract:
    before = await _load(conn, contract_id, expected_version, who)
    after = rules.exercise(
        before, option_id, exercise, threshold=rules_.amendment_threshold, now=now
    )
    await store.contracts.save(conn, after)
    await _event(
        conn, who, now, events.CONTRACT_OPTION_EXERCISED, before, after, option_id=option_id
    )
    return after


async def amend_contract(
    conn: Connection,
    contract_id: str,
    draft: AmendmentDraft,
    *,
    ask: AskEligibility,
    rules_: Rules,
    who: Who,
    now: datetime,
) -> Contract:
    """A typed change with its rationale. A supplier added must be eligible, on the day, for
    every category the contract covers (the providers service decides)."""
    change = draft.change
    names: dict[str, str] = {}
    if isinstance(change, SuppliersChange) and change.add:
        current = await get_contract(conn, contract_id, who=who)
        for category in current.categories:
            answers = await ask(change.add, category, now.date())
            refused = [(p, r) for p, r in answers.items() if not r.eligible]
            if refused:
                raise RuleBroken(
                    f"not every supplier added is eligible for {category}",
                    errors=[
                        ("change/add", f"{p}: {f.code}: {f.message}")
                        for p, r in refused
                        for f in r.reasons
                    ],
                )
        names = await provider_names(conn, change.add)
    before = await _load(conn, contract_id, None, who)
    amendment_id = str(uuid.uuid4())
    after = rules.amend(
        before,
        draft,
        id=amendment_id,
        by=who.actor.id,
        names=names,
        threshold=rules_.amendment_threshold,
        now=now,
    )
    await store.contracts.save(conn, after)
    await _event(conn, who, now, events.CONTRACT_AMENDED, before, after, amendment_id=amendment_id)
    return after
