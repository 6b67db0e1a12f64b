"""Eligibility over NATS request/reply and HTTP, for every reason code and the warning, against
real PostgreSQL and nats-server with every stream in place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.db.postgres import Pool
from procure_shared.events.eligibility import (
    ELIGIBILITY_SUBJECT,
    EligibilityQuestion,
    decode_answer,
    encode,
)
from procure_shared.events.streams import STREAMS
from procure_shared.http import Role
from tests.providers.conftest import Api
from tests.support.wait import running

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@asynccontextmanager
async def responding(nc: Client, pool: Pool, version: str = "1.0.0") -> AsyncIterator[None]:
    responder = EligibilityResponder(nc=nc, pool=pool, version=version)
    async with running(responder):
        await asyncio.wait_for(responder.ready.wait(), timeout=10)
        yield


async def world(api: Api, ppool: Pool) -> dict[str, str]:
    """One provider per outcome, for academic mentoring on 1 June 2022."""
    ids: dict[str, str] = {}
    ok = await api.register(legalName="Randstad Solutions Limited")
    await api.accredit(ok["id"])
    ids["eligible"] = ok["id"]

    inactive = await api.register(legalName="Closed Tutors Ltd")
    await api.accredit(inactive["id"])
    await api.change("PATCH", f"/v1/providers/{inactive['id']}", {"status": "inactive"})
    ids["inactive"] = inactive["id"]

    excluded = await api.register(legalName="Debarred Ltd")
    await api.accredit(excluded["id"])
    await api.exclude(excluded["id"], startsOn="2022-01-01", endsOn="2024-12-31")
    ids["excluded"] = excluded["id"]

    missing = await api.register(legalName="Untrained Ltd")
    await api.accredit(missing["id"], category="tutor_training")
    ids["accreditation_missing"] = missing["id"]

    expired = await api.register(legalName="Lapsed Ltd")
    await api.accredit(expired["id"], validFrom="2020-09-01", validTo="2022-05-31")
    ids["accreditation_expired"] = expired["id"]

    warned = await api.register(legalName="Struggling Ltd")
    await api.accredit(warned["id"])
    async with ppool.acquire() as conn:  # as the track record consumer would write it
        await conn.execute(
            "INSERT INTO track_ratings VALUES ('kpi-1', $1, 'contract-1', 'Pupils supported',"
            " 'inadequate', '2022-03-31', '2022-04-10T09:00:00Z')",
            warned["id"],
        )
    ids["performance_inadequate"] = warned["id"]
    return ids


def summary(results: list[dict[str, Any]]) -> list[tuple[bool, list[str], list[str]]]:
    return [
        (r["eligible"], [x["code"] for x in r["reasons"]], [w["code"] for w in r["warnings"]])
        for r in results
    ]


EXPECTED = [
    (True, [], []),
    (False, ["inactive"], []),
    (False, ["excluded"], []),
    (False, ["accreditation_missing"], []),
    (False, ["accreditation_expired"], []),
    (True, [], ["performance_inadequate"]),
    (False, ["unknown"], []),
]


async def test_the_nats_check_answers_each_reason_code_and_the_warning(
    api: Api, ppool: Pool, nc: Client, js: JetStreamContext
) -> None:
    ids = await world(api, ppool)
    for stream in STREAMS:  # every stream exists, and none captures the request subject
        await js.stream_info(stream.name)
    asked = [*ids.values(), UNKNOWN]
    question = EligibilityQuestion(
        provider_ids=asked, category="academic_mentoring", on=date(2022, 6, 1)
    )
    async with responding(nc, ppool):
        reply = await nc.request(ELIGIBILITY_SUBJECT, encode(question), timeout=5)
    answer = decode_answer(reply.data)  # decodes as an answer, not a stream's ack
    results = msgspec.to_builtins(answer.results)
    assert [r["providerId"] for r in results] == asked
    assert summary(results) == EXPECTED
    excluded = results[2]["reasons"][0]
    assert excluded["until"] == "2024-12-31"
    assert "central debarment list" in excluded["message"]


async def test_the_http_check_gives_the_same_answer(api: Api, ppool: Pool) -> None:
    ids = await world(api, ppool)
    answer = await api.http.post(
        "/v1/eligibility",
        json={
            "providerIds": [*ids.values(), UNKNOWN],
            "category": "academic_mentoring",
            "on": "2022-06-01",
        },
        headers=api.headers(Role.VIEWER),
    )
    assert answer.status_code == 200, answer.text
    assert summary(answer.json()["results"]) == EXPECTED


async def test_the_responder_is_a_discoverable_micro_service(nc: Client, ppool: Pool) -> None:
    async with responding(nc, ppool, "1.2.3"):
        ping = json.loads((await nc.request("$SRV.PING.providers", b"", timeout=5)).data)
        info = json.loads((await nc.request("$SRV.INFO.providers", b"", timeout=5)).data)
    assert (ping["name"], ping["version"]) == ("providers", "1.2.3")
    assert [e["subject"] for e in info["endpoints"]] == [ELIGIBILITY_SUBJECT]


async def test_a_question_that_does_not_decode_gets_a_400_error_reply(
    nc: Client, ppool: Pool
) -> None:
    bad = [
        b"not json",
        b'{"providerIds": [], "category": "academic_mentoring", "on": "2022-06-01"}',
        b'{"providerIds": ["x"], "category": "juggling", "on": "2022-06-01"}',
    ]
    async with responding(nc, ppool):
        for payload in bad:
            reply = await nc.request(ELIGIBILITY_SUBJECT, payload, timeout=5)
            assert reply.headers is not None
            assert reply.headers["Nats-Service-Error-Code"] == "400", payload
            assert reply.headers["Nats-Service-Error"]


async def test_the_eligibility_date_defaults_to_today_by_the_service_clock(api: Api) -> None:
    provider = await api.register()
    await api.accredit(provider["id"], validFrom="2022-06-01", validTo="2022-06-01")
    answer = await api.http.post(
        "/v1/eligibility",
        json={"providerIds": [provider["id"]], "category": "academic_mentoring"},
        headers=api.headers(Role.VIEWER),
    )
    assert answer.json()["results"][0]["eligible"] is True  # the clock says 1 June 2022
