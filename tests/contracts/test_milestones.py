"""Milestones of contracts through the HTTP API: scheduled, changed, settled, listed, audited,
each change with its event in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from procure_providers.api.rpc import EligibilityResponder
from procure_shared.db.postgres import Pool
from procure_shared.events.envelope import decode_envelope
from procure_shared.http import Role
from tests.contracts.conftest import Api, money
from tests.providers.conftest import Api as ProvidersApi

OPS = Role.OPS


async def _providers(papi: ProvidersApi, *names: str) -> list[str]:
    found = []
    for name in names:
        provider = await papi.register(legalName=name)
        await papi.accredit(provider["id"], category="attendance_mentoring")
        found.append(str(provider["id"]))
    return found


async def _contract(
    capi: Api, papi: ProvidersApi, *names: str, sign: bool = True
) -> dict[str, Any]:
    """A contract (signed unless told) held by providers of ``names`` (Barnardo's alone by
    default), for Sept 2022 to Aug 2024."""
    providers = await _providers(papi, *(names or ("Barnardo's",)))
    tender, (lot,) = await capi.closed_tender(category="attendance_mentoring")
    made = await capi.made(
        f"/v1/tenders/{tender['id']}/lots/{lot['id']}/awards",
        # £5m in all: more would need KPIs before signing (s.52).
        capi.award_body(*providers, standstill_days=0, value=str(5_000_000 // len(providers))),
    )
    contract = await capi.made(
        "/v1/contracts",
        {
            "awardIds": [a["id"] for a in made["items"]],
            "title": "Attendance mentors",
            "startsOn": "2022-09-01",
            "endsOn": "2024-08-31",
        },
    )
    if sign:
        contract = await capi.moved(f"/v1/contracts/{contract['id']}/sign")
    return contract


def _delivery(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "delivery",
        "title": "Mentors in post in the first Education Investment Area",
        "dueOn": "2022-10-31",
        "plannedQuantity": 500,
        "quantityUnit": "pupils",
    } | fields


async def _schedule(capi: Api, contract: dict[str, Any], **fields: Any) -> dict[str, Any]:
    answer = await capi.create(
        f"/v1/contracts/{contract['id']}/milestones", _delivery(**fields), role=OPS
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _move(
    capi: Api, milestone: dict[str, Any], verb: str, body: Any, status: int = 200
) -> dict[str, Any]:
    answer = await capi.change("POST", f"/v1/milestones/{milestone['id']}/{verb}", body, role=OPS)
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _events(cpool: Pool, subject: str) -> list[tuple[str, int, str | None, Any]]:
    """(type, sequence, buyerid, data) of each event about ``subject``, in order."""
    async with cpool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE aggregate_id = $1 ORDER BY position", subject
        )
    found = [decode_envelope(row["payload"]) for row in rows]
    for event in found:
        assert event.subject == subject
    return [(e.type, e.sequence, e.buyerid, msgspec.json.decode(e.data)) for e in found]


async def _counts(cpool: Pool) -> tuple[int, int]:
    async with cpool.acquire() as conn:
        milestones = await conn.fetchval("SELECT count(*) FROM milestones")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    return milestones, outbox


async def test_ops_schedule_a_milestone_on_a_signed_contract_and_its_event_is_in_the_outbox(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    answer = await capi.create(
        f"/v1/contracts/{contract['id']}/milestones",
        _delivery(lotId=contract["lotIds"][0], description="One-to-one mentoring starts"),
        role=OPS,
    )
    assert answer.status_code == 201, answer.text
    milestone = answer.json()
    assert answer.headers["Location"] == f"/v1/milestones/{milestone['id']}"
    assert answer.headers["ETag"] == '"1"'
    assert milestone["contractId"] == contract["id"]
    assert milestone["lotId"] == contract["lotIds"][0]
    assert milestone["status"] == "scheduled"
    assert milestone["dueOn"] == "2022-10-31"
    assert milestone["plannedQuantity"] == 500
    assert milestone["buyerId"] == "dfe"
    assert (await capi.get(f"/v1/milestones/{milestone['id']}")).json() == milestone

    ((kind, sequence, buyer, data),) = await _events(cpool, milestone["id"])
    assert (kind, sequence, buyer) == ("contracts.milestone.scheduled", 1, "dfe")
    assert data["contractId"] == contract["id"]
    assert data["providerIds"] == [s["id"] for s in contract["suppliers"]]
    assert data["kind"] == "delivery"
    assert data["dueOn"] == "2022-10-31"
    assert data["plannedQuantity"] == 500


async def test_a_pending_contract_takes_milestones_and_a_closed_one_is_a_409(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi, sign=False)
    assert contract["status"] == "pending"
    await _schedule(capi, contract)
    await capi.moved(f"/v1/contracts/{contract['id']}/cancel", {"reason": "Never started"})
    before = await _counts(cpool)

    answer = await capi.create(f"/v1/contracts/{contract['id']}/milestones", _delivery(), role=OPS)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["currentState"] == "cancelled"
    assert answer.json()["allowedStates"] == []
    assert await _counts(cpool) == before


async def test_milestones_are_listed_per_contract_by_due_date_and_across_contracts_by_filters(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    # Made a minute apart: lists show the newest first.
    report = await _schedule(
        capi, contract, kind="reporting", title="Termly report", dueOn="2023-01-15"
    )
    capi.clock.advance(timedelta(minutes=1))
    late = await _schedule(capi, contract, title="Second area", dueOn="2023-06-30")
    capi.clock.advance(timedelta(minutes=1))
    early = await _schedule(capi, contract, dueOn="2022-09-30")
    capi.clock.advance(timedelta(days=200))
    await _move(capi, early, "met", {"evidence": "Deployment register", "metOn": "2022-09-29"})

    per_contract = (await capi.get(f"/v1/contracts/{contract['id']}/milestones")).json()
    assert [m["id"] for m in per_contract["items"]] == [early["id"], report["id"], late["id"]]

    def ids(answer: Any) -> list[str]:
        assert answer.status_code == 200, answer.text
        return [m["id"] for m in answer.json()["items"]]

    everything = ids(await capi.get("/v1/milestones"))
    assert everything == [early["id"], late["id"], report["id"]]  # newest first
    assert ids(await capi.get("/v1/milestones", contract=contract["id"])) == everything
    assert ids(await capi.get("/v1/milestones", status="scheduled")) == [late["id"], report["id"]]
    assert ids(await capi.get("/v1/milestones", kind="reporting")) == [report["id"]]
    assert ids(await capi.get("/v1/milestones", dueFrom="2023-01-15")) == [late["id"], report["id"]]
    assert ids(await capi.get("/v1/milestones", dueTo="2023-01-14")) == [early["id"]]
    supplier = contract["suppliers"][0]["id"]
    assert ids(await capi.get("/v1/milestones", provider=supplier)) == everything
    nobody = "4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"
    assert ids(await capi.get("/v1/milestones", provider=nobody)) == []
    assert ids(await capi.get("/v1/milestones", contract=nobody)) == []

    first = await capi.get("/v1/milestones", limit=2)
    assert ids(first) == everything[:2]
    rest = await capi.get("/v1/milestones", limit=2, cursor=first.json()["nextCursor"])
    assert ids(rest) == everything[2:]
    assert rest.json()["nextCursor"] is None


@pytest.mark.check
async def test_each_settlement_moves_the_milestone_and_puts_its_event_in_the_outbox(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    on_time, partly, missed, waived = [
        await _schedule(capi, contract, title=title)
        for title in ("On time", "Partly", "Missed", "Waived")
    ]
    capi.clock.advance(timedelta(days=200))  # to late November 2022

    met = await _move(
        capi,
        on_time,
        "met",
        {"evidence": "Register", "metOn": "2022-10-28", "achievedQuantity": 512},
    )
    assert (met["status"], met["metOn"], met["achievedQuantity"]) == ("met", "2022-10-28", 512)
    assert met["evidence"] == "Register"
    part = await _move(
        capi, partly, "met", {"evidence": "Register", "partially": True, "achievedQuantity": 300}
    )
    assert part["status"] == "partially_met"
    assert part["metOn"] == capi.clock.now().date().isoformat()  # today by default
    full = await _move(capi, part, "met", {"evidence": "Final register", "achievedQuantity": 520})
    assert (full["status"], full["achievedQuantity"], full["version"]) == ("met", 520, 3)
    not_met = await _move(capi, missed, "not-met", {"reason": "No mentors recruited"})
    assert (not_met["status"], not_met["reason"]) == ("not_met", "No mentors recruited")
    gone = await _move(capi, waived, "waive", {"reason": "Area dropped by amendment"})
    assert (gone["status"], gone["reason"]) == ("waived", "Area dropped by amendment")

    settled = await _events(cpool, on_time["id"])
    assert [(t, s, b) for t, s, b, _ in settled] == [
        ("contracts.milestone.scheduled", 1, "dfe"),
        ("contracts.milestone.met", 2, "dfe"),
    ]
    data = settled[1][3]
    assert (data["status"], data["metOn"], data["dueOn"]) == ("met", "2022-10-28", "2022-10-31")
    assert data["providerIds"] == [s["id"] for s in contract["suppliers"]]
    assert [(t, s, d["status"]) for t, s, _, d in (await _events(cpool, partly["id"]))[1:]] == [
        ("contracts.milestone.met", 2, "partially_met"),
        ("contracts.milestone.met", 3, "met"),
    ]
    (_, (kind, _, _, data)) = await _events(cpool, missed["id"])
    assert (kind, data["reason"]) == ("contracts.milestone.not_met", "No mentors recruited")
    (_, (kind, _, _, data)) = await _events(cpool, waived["id"])
    assert (kind, data["status"]) == ("contracts.milestone.waived", "waived")


async def test_an_illegal_move_is_a_409_naming_the_current_and_allowed_states(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    done = await _schedule(capi, contract)
    partly = await _schedule(capi, contract)
    capi.clock.advance(timedelta(days=200))
    done = await _move(capi, done, "met", {"evidence": "Register"})
    partly = await _move(capi, partly, "met", {"evidence": "Register", "partially": True})
    before = await _counts(cpool)

    refused = await _move(capi, done, "waive", {"reason": "Too late"}, status=409)
    assert (refused["currentState"], refused["allowedStates"]) == ("met", [])
    refused = await _move(capi, partly, "not-met", {}, status=409)
    assert refused["currentState"] == "partially_met"
    assert refused["allowedStates"] == ["met", "waived"]
    changed = await capi.change(
        "PATCH", f"/v1/milestones/{done['id']}", {"title": "Renamed"}, role=OPS
    )
    assert changed.status_code == 409, changed.text
    assert changed.json()["currentState"] == "met"
    assert await _counts(cpool) == before
    assert (await capi.get(f"/v1/milestones/{done['id']}")).json() == done


async def test_a_scheduled_milestone_changes_under_if_match_and_says_what_changed(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    milestone = await _schedule(capi, contract)
    path = f"/v1/milestones/{milestone['id']}"
    changed = await capi.change(
        "PATCH", path, {"dueOn": "2022-11-30", "plannedQuantity": 1000}, role=Role.COMMERCIAL
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["dueOn"], changed.json()["plannedQuantity"]) == ("2022-11-30", 1000)
    (_, (kind, sequence, _, data)) = await _events(cpool, milestone["id"])
    assert (kind, sequence) == ("contracts.milestone.updated", 2)
    assert sorted(data["changed"]) == ["dueOn", "plannedQuantity"]

    stale = await capi.http.patch(
        path, json={"title": "x"}, headers=capi.headers(OPS) | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    missing = await capi.http.patch(path, json={"title": "x"}, headers=capi.headers(OPS))
    assert missing.status_code == 428, missing.text
    viewer = await capi.change("PATCH", path, {"title": "x"}, role=Role.VIEWER)
    assert viewer.status_code == 403, viewer.text
    assert (await capi.get(path)).json()["title"] == milestone["title"]


BAD: list[tuple[dict[str, Any], int, str | None]] = [
    (_delivery(colour="blue"), 400, None),
    (_delivery(dueOn=None), 400, None),
    (_delivery(plannedQuantity=-1), 400, None),
    (_delivery(kind="celebration"), 400, None),
    (_delivery(kind="payment", amount={"amount": 1.5, "currency": "GBP"}), 400, None),
    (_delivery(dueOn="2022-08-31"), 422, "dueOn"),  # before the contract starts
    (_delivery(dueOn="2025-09-01"), 422, "dueOn"),  # over a year after it ends
    (_delivery(kind="payment"), 422, "amount"),
    (_delivery(amount=money(100)), 422, "amount"),
    (_delivery(kind="payment", amount=money(100) | {"currency": "EUR"}), 422, "amount"),
    (_delivery(lotId="4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"), 422, "lotId"),
    (_delivery(title="   "), 422, "title"),
    (_delivery(plannedQuantity=None), 422, "quantityUnit"),  # a unit of nothing
]


async def test_bad_input_is_a_problem_that_changes_nothing(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    before = await _counts(cpool)
    for body, status, field in BAD:
        answer = await capi.create(f"/v1/contracts/{contract['id']}/milestones", body, role=OPS)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if field is not None:
            assert [e["field"] for e in answer.json()["errors"]] == [field], body
    assert await _counts(cpool) == before


async def test_a_bad_settlement_is_a_problem_that_changes_nothing(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    milestone = await _schedule(capi, contract)
    before = await _counts(cpool)
    tomorrow = (capi.clock.now() + timedelta(days=1)).date().isoformat()
    for verb, body, status in (
        ("met", {"evidence": "Register", "metOn": tomorrow}, 422),
        ("met", {"evidence": "  "}, 422),
        ("met", {}, 400),  # no evidence
        ("met", {"evidence": "Register", "paid": money(10)}, 422),  # not a payment
        ("waive", {"reason": ""}, 400),
        ("waive", {"reason": "   "}, 422),
        ("waive", {}, 400),
    ):
        await _move(capi, milestone, verb, body, status=status)
    assert await _counts(cpool) == before
    assert (await capi.get(f"/v1/milestones/{milestone['id']}")).json() == milestone


async def test_a_payment_met_makes_ocds_transactions_from_the_buyer_to_the_supplier(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder, cpool: Pool
) -> None:
    contract = await _contract(capi, papi)
    (supplier,) = contract["suppliers"]
    payment = await _schedule(
        capi, contract, kind="payment", title="First instalment", amount=money(250000)
    )
    assert payment["amount"] == money(250000)
    assert payment["transactions"] == []
    capi.clock.advance(timedelta(days=200))

    whole = await _move(capi, payment, "met", {"evidence": "Invoice 1", "partially": True}, 422)
    assert whole["errors"][0]["field"] == "paid"
    too_much = {"evidence": "Invoice 1", "partially": True, "paid": money(300000)}
    assert (await _move(capi, payment, "met", too_much, 422))["errors"][0]["field"] == "paid"
    part = await _move(
        capi,
        payment,
        "met",
        {"evidence": "Invoice 1", "metOn": "2022-10-31", "partially": True, "paid": money(100000)},
    )
    assert part["status"] == "partially_met"
    (first,) = part["transactions"]
    assert first["date"] == "2022-10-31"
    assert first["value"] == money(100000)
    assert first["payer"] == {"id": "dfe", "name": None}
    assert first["payee"] == supplier

    full = await _move(capi, part, "met", {"evidence": "Invoice 2", "metOn": "2022-11-15"})
    assert full["status"] == "met"
    assert [t["value"] for t in full["transactions"]] == [money(100000), money(150000)]
    assert full["transactions"][0] == first

    events = await _events(cpool, payment["id"])
    assert [(t, d.get("transactionId"), d.get("paid")) for t, _, _, d in events[1:]] == [
        ("contracts.milestone.met", first["id"], money(100000)),
        ("contracts.milestone.met", full["transactions"][1]["id"], money(150000)),
    ]


async def test_a_payment_under_a_contract_with_several_suppliers_names_its_payee(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi, "Randstad Solutions Limited", "Tutor Trust")
    one, two = (s["id"] for s in contract["suppliers"])
    payment = await _schedule(capi, contract, kind="payment", amount=money(1000))
    capi.clock.advance(timedelta(days=200))
    unnamed = await _move(capi, payment, "met", {"evidence": "Invoice"}, 422)
    assert unnamed["errors"][0]["field"] == "payeeId"
    stranger = {"evidence": "Invoice", "payeeId": "4bdd4b3c-0d6f-4b8e-9a1e-3f0c3f1b8a10"}
    assert (await _move(capi, payment, "met", stranger, 422))["errors"][0]["field"] == "payeeId"
    paid = await _move(capi, payment, "met", {"evidence": "Invoice", "payeeId": two})
    assert [t["payee"]["id"] for t in paid["transactions"]] == [two]
    assert one != two


async def test_another_buyer_never_sees_a_milestone_and_a_viewer_only_reads(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    milestone = await _schedule(capi, contract)
    path = f"/v1/milestones/{milestone['id']}"
    for read in (path, f"{path}/history", f"/v1/contracts/{contract['id']}/milestones"):
        assert (await capi.get(read)).status_code == 200, read
        assert (await capi.get(read, buyer="moj")).status_code == 404, read
    assert (await capi.get("/v1/milestones", buyer="moj")).json()["items"] == []
    assert (await capi.get(path, Role.ADMIN, buyer=None)).status_code == 200

    other = capi.headers(OPS, buyer="moj")
    made = await capi.http.post(
        f"/v1/contracts/{contract['id']}/milestones",
        json=_delivery(),
        headers=other | {"Idempotency-Key": "moj-1"},
    )
    assert made.status_code == 404, made.text
    moved = await capi.http.post(
        f"{path}/waive", json={"reason": "not ours"}, headers=other | {"If-Match": '"1"'}
    )
    assert moved.status_code == 404, moved.text
    commercial = await capi.create(f"/v1/contracts/{contract['id']}/milestones", _delivery())
    assert commercial.status_code == 201, commercial.text  # commercial schedules them too
    refused = await capi.create(
        f"/v1/contracts/{contract['id']}/milestones", _delivery(), role=Role.VIEWER
    )
    assert refused.status_code == 403, refused.text
    assert (await capi.get(path)).json() == milestone


async def test_the_history_of_a_milestone_holds_every_change_and_reads_it_as_it_was(
    capi: Api, papi: ProvidersApi, eligibility: EligibilityResponder
) -> None:
    contract = await _contract(capi, papi)
    milestone = await _schedule(capi, contract)
    scheduled_at = capi.clock.now()
    capi.clock.advance(timedelta(days=200))
    met = await _move(capi, milestone, "met", {"evidence": "Register"})

    history = (await capi.get(f"/v1/milestones/{milestone['id']}/history")).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("contracts.milestone.scheduled", "ops-user"),
        ("contracts.milestone.met", "ops-user"),
    ]
    assert history[0]["before"] is None
    assert history[1]["before"]["status"] == "scheduled"
    assert history[1]["after"] == met
    then = await capi.get(
        f"/v1/milestones/{milestone['id']}", asOf=(scheduled_at + timedelta(days=1)).isoformat()
    )
    assert then.json()["status"] == "scheduled"
    before = await capi.get(
        f"/v1/milestones/{milestone['id']}",
        asOf=datetime(2020, 1, 1, tzinfo=UTC).isoformat(),
    )
    assert before.status_code == 404
