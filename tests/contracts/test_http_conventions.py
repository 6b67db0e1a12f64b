"""The HTTP conventions of the architecture on the contracts API: If-Match, Idempotency-Key,
problem+json bodies, and a busy service that does not answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg

from procure_shared.db.postgres import Pool
from procure_shared.events.eligibility import ELIGIBILITY_SUBJECT
from procure_shared.http import Role
from tests.contracts.conftest import Api, money
from tests.support.auth import keyed


async def test_a_change_without_if_match_is_428_and_with_a_stale_one_412(capi: Api) -> None:
    tender = await capi.tender()
    path = f"/v1/tenders/{tender['id']}"
    missing = await capi.http.patch(
        path, json={"title": "New"}, headers=capi.headers(Role.COMMERCIAL)
    )
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    stale = await capi.http.patch(
        path, json={"title": "New"}, headers=capi.headers(Role.COMMERCIAL, **{"If-Match": '"99"'})
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"1"'
    assert (await capi.get(path)).json()["title"] == tender["title"]


async def test_of_concurrent_updates_with_one_etag_exactly_one_wins(capi: Api) -> None:
    tender = await capi.tender()
    path = f"/v1/tenders/{tender['id']}"
    headers = capi.headers(Role.COMMERCIAL, **{"If-Match": '"1"'})
    answers = await asyncio.gather(
        *(capi.http.patch(path, json={"title": f"Title {n}"}, headers=headers) for n in range(10))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [412] * 9
    winner = next(a for a in answers if a.status_code == 200).json()
    assert (await capi.get(path)).json()["title"] == winner["title"]
    history = (await capi.get(f"{path}/history")).json()
    assert [h["action"] for h in history] == [
        "contracts.tender.drafted",
        "contracts.tender.updated",
    ]


async def test_twenty_concurrent_posts_with_one_idempotency_key_make_one_tender(
    capi: Api, cpool: Pool
) -> None:
    headers = keyed(capi.headers(Role.COMMERCIAL))
    body = {"title": "Attendance mentors", "value": money("5000000")}
    answers = await asyncio.gather(
        *(capi.http.post("/v1/tenders", json=body, headers=headers) for _ in range(20))
    )
    codes = {a.status_code for a in answers}
    assert codes <= {201, 409}, codes
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    async with cpool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tenders") == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    again = await capi.http.post("/v1/tenders", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] in made
    other = await capi.http.post("/v1/tenders", json=body | {"title": "Other"}, headers=headers)
    assert other.status_code == 422


async def test_bad_input_is_a_400_problem_that_changes_nothing(capi: Api, cpool: Pool) -> None:
    for body in (
        {"title": "x", "value": {"amount": 7987500.5, "currency": "GBP"}},  # a float
        {"title": "x", "value": {"amount": "1.234", "currency": "GBP"}},
        {"title": "x", "colour": "blue"},
        {"title": ""},
        {"title": "x", "submissionDeadline": "2022-06-10T12:00:00"},  # no offset
    ):
        answer = await capi.create("/v1/tenders", body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    async with cpool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tenders") == 0


async def test_a_rule_broken_is_a_422_naming_the_field(capi: Api) -> None:
    tender = await capi.made("/v1/tenders", {"title": "No lots yet"})
    answer = await capi.change("POST", f"/v1/tenders/{tender['id']}/publish")
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "lots", "message": "a tender needs at least one lot to be published"}
    ]
    crossed = await capi.create(
        "/v1/tenders",
        {
            "title": "Deadlines crossed",
            "enquiryDeadline": (capi.clock.now() + timedelta(days=9)).isoformat(),
            "submissionDeadline": (capi.clock.now() + timedelta(days=7)).isoformat(),
        },
    )
    assert crossed.status_code == 422
    assert crossed.json()["errors"][0]["field"] == "enquiryDeadline"


async def test_an_award_is_503_and_writes_nothing_when_providers_does_not_answer_in_time(
    capi: Api, cpool: Pool, nc: Client
) -> None:
    tender, (lot,) = await capi.closed_tender()
    path = f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards"
    async with cpool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM outbox")

    nobody = await capi.create(path, capi.award_body("4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"))
    assert nobody.status_code == 503, nobody.text

    async def ignore(msg: Msg) -> None:
        return None

    silent = await nc.subscribe(ELIGIBILITY_SUBJECT, cb=ignore)
    try:
        slow = await capi.create(path, capi.award_body("4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"))
    finally:
        await silent.unsubscribe()
    assert slow.status_code == 503, slow.text
    assert slow.headers["content-type"] == "application/problem+json"
    assert "did not answer" in slow.json()["detail"]
    async with cpool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM awards") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == before
    assert (await capi.get(f"/v1/tenders/{tender['id']}/lots/{lot['id']}")).json()[
        "status"
    ] == "active"


async def test_a_list_pages_newest_first_with_a_cursor_and_filters(capi: Api) -> None:
    made = []
    for n in range(5):
        made.append(await capi.made("/v1/tenders", {"title": f"Tutoring round {n}"}))
        capi.clock.advance(timedelta(minutes=1))
    await capi.made("/v1/tenders", {"title": "Attendance hubs"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "tutoring", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (
            await capi.http.get("/v1/tenders", params=params, headers=capi.headers(Role.VIEWER))
        ).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [t["id"] for t in reversed(made)]
    bad = await capi.get("/v1/tenders", cursor="not-ours")
    assert bad.status_code == 400
    assert (await capi.get("/v1/tenders", status="published")).json() == {
        "items": [],
        "nextCursor": None,
    }
