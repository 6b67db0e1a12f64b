"""The track record, built from the contracts service's events as they arrive in JetStream:
the same whether built live or replayed, unchanged by redelivered events, and feeding the
eligibility warning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest
from nats.js import JetStreamContext

from procure_providers.domain.buyers import Who
from procure_providers.events.track_record import CONSUMER_NAME, track_record_consumer
from procure_providers.storage.track_record import portfolio
from procure_providers.usecases.eligibility import check_eligibility
from procure_shared.categories import Category
from procure_shared.db.postgres import Pool, create_pool
from procure_shared.events import Envelope, EventSpec, encode_envelope
from procure_shared.events import registry as types
from procure_shared.events.contracts import (
    AwardCancelled,
    AwardMade,
    ContractData,
    KpiRatingChanged,
    MilestoneSettled,
    Money,
    Rating,
)
from procure_shared.messaging.consumer import Consumer
from tests.conftest import clone_database, drop_database
from tests.providers.conftest import Api
from tests.support.servers import PostgresHandle
from tests.support.wait import eventually, running

T0 = datetime(2022, 7, 1, 9, tzinfo=UTC)


def event(spec: EventSpec | str, subject: str, sequence: int, data: Any) -> Envelope:
    return Envelope.new(
        service="contracts",
        type=spec if isinstance(spec, str) else spec.type,
        subject=subject,
        time=T0,
        sequence=sequence,
        data=data,
        buyer_id="dfe",
    )


def story(barnardos: str, rival: str) -> list[Envelope]:
    """The attendance mentors contract, from award to an Inadequate rating."""

    def contract(status: str, value: Money) -> ContractData:
        return ContractData(
            contract_id="c-attendance",
            award_ids=["a-attendance"],
            provider_ids=[barnardos],
            title="Attendance mentors",
            status=status,
            value=value,
        )

    money = Money(amount="5000000.00")
    milestones = [
        ("m-1", "Mentors recruited", date(2022, 9, 1), date(2022, 8, 30), "met"),
        ("m-2", "First termly report", date(2022, 12, 16), date(2023, 1, 9), "met"),
        ("m-3", "Pilot evaluation", date(2023, 3, 31), None, "not_met"),
    ]
    events = [
        event(
            types.AWARD_MADE,
            "a-attendance",
            1,
            AwardMade(
                award_id="a-attendance",
                tender_id="t-1",
                lot_id="l-1",
                provider_id=barnardos,
                category="attendance_mentoring",
                value=money,
                date=T0,
            ),
        ),
        event(
            types.AWARD_MADE,
            "a-rival",
            1,
            AwardMade(
                award_id="a-rival",
                tender_id="t-1",
                lot_id="l-1",
                provider_id=rival,
                category="attendance_mentoring",
                value=money,
                date=T0,
            ),
        ),
        event(
            types.AWARD_CANCELLED,
            "a-rival",
            2,
            AwardCancelled(award_id="a-rival", tender_id="t-1", lot_id="l-1", provider_id=rival),
        ),
        # A type the track record does not apply still takes its place in the sequence.
        event("contracts.tender.published", "t-1", 1, {"tenderId": "t-1"}),
        event(
            types.CONTRACT_CREATED,
            "c-attendance",
            1,
            contract("pending", money),
        ),
        event(
            types.CONTRACT_SIGNED,
            "c-attendance",
            2,
            contract("active", money),
        ),
        event(
            types.CONTRACT_AMENDED,
            "c-attendance",
            3,
            contract("active", Money(amount="6500000.00")),
        ),
    ]
    for ident, title, due, met, status in milestones:
        events.append(event("contracts.milestone.scheduled", ident, 1, {"milestoneId": ident}))
        spec = types.MILESTONE_MET if status == "met" else types.MILESTONE_NOT_MET
        settled = MilestoneSettled(
            milestone_id=ident,
            contract_id="c-attendance",
            provider_ids=[barnardos],
            title=title,
            status=status,
            due_on=due,
            met_on=met,
        )
        events.append(event(spec, ident, 2, settled))
    ratings: list[tuple[Rating, datetime]] = [
        ("good", datetime(2023, 1, 10, tzinfo=UTC)),
        ("inadequate", datetime(2023, 4, 12, tzinfo=UTC)),
    ]
    for sequence, (rating, when) in enumerate(ratings, start=1):
        data = KpiRatingChanged(
            kpi_id="k-pupils",
            contract_id="c-attendance",
            provider_ids=[barnardos],
            name="Pupils supported",
            rating=rating,
            period_end=when.date(),
            rated_at=when,
        )
        events.append(event(types.KPI_RATING_CHANGED, "k-pupils", sequence, data))
    return events


async def publish(js: JetStreamContext, events: list[Envelope], *, again: bool = False) -> None:
    for e in events:
        # ``again``: the same events under new message ids, as a producer's retry past the
        # duplicate window would deliver them.
        msg_id = f"{e.id}-{uuid.uuid4()}" if again else e.id
        await js.publish(e.type, encode_envelope(e), headers={"Nats-Msg-Id": msg_id})


async def applied(pool: Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM inbox"))


@pytest.fixture
async def replay_pool(postgres: PostgresHandle, providers_template: str) -> AsyncIterator[Pool]:
    """A second providers database, as a new deployment replaying the stream would have."""
    url = await clone_database(postgres.url, providers_template)
    pool = await create_pool(url, size=4)
    yield pool
    await pool.close()
    await drop_database(postgres.url, url)


async def test_the_portfolio_built_live_equals_a_replay_and_redelivery_changes_nothing(
    api: Api, ppool: Pool, replay_pool: Pool, js: JetStreamContext
) -> None:
    barnardos = (await api.register(legalName="Barnardo's", kind="charity"))["id"]
    rival = (await api.register(legalName="Rival Mentors Ltd"))["id"]
    await api.accredit(barnardos, category="attendance_mentoring", validTo="2025-08-31")
    events = story(barnardos, rival)

    live = Consumer(track_record_consumer(), pool=ppool, js=js)
    async with running(live):
        await publish(js, events)
        await eventually(lambda: applied_is(ppool, len(events)), what="live build")
        built_live = await read(ppool, barnardos)
        await publish(js, events, again=True)
        await eventually(lambda: duplicates_are(live, len(events)), what="redelivery skipped")
        assert await read(ppool, barnardos) == built_live

    await js.delete_consumer("CONTRACTS", CONSUMER_NAME)
    replay = Consumer(track_record_consumer(), pool=replay_pool, js=js)
    async with running(replay):
        await eventually(lambda: applied_is(replay_pool, len(events)), what="replay")
    assert await read(replay_pool, barnardos) == built_live

    assert built_live["awardsWon"] == 1
    assert built_live["contractsHeld"] == 1
    assert built_live["currentValue"] == [{"amount": "6500000.00", "currency": "GBP"}]
    assert built_live["milestones"] == {"metOnTime": 1, "metLate": 1, "notMet": 1, "waived": 0}
    assert [r["rating"] for r in built_live["latestRatings"]] == ["inadequate"]
    rival_record = await read(ppool, rival)
    assert (rival_record["awardsWon"], rival_record["awardsCancelled"]) == (0, 1)

    async with ppool.acquire() as conn:
        [decision] = await check_eligibility(
            conn, [barnardos], Category.ATTENDANCE_MENTORING, date(2023, 5, 1)
        )
    assert decision.eligible
    assert [w.code for w in decision.warnings] == ["performance_inadequate"]
    over_http = await api.get(f"/v1/providers/{barnardos}/portfolio")
    assert over_http.json() == built_live


async def applied_is(pool: Pool, n: int) -> bool:
    return await applied(pool) == n


async def duplicates_are(consumer: Consumer, n: int) -> bool:
    return consumer.stats.duplicates >= n


DFE = Who(buyer="dfe")


async def read(pool: Pool, provider_id: str, who: Who = DFE) -> dict[str, Any]:
    """The portfolio as a dfe user (the buyer of every event of the story) sees it."""
    async with pool.acquire() as conn:
        return msgspec.to_builtins(await portfolio(conn, provider_id, who))  # type: ignore[no-any-return]
