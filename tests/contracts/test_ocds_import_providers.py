"""OCDS import and the providers service: the suppliers of a whole package are looked up a
hundred identifiers to a question, and one identifier the service does not take costs a few
questions more, not one question per identifier."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from procure_tools.ocds.synthetic import releases

from procure_contracts.settings import ContractsOptions
from procure_providers.app import definition as providers_definition
from procure_shared.clock import FixedClock
from procure_shared.db.postgres import Pool
from procure_shared.service import build_app
from tests.contracts.conftest import Api
from tests.contracts.test_ocds_import import ocds_import
from tests.support.ocds import BUYER_NAMES
from tests.support.runtime import runtime_for
from tests.support.serving import serving

ENCODE = msgspec.json.Encoder(decimal_format="number").encode


class Questions:
    """The providers service's app, noting each request to ``/v1/providers``: the method and
    how many identifiers it names."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/providers":
            query = parse_qs(scope["query_string"].decode())
            self.asked.append((scope["method"], len(query.get("identifier", []))))
        await self.app(scope, receive, send)


@pytest.fixture
async def questions(
    ppool: Pool, nc: Client, js: JetStreamContext, providers_url: str, clock: FixedClock
) -> AsyncIterator[tuple[str, Questions]]:
    runtime = runtime_for("providers", providers_url, ppool, nc, js, clock)
    app = Questions(build_app(providers_definition(), runtime))
    async with serving(app, lifespan="off") as url:
        yield url, app


@pytest.fixture
def options(questions: tuple[str, Questions]) -> ContractsOptions:
    return ContractsOptions(
        eligibility_timeout=1.0, providers_url=questions[0], buyer_names=BUYER_NAMES
    )


def package(found: list[dict[str, Any]]) -> bytes:
    return ENCODE(
        {
            "uri": "https://example.org/bench",
            "publishedDate": "2026-11-23T09:00:00Z",
            "version": "1.1",
            "publisher": {"name": "Test"},
            "releases": found,
        }
    )


def supplier_identifiers(found: list[dict[str, Any]]) -> set[str]:
    return {
        f"{p['identifier']['scheme']}:{p['identifier']['id']}"
        for r in found
        for p in r.get("parties", [])
        if "supplier" in p.get("roles", [])
    }


async def test_a_packages_known_suppliers_are_found_in_one_question_and_none_registered_again(
    capi: Api, questions: tuple[str, Questions]
) -> None:
    _, app = questions
    first, second = (
        list(releases(400, suppliers=40))[:200],
        list(releases(400, suppliers=40))[200:],
    )
    assert (await ocds_import(capi, package(first))).status_code == 200
    registered = sum(1 for method, _ in app.asked if method == "POST")
    assert registered == len(supplier_identifiers(first))
    known = supplier_identifiers(second) & supplier_identifiers(first)
    # The second half names only suppliers the first registered.
    assert known == supplier_identifiers(second)
    app.asked.clear()
    assert (await ocds_import(capi, package(second))).status_code == 200
    assert app.asked == [("GET", len(known))]


async def test_an_identifier_the_service_does_not_take_costs_a_few_questions_not_one_each(
    capi: Api, questions: tuple[str, Questions]
) -> None:
    _, app = questions
    found = list(releases(400, suppliers=40))
    assert (await ocds_import(capi, package(found[:200]))).status_code == 200
    later = found[200:]
    party = next(p for r in later for p in r["parties"] if "supplier" in p["roles"])
    party["additionalIdentifiers"] = [{"scheme": "NIT", "id": "1012362575-0"}]
    app.asked.clear()
    answer = await ocds_import(capi, package(later))
    assert answer.status_code == 200, answer.text
    asked = len(supplier_identifiers(later)) + 1
    gets = [n for method, n in app.asked if method == "GET"]
    # Refused, then halves down to the one bad identifier: two questions a level at most.
    assert 1 < len(gets) <= 2 * math.ceil(math.log2(asked)) + 1
    assert sum(gets) < 3 * asked
    # Every supplier, the one with the bad identifier too, was found: none registered again.
    assert [method for method, _ in app.asked if method != "GET"] == []
