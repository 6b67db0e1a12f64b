"""The responder's in-process eligibility index: every answer reflects every change committed
before the question was sent, whatever the index held; without its listener it asks the
database. Real PostgreSQL and nats-server."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, cast

from nats.aio.client import Client

from procure_providers.api.rpc import EligibilityResponder
from procure_providers.storage.eligibility import facts
from procure_providers.storage.eligibility_index import EligibilityIndex
from procure_providers.usecases.eligibility import DecisionMemo, check_eligibility_indexed
from procure_shared.categories import Category
from procure_shared.db.postgres import Connection, Pool
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityQuestion,
    decode_answer,
    encode,
)
from procure_shared.http import Role
from tests.providers.conftest import Api
from tests.support.wait import eventually, running

ON = date(2022, 6, 1)
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def ask(nc: Client, *provider_ids: str, on: date = ON) -> list[dict[str, Any]]:
    question = EligibilityQuestion(
        provider_ids=list(provider_ids), category="academic_mentoring", on=on
    )
    reply = await nc.request(ELIGIBILITY_SUBJECT, encode(question), timeout=5)
    assert not reply.headers, reply.headers
    return [
        {"eligible": r.eligible, "reasons": [f.code for f in r.reasons]}
        for r in decode_answer(reply.data).results
    ]


async def accredited(api: Api) -> str:
    provider = await api.register()
    await api.accredit(provider["id"])
    return str(provider["id"])


async def started(nc: Client, pool: Pool) -> EligibilityResponder:
    return EligibilityResponder(nc=nc, pool=pool, version="1.0.0")


async def listening(responder: EligibilityResponder) -> None:
    await asyncio.wait_for(responder.ready.wait(), timeout=10)
    await asyncio.wait_for(responder.index.listening.wait(), timeout=10)


async def test_an_exclusion_committed_just_before_the_question_is_in_the_answer(
    api: Api, ppool: Pool, nc: Client
) -> None:
    provider = await accredited(api)
    responder = await started(nc, ppool)
    async with running(responder):
        await listening(responder)
        assert await ask(nc, provider) == [{"eligible": True, "reasons": []}]
        assert len(responder.index) == 1  # the index holds it now
        for _ in range(20):  # each time: exclude, then ask at once; lift, then ask at once
            exclusion = await api.exclude(provider, startsOn="2022-01-01")
            assert await ask(nc, provider) == [{"eligible": False, "reasons": ["excluded"]}]
            lifted = await api.change(
                "POST",
                f"/v1/exclusions/{exclusion['id']}/lift",
                {"on": "2022-05-31", "reason": "appeal upheld"},
                Role.ADMIN,
            )
            assert lifted.status_code == 200, lifted.text
            assert await ask(nc, provider) == [{"eligible": True, "reasons": []}]
        assert responder.index.barriers >= 41  # answered from the index, not the database


async def test_every_table_eligibility_weighs_invalidates_the_index(
    api: Api, ppool: Pool, nc: Client
) -> None:
    provider = await accredited(api)
    responder = await started(nc, ppool)
    async with running(responder):
        await listening(responder)
        assert await ask(nc, provider) == [{"eligible": True, "reasons": []}]
        patched = await api.change("PATCH", f"/v1/providers/{provider}", {"status": "inactive"})
        assert patched.status_code == 200, patched.text
        assert await ask(nc, provider) == [{"eligible": False, "reasons": ["inactive"]}]
        async with ppool.acquire() as conn:  # a commit from outside the service's use cases
            await conn.execute(
                "UPDATE providers SET status = 'active' WHERE id = $1::uuid", provider
            )
            await conn.execute("DELETE FROM accreditations WHERE provider_id = $1::uuid", provider)
        assert await ask(nc, provider) == [
            {"eligible": False, "reasons": ["accreditation_missing"]}
        ]
        async with ppool.acquire() as conn:
            await conn.execute(
                "INSERT INTO track_ratings VALUES ('kpi-9', $1, 'contract-9', 'Pupils',"
                " 'inadequate', '2022-03-31', '2022-04-10T09:00:00Z')",
                provider,
            )
        question = EligibilityQuestion(
            provider_ids=[provider], category="academic_mentoring", on=ON
        )
        reply = await nc.request(ELIGIBILITY_SUBJECT, encode(question), timeout=5)
        warnings = decode_answer(reply.data).results[0].warnings
        assert [w.code for w in warnings] == ["performance_inadequate"]


async def test_a_provider_registered_after_it_was_asked_about_as_unknown_is_known(
    api: Api, ppool: Pool, nc: Client
) -> None:
    responder = await started(nc, ppool)
    async with running(responder):
        await listening(responder)
        provider = await api.register()
        assert await ask(nc, provider["id"]) == [
            {"eligible": False, "reasons": ["accreditation_missing"]}
        ]
        await api.accredit(provider["id"])
        assert await ask(nc, provider["id"]) == [{"eligible": True, "reasons": []}]


async def test_when_the_listener_drops_the_answers_come_from_the_database_until_it_is_back(
    api: Api, ppool: Pool, nc: Client
) -> None:
    provider = await accredited(api)
    responder = await started(nc, ppool)
    responder.index = EligibilityIndex(ppool, retry_seconds=0.5)
    async with running(responder):
        await listening(responder)
        assert await ask(nc, provider) == [{"eligible": True, "reasons": []}]
        async with ppool.acquire() as conn:  # the listening backend goes away
            pid = responder.index.backend_pid
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)

        async def dropped() -> bool:
            return not responder.index.listening.is_set()

        await eventually(dropped, what="the index to notice")
        assert len(responder.index) == 0  # it forgot everything
        barriers = responder.index.barriers
        await api.exclude(provider, startsOn="2022-01-01")
        assert await ask(nc, provider) == [{"eligible": False, "reasons": ["excluded"]}]
        if not responder.index.listening.is_set():
            assert responder.index.barriers == barriers  # the database answered
        await asyncio.wait_for(responder.index.listening.wait(), timeout=10)
        assert responder.index.backend_pid != pid
        assert await ask(nc, provider) == [{"eligible": False, "reasons": ["excluded"]}]
        assert responder.index.barriers > barriers  # the index answers again


async def test_an_index_that_is_not_listening_sends_every_question_to_the_database(
    api: Api, ppool: Pool
) -> None:
    provider = await accredited(api)
    index = EligibilityIndex(ppool)  # never run
    assert await index.fresh() is False
    decisions = await check_eligibility_indexed(
        index, ppool, [provider], Category.ACADEMIC_MENTORING, ON
    )
    assert [d.eligible for d in decisions] == [True]
    assert len(index) == 0


class _HeldConnection:
    """A pooled connection whose fetch returns only when the test says so."""

    def __init__(self, conn: Any, release: asyncio.Event) -> None:
        self._conn = conn
        self._release = release
        self.fetched = asyncio.Event()

    async def fetch(self, *args: Any) -> Any:
        rows = await self._conn.fetch(*args)
        self.fetched.set()
        await self._release.wait()
        return rows


async def test_a_load_that_overlaps_a_change_answers_but_is_not_kept(api: Api, ppool: Pool) -> None:
    provider = await accredited(api)
    index = EligibilityIndex(ppool)
    async with running(index):
        await asyncio.wait_for(index.listening.wait(), timeout=10)
        release = asyncio.Event()
        async with ppool.acquire() as conn:
            held = _HeldConnection(conn, release)
            loading = asyncio.create_task(index.load(cast(Connection, held), [provider]))
            await held.fetched.wait()  # read before the change below
            await api.exclude(provider, startsOn="2022-01-01")
            assert await index.fresh()  # the change's notification has arrived
            release.set()
            loaded = await loading
        before = loaded[provider]
        assert before is not None
        assert not before.exclusions
        assert len(index) == 0  # not kept: it may predate the change
        assert await index.fresh()
        async with ppool.acquire() as conn:
            again = await index.load(conn, [provider])
        after = again[provider]
        assert after is not None
        assert len(after.exclusions) == 1
        assert len(index) == 1  # a load that nothing overlapped is kept


async def test_a_remembered_decision_is_used_only_while_its_facts_are_the_current_ones(
    api: Api, ppool: Pool
) -> None:
    provider = await accredited(api)
    memo = DecisionMemo()
    async with ppool.acquire() as conn:
        first = await facts(conn, [provider], None)
        await api.exclude(provider, startsOn="2022-01-01")
        second = await facts(conn, [provider], None)
    category = Category.ACADEMIC_MENTORING
    [eligible] = memo.decisions([provider], first, category, ON)
    assert memo.decisions([provider], first, category, ON)[0] is eligible
    [excluded] = memo.decisions([provider], second, category, ON)
    assert (eligible.eligible, excluded.eligible) == (True, False)
    [later] = memo.decisions([provider], second, category, date(2030, 1, 1))
    assert later is not excluded  # another day, another decision


async def test_a_listening_index_loads_the_registry_before_the_first_question(
    api: Api, ppool: Pool
) -> None:
    providers = {await accredited(api) for _ in range(3)}
    index = EligibilityIndex(ppool)
    async with running(index):
        await asyncio.wait_for(index.listening.wait(), timeout=10)

        async def warmed() -> bool:
            return len(index) == len(providers)

        await eventually(warmed, what="the index to load the registry")
        assert await index.fresh()
        found, missing = index.known(sorted(providers))
        assert (sorted(found), missing) == (sorted(providers), [])


async def test_one_question_answered_alone_gets_the_batch_answer(
    api: Api, ppool: Pool, nc: Client
) -> None:
    provider = await accredited(api)
    question = EligibilityQuestion(
        provider_ids=[provider, UNKNOWN], category="academic_mentoring", on=ON
    )
    responder = await started(nc, ppool)
    async with running(responder):
        await listening(responder)
        alone = await responder.answer(encode(question))
        batched = await nc.request(ELIGIBILITY_SUBJECT, encode(question), timeout=5)
    assert alone == batched.data
    assert [r.eligible for r in decode_answer(alone).results] == [True, False]
