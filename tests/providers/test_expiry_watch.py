"""Accreditation expiry notices: each exactly once per validity period, with two instances
running at once, across restarts, and catching up on what fell due while nothing ran."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from procure_providers.events.expiry_watch import expiry_watch
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.events import decode_envelope
from tests.providers.conftest import Api


async def notices(pool: Pool) -> Counter[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE subject LIKE 'providers.accreditation.expir%'"
        )
    return Counter(
        (e.type.rsplit(".", 1)[1], e.subject)
        for e in (decode_envelope(bytes(r["payload"])) for r in rows)
    )


@pytest.fixture
async def second_pool(providers_url: str) -> AsyncIterator[Pool]:
    """Another instance's own connections."""
    pool = await create_pool(providers_url, size=4)
    yield pool
    await pool.close()


def at(day: str) -> FixedClock:
    return FixedClock(datetime.fromisoformat(f"{day}T08:00:00+00:00").astimezone(UTC))


async def test_two_instances_at_once_send_each_notice_once(
    api: Api, ppool: Pool, second_pool: Pool
) -> None:
    provider = await api.register()
    soon = [
        (await api.accredit(provider["id"], validTo=f"2022-06-{day}"))["id"] for day in (10, 20, 30)
    ]
    later = await api.accredit(provider["id"], validTo="2023-08-31")
    clock = at("2022-06-01")  # 30 days' notice: the three June ones are expiring
    one = expiry_watch(pool=ppool, clock=clock, notice_days=30, interval=60)
    two = expiry_watch(pool=second_pool, clock=clock, notice_days=30, interval=60)
    await asyncio.gather(*(w.run_once() for _ in range(10) for w in (one, two)))
    assert await notices(ppool) == Counter({("expiring", a): 1 for a in soon})
    assert one.done + two.done == 3
    assert later["id"] not in {subject for _, subject in await notices(ppool)}


async def test_after_a_restart_with_the_clock_moved_on_it_catches_up_once(
    api: Api, ppool: Pool, second_pool: Pool
) -> None:
    provider = await api.register()
    accreditation = await api.accredit(provider["id"], validTo="2022-06-20")
    ident = accreditation["id"]
    await expiry_watch(pool=ppool, clock=at("2022-06-01"), notice_days=30, interval=60).run_once()
    assert await notices(ppool) == Counter({("expiring", ident): 1})

    # Down for a month: two new instances start with the clock past the end.
    restarted = [
        expiry_watch(pool=p, clock=at("2022-07-05"), notice_days=30, interval=60)
        for p in (ppool, second_pool)
    ]
    await asyncio.gather(*(w.run_once() for w in restarted for _ in range(3)))
    assert await notices(ppool) == Counter({("expiring", ident): 1, ("expired", ident): 1})

    # Never watched before it ended: both notices, expiring first, in sequence.
    late = await api.accredit(provider["id"], validTo="2022-06-25")
    await restarted[0].run_once()
    async with ppool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT subject, sequence FROM outbox WHERE aggregate_id = $1 ORDER BY position",
            late["id"],
        )
    assert [(r["subject"], r["sequence"]) for r in rows] == [
        ("providers.accreditation.granted", 1),
        ("providers.accreditation.expiring", 2),
        ("providers.accreditation.expired", 3),
    ]
    history = (await api.get(f"/v1/accreditations/{late['id']}/history")).json()
    assert [h["actor"] for h in history] == [
        "commercial-user",
        "system:providers/expiry-watch",
        "system:providers/expiry-watch",
    ]


async def test_a_renewal_starts_the_notices_afresh_for_the_new_end(api: Api, ppool: Pool) -> None:
    provider = await api.register()
    accreditation = await api.accredit(provider["id"], validTo="2022-06-20")
    path = f"/v1/accreditations/{accreditation['id']}"
    await expiry_watch(pool=ppool, clock=at("2022-06-01"), notice_days=30, interval=60).run_once()
    renewed = await api.change("PATCH", path, {"validTo": "2023-06-20"})
    assert renewed.status_code == 200, renewed.text
    watch = expiry_watch(pool=ppool, clock=at("2023-06-01"), notice_days=30, interval=60)
    await watch.run_once()
    await watch.run_once()
    assert await notices(ppool) == Counter({("expiring", accreditation["id"]): 2})
