"""Round trip between installations (issue 24): one contracts service's OCDS export imported
into a second, with its own database and another ocid prefix, and exported again from there.
The two exports' compiled releases are compared field by field (``tests/support/round_trip``):
what differs must be what ``docs/ocds.md`` ("Round trip") says differs, and nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from procure_contracts.events.provider_directory import provider_directory_consumer
from procure_contracts.settings import ContractsOptions
from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from procure_shared.messaging.consumer import Consumer
from tests.contracts.conftest import ELSEWHERE_PREFIX, Api, Elsewhere, money
from tests.contracts.test_ocds_fidelity import imported, our_records, our_releases, package
from tests.support.ocds import BUYER_NAMES
from tests.support.round_trip import KINDS, counted, differences, facts
from tests.support.wait import equals, eventually, running

# What the second installation's export says otherwise than the first's, each written in
# docs/ocds.md ("Round trip") with its reason: ``path: how (how many)`` on the test's data.
DOCUMENTED = [
    "date: differs (3)",
    "id: differs (3)",
]


@pytest.fixture
def options(providers_api: str) -> ContractsOptions:
    return ContractsOptions(
        eligibility_timeout=1.0, providers_url=providers_api, buyer_names=BUYER_NAMES
    )


async def directory_size(pool: Pool) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval("SELECT count(*) FROM provider_directory")
    return found


async def with_every_kind(demo: Api) -> None:
    """The demo data, and what it lacks: amendments of each kind, and a payment milestone met
    in two payments (two transactions) on its active contract."""
    (contract,) = [
        c
        for c in (await demo.get("/v1/contracts", role=Role.ADMIN, buyer=None)).json()["items"]
        if c["status"] == "active"
    ]
    path = f"/v1/contracts/{contract['id']}"
    for change, rationale in [
        ({"kind": "value", "change": money("150000")}, "Two more areas"),
        ({"kind": "end_date", "endsOn": "2027-08-31"}, "A further school year"),
        ({"kind": "scope", "scope": "Mentors also in alternative provision"}, "Pupils moved"),
    ]:
        await demo.made(f"{path}/amendments", {"change": change, "rationale": rationale})
    answer = await demo.create(
        f"{path}/milestones",
        {
            "kind": "payment",
            "title": "Second-year instalment",
            "dueOn": "2026-11-30",
            "amount": money("120000"),
        },
        role=Role.OPS,
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    met = f"/v1/milestones/{payment['id']}/met"
    part = {"evidence": "Invoice 7", "metOn": "2026-11-20", "partially": True}
    await demo.moved(met, part | {"paid": money("50000")}, role=Role.OPS)
    demo.clock.advance(timedelta(days=1))
    paid = await demo.moved(met, {"evidence": "Invoice 8", "metOn": "2026-11-30"}, role=Role.OPS)
    assert [t["value"] for t in paid["transactions"]] == [money("50000"), money("70000")]


def test_the_comparison_names_a_changed_value_a_lost_field_and_an_added_one() -> None:
    first = {
        "ocid": "ocds-a-1",
        "tender": {"id": "T", "title": "Cleaning", "lots": [{"id": "L1", "value": {"amount": 5}}]},
        "awards": [{"id": "A1", "title": "Lot 1"}, {"id": "A2", "status": "active"}],
    }
    second = {
        "ocid": "ocds-a-1",
        "tender": {"id": "T", "title": "Cleaning", "lots": [{"id": "L1", "value": {"amount": 6}}]},
        "awards": [{"id": "A2", "status": "active", "date": "2024-01-01"}, {"id": "A1"}],
    }
    found = differences([first], [second])
    assert [str(d) for d in found] == [
        "ocds-a-1 awards[A1]/title: 'Lot 1' -> '<missing>'",
        "ocds-a-1 awards[A2]/date: '<missing>' -> '2024-01-01'",
        "ocds-a-1 tender/lots[L1]/value/amount: 5 -> 6",
    ]
    assert counted(found) == [
        "awards[]/date: only in the second (1)",
        "awards[]/title: only in the first (1)",
        "tender/lots[]/value/amount: differs (1)",
    ]
    assert differences([first], [first]) == []
    twice = {**first, "awards": [{"id": "A1", "title": "Lot 1"}, {"id": "A1", "title": "Lot 2"}]}
    assert [str(d) for d in differences([twice], [first])] == [
        "ocds-a-1 awards[A1#2]/id: 'A1' -> '<missing>'",
        "ocds-a-1 awards[A1#2]/title: 'Lot 2' -> '<missing>'",
        "ocds-a-1 awards[A2]/id: '<missing>' -> 'A2'",
        "ocds-a-1 awards[A2]/status: '<missing>' -> 'active'",
    ]
    assert facts([first])[1] == {"tenders": 1, "lots": 1, "awards": 2}


def test_observations_line_up_by_period_and_dimension_whatever_their_ids() -> None:
    def metric(*observations: tuple[str, str, int]) -> dict[str, Any]:
        seen = [
            {
                "id": id,
                "period": {"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-03-31T00:00:00Z"},
                "dimensions": {"area": area},
                "measure": measure,
            }
            for id, area, measure in observations
        ]
        metrics = [{"id": "M1", "observations": seen}]
        return {"ocid": "o", "contracts": [{"id": "C1", "implementation": {"metrics": metrics}}]}

    first = metric(("o1", "Knowsley", 300), ("o2", "Doncaster", 250))
    second = metric(("x2", "Doncaster", 250), ("x1", "Knowsley", 301))
    assert counted(differences([first], [second])) == [
        "contracts[]/implementation/metrics[]/observations[]/id: differs (2)",
        "contracts[]/implementation/metrics[]/observations[]/measure: differs (1)",
    ]


async def test_an_export_imported_into_another_installation_exports_the_same_facts(
    demo: Api,
    elsewhere: Elsewhere,
    js: JetStreamContext,
    cpool: Pool,
    report: Callable[[str], None],
) -> None:
    await with_every_kind(demo)
    # The second installation's own provider directory, filled from the providers' events.
    spec = provider_directory_consumer()
    directory = Consumer(
        dataclasses.replace(spec, name=f"{spec.name}_elsewhere"), pool=elsewhere.pool, js=js
    )
    async with running(directory):
        expected = await directory_size(cpool)
        assert expected >= 2  # the demo's two suppliers
        await eventually(
            lambda: equals(directory_size(elsewhere.pool), expected),
            what=f"the second directory's {expected} providers",
        )

        served = await our_releases(demo)
        ocids = sorted({r["ocid"] for r in served})
        records = await our_records(demo, ocids)
        demo.clock.advance(timedelta(days=1))  # imported the day after the export
        first = await imported(elsewhere.api, package(*served))
        assert (first["imported"], first["errors"], first["problems"]) == (len(served), [], [])
        records.pop("releases")
        again = await imported(elsewhere.api, records)
        assert (again["errors"], again["problems"]) == ([], [])

        served_there = await our_releases(elsewhere.api)
    assert sorted({r["ocid"] for r in served_there}) == ocids
    assert not [r for r in served_there if r["ocid"].startswith(ELSEWHERE_PREFIX)]
    there = await our_records(elsewhere.api, ocids)

    ours = [r["compiledRelease"] for r in records["records"]]
    theirs = [r["compiledRelease"] for r in there["records"]]
    fields, kinds = facts(ours)
    assert sorted(kinds) == sorted(KINDS.values()), kinds
    assert facts(theirs)[1] == kinds
    found = differences(ours, theirs)
    summary = counted(found)
    compared = ", ".join(f"{kinds[kind]} {kind}" for kind in KINDS.values())
    report(
        f"round trip: {compared} compared ({len(fields)} fields); "
        f"{len(summary)} documented differences ({len(found)} fields)"
    )
    for line in summary:
        report(f"  {line}")
    assert summary == DOCUMENTED, "\n".join(str(d) for d in found)
