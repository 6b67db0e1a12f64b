"""The milestone monitor: due-soon and overdue notices by a controlled clock, each exactly once
per milestone and due date with two monitors running at once, across a restart, catching up on
what fell due while nothing ran."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from procure_contracts.milestones.worker import milestone_monitor
from procure_providers.api.rpc import EligibilityResponder
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.http import Role
from procure_shared.sweep import Sweep
from tests.contracts.conftest import Api
from tests.contracts.test_milestones import _contract, _events, _move, _schedule
from tests.providers.conftest import Api as ProvidersApi
from tests.support.wait import eventually

NOTICES = ("contracts.milestone.due_soon", "contracts.milestone.overdue")


def at(day: str) -> FixedClock:
    return FixedClock(datetime.fromisoformat(f"{day}T07:30:00+00:00").astimezone(UTC))


def monitor(pool: Pool, clock: FixedClock, lead_days: int = 14) -> Sweep:
    return milestone_monitor(pool=pool, clock=clock, lead_days=lead_days, interval=60, batch=2)


async def notices(cpool: Pool) -> Counter[tuple[str, str]]:
    """(notice, milestone) of every notice event in the outbox, counted."""
    async with cpool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT subject, aggregate_id FROM outbox WHERE subject = ANY($1::text[])",
            list(NOTICES),
        )
    return Counter((row["subject"].rsplit(".", 1)[1], row["aggregate_id"]) for row in rows)


@pytest.fixture
async def second_pool(contracts_url: str) -> AsyncIterator[Pool]:
    """Another replica's own connections."""
    pool = await create_pool(contracts_url, size=4)
    yield pool
    await pool.close()


async def _three(capi: Api, papi: ProvidersApi) -> list[dict[str, Any]]:
    contract = await _contract(capi, papi)
    return [
        await _schedule(capi, contract, dueOn=day)
        for day in ("2022-10-31", "2022-11-10", "2023-03-31")
    ]


async def test_two_monitors_at_once_send_each_notice_once_on_the_clock(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool, second_pool: Pool
) -> None:
    october, november, march = (m["id"] for m in await _three(capi, papi))
    clock = at("2022-10-20")  # 11 days before the first falls due; 14 days' lead
    one, two = monitor(cpool, clock), monitor(second_pool, clock)
    await asyncio.gather(*(m.run_once() for _ in range(5) for m in (one, two)))
    assert await notices(cpool) == Counter({("due_soon", october): 1})

    clock.set(at("2022-11-01").now())  # the first is a day late, the second 9 days away
    await asyncio.gather(*(m.run_once() for _ in range(5) for m in (one, two)))
    assert await notices(cpool) == Counter(
        {("due_soon", october): 1, ("overdue", october): 1, ("due_soon", november): 1}
    )
    assert one.done + two.done == 3
    assert march not in {m for _, m in await notices(cpool)}

    [*_, (kind, sequence, buyer, data)] = await _events(cpool, october)
    assert (kind, sequence, buyer) == ("contracts.milestone.overdue", 3, "dfe")
    assert data["dueOn"] == "2022-10-31"
    assert data["asOf"] == "2022-11-01"
    assert data["days"] == 1
    assert data["plannedQuantity"] == 500
    assert len(data["providerIds"]) == 1
    got = (await capi.get(f"/v1/milestones/{october}")).json()
    assert got["version"] == 3
    assert got["notices"] == [
        {"kind": "due_soon", "dueOn": "2022-10-31", "sentOn": "2022-10-20"},
        {"kind": "overdue", "dueOn": "2022-10-31", "sentOn": "2022-11-01"},
    ]


async def test_after_downtime_restarted_monitors_catch_up_once_with_the_overdue_notice_only(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool, second_pool: Pool
) -> None:
    october, november, march = (m["id"] for m in await _three(capi, papi))
    await monitor(cpool, at("2022-10-20")).run_once()

    # Nothing ran from then until April: two replicas start together with the clock moved on.
    restarted = [monitor(pool, at("2023-04-03")) for pool in (cpool, second_pool)]
    await asyncio.gather(*(m.run_once() for m in restarted for _ in range(3)))
    assert await notices(cpool) == Counter(
        {
            ("due_soon", october): 1,
            ("overdue", october): 1,
            ("overdue", november): 1,  # due soon is stale news by now: never sent
            ("overdue", march): 1,
        }
    )
    assert [(kind, seq) for kind, seq, _, _ in await _events(cpool, november)] == [
        ("contracts.milestone.scheduled", 1),
        ("contracts.milestone.overdue", 2),
    ]
    history = (await capi.get(f"/v1/milestones/{november}/history")).json()
    assert [h["actor"] for h in history][-1] == "system:contracts/milestone-monitor"
    assert await monitor(cpool, at("2023-04-03")).run_once() == 0


async def test_a_new_due_date_is_noticed_afresh_and_a_settled_milestone_never(
    capi: Api,
    papi: ProvidersApi,
    eligibility: EligibilityResponder,
    cpool: Pool,
    clock: FixedClock,
) -> None:
    contract = await _contract(capi, papi)
    moved = await _schedule(capi, contract, dueOn="2022-10-31")
    met = await _schedule(capi, contract, dueOn="2022-10-28")
    await monitor(cpool, at("2022-10-20")).run_once()
    assert await notices(cpool) == Counter(
        {("due_soon", moved["id"]): 1, ("due_soon", met["id"]): 1}
    )

    clock.set(at("2022-10-28").now())  # the service's own clock: met the day before
    await _move(capi, met, "met", {"metOn": "2022-10-27", "evidence": "Register of mentors"})
    path = f"/v1/milestones/{moved['id']}"
    answer = await capi.change("PATCH", path, {"dueOn": "2022-11-30"}, role=Role.OPS)
    assert answer.status_code == 200, answer.text
    await monitor(cpool, at("2022-11-20")).run_once()  # the new date, 10 days away
    answer = await capi.change("PATCH", path, {"dueOn": "2022-10-31"}, role=Role.OPS)
    assert answer.status_code == 200, answer.text
    await monitor(cpool, at("2022-10-25")).run_once()  # back to the first date: noticed already
    assert await notices(cpool) == Counter(
        {("due_soon", moved["id"]): 2, ("due_soon", met["id"]): 1}
    )

    await monitor(cpool, at("2022-12-05")).run_once()  # late: only the scheduled one
    assert await notices(cpool) == Counter(
        {("due_soon", moved["id"]): 2, ("overdue", moved["id"]): 1, ("due_soon", met["id"]): 1}
    )


async def test_the_running_monitor_reports_a_milestone_scheduled_already_late(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    late = await _schedule(capi, contract, dueOn="2022-09-30")
    running = milestone_monitor(pool=cpool, clock=at("2022-10-03"), lead_days=14, interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    try:
        await eventually(lambda: notices(cpool), within=10, what="the overdue notice")
    finally:
        stop.set()
        await task
    assert await notices(cpool) == Counter({("overdue", late["id"]): 1})
    assert running.passes >= 1
